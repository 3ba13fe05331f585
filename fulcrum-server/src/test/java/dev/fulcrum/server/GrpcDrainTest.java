package dev.fulcrum.server;

import static dev.fulcrum.server.GrpcServerTest.rawRequest;
import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link GracefulShutdown} with a gRPC call in flight: new calls are refused with UNAVAILABLE, the
 * call in flight completes with its response, and the drain ends only after it. The call is held by
 * the fake engine's gate; no timing is asserted.
 */
class GrpcDrainTest {
  @TempDir Path repo;

  @Test
  void aCallInFlightCompletesAndNewCallsAreRefused() throws Exception {
    InferenceService service = TestModels.service(repo);
    HttpServer http = new HttpServer(service, HttpServerConfig.ephemeral()).start();
    GrpcServer grpc = new GrpcServer(service, GrpcServerConfig.ephemeral()).start();
    ManagedChannel channel = GrpcServerTest.channel(grpc.port());
    FakeRuntime.closeGate();
    try {
      byte[] one = HttpServerTest.binaryValues(DataType.FP32, 1);
      ModelVersion gated = service.repository().resolve("gated", "");
      CompletableFuture<ModelInferResponse> inFlight = new CompletableFuture<>();
      GRPCInferenceServiceGrpc.newStub(channel)
          .withDeadlineAfter(60, TimeUnit.SECONDS)
          .modelInfer(
              rawRequest("gated", DataType.FP32, one, 1, 1),
              new StreamObserver<>() {
                @Override
                public void onNext(ModelInferResponse r) {
                  inFlight.complete(r);
                }

                @Override
                public void onError(Throwable t) {
                  inFlight.completeExceptionally(t);
                }

                @Override
                public void onCompleted() {}
              });
      Await.until("the call runs", () -> gated.scheduler().pending() == 1);

      CompletableFuture<Boolean> stopping =
          CompletableFuture.supplyAsync(
              () -> GracefulShutdown.run(service, http, grpc, Duration.ofSeconds(60)));
      Await.until("the server drains", service::isDraining);
      GrpcServerTest.assertStatus(
          () ->
              GRPCInferenceServiceGrpc.newBlockingStub(channel)
                  .withDeadlineAfter(30, TimeUnit.SECONDS)
                  .modelInfer(rawRequest("echo_fp32", DataType.FP32, one, 1, 1)),
          Status.Code.UNAVAILABLE);
      // TF Serving's Predict on the same port: refused alike.
      GrpcServerTest.assertStatus(
          () ->
              dev.fulcrum.server.grpc.tfserving.PredictionServiceGrpc.newBlockingStub(channel)
                  .withDeadlineAfter(30, TimeUnit.SECONDS)
                  .predict(
                      dev.fulcrum.server.grpc.tfserving.PredictRequest.newBuilder()
                          .setModelSpec(
                              dev.fulcrum.server.grpc.tfserving.ModelSpec.newBuilder()
                                  .setName("echo_fp32"))
                          .putInputs(
                              "IN",
                              dev.fulcrum.server.grpc.tfserving.TensorProto.newBuilder()
                                  .setDtype(dev.fulcrum.server.grpc.tfserving.DataType.DT_FLOAT)
                                  .addFloatVal(1)
                                  .build())
                          .build()),
          Status.Code.UNAVAILABLE);
      assertThat(stopping).as("the drain waits for the call in flight").isNotDone();

      FakeRuntime.openGate();
      assertThat(inFlight.get(60, TimeUnit.SECONDS).getOutputsCount()).isEqualTo(1);
      assertThat(stopping.get(60, TimeUnit.SECONDS)).isTrue();
    } finally {
      FakeRuntime.openGate();
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      grpc.close();
      http.close();
      service.repository().close();
    }
  }

  @Test
  void anOpenStreamEndsWithUnavailableAndDoesNotHoldTheDrain() throws Exception {
    // Triton's clients keep a ModelStreamInfer call open between requests (start_stream /
    // stop_stream): shutdown ends it with UNAVAILABLE, which clients retry, and does not wait for
    // the client to close it.
    drainEndsAnOpenCall(
        channel -> {
          StreamCall call = new StreamCall(channel, 120);
          byte[] one = HttpServerTest.binaryValues(DataType.FP32, 1);
          call.requests.onNext(rawRequest("echo_fp32", DataType.FP32, one, 1, 1));
          return call;
        },
        answered -> assertThat(answered.getErrorMessage()).isEmpty(),
        answers -> {});
  }

  @Test
  void anOpenHealthWatchSeesNotServingThenUnavailableAndDoesNotHoldTheDrain() throws Exception {
    // grpc-java's client-side health checking (healthCheckConfig in a service config) keeps a
    // grpc.health.v1 Watch call open on each connection: shutdown sends it NOT_SERVING, then ends
    // it with UNAVAILABLE instead of waiting the whole budget and resetting it (CANCELLED).
    drainEndsAnOpenCall(
        channel -> {
          CallRecorder<HealthCheckResponse> watch = new CallRecorder<>();
          HealthGrpc.newStub(channel)
              .withDeadlineAfter(120, TimeUnit.SECONDS)
              .watch(HealthCheckRequest.getDefaultInstance(), watch);
          return watch;
        },
        first -> assertThat(first.getStatus()).isEqualTo(ServingStatus.SERVING),
        later ->
            assertThat(later)
                .as("the watcher was told before the end")
                .extracting(HealthCheckResponse::getStatus)
                .contains(ServingStatus.NOT_SERVING));
  }

  /**
   * Opens a streaming call ({@code open}), checks its first answer, drains the servers, and checks
   * that the call ended UNAVAILABLE (its later answers checked by {@code later}) without holding
   * the drain.
   */
  private <T> void drainEndsAnOpenCall(
      Function<ManagedChannel, CallRecorder<T>> open, Consumer<T> first, Consumer<List<T>> later)
      throws Exception {
    InferenceService service = TestModels.service(repo);
    HttpServer http = new HttpServer(service, HttpServerConfig.ephemeral()).start();
    GrpcServer grpc = new GrpcServer(service, GrpcServerConfig.ephemeral()).start();
    ManagedChannel channel = GrpcServerTest.channel(grpc.port());
    try {
      CallRecorder<T> call = open.apply(channel);
      T answered = call.answers.poll(30, TimeUnit.SECONDS);
      assertThat(answered).isNotNull();
      first.accept(answered);

      long start = System.nanoTime();
      boolean clean = GracefulShutdown.run(service, http, grpc, Duration.ofSeconds(40));
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      Status status = call.ended.get(30, TimeUnit.SECONDS);
      assertThat(status.getCode()).as(status.toString()).isEqualTo(Status.Code.UNAVAILABLE);
      later.accept(List.copyOf(call.answers));
      assertThat(clean).as("drained within its budget").isTrue();
      assertThat(took)
          .as("the open call did not hold the drain")
          .isLessThan(Duration.ofSeconds(30));
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      grpc.close();
      http.close();
      service.repository().close();
    }
  }
}
