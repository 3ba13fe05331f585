package dev.fulcrum.tools.bench;

import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc.GRPCInferenceServiceStub;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Sends pre-built OIP gRPC {@code ModelInfer} requests with the async stub, round-robin over the
 * channels of a {@link GrpcChannels} (callbacks on its executor), each call with the client timeout
 * as its deadline; thread-safe.
 */
final class GrpcTransport implements Transport {
  private final GRPCInferenceServiceStub[] stubs;
  private final ModelInferRequest[] requests;
  private final long timeoutNanos;
  private final AtomicInteger next = new AtomicInteger();

  /**
   * @param raw tensors in {@code raw_input_contents}, else typed {@code contents}
   * @param timeout the deadline of each call; missing it counts as timed out
   */
  GrpcTransport(
      GrpcChannels channels,
      ModelInfo model,
      String version,
      List<Sample> samples,
      boolean raw,
      Duration timeout) {
    this.stubs =
        channels.all().stream()
            .map(GRPCInferenceServiceGrpc::newStub)
            .toArray(GRPCInferenceServiceStub[]::new);
    this.requests = new ModelInferRequest[samples.size()];
    for (int i = 0; i < requests.length; i++) {
      requests[i] =
          GrpcRequestEncoder.encode(samples.get(i), model.name(), version, model.outputs(), raw);
    }
    this.timeoutNanos = timeout.toNanos();
  }

  @Override
  public CompletableFuture<Outcome> send(int sample) {
    CompletableFuture<Outcome> f = new CompletableFuture<>();
    try {
      GRPCInferenceServiceStub stub =
          stubs[Math.floorMod(next.getAndIncrement(), stubs.length)].withDeadlineAfter(
              timeoutNanos, TimeUnit.NANOSECONDS);
      stub.modelInfer(
          requests[sample],
          new StreamObserver<ModelInferResponse>() {
            @Override
            public void onNext(ModelInferResponse response) {
              // The response is only counted; its tensors are not looked at.
            }

            @Override
            public void onError(Throwable t) {
              f.complete(classify(t));
            }

            @Override
            public void onCompleted() {
              f.complete(Outcome.OK);
            }
          });
    } catch (RuntimeException e) {
      f.complete(Outcome.OTHER);
    }
    return f;
  }

  /** The outcome of a failed call, from its gRPC status (connection errors are UNAVAILABLE). */
  static Outcome classify(Throwable t) {
    Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    return ofStatus(Status.fromThrowable(c).getCode());
  }

  static Outcome ofStatus(Status.Code code) {
    return switch (code) {
      case OK -> Outcome.OK;
      case RESOURCE_EXHAUSTED -> Outcome.REJECTED;
      case DEADLINE_EXCEEDED -> Outcome.TIMED_OUT;
      case UNAVAILABLE -> Outcome.UNAVAILABLE;
      default -> Outcome.OTHER;
    };
  }

  @Override
  public int samples() {
    return requests.length;
  }

  @Override
  public void close() {
    // The channels are shared and owned by the caller.
  }
}
