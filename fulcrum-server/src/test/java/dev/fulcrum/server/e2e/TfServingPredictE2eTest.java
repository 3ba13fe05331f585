package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TF Serving's and KServe v1's REST predict over a real socket against the demo's models: the
 * answers are those {@code v2/models/<m>/infer} gives for the same data, in TF Serving's row and
 * columnar shapes, for {@code fraud_classifier} (one FP32 input, two outputs) and {@code
 * all_minilm_l6_v2} (three named INT64 inputs); the errors in TF Serving's {@code {"error":
 * "..."}}; the model status and metadata beside OpenAI's {@code GET /v1/models/<id>}; HTTP/2.
 */
class TfServingPredictE2eTest {

  @AutoClose private static E2eServer server;

  @BeforeAll
  static void start() throws Exception {
    server = E2eServer.startMiniLm(); // the demo repository: fraud_classifier and MiniLM
  }

  private static final String[] FRAUD_ROWS = {
    "[120.5, 14, 0.2, 3.1, 2, 400, 0, 1]",
    "[5400.0, 3, 0.9, 850.0, 14, 12, 1, 0]",
    "[42.0, 11, 0.1, 1.0, 1, 2000, 0, 1]"
  };

  /** The OIP answer's outputs by name, each its flat data. */
  private static JsonNode oip(String model, String inputs) throws Exception {
    HttpResponse<byte[]> r = server.post(inferPath(model), "{\"inputs\":" + inputs + "}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return E2eServer.json(r).get("outputs");
  }

  private static JsonNode oipOutput(JsonNode outputs, String name) {
    for (JsonNode o : outputs) {
      if (o.get("name").asText().equals(name)) {
        return o;
      }
    }
    throw new AssertionError("no output " + name + " in " + outputs);
  }

  /** A TF Serving error: the status, JSON, {@code {"error": "<string>"}}; returns the message. */
  private static String tfError(HttpResponse<byte[]> r, int status) throws Exception {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(status);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode e = E2eServer.json(r).get("error");
    assertThat(e).as(text(r)).isNotNull();
    assertThat(e.isTextual()).as(text(r)).isTrue();
    return e.asText();
  }

  @Test
  void fraudRowsGetTheInferAnswerPerInstance() throws Exception {
    String rows = String.join(",", FRAUD_ROWS);
    HttpResponse<byte[]> r =
        server.post("/v1/models/fraud_classifier:predict", "{\"instances\": [" + rows + "]}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode predictions = E2eServer.json(r).get("predictions");
    assertThat(predictions).hasSize(FRAUD_ROWS.length);

    JsonNode outputs =
        oip(
            "fraud_classifier",
            "[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[3,8],\"data\":["
                + rows
                + "]}]");
    List<Double> probabilities = E2eServer.numbers(oipOutput(outputs, "probabilities").get("data"));
    List<Double> labels = E2eServer.numbers(oipOutput(outputs, "label").get("data"));
    for (int i = 0; i < FRAUD_ROWS.length; i++) {
      JsonNode p = predictions.get(i);
      assertThat(p.get("probabilities")).hasSize(2);
      assertThat(E2eServer.numbers(p.get("probabilities")))
          .as("instance %d", i)
          .isEqualTo(probabilities.subList(2 * i, 2 * i + 2));
      assertThat(p.get("label").isIntegralNumber()).isTrue();
      assertThat(p.get("label").asDouble()).isEqualTo(labels.get(i));
    }

    // The version in the path, and KServe's "instances" with a signature name: the same answer.
    HttpResponse<byte[]> versioned =
        server.post(
            "/v1/models/fraud_classifier/versions/1:predict",
            "{\"signature_name\": \"serving_default\", \"instances\": [" + rows + "]}");
    assertThat(versioned.statusCode()).as(text(versioned)).isEqualTo(200);
    assertThat(E2eServer.json(versioned)).isEqualTo(E2eServer.json(r));
  }

  @Test
  void fraudColumnsGetTheWholeOutputs() throws Exception {
    String rows = String.join(",", FRAUD_ROWS);
    HttpResponse<byte[]> r =
        server.post("/v1/models/fraud_classifier:predict", "{\"inputs\": [" + rows + "]}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode out = E2eServer.json(r).get("outputs");
    JsonNode outputs =
        oip(
            "fraud_classifier",
            "[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[3,8],\"data\":["
                + rows
                + "]}]");
    assertThat(out.get("probabilities")).hasSize(3);
    assertThat(out.get("probabilities").get(0)).hasSize(2);
    assertThat(E2eServer.numbers(out.get("probabilities")))
        .isEqualTo(E2eServer.numbers(oipOutput(outputs, "probabilities").get("data")));
    assertThat(E2eServer.numbers(out.get("label")))
        .isEqualTo(E2eServer.numbers(oipOutput(outputs, "label").get("data")));
    // Named columns: the same.
    HttpResponse<byte[]> named =
        server.post(
            "/v1/models/fraud_classifier:predict", "{\"inputs\": {\"features\": [" + rows + "]}}");
    assertThat(E2eServer.json(named)).isEqualTo(E2eServer.json(r));
  }

  @Test
  void miniLmRowsOfNamedTokenInputsGetTheInferAnswer() throws Exception {
    // [CLS] hello world [SEP] and a second sentence of the same length, padded rows alike.
    long[][] ids = {{101, 7592, 2088, 102}, {101, 2204, 2851, 102}};
    StringBuilder instances = new StringBuilder();
    StringBuilder idData = new StringBuilder();
    for (long[] row : ids) {
      String r = java.util.Arrays.toString(row);
      instances
          .append(instances.isEmpty() ? "" : ",")
          .append("{\"input_ids\": ")
          .append(r)
          .append(", \"attention_mask\": [1, 1, 1, 1], \"token_type_ids\": [0, 0, 0, 0]}");
      idData.append(idData.isEmpty() ? "" : ",").append(r.substring(1, r.length() - 1));
    }
    HttpResponse<byte[]> r =
        server.post("/v1/models/all_minilm_l6_v2:predict", "{\"instances\": [" + instances + "]}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode predictions = E2eServer.json(r).get("predictions");
    assertThat(predictions).hasSize(2);

    JsonNode outputs =
        oip(
            "all_minilm_l6_v2",
            "[{\"name\":\"input_ids\",\"datatype\":\"INT64\",\"shape\":[2,4],\"data\":["
                + idData
                + "]},{\"name\":\"attention_mask\",\"datatype\":\"INT64\",\"shape\":[2,4],"
                + "\"data\":[1,1,1,1,1,1,1,1]},{\"name\":\"token_type_ids\",\"datatype\":"
                + "\"INT64\",\"shape\":[2,4],\"data\":[0,0,0,0,0,0,0,0]}]");
    for (JsonNode o : outputs) {
      String name = o.get("name").asText();
      List<Double> all = E2eServer.numbers(o.get("data"));
      int per = all.size() / 2;
      JsonNode shape = o.get("shape");
      for (int i = 0; i < 2; i++) {
        // One output: bare per-row values; several: an object of them.
        JsonNode value = outputs.size() == 1 ? predictions.get(i) : predictions.get(i).get(name);
        assertThat(value).as("%s of instance %d", name, i).isNotNull();
        assertThat(E2eServer.numbers(value))
            .as("%s of instance %d", name, i)
            .isEqualTo(all.subList(i * per, (i + 1) * per));
        if (shape.size() >= 2) {
          assertThat(value).hasSize(shape.get(1).asInt()); // nested to the row's shape
        }
      }
    }
  }

  @Test
  void errorsAreTfServingsShapeWithOipsStatuses() throws Exception {
    String row = FRAUD_ROWS[0];
    assertThat(
            tfError(server.post("/v1/models/nope:predict", "{\"instances\": [" + row + "]}"), 404))
        .contains("nope");
    assertThat(
            tfError(
                server.post(
                    "/v1/models/fraud_classifier/versions/9:predict",
                    "{\"instances\": [" + row + "]}"),
                404))
        .contains("9");
    // A row of 7 features: the model's shape, refused by the core's validator as for infer.
    tfError(
        server.post("/v1/models/fraud_classifier:predict", "{\"instances\": [[1,2,3,4,5,6,7]]}"),
        400);
    assertThat(
            tfError(
                server.post(
                    "/v1/models/fraud_classifier:predict",
                    "{\"instances\": [" + row + ", [1,2,3,4,5,6,7]]}"),
                400))
        .contains("instance 1");
    assertThat(
            tfError(
                server.post(
                    "/v1/models/fraud_classifier:predict",
                    "{\"instances\": [{\"feature\": " + row + "}]}"),
                400))
        .contains("no input 'feature'");
    assertThat(
            tfError(
                server.post(
                    "/v1/models/fraud_classifier:predict",
                    "{\"instances\": [[\"NaN\", 14, 0.2, 3.1, 2, 400, 0, 1]]}"),
                400))
        .containsIgnoringCase("non-finite");
    assertThat(
            tfError(server.post("/v1/models/fraud_classifier:predict", "{\"instances\": ["), 400))
        .contains("malformed JSON");
    // More instances than max-batch-size (64): refused, not split.
    String many = String.join(",", java.util.Collections.nCopies(65, row));
    assertThat(
            tfError(
                server.post(
                    "/v1/models/fraud_classifier:predict", "{\"instances\": [" + many + "]}"),
                400))
        .contains("at most 64 instances");
    // Another method, or a path that is not there: TF Serving's shape too.
    HttpResponse<byte[]> get = server.get("/v1/models/fraud_classifier:predict");
    tfError(get, 405);
    tfError(server.get("/v1/models/fraud_classifier/versions/1/nope"), 404);
    tfError(server.post("/v1/models/fraud_classifier:classify", "{\"examples\": []}"), 404);
  }

  @Test
  void statusAndMetadataBesideOpenAisModelObject() throws Exception {
    HttpResponse<byte[]> status = server.get("/v1/models/fraud_classifier/versions/1");
    assertThat(status.statusCode()).as(text(status)).isEqualTo(200);
    JsonNode v = E2eServer.json(status).get("model_version_status");
    assertThat(v).hasSize(1);
    assertThat(v.get(0).get("version").asText()).isEqualTo("1");
    assertThat(v.get(0).get("state").asText()).isEqualTo("AVAILABLE");
    assertThat(v.get(0).get("status").get("error_code").asText()).isEqualTo("OK");
    assertThat(v.get(0).get("status").get("error_message").asText()).isEmpty();
    tfError(server.get("/v1/models/fraud_classifier/versions/9"), 404);

    // GET /v1/models/<m>: OpenAI's model object, KServe v1's readiness, TF Serving's status.
    HttpResponse<byte[]> model = server.get("/v1/models/fraud_classifier");
    assertThat(model.statusCode()).as(text(model)).isEqualTo(200);
    JsonNode m = E2eServer.json(model);
    assertThat(m.get("id").asText()).isEqualTo("fraud_classifier");
    assertThat(m.get("object").asText()).isEqualTo("model");
    assertThat(m.get("owned_by").asText()).isEqualTo("fulcrum");
    assertThat(m.get("name").asText()).isEqualTo("fraud_classifier");
    assertThat(m.get("ready").asBoolean()).isTrue();
    assertThat(m.get("model_version_status")).isEqualTo(v);

    HttpResponse<byte[]> metadata = server.get("/v1/models/fraud_classifier/metadata");
    assertThat(metadata.statusCode()).as(text(metadata)).isEqualTo(200);
    JsonNode md = E2eServer.json(metadata);
    assertThat(md.get("model_spec").get("name").asText()).isEqualTo("fraud_classifier");
    assertThat(md.get("model_spec").get("version").asText()).isEqualTo("1");
    JsonNode sig =
        md.get("metadata").get("signature_def").get("signature_def").get("serving_default");
    JsonNode features = sig.get("inputs").get("features");
    assertThat(features.get("dtype").asText()).isEqualTo("DT_FLOAT");
    assertThat(features.get("tensor_shape").get("dim").get(0).get("size").asText()).isEqualTo("-1");
    assertThat(features.get("tensor_shape").get("dim").get(1).get("size").asText()).isEqualTo("8");
    assertThat(sig.get("outputs").get("label").get("dtype").asText()).isEqualTo("DT_INT64");
    assertThat(server.get("/v1/models/fraud_classifier/versions/1/metadata").statusCode())
        .isEqualTo(200);
    tfError(server.get("/v1/models/nope/metadata"), 404);
  }

  /** {@code inference_stats} of the demo's fraud model: its success and fail counts. */
  private static long[] fraudCounts() throws Exception {
    JsonNode s =
        E2eServer.json(server.get("/v2/models/fraud_classifier/stats"))
            .get("model_stats")
            .get(0)
            .get("inference_stats");
    return new long[] {s.get("success").get("count").asLong(), s.get("fail").get("count").asLong()};
  }

  @Test
  void predictRequestsCountInTheModelsStatisticsAsInferRequests() throws Exception {
    long[] before = fraudCounts();
    String rows = String.join(",", FRAUD_ROWS);
    assertThat(
            server
                .post("/v1/models/fraud_classifier:predict", "{\"instances\": [" + rows + "]}")
                .statusCode())
        .isEqualTo(200);
    // Refused by the core's validator (7 features): a failed request, as infer's.
    assertThat(
            server
                .post("/v1/models/fraud_classifier:predict", "{\"instances\": [[1,2,3,4,5,6,7]]}")
                .statusCode())
        .isEqualTo(400);
    long[] after = fraudCounts();
    assertThat(after[0] - before[0]).as("successes").isEqualTo(1);
    assertThat(after[1] - before[1]).as("failures").isEqualTo(1);
  }

  @Test
  void predictOverHttp2() throws Exception {
    HttpClient client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_2)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    String base = server.request("/").build().uri().toString().replaceAll("/$", "");
    // A GET without a body carries the Upgrade; the predict then goes on the HTTP/2 connection.
    HttpResponse<String> ready =
        client.send(
            HttpRequest.newBuilder(URI.create(base + "/v2/health/ready")).GET().build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(ready.version()).isEqualTo(HttpClient.Version.HTTP_2);
    HttpResponse<String> r =
        client.send(
            HttpRequest.newBuilder(URI.create(base + "/v1/models/fraud_classifier:predict"))
                .header("Content-Type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString("{\"instances\": [" + FRAUD_ROWS[0] + "]}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(E2eServer.JSON.readTree(r.body()).get("predictions")).hasSize(1);
  }
}
