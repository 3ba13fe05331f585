package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.tensor.DataType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class HttpServerTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String HCL = "Inference-Header-Content-Length";

  @TempDir static Path repo;
  private static InferenceService service;
  private static HttpServer server;
  private static HttpClient client;
  private static String base;

  @BeforeAll
  static void start() throws Exception {
    service = TestModels.service(repo);
    server = new HttpServer(service, HttpServerConfig.ephemeral().withMaxInputSize(64 * 1024));
    server.start();
    base = "http://127.0.0.1:" + server.port();
    client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
  }

  @AfterAll
  static void stop() {
    server.close();
    service.repository().close();
  }

  // ---- helpers -------------------------------------------------------------------------------

  static HttpResponse<byte[]> send(HttpRequest.Builder b) throws Exception {
    return client.send(
        b.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  static HttpResponse<byte[]> get(String path) throws Exception {
    return send(HttpRequest.newBuilder(URI.create(base + path)).GET());
  }

  static HttpResponse<byte[]> post(String path, String json) throws Exception {
    return send(
        HttpRequest.newBuilder(URI.create(base + path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json)));
  }

  static HttpResponse<byte[]> postBinary(String path, String json, byte[]... binary)
      throws Exception {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    byte[] header = json.getBytes(StandardCharsets.UTF_8);
    body.write(header);
    for (byte[] b : binary) {
      body.write(b);
    }
    return send(
        HttpRequest.newBuilder(URI.create(base + path))
            .header("Content-Type", "application/octet-stream")
            .header(HCL, Integer.toString(header.length))
            .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())));
  }

  static JsonNode json(HttpResponse<byte[]> r) throws IOException {
    int len = r.headers().firstValue(HCL).map(Integer::parseInt).orElse(r.body().length);
    return JSON.readTree(Arrays.copyOfRange(r.body(), 0, len));
  }

  /** The binary parts of a response, in output order. */
  static Map<String, byte[]> binaryOutputs(HttpResponse<byte[]> r) throws IOException {
    JsonNode root = json(r);
    int offset = Integer.parseInt(r.headers().firstValue(HCL).orElseThrow());
    Map<String, byte[]> out = new LinkedHashMap<>();
    for (JsonNode o : root.get("outputs")) {
      JsonNode size = o.path("parameters").get("binary_data_size");
      if (size != null) {
        out.put(
            o.get("name").asText(), Arrays.copyOfRange(r.body(), offset, offset + size.asInt()));
        offset += size.asInt();
      }
    }
    assertThat(offset).isEqualTo(r.body().length);
    return out;
  }

  static String error(HttpResponse<byte[]> r) throws IOException {
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    return JSON.readTree(r.body()).get("error").asText();
  }

  static String infer(String model) {
    return "/v2/models/" + model + "/infer";
  }

  // ---- health and metadata -------------------------------------------------------------------

  @Test
  void healthEndpoints() throws Exception {
    HttpResponse<byte[]> live = get("/v2/health/live");
    assertThat(live.statusCode()).isEqualTo(200);
    assertThat(json(live).get("live").asBoolean()).isTrue();
    HttpResponse<byte[]> ready = get("/v2/health/ready");
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(json(ready).get("ready").asBoolean()).isTrue();
  }

  @Test
  void sharedMemoryRegistrationIsOffByDefaultAsTritonsAllowClientShm() throws Exception {
    // What tritonclient's {register,unregister}_{system,cuda}_shared_memory and their status calls
    // send, to a server started without --allow-client-shm: the status lists no region, and
    // registering says how to turn it on, in Triton's words.
    for (String kind : List.of("system", "cuda")) {
      String base = "/v2/" + kind + "sharedmemory";
      HttpResponse<byte[]> status = get(base + "/status");
      assertThat(status.statusCode()).isEqualTo(200);
      assertThat(new String(status.body(), StandardCharsets.UTF_8)).isEqualTo("[]");
      for (HttpResponse<byte[]> r :
          List.of(
              post(base + "/region/r0/register", "{\"key\":\"/r0\",\"offset\":0,\"byte_size\":64}"),
              post(base + "/region/r0/unregister", ""),
              post(base + "/unregister", ""))) {
        assertThat(r.statusCode()).as("%s %s", kind, r.uri()).isEqualTo(501);
        assertThat(error(r))
            .contains("Client shared memory is disabled", "--allow-client-shm=true");
      }
    }
    assertThat(get("/v2/systemsharedmemory/region/r0/status").statusCode()).isEqualTo(404);
    assertThat(post("/v2/systemsharedmemory/status", "").statusCode()).isEqualTo(405);
    assertThat(get("/v2/systemsharedmemory/region/r0/other").statusCode()).isEqualTo(404);
  }

  @Test
  void serverMetadataListsImplementedExtensions() throws Exception {
    HttpResponse<byte[]> r = get("/v2");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode j = json(r);
    assertThat(j.get("name").asText()).isEqualTo("fulcrum");
    assertThat(j.get("version").asText()).isNotBlank().doesNotContain("${");
    List<String> ext = new ArrayList<>();
    j.get("extensions").forEach(e -> ext.add(e.asText()));
    assertThat(ext)
        .containsExactlyInAnyOrder(
            "binary_tensor_data",
            "classification",
            "logging",
            "model_configuration",
            "model_repository",
            "parameters",
            "schedule_policy",
            "sequence",
            "statistics",
            "system_shared_memory",
            "trace");
  }

  @Test
  void modelMetadata() throws Exception {
    HttpResponse<byte[]> r = get("/v2/models/simple");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode j = json(r);
    assertThat(j.get("name").asText()).isEqualTo("simple");
    assertThat(j.get("versions").toString()).isEqualTo("[\"1\"]");
    assertThat(j.get("platform").asText()).isEqualTo("onnxruntime_onnx");
    assertThat(j.get("inputs").toString())
        .isEqualTo(
            "[{\"name\":\"INPUT0\",\"datatype\":\"INT32\",\"shape\":[-1,16]},"
                + "{\"name\":\"INPUT1\",\"datatype\":\"INT32\",\"shape\":[-1,16]}]");
    assertThat(j.get("outputs").get(1).get("name").asText()).isEqualTo("OUTPUT1");

    JsonNode v = json(get("/v2/models/versioned/versions/1"));
    assertThat(v.get("versions").toString()).isEqualTo("[\"2\",\"1\"]");
    JsonNode nb = json(get("/v2/models/pair"));
    assertThat(nb.get("inputs").get(0).get("shape").toString()).isEqualTo("[2,2]");
  }

  @Test
  void modelReady() throws Exception {
    HttpResponse<byte[]> r = get("/v2/models/simple/ready");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(r).get("ready").asBoolean()).isTrue();
    assertThat(get("/v2/models/versioned/versions/2/ready").statusCode()).isEqualTo(200);
    HttpResponse<byte[]> broken = get("/v2/models/broken/ready");
    assertThat(broken.statusCode()).isEqualTo(503);
    assertThat(json(broken).get("ready").asBoolean()).isFalse();
    // KServe v1's model-ready probe, GET /v1/models/<m>: the same statuses, the body kept.
    assertThat(get("/v1/models/simple").statusCode()).isEqualTo(200);
    HttpResponse<byte[]> v1 = get("/v1/models/broken");
    assertThat(v1.statusCode()).isEqualTo(503);
    assertThat(json(v1).get("name").asText()).isEqualTo("broken");
    assertThat(json(v1).get("ready").asBoolean()).isFalse();
    assertThat(get("/v1/models/nope").statusCode()).isEqualTo(404);
    HttpResponse<byte[]> unknown = get("/v2/models/nope/ready");
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(error(unknown)).contains("nope");
    assertThat(get("/v2/models/simple/versions/9/ready").statusCode()).isEqualTo(404);
  }

  @Test
  void modelConfigUsesTritonFieldNames() throws Exception {
    HttpResponse<byte[]> r = get("/v2/models/simple/config");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode c = json(r);
    assertThat(c.get("name").asText()).isEqualTo("simple");
    assertThat(c.get("platform").asText()).isEqualTo("onnxruntime_onnx");
    assertThat(c.get("backend").asText()).isEqualTo("onnxruntime");
    assertThat(c.get("max_batch_size").asInt()).isEqualTo(8);
    assertThat(c.get("input").get(0).get("data_type").asText()).isEqualTo("TYPE_INT32");
    assertThat(c.get("input").get(0).get("dims").toString()).isEqualTo("[16]");
    assertThat(c.get("output").get(0).get("name").asText()).isEqualTo("OUTPUT0");
    assertThat(c.get("version_policy").toString()).isEqualTo("{\"latest\":{\"num_versions\":1}}");
    assertThat(c.get("instance_group").get(0).get("kind").asText()).isEqualTo("KIND_CPU");
    assertThat(c.get("instance_group").get(0).get("count").asInt()).isEqualTo(1);
    assertThat(c.has("dynamic_batching")).isTrue();
    assertThat(c.get("default_model_filename").asText()).isEqualTo("model.onnx");
    assertThat(c.get("parameters").has("intra_op_thread_count")).isTrue();

    JsonNode nb = json(get("/v2/models/pair/config"));
    assertThat(nb.get("max_batch_size").asInt()).isZero();
    assertThat(nb.has("dynamic_batching")).isFalse();
    assertThat(nb.get("input").get(1).get("data_type").asText()).isEqualTo("TYPE_STRING");
    JsonNode all = json(get("/v2/models/versioned/versions/2/config"));
    assertThat(all.get("version_policy").toString()).isEqualTo("{\"all\":{}}");
    assertThat(c.get("output").get(0).get("label_filename").asText()).isEmpty();
    JsonNode labeled = json(get("/v2/models/labeled/config"));
    assertThat(labeled.get("output").get(0).get("label_filename").asText())
        .isEqualTo("classes.txt");
  }

  // ---- JSON inference ------------------------------------------------------------------------

  /** Six JSON values per JSON-capable type, covering the edges of each range. */
  static String jsonValues(DataType t) {
    return switch (t) {
      case BOOL -> "[true,false,true,true,false,false]";
      case UINT8 -> "[0,1,2,127,128,255]";
      case INT8 -> "[-128,-1,0,1,2,127]";
      case UINT16 -> "[0,1,2,3,32768,65535]";
      case INT16 -> "[-32768,-1,0,1,2,32767]";
      case UINT32 -> "[0,1,2,3,2147483648,4294967295]";
      case INT32 -> "[-2147483648,-1,0,1,2,2147483647]";
      case UINT64 -> "[0,1,2,9223372036854775807,9223372036854775808,18446744073709551615]";
      case INT64 -> "[-9223372036854775808,-1,0,1,2,9223372036854775807]";
      case FP32 -> "[1.5,-2.25,0.0,1024.0,-0.125,3.0]";
      case FP64 -> "[1.0E-300,-2.5,0.0,1.7976931348623157E308,0.1,3.0]";
      case BYTES -> "[\"a\",\"\",\"h\\u00e9llo\",\"\\u4e16\\u754c\",\"x y\",\"{}\"]";
      default -> throw new IllegalArgumentException(t.name());
    };
  }

  static void assertSameValues(JsonNode actual, JsonNode expected) {
    assertThat(actual.size()).isEqualTo(expected.size());
    for (int i = 0; i < expected.size(); i++) {
      JsonNode a = actual.get(i);
      JsonNode e = expected.get(i);
      if (e.isNumber()) {
        assertThat(a.decimalValue()).as("element %d", i).isEqualByComparingTo(e.decimalValue());
      } else {
        assertThat(a).as("element %d", i).isEqualTo(e);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = DataType.class,
      names = {"FP16", "BF16"},
      mode = EnumSource.Mode.EXCLUDE)
  void jsonRoundTripFlatAndNested(DataType t) throws Exception {
    String values = jsonValues(t);
    JsonNode flat = JSON.readTree(values);
    String body =
        "{\"id\":\"r-%s\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"%s\",\"shape\":[2,3],\"data\":%s}]}"
            .formatted(t, t, values);
    HttpResponse<byte[]> r = post(infer(TestModels.echo(t)), body);
    assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode j = json(r);
    assertThat(j.get("model_name").asText()).isEqualTo(TestModels.echo(t));
    assertThat(j.get("model_version").asText()).isEqualTo("1");
    assertThat(j.get("id").asText()).isEqualTo("r-" + t);
    JsonNode out = j.get("outputs").get(0);
    assertThat(out.get("name").asText()).isEqualTo("OUT");
    assertThat(out.get("datatype").asText()).isEqualTo(t.name());
    assertThat(out.get("shape").toString()).isEqualTo("[2,3]");
    assertSameValues(out.get("data"), flat);

    ArrayNode nested = JSON.createArrayNode();
    nested.addArray().addAll(List.of(flat.get(0), flat.get(1), flat.get(2)));
    nested.addArray().addAll(List.of(flat.get(3), flat.get(4), flat.get(5)));
    String nestedBody =
        "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"%s\",\"shape\":[2,3],\"data\":%s}]}"
            .formatted(t, nested);
    HttpResponse<byte[]> n = post(infer(TestModels.echo(t)), nestedBody);
    assertThat(n.statusCode()).isEqualTo(200);
    assertThat(json(n).has("id")).isFalse();
    assertSameValues(json(n).get("outputs").get(0).get("data"), flat);
  }

  @Test
  void simpleAddSubWithOutputsSubsetAndParameters() throws Exception {
    StringBuilder a = new StringBuilder("[");
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < 16; i++) {
      a.append(i == 0 ? "" : ",").append(i);
      b.append(i == 0 ? "" : ",").append(1);
    }
    String body =
        ("{\"id\":\"42\",\"parameters\":{\"custom\":\"x\",\"n\":3,\"f\":true},"
                + "\"inputs\":[{\"name\":\"INPUT0\",\"datatype\":\"INT32\",\"shape\":[1,16],\"data\":%s},"
                + "{\"name\":\"INPUT1\",\"datatype\":\"INT32\",\"shape\":[1,16],\"data\":%s}],"
                + "\"outputs\":[{\"name\":\"OUTPUT1\"}]}")
            .formatted(a.append("]"), b.append("]"));
    HttpResponse<byte[]> r = post(infer("simple"), body);
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode j = json(r);
    assertThat(j.get("id").asText()).isEqualTo("42");
    assertThat(j.get("outputs")).hasSize(1);
    JsonNode out = j.get("outputs").get(0);
    assertThat(out.get("name").asText()).isEqualTo("OUTPUT1");
    assertThat(out.get("data").get(0).asInt()).isEqualTo(-1);
    assertThat(out.get("data").get(15).asInt()).isEqualTo(14);
  }

  @Test
  void explicitVersion() throws Exception {
    String body =
        "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[1,1],\"data\":[2.0]}]}";
    HttpResponse<byte[]> r = post("/v2/models/versioned/versions/1/infer", body);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(r).get("model_version").asText()).isEqualTo("1");
    assertThat(json(post(infer("versioned"), body)).get("model_version").asText()).isEqualTo("2");
  }

  // ---- binary inference ----------------------------------------------------------------------

  static byte[] binaryValues(DataType t, int count) {
    if (t == DataType.BYTES) {
      ByteBuffer b = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < count; i++) {
        byte[] e = ("elem-" + "x".repeat(i)).getBytes(StandardCharsets.UTF_8);
        b.putInt(e.length).put(e);
      }
      return Arrays.copyOf(b.array(), b.position());
    }
    byte[] out = new byte[count * t.byteSize()];
    new Random(t.ordinal()).nextBytes(out);
    if (t.isFloatingPoint()) {
      // Clears the top exponent bit, so that no element is NaN or Infinity, which are refused.
      for (int i = t.byteSize() - 1; i < out.length; i += t.byteSize()) {
        out[i] = (byte) (out[i] & 0xBF);
      }
    }
    if (t == DataType.BOOL) {
      for (int i = 0; i < out.length; i++) {
        out[i] = (byte) (out[i] & 1);
      }
    }
    return out;
  }

  @ParameterizedTest
  @EnumSource(DataType.class)
  void binaryRoundTrip(DataType t) throws Exception {
    byte[] data = binaryValues(t, 6);
    String header =
        ("{\"parameters\":{\"binary_data_output\":true},\"inputs\":[{\"name\":\"IN\","
                + "\"datatype\":\"%s\",\"shape\":[3,2],\"parameters\":{\"binary_data_size\":%d}}]}")
            .formatted(t, data.length);
    HttpResponse<byte[]> r = postBinary(infer(TestModels.echo(t)), header, data);
    assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/octet-stream");
    JsonNode out = json(r).get("outputs").get(0);
    assertThat(out.get("shape").toString()).isEqualTo("[3,2]");
    assertThat(out.has("data")).isFalse();
    assertThat(out.get("parameters").get("binary_data_size").asInt()).isEqualTo(data.length);
    assertThat(binaryOutputs(r).get("OUT")).isEqualTo(data);
  }

  @Test
  void binaryBoolBytesOtherThanZeroAndOneAreRefused() throws Exception {
    String header =
        "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"BOOL\",\"shape\":[1,3],"
            + "\"parameters\":{\"binary_data_size\":3}}]}";
    assertError(
        postBinary(infer("echo_bool"), header, new byte[] {1, 0, 2}),
        400,
        "'IN'",
        "element 2",
        "0 or 1");
  }

  @ParameterizedTest
  @EnumSource(
      value = DataType.class,
      names = {"FP16", "BF16"})
  void halfFloatsAreAlwaysBinaryAndNeverJson(DataType t) throws Exception {
    byte[] data = binaryValues(t, 2);
    String header =
        ("{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"%s\",\"shape\":[1,2],"
                + "\"parameters\":{\"binary_data_size\":4}}],"
                + "\"outputs\":[{\"name\":\"OUT\",\"parameters\":{\"binary_data\":false}}]}")
            .formatted(t);
    HttpResponse<byte[]> r = postBinary(infer(TestModels.echo(t)), header, data);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(binaryOutputs(r).get("OUT")).isEqualTo(data);

    HttpResponse<byte[]> bad =
        post(
            infer(TestModels.echo(t)),
            "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"%s\",\"shape\":[1,2],\"data\":[1.0,2.0]}]}"
                .formatted(t));
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(error(bad)).contains("'IN'", t.name(), "cannot be sent as JSON", "binary_data_size");
  }

  @Test
  void jsonInputWithBinaryOutputAndBinaryInputWithJsonOutput() throws Exception {
    // JSON in, one output binary (per-output parameter), the other JSON.
    String body =
        "{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[2,2],\"data\":[[1,2],[3,4]]},"
            + "{\"name\":\"B\",\"datatype\":\"BYTES\",\"shape\":[2],\"data\":[\"p\",\"qq\"]}],"
            + "\"outputs\":[{\"name\":\"B_OUT\"},{\"name\":\"A_OUT\",\"parameters\":{\"binary_data\":true}}]}";
    HttpResponse<byte[]> r = post(infer("pair"), body);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/octet-stream");
    JsonNode j = json(r);
    assertThat(j.get("outputs").get(0).get("name").asText()).isEqualTo("B_OUT");
    assertThat(j.get("outputs").get(0).get("data").toString()).isEqualTo("[\"p\",\"qq\"]");
    byte[] a = binaryOutputs(r).get("A_OUT");
    ByteBuffer f = ByteBuffer.wrap(a).order(ByteOrder.LITTLE_ENDIAN);
    assertThat(List.of(f.getFloat(), f.getFloat(), f.getFloat(), f.getFloat()))
        .containsExactly(1f, 2f, 3f, 4f);

    // Binary in (A), JSON in (B), JSON out by default.
    ByteBuffer floats = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    floats.putFloat(5).putFloat(6).putFloat(7).putFloat(8);
    String header =
        "{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[2,2],\"parameters\":{\"binary_data_size\":16}},"
            + "{\"name\":\"B\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"z\"]}]}";
    HttpResponse<byte[]> r2 = postBinary(infer("pair"), header, floats.array());
    assertThat(r2.statusCode()).isEqualTo(200);
    assertThat(r2.headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(r2.headers().firstValue(HCL)).isEmpty();
    JsonNode j2 = json(r2);
    assertThat(j2.get("outputs").get(0).get("data").toString()).isEqualTo("[5.0,6.0,7.0,8.0]");
    assertThat(j2.get("outputs").get(1).get("data").toString()).isEqualTo("[\"z\"]");
  }

  @Test
  void rawRequestIsTheSingleInputBatchOne() throws Exception {
    ByteBuffer floats = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
    floats.putFloat(1).putFloat(2).putFloat(3);
    HttpResponse<byte[]> r =
        send(
            HttpRequest.newBuilder(URI.create(base + infer("echo_fp32")))
                .header(HCL, "0")
                .POST(HttpRequest.BodyPublishers.ofByteArray(floats.array())));
    assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(200);
    JsonNode out = json(r).get("outputs").get(0);
    assertThat(out.get("shape").toString()).isEqualTo("[1,3]");
    assertThat(binaryOutputs(r).get("OUT")).isEqualTo(floats.array());

    HttpResponse<byte[]> two =
        send(
            HttpRequest.newBuilder(URI.create(base + infer("simple")))
                .header(HCL, "0")
                .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[64])));
    assertThat(two.statusCode()).isEqualTo(400);
    assertThat(error(two)).contains("exactly one input");
  }

  @Test
  void gzipRequestBody() throws Exception {
    String body =
        "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"INT64\",\"shape\":[1,2],\"data\":[7,8]}]}";
    ByteArrayOutputStream z = new ByteArrayOutputStream();
    try (GZIPOutputStream g = new GZIPOutputStream(z)) {
      g.write(body.getBytes(StandardCharsets.UTF_8));
    }
    HttpResponse<byte[]> r =
        send(
            HttpRequest.newBuilder(URI.create(base + infer("echo_int64")))
                .header("Content-Encoding", "gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(z.toByteArray())));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(r).get("outputs").get(0).get("data").toString()).isEqualTo("[7,8]");
  }

  // ---- errors --------------------------------------------------------------------------------

  static void assertError(HttpResponse<byte[]> r, int status, String... fragments)
      throws IOException {
    assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(status);
    assertThat(error(r)).contains(fragments);
  }

  static String fp32(String shape, String data) {
    return "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":%s,\"data\":%s}]}"
        .formatted(shape, data);
  }

  @Test
  void clientMistakesAre4xxWithMessages() throws Exception {
    assertError(post(infer("echo_fp32"), "{\"inputs\": [ {"), 400, "echo_fp32", "malformed JSON");
    assertError(post(infer("echo_fp32"), "[1,2]"), 400, "JSON object");
    assertError(post(infer("echo_fp32"), "{}"), 400, "'inputs'");
    assertError(
        post(
            infer("echo_fp32"),
            "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP128\",\"shape\":[1,1],\"data\":[1]}]}"),
        400,
        "'IN'",
        "unknown datatype 'FP128'");
    assertError(
        post(infer("echo_fp32"), fp32("[2,3]", "[1,2,3,4,5]")),
        400,
        "'IN'",
        "5 data elements",
        "needs 6");
    assertError(post(infer("echo_fp32"), fp32("[2,3]", "[[1,2,3],[4,5]]")), 400, "'IN'", "nested");
    assertError(post(infer("echo_fp32"), fp32("[2,-3]", "[1]")), 400, "'IN'", "shape");
    assertError(post(infer("echo_fp32"), fp32("[1,1]", "[\"x\"]")), 400, "'IN'", "not a number");
    assertError(
        post(
            infer("echo_int8"),
            "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"INT8\",\"shape\":[1,1],\"data\":[300]}]}"),
        400,
        "'IN'",
        "300",
        "outside");
    assertError(
        post(
            infer("echo_bool"),
            "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"BOOL\",\"shape\":[1,1],\"data\":[1]}]}"),
        400,
        "true or false");
    assertError(
        post(
            infer("echo_fp32"),
            "{\"inputs\":[{\"name\":\"NOPE\",\"datatype\":\"FP32\",\"shape\":[1,1],\"data\":[1]}]}"),
        400,
        "echo_fp32",
        "no input named 'NOPE'");
    assertError(
        post(
            infer("echo_fp32"),
            "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"INT32\",\"shape\":[1,1],\"data\":[1]}]}"),
        400,
        "'IN' must be FP32");
    assertError(
        post(
            infer("echo_fp32"),
            "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[1,1],\"data\":[1]}],"
                + "\"outputs\":[{\"name\":\"X\"}]}"),
        400,
        "no output named 'X'");
    assertError(post(infer("nope"), fp32("[1,1]", "[1]")), 404, "unknown model 'nope'");
    assertError(
        post("/v2/models/echo_fp32/versions/7/infer", fp32("[1,1]", "[1]")), 404, "no version '7'");
    assertError(get("/v2/models/nope"), 404, "nope");
    assertError(get("/v2/models/nope/config"), 404, "nope");
    assertError(post(infer("broken"), fp32("[1,1]", "[1]")), 503, "broken");
  }

  @Test
  void binarySizesMustAddUp() throws Exception {
    String header =
        "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[1,2],\"parameters\":{\"binary_data_size\":8}}]}";
    assertError(
        postBinary(infer("echo_fp32"), header, new byte[12]), 400, "binary_data_size", "add up");
    assertError(postBinary(infer("echo_fp32"), header, new byte[4]), 400, "'IN'", "only 4 bytes");
    String wrongShape = header.replace("[1,2]", "[1,3]");
    assertError(
        postBinary(infer("echo_fp32"), wrongShape, new byte[8]), 400, "'IN'", "needs 12 bytes");
    HttpResponse<byte[]> badHeader =
        send(
            HttpRequest.newBuilder(URI.create(base + infer("echo_fp32")))
                .header(HCL, "999")
                .POST(HttpRequest.BodyPublishers.ofString("{}")));
    assertError(badHeader, 400, HCL);
  }

  @Test
  void unknownPathAndWrongMethod() throws Exception {
    assertError(get("/v2/nothing/here"), 404, "/v2/nothing/here");
    assertError(get("/metrics"), 404, "/metrics");
    HttpResponse<byte[]> m = post("/v2/health/ready", "{}");
    assertError(m, 405, "GET");
    assertThat(m.headers().firstValue("Allow")).hasValue("GET, HEAD");
    assertError(get(infer("simple")), 405, "POST");
  }

  @Test
  void oversizedBodyIs413WithJsonAndTheServerKeepsServing() throws Exception {
    byte[] big = new byte[100 * 1024];
    String header =
        "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"UINT8\",\"shape\":[1,102400],\"parameters\":{\"binary_data_size\":102400}}]}";
    HttpResponse<byte[]> r = postBinary(infer("echo_uint8"), header, big);
    assertError(r, 413, "exceeds", "65536");
    assertThat(get("/v2/health/live").statusCode()).isEqualTo(200);
  }

  // ---- connections ---------------------------------------------------------------------------

  /** A minimal HTTP/1.1 client over one socket, to see keep-alive and pipelining. */
  static final class RawConnection implements AutoCloseable {
    final Socket socket;
    final InputStream in;
    final OutputStream out;

    RawConnection() throws IOException {
      this(server.port());
    }

    RawConnection(int port) throws IOException {
      socket = new Socket("127.0.0.1", port);
      socket.setSoTimeout(30_000);
      in = socket.getInputStream();
      out = socket.getOutputStream();
    }

    void send(String method, String path, String extraHeaders, byte[] body) throws IOException {
      String head =
          method
              + " "
              + path
              + " HTTP/1.1\r\nHost: x\r\nContent-Length: "
              + body.length
              + "\r\n"
              + extraHeaders
              + "\r\n";
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(body);
      out.flush();
    }

    record Response(int status, Map<String, String> headers, byte[] body) {}

    Response read() throws IOException {
      String status = line();
      Map<String, String> headers = new LinkedHashMap<>();
      for (String l = line(); !l.isEmpty(); l = line()) {
        int c = l.indexOf(':');
        headers.put(l.substring(0, c).trim().toLowerCase(), l.substring(c + 1).trim());
      }
      byte[] body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
      return new Response(Integer.parseInt(status.split(" ")[1]), headers, body);
    }

    String line() throws IOException {
      StringBuilder sb = new StringBuilder();
      int c;
      while ((c = in.read()) != '\n') {
        if (c < 0) {
          throw new IOException("connection closed");
        }
        if (c != '\r') {
          sb.append((char) c);
        }
      }
      return sb.toString();
    }

    boolean closedByServer() throws IOException {
      return in.read() < 0;
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** Writes {@code head} (a request line and headers, no body) on a fresh connection. */
  private static RawConnection.Response rawHead(String head) throws IOException {
    try (RawConnection c = new RawConnection()) {
      c.out.write(head.getBytes(StandardCharsets.US_ASCII));
      c.out.flush();
      return c.read();
    }
  }

  @Test
  void theRequestLineAndHostFollowRfc9112() throws Exception {
    // An HTTP/1.1 request has exactly one Host (3.2); HTTP/1.0 needs none.
    RawConnection.Response none = rawHead("GET /v2/health/live HTTP/1.1\r\n\r\n");
    assertThat(none.status()).isEqualTo(400);
    assertThat(new String(none.body(), StandardCharsets.UTF_8)).contains("needs a Host header");
    RawConnection.Response two =
        rawHead("GET /v2/health/live HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    assertThat(two.status()).isEqualTo(400);
    assertThat(new String(two.body(), StandardCharsets.UTF_8)).contains("one Host header");
    assertThat(rawHead("GET /v2/health/live HTTP/1.0\r\n\r\n").status()).isEqualTo(200);
    // The absolute form is accepted (3.2.2), scheme in any case, query ignored.
    assertThat(rawHead("GET http://h:1/v2/health/live HTTP/1.1\r\nHost: h:1\r\n\r\n").status())
        .isEqualTo(200);
    assertThat(
            rawHead("GET HTTPS://h/v2/models/echo_fp32?x=1 HTTP/1.1\r\nHost: h\r\n\r\n").status())
        .isEqualTo(200);
    assertThat(rawHead("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n").status()).isEqualTo(404);
    // Another major version over HTTP/1's framing (2.3).
    RawConnection.Response two0 = rawHead("GET /v2/health/live HTTP/2.0\r\nHost: x\r\n\r\n");
    assertThat(two0.status()).isEqualTo(505);
  }

  @Test
  void keepAliveAndPipelinedRequestsAnswerInOrder() throws Exception {
    try (RawConnection c = new RawConnection()) {
      for (int i = 0; i < 3; i++) {
        byte[] body = fp32("[1,1]", "[" + i + "]").getBytes(StandardCharsets.UTF_8);
        c.send("POST", infer("echo_fp32"), "", body);
        RawConnection.Response r = c.read();
        assertThat(r.status()).isEqualTo(200);
        assertThat(JSON.readTree(r.body()).get("outputs").get(0).get("data").get(0).asDouble())
            .isEqualTo(i);
      }
      // Pipelined: a slow-ish inference, an error and a GET, all sent before reading.
      c.send(
          "POST", infer("echo_fp32"), "", fp32("[1,1]", "[42]").getBytes(StandardCharsets.UTF_8));
      c.send("GET", "/v2/nope", "", new byte[0]);
      c.send("GET", "/v2/health/live", "", new byte[0]);
      assertThat(c.read().status()).isEqualTo(200);
      assertThat(c.read().status()).isEqualTo(404);
      RawConnection.Response live = c.read();
      assertThat(live.status()).isEqualTo(200);
      assertThat(new String(live.body(), StandardCharsets.UTF_8)).contains("live");
      // Connection: close is honoured.
      c.send("GET", "/v2/health/live", "Connection: close\r\n", new byte[0]);
      RawConnection.Response last = c.read();
      assertThat(last.status()).isEqualTo(200);
      assertThat(last.headers().get("connection")).isEqualToIgnoringCase("close");
      assertThat(c.closedByServer()).isTrue();
    }
  }

  @Test
  void oversizedBodyOnKeepAliveConnectionLeavesItUsable() throws Exception {
    try (RawConnection c = new RawConnection()) {
      c.send("POST", infer("echo_fp32"), "", new byte[70 * 1024]);
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(413);
      assertThat(JSON.readTree(r.body()).get("error").asText()).contains("exceeds");
      c.send("GET", "/v2/health/ready", "", new byte[0]);
      assertThat(c.read().status()).isEqualTo(200);
    }
  }

  @Test
  void requestsPipelinedInTheConnectionsFirstBytesAreAllAnswered() throws Exception {
    // The first request commits the connection to HTTP/1.1 while the rest are being decoded.
    byte[] body = fp32("[1,1]", "[5]").getBytes(StandardCharsets.UTF_8);
    String post =
        "POST "
            + infer("echo_fp32")
            + " HTTP/1.1\r\nHost: x\r\nContent-Length: "
            + body.length
            + "\r\n\r\n";
    String get = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
    try (RawConnection c = new RawConnection()) {
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      all.write(get.getBytes(StandardCharsets.US_ASCII));
      all.write(post.getBytes(StandardCharsets.US_ASCII));
      all.write(body);
      all.write(get.getBytes(StandardCharsets.US_ASCII));
      c.out.write(all.toByteArray());
      c.out.flush();
      assertThat(c.read().status()).isEqualTo(200);
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(JSON.readTree(r.body()).at("/outputs/0/data/0").asDouble()).isEqualTo(5.0);
      assertThat(c.read().status()).isEqualTo(200);
    }
  }

  @Test
  void anUpgradeAfterTheFirstRequestStaysOnHttp11() throws Exception {
    // Switching protocols under pipelined HTTP/1.1 requests is not possible: only a connection's
    // first request may upgrade to h2c; a later one is served as HTTP/1.1.
    String upgrade =
        "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n";
    try (RawConnection c = new RawConnection()) {
      c.send("GET", "/v2/health/live", "", new byte[0]);
      assertThat(c.read().status()).isEqualTo(200);
      c.send("GET", "/v2/health/ready", upgrade, new byte[0]);
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(JSON.readTree(r.body()).get("ready").asBoolean()).isTrue();
      c.send("GET", "/v2/health/live", "", new byte[0]);
      assertThat(c.read().status()).isEqualTo(200);
    }
  }

  @Test
  void anUpgradeRequestWithABodyIsServedOnHttp11() throws Exception {
    // Only a request without a body may upgrade to h2c (its body would be read whole before the
    // head's checks); one with a body is answered as HTTP/1.1, and the connection stays HTTP/1.1.
    String upgrade =
        "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n";
    try (RawConnection c = new RawConnection()) {
      c.send(
          "POST",
          infer("echo_fp32"),
          upgrade + "Content-Type: application/json\r\n",
          fp32("[1,1]", "[5]").getBytes(StandardCharsets.UTF_8));
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(JSON.readTree(r.body()).at("/outputs/0/data/0").asDouble()).isEqualTo(5.0);
      c.send("GET", "/v2/health/live", "", new byte[0]);
      assertThat(c.read().status()).isEqualTo(200);
    }
  }

  @Test
  void webPagesOfOtherSitesAreRefused() throws Exception {
    // A page's cross-site POST (cross-site request forgery), and a request addressed by a DNS
    // name to this open loopback server (DNS rebinding): 403 at the head, the body unread.
    byte[] body = fp32("[1,1]", "[5]").getBytes(StandardCharsets.UTF_8);
    try (RawConnection c = new RawConnection()) {
      c.out.write(
          ("POST "
                  + infer("echo_fp32")
                  + " HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
                  + "Content-Type: text/plain\r\nContent-Length: 10000000\r\n\r\n{")
              .getBytes(StandardCharsets.US_ASCII));
      c.out.flush();
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(403);
      assertThat(JSON.readTree(r.body()).get("error").asText()).contains("cross-origin");
    }
    try (RawConnection c = new RawConnection()) {
      c.out.write(
          "GET /v2/models/echo_fp32/config HTTP/1.1\r\nHost: rebind.evil.example:8000\r\n\r\n"
              .getBytes(StandardCharsets.US_ASCII));
      c.out.flush();
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(403);
      assertThat(JSON.readTree(r.body()).get("error").asText()).contains("DNS rebinding");
    }
    try (RawConnection c = new RawConnection()) { // the same origin, as the dashboard's page
      c.out.write(
          ("POST "
                  + infer("echo_fp32")
                  + " HTTP/1.1\r\nHost: localhost:8000\r\nOrigin: http://localhost:8000\r\n"
                  + "Content-Length: "
                  + body.length
                  + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      c.out.write(body);
      c.out.flush();
      assertThat(c.read().status()).isEqualTo(200);
    }
  }

  @Test
  void headAnswersAsGetWithoutTheBody() throws Exception {
    try (RawConnection c = new RawConnection()) {
      c.send("HEAD", "/v2/models/echo_fp32", "", new byte[0]);
      String status = c.line();
      Map<String, String> headers = new LinkedHashMap<>();
      for (String l = c.line(); !l.isEmpty(); l = c.line()) {
        int colon = l.indexOf(':');
        headers.put(l.substring(0, colon).trim().toLowerCase(), l.substring(colon + 1).trim());
      }
      assertThat(status).startsWith("HTTP/1.1 200");
      assertThat(Integer.parseInt(headers.get("content-length"))).isPositive();
      // No body followed: the next answer on the connection is the GET's, whole.
      c.send("GET", "/v2/health/live", "", new byte[0]);
      assertThat(c.read().status()).isEqualTo(200);
      c.send("HEAD", infer("echo_fp32"), "", new byte[0]);
      String refused = c.line();
      assertThat(refused).startsWith("HTTP/1.1 405");
    }
  }

  @Test
  void anOverlongRequestLineIs414AndOverlongHeadersAre431() throws Exception {
    try (RawConnection c = new RawConnection()) {
      c.send("GET", "/v2/health/live?" + "a".repeat(5000), "", new byte[0]);
      assertThat(c.read().status()).isEqualTo(414);
    }
    try (RawConnection c = new RawConnection()) {
      c.send("GET", "/v2/health/live", "X-A: " + "a".repeat(9000) + "\r\n", new byte[0]);
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(431);
      assertThat(JSON.readTree(r.body()).get("error").asText()).contains("header");
    }
  }

  @Test
  void malformedHttpIs400AndCloses() throws Exception {
    try (RawConnection c = new RawConnection()) {
      c.out.write("GET /v2 HTTP/9.9 what\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      c.out.flush();
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(400);
      assertThat(JSON.readTree(r.body()).get("error").asText()).contains("malformed HTTP");
      assertThat(c.closedByServer()).isTrue();
    }
    assertThat(get("/v2/health/live").statusCode()).isEqualTo(200);
  }

  @Test
  void malformedPercentEncodingInThePathIs400() throws Exception {
    try (RawConnection c = new RawConnection()) {
      c.send("GET", "/v2/models/%zz/ready", "", new byte[0]);
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(400);
      assertThat(JSON.readTree(r.body()).get("error").asText()).contains("%zz", "percent");
      c.send("GET", "/v2/health/live", "", new byte[0]);
      assertThat(c.read().status()).isEqualTo(200);
    }
  }

  @Test
  void controlCharactersInTheRequestTargetAre400() throws Exception {
    // Raw in the request line (RFC 9112 3, RFC 3986): malformed, answered and closed as the
    // codec's own refusals are; they were routed (a NUL in a model name: 404, keep-alive).
    for (String target :
        List.of(
            "/v2/models/echo_fp32\u0000/ready",
            "/v2/models/echo_fp32\u0001\u007f/ready",
            "/v2/health/live\u001b[2J")) {
      try (RawConnection c = new RawConnection()) {
        c.out.write(
            ("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        c.out.flush();
        RawConnection.Response r = c.read();
        assertThat(r.status()).as(target).isEqualTo(400);
        assertThat(r.headers().get("connection")).isEqualToIgnoringCase("close");
        assertThat(JSON.readTree(r.body()).get("error").asText())
            .contains("request target has a control character")
            .doesNotContain("\u0000", "\u0001", "\u001b");
        assertThat(c.closedByServer()).isTrue();
      }
    }
    // Percent-encoded, they never name a model: 400 (a request error, the connection kept).
    try (RawConnection c = new RawConnection()) {
      c.send("GET", "/v2/models/echo_fp32%00/ready", "", new byte[0]);
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(400);
      assertThat(JSON.readTree(r.body()).get("error").asText())
          .contains("echo_fp32%00", "control character (0x00)");
      c.send("GET", "/v2/health/live", "", new byte[0]);
      assertThat(c.read().status()).isEqualTo(200);
    }
  }

  @Test
  void aBadHeaderInAnHttp11RequestIs400WithConnectionClose() throws Exception {
    // The answer names the header, not the body ("cannot be decoded") or a Java exception class.
    for (String length : List.of("abc", "2, 2", "-1", "2\r\nContent-Length: 2")) {
      try (RawConnection c = new RawConnection()) {
        c.out.write(
            ("POST /v2/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + "\r\n\r\n{}")
                .getBytes(StandardCharsets.US_ASCII));
        c.out.flush();
        RawConnection.Response r = c.read();
        assertThat(r.status()).as(length).isEqualTo(400);
        assertThat(r.headers().get("connection")).isEqualToIgnoringCase("close");
        assertThat(JSON.readTree(r.body()).get("error").asText())
            .as(length)
            .contains("Content-Length header is invalid")
            .doesNotContain("Exception", "java.", "body");
        assertThat(c.closedByServer()).isTrue();
      }
    }
  }

  @Test
  void aBodyThatIsNotGzipIs400AndCloses() throws Exception {
    try (RawConnection c = new RawConnection()) {
      // Pipelined behind a good request: that one is still answered first, in order.
      c.send("POST", infer("echo_fp32"), "", fp32("[1,1]", "[3]").getBytes(StandardCharsets.UTF_8));
      c.send(
          "POST",
          infer("echo_fp32"),
          "Content-Encoding: gzip\r\n",
          "this is not gzip at all".getBytes(StandardCharsets.US_ASCII));
      assertThat(c.read().status()).isEqualTo(200);
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(400);
      assertThat(r.headers().get("connection")).isEqualToIgnoringCase("close");
      assertThat(JSON.readTree(r.body()).get("error").asText()).contains("cannot be decoded");
      assertThat(c.closedByServer()).isTrue();
    }
    assertThat(get("/v2/health/live").statusCode()).isEqualTo(200);
  }

  @Test
  void aBodyThatIsNotGzipEndsItsConnectionByTheAnswersLingeringClose() throws Exception {
    // A request pipelined behind it cleans the failed inflater up: that raised the failure again,
    // which the dispatcher took for a server fault (a WARN) and closed on at once, so a client
    // still sending was reset. Now the answer's write ends the connection, lingering.
    try (RawConnection c = new RawConnection()) {
      c.out.write(
          ("POST "
                  + infer("echo_fp32")
                  + " HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 23\r\n\r\n"
                  + "this is not gzip at all"
                  + "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      c.out.flush();
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(400);
      assertThat(r.headers().get("connection")).isEqualToIgnoringCase("close");
      // A close at once is done by now: the first write below is answered with a reset, which
      // fails the next one.
      byte[] more = new byte[64 * 1024];
      for (int i = 0; i < 4; i++) {
        Thread.sleep(50);
        c.out.write(more);
        c.out.flush();
      }
      assertThat(c.closedByServer()).isTrue();
    }
  }

  @Test
  void aBodyTooShortToInflateIsNotReportedAsEmpty() throws Exception {
    // Shorter than a gzip header: Netty's inflater waits for more and passes on nothing.
    try (RawConnection c = new RawConnection()) {
      c.send(
          "POST",
          infer("echo_fp32"),
          "Content-Encoding: gzip\r\n",
          "short".getBytes(StandardCharsets.US_ASCII));
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(400);
      assertThat(JSON.readTree(r.body()).get("error").asText())
          .contains("cannot be decoded", "5 bytes inflate to nothing", "gzip")
          .doesNotContain("empty");
    }
  }

  @Test
  void aContentCodingTheServerCannotUndoIs415() throws Exception {
    byte[] body = fp32("[1,1]", "[3]").getBytes(StandardCharsets.UTF_8);
    for (String coding : List.of("br", "foo", "gzip, gzip")) {
      try (RawConnection c = new RawConnection()) {
        c.send("POST", infer("echo_fp32"), "Content-Encoding: " + coding + "\r\n", body);
        RawConnection.Response r = c.read();
        assertThat(r.status()).as(coding).isEqualTo(415);
        assertThat(r.headers().get("accept-encoding")).isEqualTo("gzip, deflate");
        assertThat(JSON.readTree(r.body()).get("error").asText()).contains(coding);
      }
    }
    try (RawConnection c = new RawConnection()) { // identity is no coding at all
      c.send("POST", infer("echo_fp32"), "Content-Encoding: identity\r\n", body);
      assertThat(c.read().status()).isEqualTo(200);
    }
  }

  /**
   * A request refused at its head (415 for its coding, 403 for its Origin) keeps its connection
   * when its body can be skipped (a Content-Length within the input limit): the body is dropped and
   * the request pipelined after it is answered. The 415 had closed the connection, losing a
   * keep-alive client's next request.
   */
  @Test
  void aRequestRefusedAtItsHeadKeepsTheConnectionWhenItsBodyCanBeSkipped() throws Exception {
    byte[] body = fp32("[1,1]", "[3]").getBytes(StandardCharsets.UTF_8);
    try (RawConnection c = new RawConnection()) {
      c.send("POST", infer("echo_fp32"), "Content-Encoding: br\r\n", body);
      c.send("POST", infer("echo_fp32"), "Origin: http://elsewhere.example\r\n", body);
      c.send("POST", infer("echo_fp32"), "", body); // pipelined behind both
      RawConnection.Response refused = c.read();
      assertThat(refused.status()).isEqualTo(415);
      assertThat(refused.headers()).doesNotContainKey("connection");
      RawConnection.Response denied = c.read();
      assertThat(denied.status()).isEqualTo(403);
      assertThat(denied.headers()).doesNotContainKey("connection");
      assertThat(c.read().status()).isEqualTo(200);
    }
  }

  /**
   * A refused request whose body cannot be skipped safely ends its connection, saying so: a chunked
   * body (no end known ahead), a body announced with an {@code Expect} (sent or held back:
   * unknown), and an {@code Expect} other than 100-continue (417; Netty had answered it, kept the
   * connection and parsed the body that followed as the next request, a 400).
   */
  @Test
  void aRequestRefusedAtItsHeadClosesWhenItsBodyCannotBeSkipped() throws Exception {
    byte[] body = fp32("[1,1]", "[3]").getBytes(StandardCharsets.UTF_8);
    try (RawConnection c = new RawConnection()) {
      c.out.write(
          ("POST "
                  + infer("echo_fp32")
                  + " HTTP/1.1\r\nHost: x\r\nContent-Encoding: br\r\n"
                  + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      c.out.flush();
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(415);
      assertThat(r.headers().get("connection")).isEqualToIgnoringCase("close");
      assertThat(c.closedByServer()).isTrue();
    }
    try (RawConnection c = new RawConnection()) {
      c.send("POST", infer("echo_fp32"), "Content-Encoding: br\r\nExpect: 100-continue\r\n", body);
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(415);
      assertThat(r.headers().get("connection")).isEqualToIgnoringCase("close");
    }
    try (RawConnection c = new RawConnection()) {
      c.send("POST", infer("echo_fp32"), "Expect: foo\r\n", body);
      c.send("GET", "/v2/health/live", "", new byte[0]);
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(417);
      assertThat(r.headers().get("connection")).isEqualToIgnoringCase("close");
      assertThat(c.closedByServer()).isTrue(); // not a 400 for the body taken as a request
    }
  }

  @Test
  void refusedExpectationsCarryAnErrorBody() throws Exception {
    try (RawConnection c = new RawConnection()) { // a declared body over the 64 MiB limit
      c.out.write(
          ("POST "
                  + infer("echo_fp32")
                  + " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  + "Content-Length: 70000000\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      c.out.flush();
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(413);
      assertThat(JSON.readTree(r.body()).get("error").asText()).contains("limit of");
    }
    try (RawConnection c = new RawConnection()) {
      c.send("POST", infer("echo_fp32"), "Expect: foo\r\n", "{}".getBytes(StandardCharsets.UTF_8));
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(417);
      assertThat(JSON.readTree(r.body()).get("error").asText()).contains("100-continue");
    }
  }

  @Test
  void transferEncodingGzipChunkedIs400() throws Exception {
    try (RawConnection c = new RawConnection()) {
      byte[] body = fp32("[1,1]", "[1]").getBytes(StandardCharsets.UTF_8);
      String head =
          "POST "
              + infer("echo_fp32")
              + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
              + Integer.toHexString(body.length)
              + "\r\n";
      c.out.write(head.getBytes(StandardCharsets.US_ASCII));
      c.out.write(body);
      c.out.write("\r\n0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      c.out.flush();
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(400);
      assertThat(r.headers().get("connection")).isEqualToIgnoringCase("close");
      assertThat(c.closedByServer()).isTrue();
    }
  }

  @Test
  void anAnswerGivenAtTheHeadReachesAClientStillSendingItsBody() throws Exception {
    // Refused at its head, closed after the answer: the server reads and drops the 8 MiB that
    // still arrive (a close with unread bytes would reset the connection, and the reset can
    // destroy the answer before the client reads it).
    try (RawConnection c = new RawConnection()) {
      c.out.write(
          ("POST "
                  + infer("echo_fp32")
                  + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      c.out.flush();
      CompletableFuture<?> sending =
          CompletableFuture.runAsync(
              () -> {
                byte[] chunk = new byte[64 * 1024];
                String size = Integer.toHexString(chunk.length) + "\r\n";
                try {
                  for (int i = 0; i < 128; i++) {
                    c.out.write(size.getBytes(StandardCharsets.US_ASCII));
                    c.out.write(chunk);
                    c.out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                  }
                  c.out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                  c.out.flush();
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
      sending.get(30, TimeUnit.SECONDS); // every byte taken, none refused with a reset
      RawConnection.Response r = c.read();
      assertThat(r.status()).isEqualTo(400);
      assertThat(r.headers().get("connection")).isEqualToIgnoringCase("close");
      assertThat(c.closedByServer()).isTrue();
    }
  }

  @Test
  void nonFiniteJsonNumbersAreRefusedNamingModelInputAndElement() throws Exception {
    for (String v : List.of("1e39", "3.5e38", "1e999", "-1e999", "\"NaN\"", "\"Infinity\"")) {
      HttpResponse<byte[]> r = post(infer("echo_fp32"), fp32("[1,3]", "[1, 2, " + v + "]"));
      assertError(r, 400, "echo_fp32", "'IN'", "element 2", "NaN or Infinity");
    }
    String fp64 =
        "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP64\",\"shape\":[1,2],"
            + "\"data\":[1e999, 0]}]}";
    assertError(post(infer("echo_fp64"), fp64), 400, "echo_fp64", "'IN'", "element 0");
    // The largest finite FP32 is accepted.
    assertThat(post(infer("echo_fp32"), fp32("[1,1]", "[3.4028235e38]")).statusCode())
        .isEqualTo(200);
  }

  @Test
  void nonFiniteBinaryValuesAreRefusedUnlessTheInputAllowsThem() throws Exception {
    for (DataType t : List.of(DataType.FP16, DataType.BF16, DataType.FP32, DataType.FP64)) {
      byte[] data = new byte[2 * t.byteSize()];
      // element 1: all exponent bits set (NaN or Infinity in every IEEE-like format)
      data[2 * t.byteSize() - 1] = (byte) 0x7F;
      data[2 * t.byteSize() - 2] = (byte) 0xF0;
      String header =
          ("{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"%s\",\"shape\":[1,2],"
                  + "\"parameters\":{\"binary_data_size\":%d}}]}")
              .formatted(t, data.length);
      assertError(
          postBinary(infer(TestModels.echo(t)), header, data),
          400,
          TestModels.echo(t),
          "'IN'",
          "element 1");
    }
  }

  @Test
  void aShapeWhoseByteSizeOverflowsIs400WithoutANegativeSize() throws Exception {
    String header =
        "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[1,4611686018427387912],"
            + "\"parameters\":{\"binary_data_size\":4}}]}";
    HttpResponse<byte[]> r = postBinary(infer("echo_fp32"), header, new byte[4]);
    assertError(r, 400, "'IN'", "too large");
    assertThat(error(r)).doesNotContain("-");
  }

  @Test
  void notReadyWhileDraining() throws Exception {
    InferenceService draining = TestModels.service(repo.resolve("drain"));
    try (HttpServer s = new HttpServer(draining, HttpServerConfig.ephemeral()).start()) {
      draining.beginDrain();
      String b = "http://127.0.0.1:" + s.port();
      HttpResponse<byte[]> r = send(HttpRequest.newBuilder(URI.create(b + "/v2/health/ready")));
      assertThat(r.statusCode()).isEqualTo(503);
      assertThat(JSON.readTree(r.body()).get("ready").asBoolean()).isFalse();
      HttpResponse<byte[]> i =
          send(
              HttpRequest.newBuilder(URI.create(b + infer("echo_fp32")))
                  .POST(HttpRequest.BodyPublishers.ofString(fp32("[1,1]", "[1]"))));
      assertError(i, 503, "shutting down");
    } finally {
      draining.repository().close();
    }
  }
}
