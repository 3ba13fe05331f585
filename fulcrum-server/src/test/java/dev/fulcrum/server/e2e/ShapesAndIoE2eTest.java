package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.binaryOutputs;
import static dev.fulcrum.server.e2e.E2eServer.header;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.TestModels;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Static shapes, scalars, several inputs and outputs, a requested subset of outputs in the order
 * asked, {@code id} echo and batches of several rows, on a real server with ONNX Runtime.
 */
class ShapesAndIoE2eTest {
  @TempDir static Path repo;
  private static E2eServer server;

  @BeforeAll
  static void start() throws Exception {
    TestModels.writeRepository(repo);
    server = E2eServer.start(repo);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  private static HttpResponse<byte[]> ok(HttpResponse<byte[]> r) {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return r;
  }

  @Test
  void staticShapeWithNestedJsonData() throws Exception {
    HttpResponse<byte[]> r =
        ok(
            server.post(
                inferPath(TestModels.IDENTITY_FP32_STATIC),
                """
                {"inputs":[{"name":"INPUT0","shape":[2,3],"datatype":"FP32",
                            "data":[[1.5,-2,3],[4,5.25,-0.0]]}]}"""));
    JsonNode out = output(r, "OUTPUT0");
    assertThat(out.get("shape").toString()).isEqualTo("[2,3]");
    assertThat(out.get("datatype").asText()).isEqualTo("FP32");
    assertThat(TensorData.fromJson(DataType.FP32, out.get("data")))
        .isEqualTo(TensorData.floats32(1.5f, -2f, 3f, 4f, 5.25f, -0f));
  }

  @Test
  void scalarOverJson() throws Exception {
    HttpResponse<byte[]> r =
        ok(
            server.post(
                inferPath(TestModels.SCALAR_INT64),
                """
                {"inputs":[{"name":"INPUT0","shape":[],"datatype":"INT64",
                            "data":[-9223372036854775808]}]}"""));
    JsonNode out = output(r, "OUTPUT0");
    assertThat(out.get("shape").toString()).isEqualTo("[]");
    assertThat(out.get("data").toString()).isEqualTo("[-9223372036854775808]");
  }

  @Test
  void scalarOverBinary() throws Exception {
    byte[] value = TensorData.longs(0x0123_4567_89ab_cdefL);
    HttpResponse<byte[]> r =
        ok(
            server.post(
                inferPath(TestModels.SCALAR_INT64),
                """
                {"inputs":[{"name":"INPUT0","shape":[],"datatype":"INT64",
                            "parameters":{"binary_data_size":8}}],
                 "parameters":{"binary_data_output":true}}""",
                value));
    assertThat(output(r, "OUTPUT0").get("shape").toString()).isEqualTo("[]");
    assertThat(binaryOutputs(r).get("OUTPUT0")).isEqualTo(value);
  }

  @Test
  void batchOfRowsWithOutputSubsetInRequestedOrderAndIdEcho() throws Exception {
    int rows = 5;
    Random random = new Random(7);
    int[] a = new int[rows * 16];
    int[] b = new int[rows * 16];
    for (int i = 0; i < a.length; i++) {
      a[i] = random.nextInt(-1 << 30, 1 << 30);
      b[i] = random.nextInt(-1 << 30, 1 << 30);
    }
    // INPUT0 as JSON, INPUT1 binary; OUTPUT1 asked first (as JSON), then OUTPUT0 (binary).
    String json =
        """
        {"id":"req-42",
         "inputs":[{"name":"INPUT1","shape":[%d,16],"datatype":"INT32",
                    "parameters":{"binary_data_size":%d}},
                   {"name":"INPUT0","shape":[%d,16],"datatype":"INT32","data":%s}],
         "outputs":[{"name":"OUTPUT1"},{"name":"OUTPUT0","parameters":{"binary_data":true}}]}"""
            .formatted(
                rows, b.length * 4, rows, TensorData.toJson(DataType.INT32, TensorData.ints(a)));
    HttpResponse<byte[]> r =
        ok(server.post(inferPath(TestModels.ADD_SUB_INT32), json, TensorData.ints(b)));

    JsonNode root = header(r);
    assertThat(root.get("id").asText()).isEqualTo("req-42");
    assertThat(root.get("model_name").asText()).isEqualTo(TestModels.ADD_SUB_INT32);
    assertThat(names(root)).containsExactly("OUTPUT1", "OUTPUT0");
    int[] sum = new int[a.length];
    int[] diff = new int[a.length];
    for (int i = 0; i < a.length; i++) {
      sum[i] = a[i] + b[i];
      diff[i] = a[i] - b[i];
    }
    JsonNode out1 = output(r, "OUTPUT1");
    assertThat(out1.get("shape").toString()).isEqualTo("[" + rows + ",16]");
    assertThat(TensorData.fromJson(DataType.INT32, out1.get("data")))
        .isEqualTo(TensorData.ints(diff));
    assertThat(binaryOutputs(r).get("OUTPUT0")).isEqualTo(TensorData.ints(sum));
  }

  @Test
  void oneOutputOfTwo() throws Exception {
    HttpResponse<byte[]> r =
        ok(
            server.post(
                inferPath(TestModels.ADD_SUB_INT32),
                """
                {"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32",
                            "data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]},
                           {"name":"INPUT1","shape":[1,16],"datatype":"INT32",
                            "data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}],
                 "outputs":[{"name":"OUTPUT1"}]}"""));
    assertThat(names(header(r))).containsExactly("OUTPUT1");
    assertThat(header(r).has("id")).isFalse();
    assertThat(output(r, "OUTPUT1").get("data").toString())
        .isEqualTo("[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]");
  }

  @Test
  void mixedTypesInAndOut() throws Exception {
    float[] x = {0.5f, -1.25f, 3f, 1e6f, -0f, 7.75f, 2f, -8f};
    long[] y = {1, -2, 3, 1L << 40, 0, -1, Long.MAX_VALUE - 1, -100};
    // OUTPUT2 (binary) before OUTPUT1 (JSON); OUTPUT0 not asked for.
    String json =
        """
        {"inputs":[{"name":"INPUT0","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}},
                   {"name":"INPUT1","shape":[2,4],"datatype":"INT64","parameters":{"binary_data_size":64}}],
         "outputs":[{"name":"OUTPUT2","parameters":{"binary_data":true}},{"name":"OUTPUT1"}]}""";
    HttpResponse<byte[]> r =
        ok(
            server.post(
                inferPath(TestModels.MULTI_IO_MIXED),
                json,
                TensorData.floats32(x),
                TensorData.longs(y)));
    assertThat(names(header(r))).containsExactly("OUTPUT2", "OUTPUT1");
    float[] sum = new float[x.length];
    long[] plusOne = new long[y.length];
    for (int i = 0; i < x.length; i++) {
      sum[i] = x[i] + (float) y[i];
      plusOne[i] = y[i] + 1;
    }
    assertThat(output(r, "OUTPUT2").get("datatype").asText()).isEqualTo("FP32");
    assertThat(binaryOutputs(r).get("OUTPUT2")).isEqualTo(TensorData.floats32(sum));
    JsonNode out1 = output(r, "OUTPUT1");
    assertThat(out1.get("datatype").asText()).isEqualTo("INT64");
    assertThat(TensorData.fromJson(DataType.INT64, out1.get("data")))
        .isEqualTo(TensorData.longs(plusOne));
  }

  @Test
  void allOutputsByDefaultInModelOrder() throws Exception {
    HttpResponse<byte[]> r =
        ok(
            server.post(
                inferPath(TestModels.MULTI_IO_MIXED),
                """
                {"inputs":[{"name":"INPUT1","shape":[1,4],"datatype":"INT64","data":[1,2,3,4]},
                           {"name":"INPUT0","shape":[1,4],"datatype":"FP32","data":[1,1,1,1]}]}"""));
    assertThat(names(header(r))).containsExactly("OUTPUT0", "OUTPUT1", "OUTPUT2");
    assertThat(output(r, "OUTPUT0").get("data").toString()).isEqualTo("[2.0,2.0,2.0,2.0]");
    assertThat(output(r, "OUTPUT1").get("data").toString()).isEqualTo("[2,3,4,5]");
    assertThat(output(r, "OUTPUT2").get("data").toString()).isEqualTo("[2.0,3.0,4.0,5.0]");
  }

  @Test
  void castChangesTheDatatype() throws Exception {
    HttpResponse<byte[]> r =
        ok(
            server.post(
                inferPath(TestModels.CAST_INT32_TO_FP32),
                """
                {"inputs":[{"name":"INPUT0","shape":[1,3],"datatype":"INT32","data":[-7,0,16777217]}]}"""));
    JsonNode out = output(r, "OUTPUT0");
    assertThat(out.get("datatype").asText()).isEqualTo("FP32");
    assertThat(TensorData.fromJson(DataType.FP32, out.get("data")))
        .isEqualTo(TensorData.floats32(-7f, 0f, 16777217f));
  }

  private static List<String> names(JsonNode root) {
    List<String> names = new ArrayList<>();
    root.get("outputs").forEach(o -> names.add(o.get("name").asText()));
    return names;
  }
}
