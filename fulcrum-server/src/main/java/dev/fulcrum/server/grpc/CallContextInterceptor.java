package dev.fulcrum.server.grpc;

import dev.fulcrum.server.TraceParent;
import dev.fulcrum.server.tracing.Tracing;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.net.SocketAddress;
import org.jspecify.annotations.Nullable;

/**
 * Puts what the request-completion hook needs of a call's transport into its {@link Context}: the
 * client's address (the slow-request log's line) and the W3C {@code traceparent}/{@code tracestate}
 * metadata (that line's trace id, and a traced call's parent). One interceptor for both the
 * slow-request log and tracing, installed only when either is on, so a server with neither reads no
 * metadata and allocates nothing per call.
 *
 * <p>Threads: stateless; runs on the event loop that read the call's headers.
 */
final class CallContextInterceptor implements ServerInterceptor {
  /**
   * What the completion hook needs of a call's transport: the client, and the call's W3C trace
   * context, parsed once for the call (every request of a stream shares it).
   */
  record CallInfo(
      @Nullable SocketAddress client, @Nullable String forwardedFor, @Nullable TraceParent trace) {}

  static final Context.Key<CallInfo> CALL = Context.key("fulcrum-call");

  static final Metadata.Key<String> TRACEPARENT =
      Metadata.Key.of(Tracing.TRACEPARENT, Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> TRACESTATE =
      Metadata.Key.of(Tracing.TRACESTATE, Metadata.ASCII_STRING_MARSHALLER);

  /** What a proxy in front says the client was (nginx's {@code grpc_set_header}, HAProxy's). */
  static final Metadata.Key<String> X_FORWARDED_FOR =
      Metadata.Key.of("x-forwarded-for", Metadata.ASCII_STRING_MARSHALLER);

  /** The current call's, or null outside a call the interceptor saw. */
  static @Nullable CallInfo current() {
    return CALL.get();
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String parent = headers.get(TRACEPARENT);
    CallInfo info =
        new CallInfo(
            call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR),
            forwardedFor(headers),
            parent == null ? null : TraceParent.parse(parent, headers.get(TRACESTATE)));
    return Contexts.interceptCall(Context.current().withValue(CALL, info), call, headers, next);
  }

  /**
   * Every X-Forwarded-For value, joined as REST joins repeated headers (each proxy may add one).
   */
  private static @Nullable String forwardedFor(Metadata headers) {
    Iterable<String> all = headers.getAll(X_FORWARDED_FOR);
    return all == null ? null : String.join(", ", all);
  }
}
