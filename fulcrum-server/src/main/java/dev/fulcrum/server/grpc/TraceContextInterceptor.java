package dev.fulcrum.server.grpc;

import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.tracing.Tracing;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import org.jspecify.annotations.Nullable;

/**
 * Hands a ModelInfer call's W3C trace context ({@code traceparent}, {@code tracestate} metadata) to
 * the service through the call's {@link Context}, for {@link InferenceGrpcService} to decide
 * whether it is traced. Installed only when tracing is on; a call of another method, or one without
 * a {@code traceparent}, passes untouched. Stateless; on the call's event loop.
 */
final class TraceContextInterceptor implements ServerInterceptor {
  static final Metadata.Key<String> TRACEPARENT =
      Metadata.Key.of(Tracing.TRACEPARENT, Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> TRACESTATE =
      Metadata.Key.of(Tracing.TRACESTATE, Metadata.ASCII_STRING_MARSHALLER);

  /** The call's {@code traceparent} and {@code tracestate} (the second may be null). */
  static final Context.Key<@Nullable String[]> TRACE_CONTEXT = Context.key("fulcrum-trace-context");

  private static final String MODEL_INFER =
      GRPCInferenceServiceGrpc.getModelInferMethod().getFullMethodName();

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (!call.getMethodDescriptor().getFullMethodName().equals(MODEL_INFER)) {
      return next.startCall(call, headers);
    }
    String parent = headers.get(TRACEPARENT);
    if (parent == null) {
      return next.startCall(call, headers);
    }
    Context c =
        Context.current()
            .withValue(TRACE_CONTEXT, new @Nullable String[] {parent, headers.get(TRACESTATE)});
    return Contexts.interceptCall(c, call, headers, next);
  }
}
