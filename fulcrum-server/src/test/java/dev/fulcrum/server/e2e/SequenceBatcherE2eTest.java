package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.server.Await;
import dev.fulcrum.server.CallRecorder;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelStreamInferResponse;
import dev.fulcrum.server.metrics.ServerMetrics;
import dev.fulcrum.testkit.StatefulModels;
import dev.fulcrum.testkit.TestModels;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.net.http.HttpResponse;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Triton's sequence batcher (direct strategy, control inputs, implicit state) over real sockets,
 * against the testkit's stateful {@code accumulator} (each request adds its INPUT to its sequence's
 * running sum): interleaved sequences keep their own sums over REST and gRPC, a sequence's requests
 * run one at a time in order (also on one ModelStreamInfer call), an end or the idle limit frees a
 * slot for a sequence that waited for one, and misuse is refused with Triton's messages. Nothing
 * here asserts a duration.
 */
class SequenceBatcherE2eTest {
  @TempDir static Path repo;
  private static E2eServer server;
  private static E2eServer.GrpcPort grpc;

  /**
   * Eight slots, an idle limit of 5 s (a loaded machine may pause a test for over a second between
   * a start and its next request).
   */
  private static final String ACC = "accumulator";

  /** One slot, a long idle limit, one request may wait. */
  private static final String ONE_SLOT = "accumulator_one_slot";

  /** One slot freed after 200 ms idle. */
  private static final String IDLE = "accumulator_idle";

  /** Configured by Triton's config.pbtxt, as a team moving off Triton has it. */
  private static final String PBTXT = "accumulator_pbtxt";

  /** One slot, a long idle limit, four requests may wait. */
  private static final String TIMEOUT = "accumulator_timeout";

  /** Triton's oldest strategy from a config.pbtxt: four candidate sequences, two batch rows. */
  private static final String OLDEST = "accumulator_oldest";

