package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelConfigRequest;
import dev.fulcrum.server.grpc.proto.ModelEnsembling;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelMetadataRequest;
import dev.fulcrum.server.grpc.proto.ModelMetadataResponse;
import dev.fulcrum.server.grpc.proto.ModelReadyRequest;
import dev.fulcrum.server.grpc.proto.ModelStatistics;
import dev.fulcrum.server.grpc.proto.ModelStatisticsRequest;
import dev.fulcrum.server.grpc.proto.RepositoryIndexRequest;
import dev.fulcrum.server.grpc.proto.RepositoryIndexResponse;
import dev.fulcrum.server.grpc.proto.RepositoryModelLoadRequest;
import dev.fulcrum.server.grpc.proto.StatisticDuration;
import dev.fulcrum.testkit.EnsembleModels;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Triton ensemble over real sockets: the testkit's {@code scale} (a preprocessing ONNX model)
 * feeding {@code classify}, chained by {@code scale_classify} (Triton's config.pbtxt) and {@code
 * scale_classify_yaml} (config.yaml). Answers over REST and gRPC, readiness, metadata, the
 * configuration in Triton's form, the statistics of the ensemble (counted as Triton counts an
 * ensemble's) and of its composing models, a request's timing step by step, a bad input, and a
 * composing model reloaded so that the ensemble no longer fits it. Nothing here asserts a duration.
 */
class EnsembleE2eTest {
  @TempDir static Path repo;
  private static E2eServer server;
  private static E2eServer.GrpcPort grpc;

  private static final float[] ROW0 = {0.5f, 1f, -1f, 2f};
  private static final float[] ROW1 = {3f, 0f, 0.25f, 1f};

