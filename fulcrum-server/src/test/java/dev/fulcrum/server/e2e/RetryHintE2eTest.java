package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.Await;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.tfserving.DataType;
import dev.fulcrum.server.grpc.tfserving.ModelSpec;
import dev.fulcrum.server.grpc.tfserving.PredictRequest;
import dev.fulcrum.server.grpc.tfserving.PredictionServiceGrpc;
import dev.fulcrum.server.grpc.tfserving.TensorProto;
import dev.fulcrum.server.grpc.tfserving.TensorShapeProto;
import dev.fulcrum.testkit.TestModels;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The retry hint of an overload refusal over real sockets, asserting what the refusal says, never
 * how long anything took: once a pass was measured, a full queue's 429 carries {@code Retry-After}
 * (whole seconds) and {@code retry-after-ms}, and its gRPC RESOURCE_EXHAUSTED the {@code
 * grpc-retry-pushback-ms} trailer, both within the hint's 10 ms .. 10 s; a refusal that retrying
 * cannot help (a bad request, an unknown model) carries neither. TF Serving's gRPC Predict is
 * refused alike.
 */
class RetryHintE2eTest {
  private static final String MODEL = TestModels.ADD_SUB_INT32;

  @TempDir Path repo;

  private static String request() {
    String row = "[" + "1,".repeat(15) + "1]";
    return """
        {"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":%s},
                   {"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":%s}]}"""
        .formatted(row, row);
  }

  private static ModelInferRequest grpcRequest(String model) {
    ByteBuffer ones = ByteBuffer.allocate(16 * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 16; i++) {
      ones.putInt(1);
    }
    ByteString raw = ByteString.copyFrom(ones.flip());
    ModelInferRequest.Builder b = ModelInferRequest.newBuilder().setModelName(model);
    for (String name : List.of("INPUT0", "INPUT1")) {
      b.addInputs(
          ModelInferRequest.InferInputTensor.newBuilder()
              .setName(name)
              .setDatatype("INT32")
              .addAllShape(List.of(1L, 16L)));
      b.addRawInputContents(raw);
    }
    return b.build();
  }

  private static PredictRequest tfRequest(String model) {
    TensorProto.Builder ones =
        TensorProto.newBuilder()
            .setDtype(DataType.DT_INT32)
            .setTensorShape(
                TensorShapeProto.newBuilder()
                    .addDim(TensorShapeProto.Dim.newBuilder().setSize(1))
                    .addDim(TensorShapeProto.Dim.newBuilder().setSize(16)));
    for (int i = 0; i < 16; i++) {
      ones.addIntVal(1);
    }
    return PredictRequest.newBuilder()
        .setModelSpec(ModelSpec.newBuilder().setName(model))
        .putInputs("INPUT0", ones.build())
        .putInputs("INPUT1", ones.build())
        .build();
  }

  @Test
  void aFullQueuesRefusalSaysWhenToRetryOnRestAndGrpc() throws Exception {
    TestModels.writeModel(repo, MODEL);
    Files.writeString(
        repo.resolve(MODEL).resolve("config.yaml"), "queue-policy:\n  max-queue-size: 1\n");
    GatedRuntime runtime = new GatedRuntime(new OnnxRuntimeBackend(), MODEL);
    runtime.ungated.set(1); // one pass runs freely, so the scheduler has measured a pass
    try (E2eServer server = E2eServer.start(repo, runtime)) {
      E2eServer.GrpcPort grpc = server.startGrpc();
      var stub =
          GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
              .withDeadlineAfter(60, TimeUnit.SECONDS);
      List<CompletableFuture<HttpResponse<byte[]>>> held = new ArrayList<>();
      try {
        HttpResponse<byte[]> warm = server.post(inferPath(MODEL), request());
        assertThat(warm.statusCode()).as(text(warm)).isEqualTo(200);
        // One request holds the worker in the engine, one waits: the queue (1) is full.
        held.add(server.sendAsync(server.jsonRequest(inferPath(MODEL), request())));
        assertThat(runtime.entered.await(60, TimeUnit.SECONDS)).isTrue();
        held.add(server.sendAsync(server.jsonRequest(inferPath(MODEL), request())));
        Await.until(
            "the queue holds a request",
            () ->
                E2eServer.JSON
                        .readTree(server.get("/v2/models/" + MODEL + "/stats").body())
                        .at("/model_stats/0/fulcrum/pending")
                        .asInt()
                    == 2);

        // REST: 429 with the hint in whole seconds (rounded up) and in milliseconds.
        RetryHints.assertRestHint(server.post(inferPath(MODEL), request()));

        // gRPC: RESOURCE_EXHAUSTED with gRFC A6's pushback trailer; TF Serving's Predict on the
        // same port: the same refusal and trailer.
        var tf =
            PredictionServiceGrpc.newBlockingStub(grpc.channel)
                .withDeadlineAfter(60, TimeUnit.SECONDS);
        RetryHints.assertPushedBack("KServe", () -> stub.modelInfer(grpcRequest(MODEL)));
        RetryHints.assertPushedBack("TF Serving", () -> tf.predict(tfRequest(MODEL)));

        // Refusals that retrying cannot help carry no hint.
        HttpResponse<byte[]> unknown = server.post(inferPath("no_such_model"), request());
        assertThat(unknown.statusCode()).as(text(unknown)).isEqualTo(404);
        assertThat(unknown.headers().firstValue("retry-after-ms")).isEmpty();
        assertThat(unknown.headers().firstValue("Retry-After")).isEmpty();
        assertThatThrownBy(() -> stub.modelInfer(grpcRequest("no_such_model")))
            .isInstanceOfSatisfying(
                StatusRuntimeException.class,
                e -> {
                  assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                  assertThat(
                          e.getTrailers() == null ? null : e.getTrailers().get(RetryHints.PUSHBACK))
                      .isNull();
                });
      } finally {
        runtime.open.countDown();
      }
      for (CompletableFuture<HttpResponse<byte[]>> f : held) {
        HttpResponse<byte[]> r = f.get(60, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      }
    }
  }
}