  @BeforeAll
  static void start() throws Exception {
    StatefulModels.writeAccumulatorPbtxt(
        repo,
        OLDEST,
        2,
        """
        max_sequence_idle_microseconds: 60000000
        oldest {
          max_candidate_sequences: 4
          preferred_batch_size: [ 2 ]
          max_queue_delay_microseconds: 1000
        }
        state [ { input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_FP32 dims: [ 1 ] } ]
        """);
    StatefulModels.writeAccumulator(repo, ACC, 8, 1, 5_000_000, 64);
    StatefulModels.writeAccumulatorPbtxt(
        repo,
        PBTXT,
        4,
        """
        direct { }
        max_sequence_idle_microseconds: 5000000
        state [
          {
            input_name: "STATE_IN"
            output_name: "STATE_OUT"
            data_type: TYPE_FP32
            dims: [ 1 ]
            initial_state: { data_type: TYPE_FP32 dims: [ 1 ] zero_data: true name: "zeros" }
          }
        ]
        """);
    StatefulModels.writeAccumulator(repo, ONE_SLOT, 1, 1, 60_000_000, 1);
    StatefulModels.writeAccumulator(repo, IDLE, 1, 1, 200_000, 16);
    StatefulModels.writeAccumulator(repo, TIMEOUT, 1, 1, 60_000_000, 4);
    TestModels.writeModel(repo, "identity_fp32");
    server = E2eServer.start(repo);
    grpc = server.startGrpc();
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  private static String body(String id, float input, boolean start, boolean end) {
    return "{\"parameters\":{\"sequence_id\":"
        + id
        + (start ? ",\"sequence_start\":true" : "")
        + (end ? ",\"sequence_end\":true" : "")
        + "},\"inputs\":[{\"name\":\"INPUT\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":["
        + input
        + "]}]}";
  }

  private static HttpResponse<byte[]> rest(
      String model, String id, float input, boolean start, boolean end) throws Exception {
    return server.post(inferPath(model), body(id, input, start, end));
  }

  /** The version's {@code fulcrum} block of {@code GET v2/models/<m>/stats}. */
  private static JsonNode fulcrumStats(String model) throws Exception {
    HttpResponse<byte[]> r = server.get("/v2/models/" + model + "/stats");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return E2eServer.JSON.readTree(r.body()).get("model_stats").get(0).get("fulcrum");
  }

  private static float sum(HttpResponse<byte[]> r) throws Exception {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return (float) output(r, StatefulModels.OUTPUT).get("data").get(0).asDouble();
  }

  @Test
  void interleavedSequencesKeepTheirOwnSumsOverRest() throws Exception {
    long[] ids = {1001, 1002, 1003};
    float[] sums = new float[ids.length];
    for (int step = 0; step < 5; step++) {
      for (int s = 0; s < ids.length; s++) {
        float x = (s + 1) * 10 + step;
        HttpResponse<byte[]> r = rest(ACC, Long.toString(ids[s]), x, step == 0, step == 4);
        sums[s] += x;
        assertThat(sum(r)).as("sequence %d step %d", ids[s], step).isEqualTo(sums[s]);
        JsonNode names = E2eServer.header(r).get("outputs");
        List<String> shown = new ArrayList<>();
        names.forEach(o -> shown.add(o.get("name").asText()));
        assertThat(shown)
            .as("the state output stays in the batcher")
            .containsExactlyInAnyOrder(StatefulModels.OUTPUT, StatefulModels.CORRID_OUT);
        assertThat(output(r, StatefulModels.CORRID_OUT).get("data").get(0).asLong())
            .as("CORRID filled with the sequence's id")
            .isEqualTo(ids[s]);
      }
    }
    // A start on an id that was used before begins a new sum.
    assertThat(sum(rest(ACC, "1001", 7, true, true))).isEqualTo(7f);
  }

  @Test
  void aTritonConfigPbtxtServesAsTritonWould() throws Exception {
    assertThat(sum(rest(PBTXT, "8001", 2, true, false))).isEqualTo(2f);
    assertThat(sum(rest(PBTXT, "8002", 5, true, false))).isEqualTo(5f);
    assertThat(sum(rest(PBTXT, "8001", 3, false, true))).isEqualTo(5f);
    assertThat(sum(rest(PBTXT, "8002", 5, false, true))).isEqualTo(10f);
  }

  /**
   * Triton's oldest strategy: four sequences open at once on an instance of two batch rows (the
   * direct strategy would hold two and keep the third waiting for 60 s), each with its own sum,
   * started over REST and carried on over gRPC; {@code /config} shows the strategy as Triton does.
   */
  @Test
  void theOldestStrategyHoldsItsCandidatesOverRestAndGrpc() throws Exception {
    for (int i = 1; i <= 4; i++) {
      assertThat(sum(rest(OLDEST, "910" + i, i, true, false))).isEqualTo(i);
    }
    var stub = GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel);
    for (int i = 1; i <= 4; i++) {
      InferParameter id = InferParameter.newBuilder().setUint64Param(9100 + i).build();
      assertThat(
              grpcSum(
                  stub.withDeadlineAfter(60, TimeUnit.SECONDS)
                      .modelInfer(grpcRequest(OLDEST, id, 10 * i, false, i == 4, "o" + i))))
          .as("sequence 910%d: its own sum", i)
          .isEqualTo(11f * i);
    }
    // Sequence 9104 ended: a fifth sequence takes its place at once.
    assertThat(sum(rest(OLDEST, "9105", 5, true, true))).isEqualTo(5f);
    var sequences =
        java.util.Objects.requireNonNull(
            server.service.repository().resolve(OLDEST, "").sequences());
    assertThat(sequences.slots()).isEqualTo(4);
    assertThat(sequences.activeSequences()).isEqualTo(3);
    JsonNode seq =
        E2eServer.JSON
            .readTree(server.get("/v2/models/" + OLDEST + "/config").body())
            .get("sequence_batching");
    assertThat(seq.has("direct")).isFalse();
    assertThat(seq.get("oldest").get("max_candidate_sequences").asInt()).isEqualTo(4);
    assertThat(seq.get("oldest").get("max_queue_delay_microseconds").asLong()).isEqualTo(1000);
    assertThat(seq.get("oldest").get("preferred_batch_size").get(0).asInt()).isEqualTo(2);
    for (int i = 1; i <= 3; i++) {
      assertThat(sum(rest(OLDEST, "910" + i, 0, false, true))).isEqualTo(11f * i);
    }
  }

  @Test
  void metadataShowsOnlyWhatTheClientSendsAndSees() throws Exception {
    JsonNode m = E2eServer.JSON.readTree(server.get("/v2/models/" + ACC).body());
    List<String> inputs = new ArrayList<>();
    m.get("inputs").forEach(i -> inputs.add(i.get("name").asText()));
    List<String> outputs = new ArrayList<>();
    m.get("outputs").forEach(o -> outputs.add(o.get("name").asText()));
    assertThat(inputs).containsExactly(StatefulModels.INPUT);
    assertThat(outputs).containsExactly(StatefulModels.OUTPUT, StatefulModels.CORRID_OUT);
    JsonNode config = E2eServer.JSON.readTree(server.get("/v2/models/" + ACC + "/config").body());
    JsonNode seq = config.get("sequence_batching");
    assertThat(seq).as("Triton's form, which perf_analyzer reads: %s", config).isNotNull();
    assertThat(config.has("dynamic_batching")).isFalse();
    assertThat(seq.get("max_sequence_idle_microseconds").asLong()).isEqualTo(5_000_000);
    assertThat(seq.get("control_input").get(0).get("control").get(0).get("kind").asText())
        .isEqualTo("CONTROL_SEQUENCE_START");
    assertThat(seq.get("control_input").get(1).get("control").get(0).get("data_type").asText())
        .isEqualTo("TYPE_INT64");
    assertThat(seq.get("state").get(0).get("input_name").asText())
        .isEqualTo(StatefulModels.STATE_IN);
    JsonNode meta = E2eServer.JSON.readTree(server.get("/v2").body());
    assertThat(meta.get("extensions").toString()).contains("\"sequence\"");
  }

  @Test
  void aSequencesConcurrentRequestsRunOneAtATime() throws Exception {
    // Twenty requests of one sequence in flight at once (after its start): each adds 1, so the
    // answers are 2..21 exactly once each only when no two of them read the same state.
    assertThat(sum(rest(ACC, "2001", 1, true, false))).isEqualTo(1f);
    List<CompletableFuture<HttpResponse<byte[]>>> sent = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      sent.add(server.sendAsync(server.jsonRequest(inferPath(ACC), body("2001", 1, false, false))));
    }
    List<Float> sums = new ArrayList<>();
    for (CompletableFuture<HttpResponse<byte[]>> f : sent) {
      sums.add(sum(f.get(60, TimeUnit.SECONDS)));
    }
    List<Float> expected = new ArrayList<>();
    for (int i = 2; i <= 21; i++) {
      expected.add((float) i);
    }
    assertThat(sums).containsExactlyInAnyOrderElementsOf(expected);
    assertThat(sum(rest(ACC, "2001", 100, false, true))).isEqualTo(121f);
  }

