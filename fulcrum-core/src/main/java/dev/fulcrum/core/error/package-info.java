@NullMarked
package dev.fulcrum.core.error;

import org.jspecify.annotations.NullMarked;
