package dev.fulcrum.server.grpc;

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
 * For the slow-request log: puts each call's client address and W3C {@code traceparent} metadata
 * into its {@link Context}, where {@link InferenceGrpcService} reads them for a call's line. Only
 * installed when the log is on, so a server without it pays nothing per call.
 *
 * <p>Threads: stateless; runs on the event loop that read the call's headers.
 */
final class SlowCallInterceptor implements ServerInterceptor {
  /** What a call's line needs of its transport. */
  record CallInfo(@Nullable SocketAddress client, @Nullable String traceparent) {}

  static final Context.Key<CallInfo> CALL = Context.key("fulcrum-slow-call");

  static final Metadata.Key<String> TRACEPARENT =
      Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER);

  /** The current call's, or null outside a call the interceptor saw. */
  static @Nullable CallInfo current() {
    return CALL.get();
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    CallInfo info =
        new CallInfo(
            call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), headers.get(TRACEPARENT));
    return Contexts.interceptCall(Context.current().withValue(CALL, info), call, headers, next);
  }
}
