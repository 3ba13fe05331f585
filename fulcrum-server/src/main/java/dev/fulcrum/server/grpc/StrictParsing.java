package dev.fulcrum.server.grpc;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Makes a malformed request message a client mistake. grpc-java's protobuf marshaller throws on
 * bytes that do not parse, and grpc-java (1.85) answers any exception from parsing with UNKNOWN
 * "Application error processing RPC" and logs it at SEVERE, stack trace and all, per message.
 *
 * <p>Here each request marshaller is wrapped so that parsing never throws: a failure becomes a
 * {@link Malformed} marker, which the call's listener intercepts before the service sees it. On a
 * unary call it closes the call with INVALID_ARGUMENT and one concise description naming the method
 * (RESOURCE_EXHAUSTED, grpc-java's own status, when a compressed message decompresses past the
 * largest message size: its size check fails while the marshaller reads); the service's listener is
 * told the call was cancelled, and nothing else of the call reaches it. On the one streaming method
 * given ({@code ModelStreamInfer}) the marker is handed to the service as a stand-in request
 * ({@link GrpcCodec#malformed}) that fails that message only: gRPC frames each message, so the
 * stream stays in step and goes on.
 *
 * <p>Threads: parsing and the listener run on the call's serializing executor, one event at a time,
 * so the per-call flag needs no lock; the stream's answers are sent by the service, under its own
 * lock. Otherwise stateless.
 */
final class StrictParsing {
  private StrictParsing() {}

  /**
   * A request whose bytes did not parse; stands in for the request object (erased generics).
   *
   * @param code INVALID_ARGUMENT, or RESOURCE_EXHAUSTED for a compressed message that decompresses
   *     to more than the largest message size (grpc-java's own check, met while parsing)
   */
  private record Malformed(Status.Code code, String description) {}

  /** A service of unary methods only, with request parse failures answered as INVALID_ARGUMENT. */
  static ServerServiceDefinition of(ServerServiceDefinition service) {
    return of(service, "", description -> description); // no method is named ""
  }

  /**
   * The same service, with request parse failures answered as INVALID_ARGUMENT.
   *
   * @param stream the full name of the streaming method whose malformed messages fail one by one
   * @param standIn makes the stand-in request of that method from the failure's description
   */
  static ServerServiceDefinition of(
      ServerServiceDefinition service, String stream, Function<String, ?> standIn) {
    ServiceDescriptor sd = service.getServiceDescriptor();
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    ServiceDescriptor.Builder descriptor =
        ServiceDescriptor.newBuilder(sd.getName()).setSchemaDescriptor(sd.getSchemaDescriptor());
    for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
      ServerMethodDefinition<?, ?> strict =
          strict(m, m.getMethodDescriptor().getFullMethodName().equals(stream) ? standIn : null);
      methods.add(strict);
      descriptor.addMethod(strict.getMethodDescriptor());
    }
    ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(out::addMethod);
    return out.build();
  }

  private static <Q, R> ServerMethodDefinition<Q, R> strict(
      ServerMethodDefinition<Q, R> m, @Nullable Function<String, ?> standIn) {
    MethodDescriptor<Q, R> d = m.getMethodDescriptor();
    MethodDescriptor<Q, R> strict =
        d.toBuilder()
            .setRequestMarshaller(new Marshaller<>(d.getRequestMarshaller(), d.getBareMethodName()))
            .build();
    ServerCallHandler<Q, R> handler = m.getServerCallHandler();
    return ServerMethodDefinition.create(
        strict, (call, headers) -> new Listener<>(call, handler.startCall(call, headers), standIn));
  }

  private record Marshaller<Q>(MethodDescriptor.Marshaller<Q> delegate, String method)
      implements MethodDescriptor.Marshaller<Q> {
    @Override
    public InputStream stream(Q value) {
      return delegate.stream(value);
    }

    @Override
    @SuppressWarnings("unchecked") // the marker never reaches code that reads it as a Q
    public Q parse(InputStream stream) {
      try {
        return delegate.parse(stream);
      } catch (RuntimeException e) {
        Status tooLarge = tooLarge(e);
        if (tooLarge != null) {
          return (Q)
              new Malformed(
                  Status.Code.RESOURCE_EXHAUSTED,
                  method + " request: " + tooLarge.getDescription());
        }
        Throwable c = e.getCause() == null ? e : e.getCause();
        return (Q)
            new Malformed(
                Status.Code.INVALID_ARGUMENT,
                "malformed "
                    + method
                    + " request: the message is not a valid protocol buffer ("
                    + c.getMessage()
                    + ")");
      }
    }
  }

  /**
   * grpc-java's RESOURCE_EXHAUSTED for a message that decompresses past the largest message size
   * (thrown by its size-enforcing stream while the marshaller reads), or null for any other
   * failure.
   */
  private static @Nullable Status tooLarge(Throwable t) {
    Throwable c = t;
    for (int depth = 0; c != null && depth < 8; depth++, c = c.getCause()) {
      if (c instanceof StatusRuntimeException sre
          && sre.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED) {
        return sre.getStatus();
      }
    }
    return null;
  }

  private static final class Listener<Q, R>
      extends ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {
    private final ServerCall<Q, R> call;
    private final @Nullable Function<String, ?> standIn;
    private boolean refused;

    Listener(
        ServerCall<Q, R> call,
        ServerCall.Listener<Q> delegate,
        @Nullable Function<String, ?> standIn) {
      super(delegate);
      this.call = call;
      this.standIn = standIn;
    }

    @Override
    @SuppressWarnings("unchecked") // standIn makes this method's request type
    public void onMessage(Q message) {
      if (refused) {
        return;
      }
      if ((Object) message instanceof Malformed m && standIn != null) {
        super.onMessage((Q) standIn.apply(m.description()));
        return;
      }
      if ((Object) message instanceof Malformed m) {
        refused = true;
        call.close(Status.fromCode(m.code()).withDescription(m.description()), new Metadata());
        super.onCancel();
        return;
      }
      super.onMessage(message);
    }

    @Override
    public void onHalfClose() {
      if (!refused) {
        super.onHalfClose();
      }
    }

    @Override
    public void onReady() {
      if (!refused) {
        super.onReady();
      }
    }

    @Override
    public void onCancel() {
      if (!refused) {
        super.onCancel();
      }
    }
  }
}
