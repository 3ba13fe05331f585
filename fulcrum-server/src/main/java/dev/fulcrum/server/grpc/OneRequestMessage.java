package dev.fulcrum.server.grpc;

import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * Answers a call of a method that takes one request message (unary or server-streaming) that
 * carries none or more than one with INVALID_ARGUMENT, before the method sees it. grpc-java's stub
 * layer ({@code io.grpc.stub.ServerCalls}) closes such a call with INTERNAL ("Half-closed without a
 * request", "Too many requests"), which tells the client and the metrics that the server failed.
 *
 * <p>The check counts the messages as they are delivered, so it does not depend on grpc-java's
 * descriptions. The method's listener is told the call was cancelled, and nothing else of the call
 * reaches it.
 *
 * <p>Threads: each call's listener runs on the call's serializing executor, one event at a time, so
 * its fields need no lock. Otherwise stateless.
 */
final class OneRequestMessage implements ServerInterceptor {
  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (!call.getMethodDescriptor().getType().clientSendsOneMessage()) {
      return next.startCall(call, headers);
    }
    Closing<Q, R> closing = new Closing<>(call);
    return new Listener<>(closing, next.startCall(closing, headers));
  }

  /** The call, knowing whether it was closed (by the method or by this check). */
  private static final class Closing<Q, R>
      extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
    boolean closed;

    Closing(ServerCall<Q, R> delegate) {
      super(delegate);
    }

    @Override
    public void close(Status status, Metadata trailers) {
      closed = true;
      super.close(status, trailers);
    }
  }

  private static final class Listener<Q, R>
      extends ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {
    private final Closing<Q, R> call;
    private int messages;
    private boolean refused;

    Listener(Closing<Q, R> call, ServerCall.Listener<Q> delegate) {
      super(delegate);
      this.call = call;
    }

    @Override
    public void onMessage(Q message) {
      if (refused) {
        return;
      }
      if (++messages > 1) {
        refuse("it carried more than one");
        return;
      }
      super.onMessage(message);
    }

    @Override
    public void onHalfClose() {
      if (refused) {
        return;
      }
      if (messages == 0) {
        refuse("it carried none");
        return;
      }
      super.onHalfClose();
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

    @Override
    public void onComplete() {
      if (!refused) {
        super.onComplete();
      }
    }

    private void refuse(String what) {
      refused = true;
      if (!call.closed) {
        call.close(
            Status.INVALID_ARGUMENT.withDescription(
                call.getMethodDescriptor().getBareMethodName()
                    + " takes exactly one request message; "
                    + what),
            new Metadata());
      }
      super.onCancel();
    }
  }
}