  @BeforeAll
  static void start() throws Exception {
    EnsembleModels.write(repo);
    server = E2eServer.start(repo);
    grpc = server.startGrpc();
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  private static String body(String outputs) {
    return "{\"inputs\":[{\"name\":\"INPUT\",\"shape\":[2,4],\"datatype\":\"FP32\",\"data\":["
        + floats(ROW0)
        + ","
        + floats(ROW1)
        + "]}]"
        + outputs
        + "}";
  }

  private static String floats(float[] v) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < v.length; i++) {
      b.append(i == 0 ? "" : ",").append(v[i]);
    }
    return b.toString();
  }

  private static long successes(String model) throws Exception {
    HttpResponse<byte[]> r = server.get("/v2/models/" + model + "/stats");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return E2eServer.JSON
        .readTree(r.body())
        .get("model_stats")
        .get(0)
        .get("inference_stats")
        .get("success")
        .get("count")
        .asLong();
  }

  private static void assertScores(JsonNode scores) {
    assertThat(scores.get("shape").toString()).isEqualTo("[2,3]");
    float[] e0 = EnsembleModels.expectedScores(ROW0);
    float[] e1 = EnsembleModels.expectedScores(ROW1);
    for (int c = 0; c < 3; c++) {
      assertThat(scores.get("data").get(c).floatValue()).isCloseTo(e0[c], within(1e-5f));
      assertThat(scores.get("data").get(3 + c).floatValue()).isCloseTo(e1[c], within(1e-5f));
    }
  }

  @Test
  void theEnsembleAnswersOverRestThroughBothModels() throws Exception {
    for (String ensemble : new String[] {EnsembleModels.ENSEMBLE, EnsembleModels.ENSEMBLE_YAML}) {
      long scaleBefore = successes(EnsembleModels.SCALE);
      long classifyBefore = successes(EnsembleModels.CLASSIFY);
      long before = successes(ensemble);
      HttpResponse<byte[]> r = server.post(inferPath(ensemble), body(""));
      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      JsonNode header = E2eServer.JSON.readTree(r.body());
      assertThat(header.get("model_name").asText()).isEqualTo(ensemble);
      assertScores(output(r, EnsembleModels.SCORES));
      JsonNode label = output(r, EnsembleModels.LABEL);
      assertThat(label.get("datatype").asText()).isEqualTo("INT64");
      assertThat(label.get("shape").toString()).isEqualTo("[2,1]");
      // each step was a request of its model: the composing models count it, as Triton does
      assertThat(successes(ensemble)).isEqualTo(before + 1);
      assertThat(successes(EnsembleModels.SCALE)).isEqualTo(scaleBefore + 1);
      assertThat(successes(EnsembleModels.CLASSIFY)).isEqualTo(classifyBefore + 1);
    }
  }

  @Test
  void aRequestedOutputIsTheOnlyOneAnswered() throws Exception {
    HttpResponse<byte[]> r =
        server.post(
            inferPath(EnsembleModels.ENSEMBLE), body(",\"outputs\":[{\"name\":\"LABEL\"}]"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode outputs = E2eServer.JSON.readTree(r.body()).get("outputs");
    assertThat(outputs).hasSize(1);
    assertThat(outputs.get(0).get("name").asText()).isEqualTo("LABEL");
  }

  /** A one-row ModelInfer request of the ensemble, ROW0 as its INPUT. */
  private static ModelInferRequest.Builder grpcRequest(String model) {
    ModelInferRequest.InferInputTensor.Builder in =
        ModelInferRequest.InferInputTensor.newBuilder()
            .setName(EnsembleModels.INPUT)
            .setDatatype("FP32")
            .addShape(1)
            .addShape(4);
    InferTensorContents.Builder c = InferTensorContents.newBuilder();
    for (float f : ROW0) {
      c.addFp32Contents(f);
    }
    return ModelInferRequest.newBuilder().setModelName(model).addInputs(in.setContents(c));
  }

  private static JsonNode restStats(E2eServer on, String model) throws Exception {
    HttpResponse<byte[]> r = on.get("/v2/models/" + model + "/stats");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return E2eServer.JSON.readTree(r.body()).get("model_stats").get(0);
  }

  private static ModelStatistics grpcStats(String model) {
    return GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
        .modelStatistics(ModelStatisticsRequest.newBuilder().setName(model).build())
        .getModelStats(0);
  }

  @Test
  void theStatisticsCountAnEnsembleRequestAsTritonDoes() throws Exception {
    // Triton's ensemble scheduler: a success is one execution of its rows (inference_count +2 for
    // a request of 2 rows), with a queue (its own wait before its first step) and a compute (its
    // steps' compute, added up), and a batch_stats entry under its batch size
    String model = EnsembleModels.ENSEMBLE_YAML;
    JsonNode before = restStats(server, model);
    HttpResponse<byte[]> r = server.post(inferPath(model), body(""));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode after = restStats(server, model);
    assertThat(after.get("inference_count").asLong())
        .isEqualTo(before.get("inference_count").asLong() + 2);
    assertThat(after.get("execution_count").asLong())
        .isEqualTo(before.get("execution_count").asLong() + 1);
    assertThat(after.get("last_inference").asLong()).isPositive();
    for (String phase : List.of("success", "queue", "compute_input", "compute_infer")) {
      assertThat(after.get("inference_stats").get(phase).get("count").asLong())
          .as(phase)
          .isEqualTo(before.get("inference_stats").get(phase).get("count").asLong() + 1);
    }
    assertThat(after.get("batch_stats").findValuesAsText("batch_size")).contains("2");

    ModelStatistics g0 = grpcStats(model);
    GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .modelInfer(grpcRequest(model).build());
    ModelStatistics g1 = grpcStats(model);
    assertThat(g1.getInferenceCount()).isEqualTo(g0.getInferenceCount() + 1);
    assertThat(g1.getExecutionCount()).isEqualTo(g0.getExecutionCount() + 1);
    assertThat(g1.getInferenceStats().getQueue().getCount())
        .isEqualTo(g0.getInferenceStats().getQueue().getCount() + 1);
    assertThat(g1.getInferenceStats().getComputeInfer().getCount())
        .isEqualTo(g0.getInferenceStats().getComputeInfer().getCount() + 1);
    assertThat(g1.getInferenceStats().getComputeInfer().getNs())
        .isGreaterThanOrEqualTo(g0.getInferenceStats().getComputeInfer().getNs());
  }

  private static final List<String> PHASES =
      List.of("compute_input", "compute_infer", "compute_output");

  /** {@code phase}'s ns in a REST stats answer's inference_stats. */
  private static long ns(JsonNode stats, String phase) {
    return stats.get("inference_stats").get(phase).get("ns").asLong();
  }

  /** {@code phase}'s {count, ns} in a gRPC ModelStatistics' inference_stats. */
  private static StatisticDuration phase(ModelStatistics stats, String phase) {
    var s = stats.getInferenceStats();
    return switch (phase) {
      case "compute_input" -> s.getComputeInput();
      case "compute_infer" -> s.getComputeInfer();
      case "compute_output" -> s.getComputeOutput();
      case "queue" -> s.getQueue();
      default -> s.getSuccess();
    };
  }

  @Test
  void theEnsemblesComputePhasesAreItsStepsAddedUpOverRestAndGrpc() throws Exception {
    // Triton's ensemble scheduler adds each composing request's compute_input, compute_infer and
    // compute_output into the ensemble's own (and its batch_stats): perf_analyzer's and the
    // dashboards' per-phase figures for an ensemble are its steps'
    String model = EnsembleModels.ENSEMBLE;
    List<String> models = List.of(model, EnsembleModels.SCALE, EnsembleModels.CLASSIFY);
    Map<String, JsonNode> before = new HashMap<>();
    for (String m : models) {
      before.put(m, restStats(server, m));
    }
    HttpResponse<byte[]> r = server.post(inferPath(model), body(""));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    Map<String, JsonNode> after = new HashMap<>();
    for (String m : models) {
      after.put(m, restStats(server, m));
    }
    long computeNs = 0;
    for (String phase : PHASES) {
      long ensemble = ns(after.get(model), phase) - ns(before.get(model), phase);
      long steps =
          ns(after.get(EnsembleModels.SCALE), phase)
              - ns(before.get(EnsembleModels.SCALE), phase)
              + ns(after.get(EnsembleModels.CLASSIFY), phase)
              - ns(before.get(EnsembleModels.CLASSIFY), phase);
      assertThat(ensemble).as(phase).isPositive().isEqualTo(steps);
      computeNs += ensemble;
    }
    long queueNs = ns(after.get(model), "queue") - ns(before.get(model), "queue");
    long successNs = ns(after.get(model), "success") - ns(before.get(model), "success");
    // its steps ran one after the other, inside its own time
    assertThat(queueNs + computeNs).isLessThanOrEqualTo(successNs);
    JsonNode twoRows = null;
    for (JsonNode b : after.get(model).get("batch_stats")) {
      if (b.get("batch_size").asInt() == 2) {
        twoRows = b;
      }
    }
    assertThat(twoRows).isNotNull();
    for (String phase : PHASES) {
      assertThat(twoRows.get(phase).get("ns").asLong()).as(phase).isPositive();
    }

    ModelStatistics g0 = grpcStats(model);
    ModelStatistics s0 = grpcStats(EnsembleModels.SCALE);
    ModelStatistics c0 = grpcStats(EnsembleModels.CLASSIFY);
    GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .modelInfer(grpcRequest(model).build());
    ModelStatistics g1 = grpcStats(model);
    ModelStatistics s1 = grpcStats(EnsembleModels.SCALE);
    ModelStatistics c1 = grpcStats(EnsembleModels.CLASSIFY);
    long grpcComputeNs = 0;
    for (String phase : PHASES) {
      assertThat(phase(g1, phase).getCount()).as(phase).isEqualTo(phase(g0, phase).getCount() + 1);
      long ensemble = phase(g1, phase).getNs() - phase(g0, phase).getNs();
      long steps =
          phase(s1, phase).getNs()
              - phase(s0, phase).getNs()
              + phase(c1, phase).getNs()
              - phase(c0, phase).getNs();
      assertThat(ensemble).as(phase).isPositive().isEqualTo(steps);
      grpcComputeNs += ensemble;
    }
    assertThat(grpcComputeNs)
        .isLessThanOrEqualTo(phase(g1, "success").getNs() - phase(g0, "success").getNs());
    assertThat(g1.getBatchStatsList())
        .filteredOn(b -> b.getBatchSize() == 1)
        .singleElement()
        .satisfies(
            b -> {
              assertThat(b.getComputeInput().getNs()).isPositive();
              assertThat(b.getComputeInfer().getNs()).isPositive();
              assertThat(b.getComputeOutput().getNs()).isPositive();
            });
  }

  @Test
  void theTimingParameterSaysWhereEachStepsTimeWentOverRestAndGrpc() throws Exception {
    HttpResponse<byte[]> r =
        server.post(inferPath(EnsembleModels.ENSEMBLE), body(",\"parameters\":{\"timing\":true}"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode p = E2eServer.JSON.readTree(r.body()).get("parameters");
    assertThat(p).as(text(r)).isNotNull();
    assertThat(p.get("step.0.model").asText()).isEqualTo(EnsembleModels.SCALE);
    assertThat(p.get("step.0.version").asText()).isEqualTo("1");
    assertThat(p.get("step.1.model").asText()).isEqualTo(EnsembleModels.CLASSIFY);
    for (String field :
        List.of("start_us", "queue_us", "compute_us", "batch_rows", "request_rows", "total_us")) {
      assertThat(p.get("step.0." + field).isIntegralNumber()).as(field).isTrue();
      assertThat(p.get("step.1." + field).isIntegralNumber()).as(field).isTrue();
    }
    assertThat(p.get("step.1.request_rows").asInt()).isEqualTo(2);
    assertThat(p.get("step.1.start_us").asLong())
        .isGreaterThanOrEqualTo(p.get("step.0.start_us").asLong());
    // the ensemble's own: its steps' queue and compute added up, no pass of its own
    assertThat(p.get("queue_us").asLong())
        .isEqualTo(p.get("step.0.queue_us").asLong() + p.get("step.1.queue_us").asLong());
    assertThat(p.get("compute_us").asLong())
        .isEqualTo(p.get("step.0.compute_us").asLong() + p.get("step.1.compute_us").asLong());
    assertThat(p.get("batch_rows").asInt()).isZero();
    assertThat(p.get("request_rows").asInt()).isEqualTo(2);
    assertThat(r.headers().firstValue("Server-Timing").orElseThrow())
        .startsWith("queue;dur=")
        .contains("step0;desc=\"scale v1\";dur=")
        .contains("step1;desc=\"classify v1\";dur=");

    ModelInferResponse g =
        GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .modelInfer(
                grpcRequest(EnsembleModels.ENSEMBLE)
                    .putParameters("timing", InferParameter.newBuilder().setBoolParam(true).build())
                    .build());
    Map<String, InferParameter> gp = g.getParametersMap();
    assertThat(gp.get("step.0.model").getStringParam()).isEqualTo(EnsembleModels.SCALE);
    assertThat(gp.get("step.1.model").getStringParam()).isEqualTo(EnsembleModels.CLASSIFY);
    assertThat(gp.get("step.1.version").getStringParam()).isEqualTo("1");
    assertThat(gp.get("step.1.request_rows").getInt64Param()).isEqualTo(1);
    assertThat(gp.get("compute_us").getInt64Param())
        .isEqualTo(
            gp.get("step.0.compute_us").getInt64Param()
                + gp.get("step.1.compute_us").getInt64Param());
    assertThat(gp.get("step.0.cache_hit").getBoolParam()).isFalse();

    // a request that does not ask gets none
    HttpResponse<byte[]> plain = server.post(inferPath(EnsembleModels.ENSEMBLE), body(""));
    assertThat(E2eServer.JSON.readTree(plain.body()).get("parameters")).isNull();
    assertThat(plain.headers().firstValue("Server-Timing")).isEmpty();
  }

  @Test
  void aComposingModelReloadedToAnotherOutputTypeTakesTheEnsemblesOutOfReady(@TempDir Path own)
      throws Exception {
    // the team ships a scale whose SCALED is FP64: the reload is taken (scale's own clients may
    // want it), and both ensembles that feed SCALED to classify's FP32 FEATURES say they no
    // longer fit, in their readiness, the index and their requests' error, until scale fits again
    EnsembleModels.write(own);
    try (E2eServer s =
            E2eServer.serving(own)
                .settings(
                    new ModelRepository.Settings(
                        ControlMode.EXPLICIT, 1, List.of("*"), Duration.ofSeconds(15)))
                .start();
        E2eServer.GrpcPort port = s.startGrpc()) {
      var stub = GRPCInferenceServiceGrpc.newBlockingStub(port.channel);
      String e = EnsembleModels.ENSEMBLE;
      assertThat(s.get("/v2/models/" + e + "/ready").statusCode()).isEqualTo(200);

      EnsembleModels.writeScale(
          own, "2", EnsembleModels.scaleFp64(), EnsembleModels.SCALE_FP64_PBTXT);
      HttpResponse<byte[]> load = s.post("/v2/repository/models/scale/load", "");
      assertThat(load.statusCode()).as(text(load)).isEqualTo(200);

      String why = "FP64, but FP32 is expected by input 'FEATURES' of model 'classify'";
      assertThat(s.get("/v2/models/" + e + "/ready").statusCode()).isEqualTo(503);
      assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName(e).build()).getReady())
          .isFalse();
      JsonNode index = E2eServer.JSON.readTree(s.post("/v2/repository/index", "").body());
      for (String ensemble : List.of(e, EnsembleModels.ENSEMBLE_YAML)) {
        JsonNode row = null;
        for (JsonNode n : index) {
          if (n.get("name").asText().equals(ensemble)) {
            row = n;
          }
        }
        assertThat(row).as(index.toString()).isNotNull();
        assertThat(row.get("state").asText()).isEqualTo("UNAVAILABLE");
        assertThat(row.get("reason").asText())
            .contains("a composing model changed after the ensemble loaded")
            .contains(why);
      }
      RepositoryIndexResponse.ModelIndex grpcRow =
          stub.repositoryIndex(RepositoryIndexRequest.getDefaultInstance()).getModelsList().stream()
              .filter(m -> m.getName().equals(e))
              .findFirst()
              .orElseThrow();
      assertThat(grpcRow.getState()).isEqualTo("UNAVAILABLE");
      assertThat(grpcRow.getReason()).contains(why);
      HttpResponse<byte[]> refused = s.post(inferPath(e), body(""));
      assertThat(refused.statusCode()).as(text(refused)).isEqualTo(503);
      assertThat(error(refused)).contains(why);

      // scale fits again: so do the ensembles
      EnsembleModels.writeScale(own, "3", EnsembleModels.scale(), EnsembleModels.SCALE_PBTXT);
      stub.repositoryModelLoad(
          RepositoryModelLoadRequest.newBuilder().setModelName("scale").build());
      assertThat(s.get("/v2/models/" + e + "/ready").statusCode()).isEqualTo(200);
      HttpResponse<byte[]> ok = s.post(inferPath(e), body(""));
      assertThat(ok.statusCode()).as(text(ok)).isEqualTo(200);
      assertScores(output(ok, EnsembleModels.SCORES));
    }
  }

  @Test
  void theEnsembleAnswersOverGrpc() throws Exception {
    ModelInferRequest.InferInputTensor.Builder in =
        ModelInferRequest.InferInputTensor.newBuilder()
            .setName(EnsembleModels.INPUT)
            .setDatatype("FP32")
            .addShape(1)
            .addShape(4);
    InferTensorContents.Builder c = InferTensorContents.newBuilder();
    for (float f : ROW0) {
      c.addFp32Contents(f);
    }
    ModelInferResponse response =
        GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(EnsembleModels.ENSEMBLE)
                    .setId("g1")
                    .addInputs(in.setContents(c))
                    .build());
    assertThat(response.getId()).isEqualTo("g1");
    int scores = -1;
    for (int i = 0; i < response.getOutputsCount(); i++) {
      if (response.getOutputs(i).getName().equals(EnsembleModels.SCORES)) {
        scores = i;
      }
    }
    assertThat(scores).isNotNegative();
    float[] v = new float[3];
    if (response.getRawOutputContentsCount() > 0) {
      ByteBuffer raw = response.getRawOutputContents(scores).asReadOnlyByteBuffer();
      raw.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
    } else {
      for (int i = 0; i < 3; i++) {
        v[i] = response.getOutputs(scores).getContents().getFp32Contents(i);
      }
    }
    float[] expected = EnsembleModels.expectedScores(ROW0);
    for (int i = 0; i < 3; i++) {
      assertThat(v[i]).isCloseTo(expected[i], within(1e-5f));
    }
    assertThat(
            GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
                .modelStatistics(
                    ModelStatisticsRequest.newBuilder().setName(EnsembleModels.ENSEMBLE).build())
                .getModelStats(0)
                .getInferenceStats()
                .getSuccess()
                .getCount())
        .isPositive();
  }

  @Test
  void readinessMetadataAndConfigurationAreTritons() throws Exception {
    assertThat(server.get("/v2/models/" + EnsembleModels.ENSEMBLE + "/ready").statusCode())
        .isEqualTo(200);
    HttpResponse<byte[]> meta = server.get("/v2/models/" + EnsembleModels.ENSEMBLE);
    assertThat(meta.statusCode()).as(text(meta)).isEqualTo(200);
    JsonNode m = E2eServer.JSON.readTree(meta.body());
    assertThat(m.get("platform").asText()).isEqualTo("ensemble");
    assertThat(m.get("inputs").get(0).get("shape").toString()).isEqualTo("[-1,4]");
    assertThat(m.get("outputs").get(1).get("name").asText()).isEqualTo("LABEL");

    HttpResponse<byte[]> config = server.get("/v2/models/" + EnsembleModels.ENSEMBLE + "/config");
    assertThat(config.statusCode()).as(text(config)).isEqualTo(200);
    JsonNode step = E2eServer.JSON.readTree(config.body()).get("ensemble_scheduling").get("step");
    assertThat(step.get(0).get("model_name").asText()).isEqualTo("scale");
    assertThat(step.get(0).get("model_version").asLong()).isEqualTo(-1);
    assertThat(step.get(0).get("input_map").get("RAW").asText()).isEqualTo("INPUT");
    assertThat(step.get(1).get("output_map").get("LABEL").asText()).isEqualTo("LABEL");

    var stub = GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel);
    ModelEnsembling grpcSteps =
        stub.modelConfig(ModelConfigRequest.newBuilder().setName(EnsembleModels.ENSEMBLE).build())
            .getConfig()
            .getEnsembleScheduling();
    assertThat(grpcSteps.getStepCount()).isEqualTo(2);
    assertThat(grpcSteps.getStep(1).getModelName()).isEqualTo("classify");
    assertThat(grpcSteps.getStep(1).getInputMapMap()).containsEntry("FEATURES", "scaled");
    ModelMetadataResponse grpcMeta =
        stub.modelMetadata(
            ModelMetadataRequest.newBuilder().setName(EnsembleModels.ENSEMBLE_YAML).build());
    assertThat(grpcMeta.getPlatform()).isEqualTo("ensemble");
  }

  @Test
  void aBadInputIsA400NamingTheEnsemble() throws Exception {
    HttpResponse<byte[]> r =
        server.post(
            inferPath(EnsembleModels.ENSEMBLE),
            "{\"inputs\":[{\"name\":\"INPUT\",\"shape\":[1,3],\"datatype\":\"FP32\","
                + "\"data\":[1,2,3]}]}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
    assertThat(error(r)).contains(EnsembleModels.ENSEMBLE);
  }
}
