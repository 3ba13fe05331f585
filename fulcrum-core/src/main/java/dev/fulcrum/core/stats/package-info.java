@NullMarked
package dev.fulcrum.core.stats;

import org.jspecify.annotations.NullMarked;
