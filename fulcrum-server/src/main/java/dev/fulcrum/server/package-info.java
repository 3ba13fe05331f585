@NullMarked
package dev.fulcrum.server;

import org.jspecify.annotations.NullMarked;
