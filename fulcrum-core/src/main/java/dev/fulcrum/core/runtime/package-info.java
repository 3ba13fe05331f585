@NullMarked
package dev.fulcrum.core.runtime;

import org.jspecify.annotations.NullMarked;
