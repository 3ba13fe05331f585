/**
 * File helpers the modules share; depends on no other core package, so that any package and any
 * module may use it.
 */
@NullMarked
package dev.fulcrum.core.io;

import org.jspecify.annotations.NullMarked;
