@NullMarked
package dev.fulcrum.core.scheduler;

import org.jspecify.annotations.NullMarked;
