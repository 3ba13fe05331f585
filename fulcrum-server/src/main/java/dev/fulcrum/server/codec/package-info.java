@NullMarked
package dev.fulcrum.server.codec;

import org.jspecify.annotations.NullMarked;
