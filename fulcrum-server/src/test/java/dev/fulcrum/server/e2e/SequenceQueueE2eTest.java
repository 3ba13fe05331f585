package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.Await;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.testkit.StatefulModels;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stateful model's requests where they wait, over real sockets (REST and gRPC), asserting what
 * the answers say, never how long anything took: a request of an open sequence whose turn came
 * (sent on to the scheduler) and that then waits in the scheduler's queue past its {@code timeout}
 * is answered 504 / DEADLINE_EXCEEDED and ends its sequence; and once enough sequences have ended,
 * a start refused while it would wait for a slot says when to come back ({@code retry-after-ms},
 * {@code grpc-retry-pushback-ms}).
 */
class SequenceQueueE2eTest {
  /** Four slots; its passes wait at the gate after the first three. */
  private static final String GATED = "accumulator_gated";

  /** One slot, one request may wait. */
  private static final String ONE_SLOT = "accumulator_one_slot";

  @TempDir Path repo;

  private static String body(long id, float input, boolean start, boolean end, long timeoutMicros) {
    return "{\"parameters\":{\"sequence_id\":"
        + id
        + (start ? ",\"sequence_start\":true" : "")
        + (end ? ",\"sequence_end\":true" : "")
        + (timeoutMicros > 0 ? ",\"timeout\":" + timeoutMicros : "")
        + "},\"inputs\":[{\"name\":\"INPUT\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":["
        + input
        + "]}]}";
  }

  private static ModelInferRequest grpcRequest(
      String model, long id, float input, boolean start, long timeoutMicros) {
    ModelInferRequest.Builder b =
        ModelInferRequest.newBuilder()
            .setModelName(model)
            .putParameters("sequence_id", InferParameter.newBuilder().setInt64Param(id).build())
            .putParameters(
                "sequence_start", InferParameter.newBuilder().setBoolParam(start).build())
            .addInputs(
                ModelInferRequest.InferInputTensor.newBuilder()
                    .setName(StatefulModels.INPUT)
                    .setDatatype("FP32")
                    .addShape(1)
                    .addShape(1)
                    .setContents(InferTensorContents.newBuilder().addFp32Contents(input)));
    if (timeoutMicros > 0) {
      b.putParameters("timeout", InferParameter.newBuilder().setInt64Param(timeoutMicros).build());
    }
    return b.build();
  }

  private static float sum(HttpResponse<byte[]> r) throws Exception {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return (float) output(r, StatefulModels.OUTPUT).get("data").get(0).asDouble();
  }

  private static JsonNode fulcrumStats(E2eServer server, String model) throws Exception {
    HttpResponse<byte[]> r = server.get("/v2/models/" + model + "/stats");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return E2eServer.JSON.readTree(r.body()).get("model_stats").get(0).get("fulcrum");
  }

  @Test
  void aSequenceRequestThatTimesOutInTheSchedulersQueueIsA504AndEndsItsSequence() throws Exception {
    StatefulModels.writeAccumulator(repo, GATED, 4, 1, 60_000_000, 16);
    GatedRuntime runtime = new GatedRuntime(new OnnxRuntimeBackend(), GATED);
    runtime.ungated.set(3); // the three starts run freely
    try (E2eServer server = E2eServer.start(repo, runtime)) {
      E2eServer.GrpcPort grpc = server.startGrpc();
      var stub =
          GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
              .withDeadlineAfter(60, TimeUnit.SECONDS);
      CompletableFuture<HttpResponse<byte[]>> held;
      try {
        for (long id = 1; id <= 3; id++) {
          assertThat(sum(server.post(inferPath(GATED), body(id, id, true, false, 0))))
              .isEqualTo((float) id);
        }
        // Sequence 1's next request holds the one instance inside the engine.
        held = server.sendAsync(server.jsonRequest(inferPath(GATED), body(1, 10, false, false, 0)));
        assertThat(runtime.entered.await(60, TimeUnit.SECONDS)).isTrue();

        // Sequence 2's turn comes at once (it holds a slot, nothing of it runs): the batcher
        // sends it on, and it times out in the scheduler's queue behind the held pass.
        HttpResponse<byte[]> late =
            server.post(inferPath(GATED), body(2, 20, false, false, 50_000));
        assertThat(late.statusCode()).as(text(late)).isEqualTo(504);
        assertThat(error(late))
            .startsWith("model '" + GATED + "': the request timed out after")
            .endsWith("us in the queue and was not run");

        // The same over gRPC for sequence 3.
        assertThatThrownBy(() -> stub.modelInfer(grpcRequest(GATED, 3, 30, false, 50_000)))
            .isInstanceOfSatisfying(
                StatusRuntimeException.class,
                e -> {
                  assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
                  assertThat(e.getStatus().getDescription())
                      .as("the server's queue timeout, not the client's deadline")
                      .contains("in the queue and was not run");
                });

        // Both sequences ended there: their ids' next requests must be starts.
        HttpResponse<byte[]> after = server.post(inferPath(GATED), body(2, 1, false, false, 0));
        assertThat(after.statusCode()).as(text(after)).isEqualTo(400);
        assertThat(error(after)).contains("sequence 2").contains("must specify the START flag");
        assertThatThrownBy(() -> stub.modelInfer(grpcRequest(GATED, 3, 1, false, 0)))
            .isInstanceOfSatisfying(
                StatusRuntimeException.class,
                e -> {
                  assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                  assertThat(e.getStatus().getDescription()).contains("must specify the START");
                });
        assertThat(fulcrumStats(server, GATED).get("timed_out").asLong())
            .as("both counted as timed out")
            .isEqualTo(2);
      } finally {
        runtime.open.countDown();
      }
      assertThat(sum(held.get(60, TimeUnit.SECONDS))).as("sequence 1 goes on").isEqualTo(11f);
      assertThat(sum(server.post(inferPath(GATED), body(2, 5, true, true, 0))))
          .as("sequence 2 anew, from zeros")
          .isEqualTo(5f);
    }
  }

  @Test
  void aStartRefusedWhileItWouldWaitForASlotSaysWhenToComeBack() throws Exception {
    StatefulModels.writeAccumulator(repo, ONE_SLOT, 1, 1, 60_000_000, 1);
    try (E2eServer server = E2eServer.start(repo)) {
      E2eServer.GrpcPort grpc = server.startGrpc();
      var stub =
          GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
              .withDeadlineAfter(60, TimeUnit.SECONDS);
      // Eight sequences end: the batcher has seen how long a sequence holds its slot.
      for (long id = 1; id <= 8; id++) {
        assertThat(sum(server.post(inferPath(ONE_SLOT), body(id, 1, true, false, 0))))
            .isEqualTo(1f);
        assertThat(sum(server.post(inferPath(ONE_SLOT), body(id, 1, false, true, 0))))
            .isEqualTo(2f);
      }
      // A holds the slot, B waits for it (the one request that may wait), C is refused.
      assertThat(sum(server.post(inferPath(ONE_SLOT), body(100, 1, true, false, 0)))).isEqualTo(1f);
      CompletableFuture<HttpResponse<byte[]>> b =
          server.sendAsync(server.jsonRequest(inferPath(ONE_SLOT), body(101, 5, true, false, 0)));
      var sequences =
          java.util.Objects.requireNonNull(
              server.service.repository().resolve(ONE_SLOT, "").sequences());
      Await.until("B waits for the slot", () -> sequences.waiting() == 1);

      RetryHints.assertRestHint(server.post(inferPath(ONE_SLOT), body(102, 1, true, false, 0)));
      RetryHints.assertPushedBack(
          "KServe", () -> stub.modelInfer(grpcRequest(ONE_SLOT, 103, 1, true, 0)));

      assertThat(sum(server.post(inferPath(ONE_SLOT), body(100, 1, false, true, 0))))
          .as("A ends")
          .isEqualTo(2f);
      assertThat(sum(b.get(60, TimeUnit.SECONDS))).as("B got the slot").isEqualTo(5f);
      assertThat(sum(server.post(inferPath(ONE_SLOT), body(101, 1, false, true, 0)))).isEqualTo(6f);
    }
  }
}