  private static ModelInferRequest grpcRequest(
      String model, InferParameter id, float input, boolean start, boolean end, String requestId) {
    return ModelInferRequest.newBuilder()
        .setModelName(model)
        .setId(requestId)
        .putParameters("sequence_id", id)
        .putParameters("sequence_start", InferParameter.newBuilder().setBoolParam(start).build())
        .putParameters("sequence_end", InferParameter.newBuilder().setBoolParam(end).build())
        .addInputs(
            ModelInferRequest.InferInputTensor.newBuilder()
                .setName(StatefulModels.INPUT)
                .setDatatype("FP32")
                .addShape(1)
                .addShape(1)
                .setContents(InferTensorContents.newBuilder().addFp32Contents(input)))
        .build();
  }

  private static float grpcSum(ModelInferResponse r) {
    for (int i = 0; i < r.getOutputsCount(); i++) {
      if (r.getOutputs(i).getName().equals(StatefulModels.OUTPUT)) {
        return r.getRawOutputContentsCount() > 0
            ? r.getRawOutputContents(i)
                .asReadOnlyByteBuffer()
                .order(ByteOrder.LITTLE_ENDIAN)
                .getFloat()
            : r.getOutputs(i).getContents().getFp32Contents(0);
      }
    }
    throw new AssertionError("no OUTPUT in " + r);
  }

