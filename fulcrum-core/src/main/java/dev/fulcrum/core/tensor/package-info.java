@NullMarked
package dev.fulcrum.core.tensor;

import org.jspecify.annotations.NullMarked;
