@NullMarked
package dev.fulcrum.server.http;

import org.jspecify.annotations.NullMarked;
