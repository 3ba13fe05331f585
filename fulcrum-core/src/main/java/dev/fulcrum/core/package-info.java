@NullMarked
package dev.fulcrum.core;

import org.jspecify.annotations.NullMarked;
