@NullMarked
package dev.fulcrum.server.protocol;

import org.jspecify.annotations.NullMarked;
