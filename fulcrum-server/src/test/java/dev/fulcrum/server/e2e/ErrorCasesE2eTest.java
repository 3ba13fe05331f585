package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.testkit.TestModels;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Client mistakes against the real backend: each gets its own status and a message that names the
 * problem, never a 500; afterwards the same server still answers good requests.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ErrorCasesE2eTest {
  private static final int SMALL_LIMIT = 4096;

  @TempDir static Path repo;
  @TempDir static Path smallRepo;
  private static E2eServer server;
  private static E2eServer small;

  @BeforeAll
  static void start() throws Exception {
    TestModels.writeRepository(repo);
    // An explicit limit: a max-batch-size invented by auto-completion does not refuse a larger
    // request (it runs alone), one the user set does.
    java.nio.file.Files.writeString(
        repo.resolve(TestModels.identityModelName(dev.fulcrum.core.tensor.DataType.FP32))
            .resolve("config.yaml"),
        "max-batch-size: 32\n");
    server = E2eServer.start(repo);
    TestModels.writeModel(smallRepo, "identity_fp32");
    small = E2eServer.start(smallRepo, SMALL_LIMIT, new OnnxRuntimeBackend());
  }

  @AfterAll
  static void stop() {
    server.close();
    small.close();
  }

  /**
   * A bad request: JSON only when {@code binary} is null, else JSON header and binary part with a
   * correct {@code Inference-Header-Content-Length}.
   */
  record Bad(String what, String model, String json, byte[] binary, int status, String... message) {
    Bad(String what, String model, String json, int status, String... message) {
      this(what, model, json, null, status, message);
    }

    @Override
    public String toString() {
      return what;
    }
  }

  private static final String ADD_SUB = TestModels.ADD_SUB_INT32;
  private static final String FP32 = "identity_fp32";
  private static final String STATIC = TestModels.IDENTITY_FP32_STATIC;
  private static final String ROW16 = "\"data\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]";

  private static String fp32(String shape, String data) {
    return "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":%s,\"datatype\":\"FP32\",\"data\":%s}]}"
        .formatted(shape, data);
  }

  private static String binaryInput(String name, String type, String shape, int size) {
    return "{\"name\":\"%s\",\"shape\":%s,\"datatype\":\"%s\",\"parameters\":{\"binary_data_size\":%d}}"
        .formatted(name, shape, type, size);
  }

  static Stream<Bad> cases() {
    String good = fp32("[1,2]", "[1,2]");
    return Stream.of(
        new Bad("unknown model", "no_such_model", good, 404, "unknown model 'no_such_model'"),
        new Bad("unknown version", FP32 + "/versions/7", good, 404, "has no version '7'"),
        new Bad("malformed JSON", FP32, "{\"inputs\":[{\"name\":", 400, "malformed JSON"),
        new Bad("JSON that is not an object", FP32, "[1,2]", 400, "JSON object"),
        new Bad("no inputs", FP32, "{\"outputs\":[]}", 400, "'inputs'"),
        new Bad(
            "unknown datatype",
            FP32,
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,1],\"datatype\":\"FP8\",\"data\":[1]}]}",
            400,
            "unknown datatype 'FP8'"),
        new Bad(
            "wrong datatype for the input",
            FP32,
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,2],\"datatype\":\"INT32\",\"data\":[1,2]}]}",
            400,
            "INPUT0",
            "must be FP32, got INT32"),
        new Bad("rank below the model's", FP32, fp32("[4]", "[1,2,3,4]"), 400, "INPUT0", "[4]"),
        new Bad(
            "rank above the model's",
            STATIC,
            fp32("[1,2,3]", "[1,2,3,4,5,6]"),
            400,
            "INPUT0",
            "has shape"),
        new Bad(
            "fixed dimension disagrees",
            STATIC,
            fp32("[3,2]", "[1,2,3,4,5,6]"),
            400,
            "INPUT0",
            "has shape"),
        new Bad(
            "fixed inner dimension disagrees",
            ADD_SUB,
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[2,8],\"datatype\":\"INT32\",%s},"
                    .formatted(ROW16)
                + "{\"name\":\"INPUT1\",\"shape\":[2,8],\"datatype\":\"INT32\",%s}]}"
                    .formatted(ROW16),
            400,
            "has shape"),
        new Bad("negative dimension", FP32, fp32("[1,-2]", "[1,2]"), 400, "non-negative integers"),
        new Bad("batch above max-batch-size", FP32, fp32("[33,0]", "[]"), 400, "max-batch-size"),
        new Bad(
            "JSON element count disagrees with the shape",
            FP32,
            fp32("[2,3]", "[1,2,3,4,5]"),
            400,
            "5 data elements",
            "needs 6"),
        new Bad(
            "binary size disagrees with the shape",
            FP32,
            "{\"inputs\":[" + binaryInput("INPUT0", "FP32", "[2,3]", 20) + "]}",
            new byte[20],
            400,
            "needs 24 bytes"),
        new Bad(
            "missing input",
            ADD_SUB,
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,16],\"datatype\":\"INT32\",%s}]}"
                .formatted(ROW16),
            400,
            "'INPUT1'",
            "missing"),
        new Bad(
            "unexpected input",
            FP32,
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1]},"
                + "{\"name\":\"EXTRA\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1]}]}",
            400,
            "no input named 'EXTRA'"),
        new Bad(
            "input given twice",
            FP32,
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1]},"
                + "{\"name\":\"INPUT0\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[2]}]}",
            400,
            "'INPUT0'",
            "twice"),
        new Bad(
            "unknown requested output",
            FP32,
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1]}],"
                + "\"outputs\":[{\"name\":\"OUTPUT9\"}]}",
            400,
            "no output named 'OUTPUT9'"),
        new Bad(
            "binary_data_size beyond the body",
            ADD_SUB,
            "{\"inputs\":["
                + binaryInput("INPUT0", "INT32", "[1,16]", 64)
                + ","
                + binaryInput("INPUT1", "INT32", "[1,16]", 64)
                + "]}",
            new byte[124],
            400,
            "'INPUT1'",
            "only 60 bytes"),
        new Bad(
            "binary bytes left over after the inputs",
            ADD_SUB,
            "{\"inputs\":["
                + binaryInput("INPUT0", "INT32", "[1,16]", 64)
                + ","
                + binaryInput("INPUT1", "INT32", "[1,16]", 64)
                + "]}",
            new byte[132],
            400,
            "add up to 128"),
        new Bad(
            "both data and binary_data_size",
            FP32,
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1],"
                + "\"parameters\":{\"binary_data_size\":4}}]}",
            new byte[4],
            400,
            "both"),
        new Bad(
            "FP16 data as JSON",
            "identity_fp16",
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,2],\"datatype\":\"FP16\",\"data\":[1,2]}]}",
            400,
            "FP16",
            "cannot be sent as JSON"),
        new Bad(
            "BF16 data as JSON",
            "identity_bf16",
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,1],\"datatype\":\"BF16\",\"data\":[1]}]}",
            400,
            "BF16",
            "cannot be sent as JSON"),
        new Bad(
            "integer out of range",
            "identity_int8",
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,1],\"datatype\":\"INT8\",\"data\":[300]}]}",
            400,
            "300",
            "outside -128..127"),
        new Bad(
            "string where a number belongs",
            "identity_int32",
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,1],\"datatype\":\"INT32\",\"data\":[\"x\"]}]}",
            400,
            "not an integer"),
        new Bad(
            "BYTES element that is not UTF-8",
            "identity_bytes",
            "{\"inputs\":[" + binaryInput("INPUT0", "BYTES", "[1,1]", 6) + "]}",
            new byte[] {2, 0, 0, 0, (byte) 0xc3, (byte) 0x28},
            400,
            "not valid UTF-8"));
  }

  @Order(1)
  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void badRequestIsRefusedWithItsStatusAndMessage(Bad bad) throws Exception {
    HttpResponse<byte[]> r =
        bad.binary() == null
            ? server.post(inferPath(bad.model()), bad.json())
            : server.post(inferPath(bad.model()), bad.json(), bad.binary());
    assertThat(r.statusCode()).as(text(r)).isEqualTo(bad.status());
    assertThat(error(r)).contains(bad.message());
  }

  @Order(1)
  @Test
  void headerLengthBeyondTheBody() throws Exception {
    byte[] body = "{\"inputs\":[]}".getBytes(StandardCharsets.UTF_8);
    HttpResponse<byte[]> r =
        server.send(
            server
                .request(inferPath(FP32))
                .header(E2eServer.HCL, Integer.toString(body.length + 10))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
    assertThat(error(r)).contains("Inference-Header-Content-Length");
  }

  @Order(1)
  @Test
  void bodyOverTheLimitIs413() throws Exception {
    String data = "[" + "1.0,".repeat(SMALL_LIMIT / 2) + "1.0]";
    HttpResponse<byte[]> r =
        small.post(inferPath(FP32), fp32("[1," + (SMALL_LIMIT / 2 + 1) + "]", data));
    assertThat(r.statusCode()).isEqualTo(413);
    assertThat(error(r)).contains(Integer.toString(SMALL_LIMIT));

    byte[] big = new byte[SMALL_LIMIT];
    HttpResponse<byte[]> b =
        small.post(
            inferPath(FP32),
            "{\"inputs\":[" + binaryInput("INPUT0", "FP32", "[1,1024]", big.length) + "]}",
            big);
    assertThat(b.statusCode()).isEqualTo(413);

    // Under the limit the same server answers.
    HttpResponse<byte[]> ok = small.post(inferPath(FP32), fp32("[1,2]", "[1,2]"));
    assertThat(ok.statusCode()).as(text(ok)).isEqualTo(200);
  }

  @Order(2)
  @Test
  void theServerIsUndisturbedAfterTheBadRequests() throws Exception {
    assertThat(server.get("/v2/health/ready").statusCode()).isEqualTo(200);
    assertThat(server.get("/v2/models/" + ADD_SUB + "/ready").statusCode()).isEqualTo(200);
    HttpResponse<byte[]> r =
        server.post(
            inferPath(ADD_SUB),
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,16],\"datatype\":\"INT32\",%s},"
                    .formatted(ROW16)
                + "{\"name\":\"INPUT1\",\"shape\":[1,16],\"datatype\":\"INT32\",%s}]}"
                    .formatted(ROW16));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(output(r, "OUTPUT0").get("data").toString())
        .isEqualTo("[2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32]");
    assertThat(output(r, "OUTPUT1").get("data").toString())
        .isEqualTo("[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]");
  }
}
