package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.binaryOutputs;
import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.testkit.demo.UnseenModels;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models Fulcrum was not tuned on (issue 12), served the way a new user serves them: the .onnx file
 * alone, no config.yaml. A CNN with an FP32 [N, 3, 32, 32] image, a model of INT64 ids (Gather) and
 * FP32 numbers with an FP32 and an INT64 output, and a fixed-shape FP64 model with no batch
 * dimension. Each answers over REST JSON, REST binary and gRPC with exactly the bytes ONNX Runtime
 * gives when called directly, its configuration is the one completed from the graph, and bad inputs
 * are 400s that say what the model wants.
 */
class UnseenModelsE2eTest {
  @TempDir static Path repo;
  @AutoClose private static E2eServer server; // and the gRPC port it started
  private static E2eServer.GrpcPort grpc;
  private static OrtEnvironment env;

  @BeforeAll
  static void start() throws Exception {
    for (String m : List.of(UnseenModels.CNN, UnseenModels.MIXED, UnseenModels.FIXED)) {
      UnseenModels.write(repo, m);
    }
    server = E2eServer.start(repo);
    grpc = server.startGrpc();
    env = OrtEnvironment.getEnvironment();
  }

  private static HttpResponse<byte[]> ok(HttpResponse<byte[]> r) {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return r;
  }

