@NullMarked
package dev.fulcrum.core.inference;

import org.jspecify.annotations.NullMarked;