  @Test
  void interleavedSequencesOverGrpcWithUint64AndInt64Ids() {
    var stub = GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel);
    InferParameter a = InferParameter.newBuilder().setUint64Param(3001).build();
    InferParameter b = InferParameter.newBuilder().setInt64Param(3002).build();
    float sa = 0;
    float sb = 0;
    for (int step = 0; step < 4; step++) {
      boolean first = step == 0;
      boolean last = step == 3;
      sa += step + 1;
      sb += 100;
      assertThat(
              grpcSum(
                  stub.withDeadlineAfter(60, TimeUnit.SECONDS)
                      .modelInfer(grpcRequest(ACC, a, step + 1, first, last, "a" + step))))
          .isEqualTo(sa);
      assertThat(
              grpcSum(
                  stub.withDeadlineAfter(60, TimeUnit.SECONDS)
                      .modelInfer(grpcRequest(ACC, b, 100, first, last, "b" + step))))
          .isEqualTo(sb);
    }
    assertThatThrownBy(
            () ->
                stub.modelInfer(
                    grpcRequest(
                        ACC,
                        InferParameter.newBuilder().setStringParam("user-7").build(),
                        1,
                        true,
                        false,
                        "s")))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(
            e ->
                assertThat(((StatusRuntimeException) e).getStatus().getCode())
                    .isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("takes integer sequence ids");
    assertThatThrownBy(
            () ->
                stub.modelInfer(
                    grpcRequest(
                        ACC,
                        InferParameter.newBuilder().setInt64Param(0).build(),
                        1,
                        true,
                        false,
                        "none")))
        .isInstanceOf(StatusRuntimeException.class)
        .hasMessageContaining("INVALID_ARGUMENT")
        .hasMessageContaining("must specify a non-zero or non-empty correlation ID");
  }