  /** ONNX Runtime called directly on the model file: output name -> its little-endian bytes. */
  private static Map<String, byte[]> ort(String model, Map<String, OnnxTensor> feeds)
      throws Exception {
    Map<String, byte[]> out = new LinkedHashMap<>();
    try (OrtSession s =
            env.createSession(repo.resolve(model).resolve("1").resolve("model.onnx").toString());
        OrtSession.Result r = s.run(feeds)) {
      for (var e : r) {
        OnnxTensor t = (OnnxTensor) e.getValue();
        ByteBuffer b = t.getByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        out.put(e.getKey(), bytes);
      }
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
    return out;
  }

  private static float[] image(int rows) {
    SplittableRandom r = new SplittableRandom(rows);
    float[] v = new float[rows * 3 * 32 * 32];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) r.nextDouble();
    }
    return v;
  }

  private static byte[] le(float[] v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(v);
    return b.array();
  }

  private static byte[] le(long[] v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(v);
    return b.array();
  }

  private static byte[] le(double[] v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.asDoubleBuffer().put(v);
    return b.array();
  }

  @Test
  void configurationIsCompletedFromTheGraph() throws Exception {
    JsonNode cnn = E2eServer.JSON.readTree(ok(server.get("/v2/models/cnn_image/config")).body());
    assertThat(cnn.get("max_batch_size").asInt()).isEqualTo(32);
    assertThat(cnn.get("input").get(0).get("dims").toString()).isEqualTo("[3,32,32]");
    assertThat(cnn.has("dynamic_batching")).isTrue();
    JsonNode mixed =
        E2eServer.JSON.readTree(ok(server.get("/v2/models/mixed_tabular/config")).body());
    assertThat(mixed.get("max_batch_size").asInt()).isEqualTo(32);
    assertThat(mixed.get("output").get(1).get("data_type").asText()).isEqualTo("TYPE_INT64");
    assertThat(mixed.get("output").get(1).get("dims").toString()).isEqualTo("[]");
    JsonNode fixed =
        E2eServer.JSON.readTree(ok(server.get("/v2/models/fixed_window/config")).body());
    assertThat(fixed.get("max_batch_size").asInt()).isZero();
    assertThat(fixed.get("input").get(0).get("dims").toString()).isEqualTo("[4,32]");
    JsonNode meta = E2eServer.JSON.readTree(ok(server.get("/v2/models/fixed_window")).body());
    assertThat(meta.get("inputs").get(0).get("datatype").asText()).isEqualTo("FP64");
    assertThat(meta.get("inputs").get(0).get("shape").toString()).isEqualTo("[4,32]");
  }

  @Test
  void cnnOverRestBinaryAndGrpcGivesOrtsBytes() throws Exception {
    int rows = 3;
    float[] img = image(rows);
    byte[] want =
        ort(
                UnseenModels.CNN,
                Map.of(
                    "image",
                    OnnxTensor.createTensor(
                        env, FloatBuffer.wrap(img), new long[] {rows, 3, 32, 32})))
            .get("probabilities");
    HttpResponse<byte[]> r =
        ok(
            server.post(
                inferPath(UnseenModels.CNN),
                """
                {"inputs":[{"name":"image","shape":[%d,3,32,32],"datatype":"FP32",
                            "parameters":{"binary_data_size":%d}}],
                 "parameters":{"binary_data_output":true}}"""
                    .formatted(rows, img.length * 4),
                le(img)));
    assertThat(output(r, "probabilities").get("shape").toString()).isEqualTo("[3,10]");
    assertThat(binaryOutputs(r).get("probabilities")).isEqualTo(want);

    ModelInferResponse g =
        GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(UnseenModels.CNN)
                    .addInputs(
                        ModelInferRequest.InferInputTensor.newBuilder()
                            .setName("image")
                            .setDatatype("FP32")
                            .addAllShape(List.of((long) rows, 3L, 32L, 32L)))
                    .addRawInputContents(ByteString.copyFrom(le(img)))
                    .build());
    assertThat(g.getOutputs(0).getShapeList()).containsExactly(3L, 10L);
    assertThat(g.getRawOutputContents(0).toByteArray()).isEqualTo(want);
  }

  @Test
  void mixedIdsAndNumbersOverJsonGiveOrtsOutputsOfBothDatatypes() throws Exception {
    long[] ids = {3, 999, 0, 42, 7, 7, 512, 1};
    float[] numeric = new float[2 * 16];
    for (int i = 0; i < numeric.length; i++) {
      numeric[i] = (i % 5) * 0.25f - 0.5f;
    }
    Map<String, byte[]> want =
        ort(
            UnseenModels.MIXED,
            Map.of(
                "category_ids",
                OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {2, 4}),
                "numeric",
                OnnxTensor.createTensor(env, FloatBuffer.wrap(numeric), new long[] {2, 16})));
    StringBuilder nums = new StringBuilder();
    for (float f : numeric) {
      nums.append(nums.isEmpty() ? "" : ",").append(f);
    }
    HttpResponse<byte[]> r =
        ok(
            server.post(
                inferPath(UnseenModels.MIXED),
                """
                {"inputs":[{"name":"category_ids","shape":[2,4],"datatype":"INT64",
                            "data":[3,999,0,42,7,7,512,1]},
                           {"name":"numeric","shape":[2,16],"datatype":"FP32","data":[%s]}],
                 "outputs":[{"name":"probabilities","parameters":{"binary_data":true}},
                            {"name":"label"}]}"""
                    .formatted(nums)));
    assertThat(binaryOutputs(r).get("probabilities")).isEqualTo(want.get("probabilities"));
    JsonNode label = output(r, "label");
    assertThat(label.get("datatype").asText()).isEqualTo("INT64");
    assertThat(label.get("shape").toString()).isEqualTo("[2]");
    assertThat(
            le(new long[] {label.get("data").get(0).asLong(), label.get("data").get(1).asLong()}))
        .isEqualTo(want.get("label"));
  }

  @Test
  void fixedShapeFp64OverJsonAndGrpcTyped() throws Exception {
    double[] window = new double[4 * 32];
    for (int i = 0; i < window.length; i++) {
      window[i] = Math.sin(i * 0.37);
    }
    byte[] want =
        ort(
                UnseenModels.FIXED,
                Map.of(
                    "window",
                    OnnxTensor.createTensor(env, DoubleBuffer.wrap(window), new long[] {4, 32})))
            .get("summary");
    StringBuilder data = new StringBuilder();
    for (double d : window) {
      data.append(data.isEmpty() ? "" : ",").append(d);
    }
    HttpResponse<byte[]> r =
        ok(
            server.post(
                inferPath(UnseenModels.FIXED),
                """
                {"inputs":[{"name":"window","shape":[4,32],"datatype":"FP64","data":[%s]}]}"""
                    .formatted(data)));
    JsonNode out = output(r, "summary");
    assertThat(out.get("shape").toString()).isEqualTo("[4,8]");
    double[] got = new double[32];
    for (int i = 0; i < 32; i++) {
      got[i] = out.get("data").get(i).asDouble();
    }
    assertThat(le(got)).isEqualTo(want);

    ModelInferRequest.Builder req = ModelInferRequest.newBuilder().setModelName(UnseenModels.FIXED);
    var contents = dev.fulcrum.server.grpc.proto.InferTensorContents.newBuilder();
    for (double d : window) {
      contents.addFp64Contents(d);
    }
    req.addInputs(
        ModelInferRequest.InferInputTensor.newBuilder()
            .setName("window")
            .setDatatype("FP64")
            .addAllShape(List.of(4L, 32L))
            .setContents(contents));
    ModelInferResponse g =
        GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .modelInfer(req.build());
    assertThat(
            le(
                g.getOutputs(0).getContents().getFp64ContentsList().stream()
                    .mapToDouble(Double::doubleValue)
                    .toArray()))
        .isEqualTo(want);
  }

  @Test
  void badInputsAreFourHundredsThatSayWhatTheModelWants() throws Exception {
    // FP32 pixels sent as INT32: the datatype is the mistake, not "0.5 is not an integer".
    HttpResponse<byte[]> r =
        server.post(
            inferPath(UnseenModels.CNN),
            """
            {"inputs":[{"name":"image","shape":[1,3,32,32],"datatype":"INT32",
                        "data":[%s]}]}"""
                .formatted(String.join(",", java.util.Collections.nCopies(3072, "0.5"))));
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(error(r)).isEqualTo("model 'cnn_image': input 'image' must be FP32, got INT32");
    // A 28x28 image for a 32x32 model.
    r =
        server.post(
            inferPath(UnseenModels.CNN),
            """
            {"inputs":[{"name":"image","shape":[1,3,28,28],"datatype":"FP32",
                        "data":[%s]}]}"""
                .formatted(String.join(",", java.util.Collections.nCopies(3 * 28 * 28, "0.5"))));
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(error(r)).contains("[1, 3, 28, 28]").contains("[-1, 3, 32, 32]");
    // An id outside the embedding table, and a missing input.
    r =
        server.post(
            inferPath(UnseenModels.MIXED),
            """
            {"inputs":[{"name":"category_ids","shape":[1,4],"datatype":"INT64","data":[1,2,3,1000]},
                       {"name":"numeric","shape":[1,16],"datatype":"FP32",
                        "data":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}]}""");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(error(r)).contains("element 3 is 1000").contains("0..999");
    r =
        server.post(
            inferPath(UnseenModels.MIXED),
            """
            {"inputs":[{"name":"category_ids","shape":[1,4],"datatype":"INT64","data":[1,2,3,4]}]}""");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(error(r)).contains("'numeric'").contains("missing");
    // A batch dimension on the model that has none.
    r =
        server.post(
            inferPath(UnseenModels.FIXED),
            """
            {"inputs":[{"name":"window","shape":[1,4,32],"datatype":"FP64",
                        "data":[%s]}]}"""
                .formatted(String.join(",", java.util.Collections.nCopies(128, "0.5"))));
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(error(r)).contains("[4, 32]");
    assertThat(Files.exists(repo.resolve("cnn_image").resolve("config.yaml"))).isFalse();
  }
}
