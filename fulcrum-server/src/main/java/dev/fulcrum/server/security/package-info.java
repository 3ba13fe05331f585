/** Bearer-token access (two scopes) and TLS for the REST and gRPC ports. */
@NullMarked
package dev.fulcrum.server.security;

import org.jspecify.annotations.NullMarked;
