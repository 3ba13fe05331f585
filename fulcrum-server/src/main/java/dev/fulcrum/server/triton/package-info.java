@NullMarked
package dev.fulcrum.server.triton;

import org.jspecify.annotations.NullMarked;
