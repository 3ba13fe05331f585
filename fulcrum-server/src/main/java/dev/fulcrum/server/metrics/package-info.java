@NullMarked
package dev.fulcrum.server.metrics;

import org.jspecify.annotations.NullMarked;
