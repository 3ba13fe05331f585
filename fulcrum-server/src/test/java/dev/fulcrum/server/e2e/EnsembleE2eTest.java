package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelConfigRequest;
import dev.fulcrum.server.grpc.proto.ModelEnsembling;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelMetadataRequest;
import dev.fulcrum.server.grpc.proto.ModelMetadataResponse;
import dev.fulcrum.server.grpc.proto.ModelStatisticsRequest;
import dev.fulcrum.testkit.EnsembleModels;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Triton ensemble over real sockets: the testkit's {@code scale} (a preprocessing ONNX model)
 * feeding {@code classify}, chained by {@code scale_classify} (Triton's config.pbtxt) and {@code
 * scale_classify_yaml} (config.yaml). Answers over REST and gRPC, readiness, metadata, the
 * configuration in Triton's form, the statistics of the ensemble and of its composing models, and a
 * bad input. Nothing here asserts a duration.
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
