package dev.fulcrum.server;

import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelStreamInferResponse;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The client side of one ModelStreamInfer call in a test: its answers in order, and the status it
 * ended with (OK when the server completed it). Thread-safe: gRPC's threads fill it, the test
 * reads.
 */
final class StreamCall implements StreamObserver<ModelStreamInferResponse> {
  /** The answers so far, in order. */
  final BlockingQueue<ModelStreamInferResponse> answers = new LinkedBlockingQueue<>();

  /** How the call ended: the status of its error, or OK. */
  final CompletableFuture<Status> ended = new CompletableFuture<>();

  /** Where the test sends the call's requests. */
  final StreamObserver<ModelInferRequest> requests;

  /** Opens a call on {@code channel} with a deadline {@code seconds} away. */
  StreamCall(Channel channel, long seconds) {
    requests =
        GRPCInferenceServiceGrpc.newStub(channel)
            .withDeadlineAfter(seconds, TimeUnit.SECONDS)
            .modelStreamInfer(this);
  }

  @Override
  public void onNext(ModelStreamInferResponse r) {
    answers.add(r);
  }

  @Override
  public void onError(Throwable t) {
    ended.complete(Status.fromThrowable(t));
  }

  @Override
  public void onCompleted() {
    ended.complete(Status.OK);
  }
}
