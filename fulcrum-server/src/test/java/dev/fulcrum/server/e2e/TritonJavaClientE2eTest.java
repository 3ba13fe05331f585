package dev.fulcrum.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.testkit.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compatibility with Triton's Java client (github.com/triton-inference-server/client,
 * src/java/src/main/java/triton/client): the test writes, byte for byte on a raw socket, the HTTP
 * requests that client sends for its SimpleInferClient example (INT32 "simple" add/sub model,
 * INPUT0/INPUT1 [1,16]; here add_sub_int32, the same model), and reads the responses the way its
 * InferResult does.
 *
 * <p>Where the bytes come from (file versions read: SimpleInferClient.java at commit 0da3bcbd,
 * InferenceServerClient.java and InferResult.java at 138a8745, InferInput.java and IOTensor.java at
 * 36d6b34e, InferRequestedOutput.java at 06344cae, pom.xml at 0da3bcbd):
 *
 * <ul>
 *   <li>examples/SimpleInferClient.java: INPUT0 = 1..16 as JSON ({@code isBinary0 = false}), INPUT1
 *       = 1..16 binary, {@code new InferRequestedOutput("OUTPUT0", false)} and {@code ("OUTPUT1",
 *       true)}.
 *   <li>InferenceServerClient.infer(InferArguments): the body is a {@code HashMap} with "inputs",
 *       "outputs" (or, when no outputs are requested, request {@code "parameters":
 *       {"binary_data_output": true}}) and "id" only when set. Jackson 2.12 writes a HashMap in its
 *       iteration order: "outputs" before "inputs", "inputs" before "parameters".
 *   <li>InferenceServerClient.createHttpPost: the body is the JSON then each binary input in input
 *       order; {@code Inference-Header-Content-Length} (the JSON's byte length) is set only when
 *       some input is binary; the entity is an {@code NByteArrayEntity} without a content type, so
 *       no {@code Content-Type} header is sent. Apache HttpAsyncClient 4.1.4 (pom.xml) then adds
 *       {@code Content-Length}, {@code Host}, {@code Connection: Keep-Alive} and its {@code
 *       User-Agent}, after the request's own headers.
 *   <li>InferInput / pojo/IOTensor (Jackson, {@code @JsonInclude(NON_NULL)}, field order name,
 *       shape, datatype, parameters, data): a JSON input keeps an empty {@code "parameters":{}}; a
 *       binary input has {@code "parameters":{"binary_data_size":<bytes>}} and no data.
 *       InferRequestedOutput writes {@code {"name":..,"parameters":{"binary_data":<bool>}}}.
 *   <li>InferResult(HttpResponse): non-200 is read as {@code {"error":..}}; with an {@code
 *       Inference-Header-Content-Length} header the first that many bytes are the JSON response,
 *       and the outputs whose parameters have {@code binary_data_size} take consecutive slices of
 *       the rest, which must add up to exactly the rest; without it the body is all JSON.
 * </ul>
 */
class TritonJavaClientE2eTest {
  private static final String USER_AGENT = "Apache-HttpAsyncClient/4.1.4 (Java/1.8.0_292)";
  private static final String ONE_TO_16 = "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]";

  @TempDir static Path repo;
  private static E2eServer server;

  @BeforeAll
  static void start() throws Exception {
    TestModels.writeModel(repo, TestModels.ADD_SUB_INT32);
    server = E2eServer.start(repo);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void simpleInferClientRequestsOnOneKeepAliveConnection() throws Exception {
    int[] oneTo16 = new int[16];
    int[] ones = new int[16];
    for (int i = 0; i < 16; i++) {
      oneTo16[i] = i + 1;
      ones[i] = 1;
    }
    try (Socket socket = new Socket("127.0.0.1", server.port())) {
      // 1. SimpleInferClient as written: INPUT0 JSON, INPUT1 binary; OUTPUT0 JSON, OUTPUT1 binary.
      String json =
          "{\"outputs\":[{\"name\":\"OUTPUT0\",\"parameters\":{\"binary_data\":false}},"
              + "{\"name\":\"OUTPUT1\",\"parameters\":{\"binary_data\":true}}],"
              + "\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,16],\"datatype\":\"INT32\","
              + "\"parameters\":{},\"data\":"
              + ONE_TO_16
              + "},{\"name\":\"INPUT1\",\"shape\":[1,16],\"datatype\":\"INT32\","
              + "\"parameters\":{\"binary_data_size\":64}}]}";
      Response r = exchange(socket, json, TensorData.ints(oneTo16));
      assertThat(r.status).as(r.text()).isEqualTo(200);
      InferResult result = new InferResult(r);
      assertThat(result.json.get("model_name").asText()).isEqualTo(TestModels.ADD_SUB_INT32);
      assertThat(result.binary).containsOnlyKeys("OUTPUT1");
      assertThat(result.output("OUTPUT0").get("data").toString())
          .isEqualTo("[2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32]");
      assertThat(result.ints("OUTPUT1")).containsOnly(0).hasSize(16);

      // 2. Both inputs binary and no requested outputs: the client asks for binary_data_output.
      json =
          "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,16],\"datatype\":\"INT32\","
              + "\"parameters\":{\"binary_data_size\":64}},"
              + "{\"name\":\"INPUT1\",\"shape\":[1,16],\"datatype\":\"INT32\","
              + "\"parameters\":{\"binary_data_size\":64}}],"
              + "\"parameters\":{\"binary_data_output\":true}}";
      r = exchange(socket, json, TensorData.ints(oneTo16), TensorData.ints(ones));
      assertThat(r.status).as(r.text()).isEqualTo(200);
      result = new InferResult(r);
      assertThat(result.binary).containsOnlyKeys("OUTPUT0", "OUTPUT1");
      for (String name : result.binary.keySet()) {
        assertThat(result.output(name).get("datatype").asText()).isEqualTo("INT32");
        assertThat(result.output(name).get("shape").toString()).isEqualTo("[1,16]");
      }
      int[] sum = result.ints("OUTPUT0");
      int[] diff = result.ints("OUTPUT1");
      for (int i = 0; i < 16; i++) {
        assertThat(sum[i]).isEqualTo(i + 2);
        assertThat(diff[i]).isEqualTo(i);
      }
    }
  }

  /** Writes one request exactly as the client's Apache HttpAsyncClient does; reads the answer. */
  private static Response exchange(Socket socket, String json, byte[]... binary)
      throws IOException {
    byte[] body = E2eServer.body(json, binary);
    String head =
        "POST /v2/models/"
            + TestModels.ADD_SUB_INT32
            + "/infer HTTP/1.1\r\n"
            + "Inference-Header-Content-Length: "
            + json.getBytes(StandardCharsets.UTF_8).length
            + "\r\n"
            + "Content-Length: "
            + body.length
            + "\r\n"
            + "Host: 127.0.0.1:"
            + server.port()
            + "\r\n"
            + "Connection: Keep-Alive\r\n"
            + "User-Agent: "
            + USER_AGENT
            + "\r\n\r\n";
    OutputStream out = socket.getOutputStream();
    out.write(head.getBytes(StandardCharsets.US_ASCII));
    out.write(body);
    out.flush();
    return Response.read(socket.getInputStream());
  }

  /** A minimal HTTP/1.1 response reader (status, headers, a Content-Length body). */
  private record Response(int status, Map<String, String> headers, byte[] body) {
    static Response read(InputStream in) throws IOException {
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      while (!endsWithBlankLine(head)) {
        int c = in.read();
        if (c < 0) {
          throw new IOException("connection closed in the response head: " + head);
        }
        head.write(c);
      }
      String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
      int status = Integer.parseInt(lines[0].split(" ")[1]);
      Map<String, String> headers = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        headers.put(
            lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
            lines[i].substring(colon + 1).trim());
      }
      assertThat(headers).containsKey("content-length");
      byte[] body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
      return new Response(status, headers, body);
    }

    private static boolean endsWithBlankLine(ByteArrayOutputStream b) {
      byte[] a = b.toByteArray();
      int n = a.length;
      return n >= 4 && a[n - 4] == '\r' && a[n - 3] == '\n' && a[n - 2] == '\r' && a[n - 1] == '\n';
    }

    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /** The response as Triton's InferResult reads it. */
  private static final class InferResult {
    final JsonNode json;
    final Map<String, byte[]> binary = new LinkedHashMap<>();

    InferResult(Response r) throws IOException {
      String hcl = r.headers.get(E2eServer.HCL.toLowerCase(Locale.ROOT));
      if (hcl == null) {
        json = E2eServer.JSON.readTree(r.body);
        return;
      }
      int jsonLength = Integer.parseInt(hcl);
      json = E2eServer.JSON.readTree(Arrays.copyOfRange(r.body, 0, jsonLength));
      int start = jsonLength;
      for (JsonNode output : json.get("outputs")) {
        JsonNode size = output.path("parameters").get("binary_data_size");
        if (size != null) {
          binary.put(
              output.get("name").asText(), Arrays.copyOfRange(r.body, start, start + size.asInt()));
          start += size.asInt();
        }
      }
      assertThat(start).as("binary data adds up to the body").isEqualTo(r.body.length);
    }

    JsonNode output(String name) {
      for (JsonNode o : json.get("outputs")) {
        if (o.get("name").asText().equals(name)) {
          return o;
        }
      }
      throw new AssertionError("no output " + name);
    }

    int[] ints(String name) {
      int[] v = new int[16];
      ByteBuffer.wrap(binary.get(name)).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(v);
      return v;
    }
  }
}
