package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static dev.fulcrum.testkit.SklearnModels.OUTPUT_LABEL;
import static dev.fulcrum.testkit.SklearnModels.OUTPUT_PROBABILITY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.testkit.SklearnModels;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models as users export them, dropped into a repository with no config: scikit-learn classifiers
 * as skl2onnx converts them by default end in a ZipMap, whose {@code seq(map(label, float))}
 * probabilities are served as FP32 [rows, classes] over REST and gRPC, listed in the metadata and
 * the completed configuration, and joined by the dynamic batcher like any tensor. A PyTorch export
 * without a dynamic batch axis refuses more rows with a message that says how to batch.
 */
class ExportedModelsE2eTest {
  @TempDir static Path repo;
  @AutoClose private static E2eServer server; // and the gRPC port it started
  private static E2eServer.GrpcPort grpc;

  private static final float[][] ROWS = {{0.5f, -1f, 2f, 0f}, {-3f, 0.25f, 1f, 4f}};

  @BeforeAll
  static void start() throws Exception {
    SklearnModels.write(repo, "skl_zipmap", true, false);
    SklearnModels.write(repo, "skl_zipmap_strings", true, true);
    // torch.onnx.export without dynamic_axes: the example's batch of 1 is fixed in the graph
    OnnxModelBuilder.create("fixed_batch")
        .input("input", DataType.FP32, 1, 4)
        .output("output", DataType.FP32, 1, 4)
        .node("Relu", List.of("input"), List.of("output"))
        .write(repo.resolve("torch_fixed_batch").resolve("1").resolve("model.onnx"));
    server = E2eServer.start(repo);
    grpc = server.startGrpc();
  }

  private static HttpResponse<byte[]> ok(HttpResponse<byte[]> r) {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return r;
  }

  private static String rowsJson() {
    StringBuilder b = new StringBuilder();
    for (float[] row : ROWS) {
      for (float v : row) {
        b.append(b.isEmpty() ? "" : ",").append(v);
      }
    }
    return b.toString();
  }

  private static void assertProbabilities(List<Float> got) {
    assertThat(got).hasSize(ROWS.length * 3);
    int i = 0;
    for (float[] row : ROWS) {
      for (float want : SklearnModels.expected(row)) {
        assertThat(got.get(i++)).isCloseTo(want, within(1e-6f));
      }
    }
  }

  @Test
  void metadataAndConfigListTheProbabilitiesAsAnFp32Tensor() throws Exception {
    JsonNode meta = E2eServer.JSON.readTree(ok(server.get("/v2/models/skl_zipmap")).body());
    assertThat(meta.get("outputs").toString())
        .isEqualTo(
            "[{\"name\":\"output_label\",\"datatype\":\"INT64\",\"shape\":[-1]},"
                + "{\"name\":\"output_probability\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}]");
    JsonNode config =
        E2eServer.JSON.readTree(ok(server.get("/v2/models/skl_zipmap/config")).body());
    assertThat(config.get("max_batch_size").asInt()).isEqualTo(32);
    assertThat(config.get("output").get(1).get("dims").toString()).isEqualTo("[-1]");
  }

  @Test
  void restJsonGivesTheProbabilitiesOfEachRowAndStringLabels() throws Exception {
    HttpResponse<byte[]> r =
        ok(
            server.post(
                inferPath("skl_zipmap_strings"),
                """
                {"inputs":[{"name":"float_input","shape":[2,4],"datatype":"FP32","data":[%s]}]}"""
                    .formatted(rowsJson())));
    JsonNode p = output(r, OUTPUT_PROBABILITY);
    assertThat(p.get("datatype").asText()).isEqualTo("FP32");
    assertThat(p.get("shape").toString()).isEqualTo("[2,3]");
    List<Float> values = new ArrayList<>();
    p.get("data").forEach(v -> values.add(v.floatValue()));
    assertProbabilities(values);
    JsonNode label = output(r, OUTPUT_LABEL);
    assertThat(label.get("datatype").asText()).isEqualTo("BYTES");
    for (int row = 0; row < ROWS.length; row++) {
      float[] e = SklearnModels.expected(ROWS[row]);
      int best = e[0] >= e[1] && e[0] >= e[2] ? 0 : e[1] >= e[2] ? 1 : 2;
      assertThat(label.get("data").get(row).asText())
          .isEqualTo(SklearnModels.STRING_LABELS.get(best));
    }
  }

  @Test
  void rowsSentToAnExportWithAFixedBatchOfOneAreRefusedWithTheWayOut() throws Exception {
    JsonNode config =
        E2eServer.JSON.readTree(ok(server.get("/v2/models/torch_fixed_batch/config")).body());
    assertThat(config.get("max_batch_size").asInt()).isZero();
    HttpResponse<byte[]> r =
        server.post(
            inferPath("torch_fixed_batch"),
            """
            {"inputs":[{"name":"input","shape":[2,4],"datatype":"FP32","data":[1,2,3,4,5,6,7,8]}]}""");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(error(r))
        .contains("has shape [2, 4] but the model expects [1, 4]")
        .contains("first dimension is fixed at 1")
        .contains("dynamic_axes")
        .contains("send one row per request");
    ok(
        server.post(
            inferPath("torch_fixed_batch"),
            """
            {"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,-2,3,-4]}]}"""));
  }

  @Test
  void grpcGivesTheSameProbabilitiesRaw() throws Exception {
    ByteBuffer in = ByteBuffer.allocate(ROWS.length * 16).order(ByteOrder.LITTLE_ENDIAN);
    for (float[] row : ROWS) {
      for (float v : row) {
        in.putFloat(v);
      }
    }
    ModelInferResponse g =
        GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName("skl_zipmap")
                    .addInputs(
                        ModelInferRequest.InferInputTensor.newBuilder()
                            .setName(SklearnModels.FLOAT_INPUT)
                            .setDatatype("FP32")
                            .addAllShape(List.of((long) ROWS.length, 4L)))
                    .addOutputs(
                        ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                            .setName(OUTPUT_PROBABILITY))
                    .addRawInputContents(ByteString.copyFrom(in.array()))
                    .build());
    assertThat(g.getOutputs(0).getName()).isEqualTo(OUTPUT_PROBABILITY);
    assertThat(g.getOutputs(0).getShapeList()).containsExactly(2L, 3L);
    ByteBuffer out =
        g.getRawOutputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    List<Float> values = new ArrayList<>();
    while (out.hasRemaining()) {
      values.add(out.getFloat());
    }
    assertProbabilities(values);
  }
}
