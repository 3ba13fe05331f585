package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.binaryOutputs;
import static dev.fulcrum.server.e2e.E2eServer.header;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.testkit.TestModels;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every datatype through {@code identity_<type>} on a real server: over JSON (every type JSON can
 * carry) and over the binary extension (all 14), with edge and random values. The outputs must
 * equal the inputs byte for byte, and equal what ONNX Runtime returns when run in-process.
 */
class DataTypeRoundTripE2eTest {
  private static final long[] SHAPE = {3, 7};
  private static final int COUNT = 21;

  @TempDir static Path repo;
  private static E2eServer server;
  private static OnnxRuntimeBackend ort;

  @BeforeAll
  static void start() throws Exception {
    TestModels.writeRepository(repo);
    // The edge values include NaN and ±Infinity, which inputs refuse unless they allow them.
    for (DataType t : DataType.values()) {
      if (t.isFloatingPoint()) {
        Files.writeString(
            repo.resolve(TestModels.identityModelName(t)).resolve("config.yaml"),
            "inputs:\n  - name: " + TestModels.INPUT0 + "\n    allow-non-finite: true\n");
      }
    }
    server = E2eServer.start(repo);
    ort = new OnnxRuntimeBackend();
  }

  @AfterAll
  static void stop() {
    server.close();
    ort.close();
  }

  private static String shapeJson() {
    return "[" + SHAPE[0] + "," + SHAPE[1] + "]";
  }

  @ParameterizedTest
  @EnumSource(DataType.class)
  void binaryRoundTrip(DataType type) throws Exception {
    byte[] data = TensorData.sample(type, COUNT, new Random(type.ordinal()), false);
    String json =
        """
        {"inputs":[{"name":"INPUT0","shape":%s,"datatype":"%s","parameters":{"binary_data_size":%d}}],
         "outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]}"""
            .formatted(shapeJson(), type, data.length);

    HttpResponse<byte[]> r = server.post(inferPath(model(type)), json, data);

    assertThat(r.statusCode()).as(E2eServer.text(r)).isEqualTo(200);
    assertOutputHeader(r, type);
    byte[] out = binaryOutputs(r).get("OUTPUT0");
    assertThat(out).isEqualTo(data);
    assertThat(out).isEqualTo(inProcess(type, data));
  }

  @ParameterizedTest
  @EnumSource(
      value = DataType.class,
      mode = EnumSource.Mode.EXCLUDE,
      names = {"FP16", "BF16"})
  void jsonRoundTrip(DataType type) throws Exception {
    byte[] data = TensorData.sample(type, COUNT, new Random(100 + type.ordinal()), true);
    String input =
        """
        {"name":"INPUT0","shape":%s,"datatype":"%s","data":%s}"""
            .formatted(shapeJson(), type, TensorData.toJson(type, data));

    // JSON in, JSON out.
    HttpResponse<byte[]> r = server.post(inferPath(model(type)), "{\"inputs\":[" + input + "]}");
    assertThat(r.statusCode()).as(E2eServer.text(r)).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    assertOutputHeader(r, type);
    byte[] jsonOut = TensorData.fromJson(type, E2eServer.output(r, "OUTPUT0").get("data"));
    assertThat(jsonOut).isEqualTo(data);

    // JSON in, binary out: the bytes the server decoded, exactly.
    HttpResponse<byte[]> b =
        server.post(
            inferPath(model(type)),
            "{\"inputs\":["
                + input
                + "],\"outputs\":[{\"name\":\"OUTPUT0\",\"parameters\":{\"binary_data\":true}}]}");
    assertThat(b.statusCode()).isEqualTo(200);
    byte[] binaryOut = binaryOutputs(b).get("OUTPUT0");
    assertThat(binaryOut).isEqualTo(data);
    assertThat(binaryOut).isEqualTo(inProcess(type, data));
  }

  private static String model(DataType type) {
    return TestModels.identityModelName(type);
  }

  private static void assertOutputHeader(HttpResponse<byte[]> r, DataType type) throws Exception {
    JsonNode root = header(r);
    assertThat(root.get("model_name").asText()).isEqualTo(model(type));
    assertThat(root.get("model_version").asText()).isEqualTo("1");
    assertThat(root.get("outputs")).hasSize(1);
    JsonNode out = root.get("outputs").get(0);
    assertThat(out.get("name").asText()).isEqualTo("OUTPUT0");
    assertThat(out.get("datatype").asText()).isEqualTo(type.name());
    assertThat(out.get("shape").toString()).isEqualTo(shapeJson());
  }

  /** The same input run through ONNX Runtime directly, without the server. */
  private static byte[] inProcess(DataType type, byte[] data) throws Exception {
    Path file =
        repo.resolve(model(type)).resolve(TestModels.VERSION).resolve(TestModels.MODEL_FILENAME);
    try (ModelInstance instance = ort.load(file, SessionOptions.defaults())) {
      ByteBuffer in = ByteBuffer.allocateDirect(data.length).put(data).flip();
      List<Tensor> out =
          instance.execute(List.of(Tensor.of("INPUT0", type, SHAPE, in)), List.of("OUTPUT0"));
      ByteBuffer b = out.get(0).data();
      byte[] bytes = new byte[b.remaining()];
      b.get(bytes);
      return bytes;
    }
  }
}
