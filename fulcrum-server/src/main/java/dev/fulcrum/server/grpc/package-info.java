@NullMarked
package dev.fulcrum.server.grpc;

import org.jspecify.annotations.NullMarked;
