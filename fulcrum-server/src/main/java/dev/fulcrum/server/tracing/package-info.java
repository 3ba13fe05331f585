/**
 * Distributed tracing: W3C trace context read from a request, OpenTelemetry spans made after its
 * answer from the times the core measured ({@link dev.fulcrum.core.inference.RequestTiming}), and
 * Triton's trace setting extension. The core knows nothing of it.
 */
@NullMarked
package dev.fulcrum.server.tracing;

import org.jspecify.annotations.NullMarked;