  @Test
  void oneStreamCarriesASequenceInOrder() throws Exception {
    CallRecorder<ModelStreamInferResponse> call = new CallRecorder<>();
    StreamObserver<ModelInferRequest> requests =
        GRPCInferenceServiceGrpc.newStub(grpc.channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .modelStreamInfer(call);
    InferParameter id = InferParameter.newBuilder().setUint64Param(4001).build();
    int n = 10;
    for (int i = 0; i < n; i++) {
      requests.onNext(grpcRequest(ACC, id, i + 1, i == 0, i == n - 1, "r" + i));
    }
    requests.onCompleted();
    Map<String, Float> byId = new HashMap<>();
    for (int i = 0; i < n; i++) {
      ModelStreamInferResponse r = call.answers.poll(60, TimeUnit.SECONDS);
      assertThat(r).as("answer %d", i).isNotNull();
      assertThat(r.getErrorMessage()).isEmpty();
      byId.put(r.getInferResponse().getId(), grpcSum(r.getInferResponse()));
    }
    for (int i = 0; i < n; i++) {
      assertThat(byId.get("r" + i)).as("request r%d", i).isEqualTo((i + 1) * (i + 2) / 2f);
    }
    assertThat(call.ended.get(60, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.OK);
  }

  @Test
  void misuseIsRefusedAsTritonRefusesIt() throws Exception {
    HttpResponse<byte[]> noId =
        server.post(
            inferPath(ACC),
            "{\"inputs\":[{\"name\":\"INPUT\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1]}]}");
    assertThat(noId.statusCode()).isEqualTo(400);
    assertThat(error(noId))
        .isEqualTo(
            "inference request to model 'accumulator' must specify a non-zero or non-empty"
                + " correlation ID (parameter 'sequence_id')");
    HttpResponse<byte[]> notStarted = rest(ACC, "5001", 1, false, false);
    assertThat(notStarted.statusCode()).isEqualTo(400);
    assertThat(error(notStarted))
        .startsWith(
            "inference request for sequence 5001 to model 'accumulator' must specify the START"
                + " flag on the first request of the sequence");
    HttpResponse<byte[]> twoRows =
        server.post(
            inferPath(ACC),
            "{\"parameters\":{\"sequence_id\":5002,\"sequence_start\":true},\"inputs\":[{\"name\":"
                + "\"INPUT\",\"shape\":[2,1],\"datatype\":\"FP32\",\"data\":[1,2]}]}");
    assertThat(twoRows.statusCode()).isEqualTo(400);
    assertThat(error(twoRows)).contains("one row");
    HttpResponse<byte[]> badFlag =
        server.post(
            inferPath(ACC),
            "{\"parameters\":{\"sequence_id\":5003,\"sequence_start\":3},\"inputs\":[{\"name\":"
                + "\"INPUT\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1]}]}");
    assertThat(badFlag.statusCode()).isEqualTo(400);
    assertThat(error(badFlag)).contains("'sequence_start' must be a boolean");
    HttpResponse<byte[]> stateAsInput =
        server.post(
            inferPath(ACC),
            "{\"parameters\":{\"sequence_id\":5004,\"sequence_start\":true},\"inputs\":["
                + "{\"name\":\"INPUT\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1]},"
                + "{\"name\":\"STATE_IN\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[9]}]}");
    assertThat(stateAsInput.statusCode()).isEqualTo(400);
    assertThat(error(stateAsInput)).contains("has no input named 'STATE_IN'");
    // A model without sequence batching ignores the parameters, as Triton's dynamic batcher does.
    HttpResponse<byte[]> plain =
        server.post(
            inferPath("identity_fp32"),
            "{\"parameters\":{\"sequence_id\":9,\"sequence_start\":true},\"inputs\":[{\"name\":"
                + "\"INPUT0\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1]}]}");
    assertThat(plain.statusCode()).as(text(plain)).isEqualTo(200);
  }

  @Test
  void anEndFreesTheSlotForASequenceThatWaitedAndOverloadIsRefused() throws Exception {
    // One slot: A holds it; B's start waits for it (the one request that may wait); C is refused.
    assertThat(sum(rest(ONE_SLOT, "6001", 1, true, false))).isEqualTo(1f);
    CompletableFuture<HttpResponse<byte[]>> b =
        server.sendAsync(server.jsonRequest(inferPath(ONE_SLOT), body("6002", 5, true, false)));
    var sequences =
        java.util.Objects.requireNonNull(
            server.service.repository().resolve(ONE_SLOT, "").sequences());
    Await.until("B waits for the slot", () -> sequences.waiting() == 1);
    // B waits in the batcher, not in the queue: it is pending all the same, and A holds a slot.
    assertThat(fulcrumStats(ONE_SLOT).get("pending").asInt()).isEqualTo(1);
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bind(server.service.repository());
    String labels = "{model=\"" + ONE_SLOT + "\",version=\"1\"} ";
    assertThat(metrics.scrape())
        .contains("nv_inference_pending_request_count" + labels + "1\n")
        .contains("fulcrum_sequence_slots" + labels + "1\n")
        .contains("fulcrum_sequence_slots_held" + labels + "1\n")
        .contains("fulcrum_sequence_backlog" + labels + "1\n");
    JsonNode seqStats = fulcrumStats(ONE_SLOT).get("sequences");
    assertThat(seqStats.get("slots").asInt()).isEqualTo(1);
    assertThat(seqStats.get("held").asInt()).isEqualTo(1);
    assertThat(seqStats.get("backlog").asInt()).isEqualTo(1);
    assertThat(seqStats.get("waiting").asInt()).isEqualTo(1);
    long rejectedBefore = fulcrumStats(ONE_SLOT).get("rejected").asLong();
    HttpResponse<byte[]> c = rest(ONE_SLOT, "6003", 1, true, false);
    assertThat(c.statusCode()).as(text(c)).isEqualTo(429);
    assertThat(error(c)).contains("is overloaded").contains("1 sequence slots");
    assertThat(fulcrumStats(ONE_SLOT).get("rejected").asLong())
        .as("the batcher's 429 counts as a rejection")
        .isEqualTo(rejectedBefore + 1);
    assertThat(b).as("B cannot run while A holds the only slot").isNotDone();
    assertThat(sum(rest(ONE_SLOT, "6001", 2, false, true))).as("A ends").isEqualTo(3f);
    assertThat(sum(b.get(60, TimeUnit.SECONDS))).as("B got the slot").isEqualTo(5f);
    HttpResponse<byte[]> afterEnd = rest(ONE_SLOT, "6001", 1, false, false);
    assertThat(afterEnd.statusCode()).isEqualTo(400);
    assertThat(error(afterEnd)).contains("must specify the START flag");
    assertThat(sum(rest(ONE_SLOT, "6002", 1, false, true))).isEqualTo(6f);
  }

  /**
   * A request that times out waiting ends its sequence, as in Triton: here the start of a sequence
   * that waited for the only slot, so the sequence never opened and its next request is refused.
   */
  @Test
  void aStartThatTimesOutWaitingForASlotEndsItsSequence() throws Exception {
    assertThat(sum(rest(TIMEOUT, "5001", 1, true, false))).isEqualTo(1f);
    HttpResponse<byte[]> late =
        server.post(
            inferPath(TIMEOUT),
            body("5002", 7, true, false)
                .replace("\"sequence_id\"", "\"timeout\":50000,\"sequence_id\""));
    assertThat(late.statusCode()).as(text(late)).isEqualTo(504);
    assertThat(error(late)).contains("timed out");
    HttpResponse<byte[]> next = rest(TIMEOUT, "5002", 1, false, false);
    assertThat(next.statusCode()).isEqualTo(400);
    assertThat(error(next)).contains("sequence 5002").contains("must specify the START flag");
    assertThat(sum(rest(TIMEOUT, "5001", 1, false, true))).as("A goes on").isEqualTo(2f);
  }

  @Test
  void anIdleSequenceLosesItsSlotAndItsState() throws Exception {
    assertThat(sum(rest(IDLE, "7001", 4, true, false))).isEqualTo(4f);
    // B waits until A has been idle for 200 ms, then takes the slot.
    assertThat(sum(rest(IDLE, "7002", 10, true, false))).isEqualTo(10f);
    HttpResponse<byte[]> a = rest(IDLE, "7001", 1, false, false);
    assertThat(a.statusCode()).isEqualTo(400);
    assertThat(error(a)).contains("sequence 7001").contains("must specify the START flag");
    assertThat(fulcrumStats(IDLE).get("sequences").get("idle_ended").asLong())
        .as("A ended by the idle limit")
        .isGreaterThanOrEqualTo(1);
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bind(server.service.repository());
    assertThat(metrics.scrape())
        .containsPattern(
            "fulcrum_sequence_idle_ended_total\\{model=\"" + IDLE + "\",version=\"1\"} [1-9]");
  }
}
