package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.server.HttpServerConfig.InvocationsModel;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * SageMaker's and MLflow's {@code GET /ping} and {@code POST /invocations} over real sockets
 * against the demo's models: MLflow's frames (split, records, CSV) and tensors (instances, inputs)
 * answered as {@code v2/models/<m>/infer} answers the same data, for {@code fraud_classifier} (one
 * FP32 input, two outputs), {@code minilm_text} (one text input, one output) and {@code
 * all_minilm_l6_v2} (three named INT64 inputs); the model picked by {@code --invocations-model},
 * SageMaker's multi-model header or the repository; ping's 200 and 503; errors in MLflow's shape.
 */
class InvocationsE2eTest {

  /** The demo repository with {@code --invocations-model fraud_classifier}. */
  @AutoClose private static E2eServer chosen;

  /** The demo repository, no model chosen: three models, so a request names one. */
  @AutoClose private static E2eServer unchosen;

  /** {@code --invocations-model nosuch}, and a 4 KiB body limit. */
  @AutoClose private static E2eServer missing;

  @BeforeAll
  static void start() throws Exception {
    assumeThat(E2eServer.MINILM_FILE).as("the MiniLM file (placed by the build)").isRegularFile();
    chosen =
        E2eServer.serving(E2eServer.DEMO_MODELS)
            .invocationsModel(InvocationsModel.parse("fraud_classifier:1"))
            .start();
    unchosen = E2eServer.startMiniLm();
    missing =
        E2eServer.serving(E2eServer.DEMO_MODELS)
            .maxInputSize(4096)
            .invocationsModel(InvocationsModel.parse("nosuch"))
            .start();
  }

  private static final String[] FRAUD_ROWS = {
    "[120.5, 14, 0.2, 3.1, 2, 400, 0, 1]",
    "[5400.0, 3, 0.9, 850.0, 14, 12, 1, 0]",
    "[42.0, 11, 0.1, 1.0, 1, 2000, 0, 1]"
  };

  private static final String FRAUD_COLUMNS =
      "[\"amount_usd\", \"hour_of_day\", \"merchant_risk\", \"distance_from_home_km\","
          + " \"transactions_last_24h\", \"account_age_days\", \"is_foreign\", \"card_present\"]";

  /** The OIP answer's output {@code name}'s flat data. */
  private static List<Double> oip(E2eServer server, String model, String inputs, String name)
      throws Exception {
    HttpResponse<byte[]> r = server.post(inferPath(model), "{\"inputs\":" + inputs + "}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    for (JsonNode o : E2eServer.json(r).get("outputs")) {
      if (o.get("name").asText().equals(name)) {
        return E2eServer.numbers(o.get("data"));
      }
    }
    throw new AssertionError("no output " + name + " in " + text(r));
  }

  private static HttpResponse<byte[]> invoke(E2eServer server, String type, String body)
      throws Exception {
    return server.send(
        server
            .request("/invocations")
            .header("Content-Type", type)
            .POST(HttpRequest.BodyPublishers.ofString(body)));
  }

  private static JsonNode predictions(HttpResponse<byte[]> r) throws Exception {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode p = E2eServer.json(r).get("predictions");
    assertThat(p).as(text(r)).isNotNull();
    return p;
  }

  /** An MLflow error: the status, {@code {"error_code": code, "message": ...}}; the message. */
  private static String mlflowError(HttpResponse<byte[]> r, int status, String code)
      throws Exception {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(status);
    JsonNode body = E2eServer.json(r);
    assertThat(body.path("error_code").asText()).as(text(r)).isEqualTo(code);
    assertThat(body.path("message").isTextual()).as(text(r)).isTrue();
    return body.get("message").asText();
  }

  private static String fraudTensor() {
    return "[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[3,8],\"data\":["
        + String.join(",", FRAUD_ROWS)
        + "]}]";
  }

  /** Per-row records {probabilities, label}, as infer answers the same rows. */
  private static void isFraudRecords(JsonNode predictions) throws Exception {
    List<Double> probabilities = oip(chosen, "fraud_classifier", fraudTensor(), "probabilities");
    List<Double> labels = oip(chosen, "fraud_classifier", fraudTensor(), "label");
    assertThat(predictions).hasSize(FRAUD_ROWS.length);
    for (int i = 0; i < FRAUD_ROWS.length; i++) {
      JsonNode p = predictions.get(i);
      assertThat(E2eServer.numbers(p.get("probabilities")))
          .as("row %d", i)
          .isEqualTo(probabilities.subList(2 * i, 2 * i + 2));
      assertThat(p.get("label").isIntegralNumber()).isTrue();
      assertThat(p.get("label").asDouble()).isEqualTo(labels.get(i));
    }
  }

  @Test
  void fraudFramesGetInfersAnswerPerRow() throws Exception {
    String rows = String.join(",", FRAUD_ROWS);
    // pandas' df.to_json(orient="split") and MLflow's client's dataframe_split.
    isFraudRecords(
        predictions(
            invoke(
                chosen,
                "application/json",
                "{\"dataframe_split\": {\"columns\": "
                    + FRAUD_COLUMNS
                    + ", \"index\": [0, 1, 2], \"data\": ["
                    + rows
                    + "]}}")));
    StringBuilder records = new StringBuilder();
    StringBuilder csv = new StringBuilder("a,b,c,d,e,f,g,h\n");
    for (String row : FRAUD_ROWS) {
      String[] v = row.substring(1, row.length() - 1).split(",\\s*");
      records.append(records.isEmpty() ? "[" : ",").append('{');
      for (int j = 0; j < v.length; j++) {
        records.append(j == 0 ? "" : ",").append("\"c").append(j).append("\":").append(v[j]);
      }
      records.append('}');
      csv.append(String.join(",", v)).append('\n');
    }
    records.append(']');
    isFraudRecords(
        predictions(
            invoke(
                chosen,
                "application/json; charset=utf-8",
                "{\"dataframe_records\": " + records + ", \"params\": {\"threshold\": 0.3}}")));
    isFraudRecords(predictions(invoke(chosen, "text/csv", csv.toString())));
  }

  @Test
  void fraudTensorsGetEachOutputWhole() throws Exception {
    String rows = String.join(",", FRAUD_ROWS);
    for (String field : List.of("instances", "inputs")) {
      JsonNode p =
          predictions(invoke(chosen, "application/json", "{\"" + field + "\": [" + rows + "]}"));
      assertThat(p.get("probabilities")).as(field).hasSize(3);
      assertThat(E2eServer.numbers(p.get("probabilities")))
          .isEqualTo(oip(chosen, "fraud_classifier", fraudTensor(), "probabilities"));
      assertThat(E2eServer.numbers(p.get("label")))
          .isEqualTo(oip(chosen, "fraud_classifier", fraudTensor(), "label"));
    }
  }

  @Test
  void theMultiModelHeaderPicksTheModelAndTextTakesQuotedCsv() throws Exception {
    String tensor =
        "[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[2,1],\"data\":"
            + "[\"the cat sat, then slept\",\"a \\\"quoted\\\" word\"]}]";
    List<Double> expected = oip(unchosen, "minilm_text", tensor, "embedding");
    HttpResponse<byte[]> csv =
        unchosen.send(
            unchosen
                .request("/invocations")
                .header("Content-Type", "text/csv")
                .header("X-Amzn-SageMaker-Target-Model", "text/minilm_text.tar.gz")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "text\n\"the cat sat, then slept\"\n\"a \"\"quoted\"\" word\"\n")));
    JsonNode rows = predictions(csv);
    assertThat(rows).hasSize(2);
    assertThat(rows.get(0)).hasSize(384); // one output: its rows, each the 384-vector
    assertThat(E2eServer.numbers(rows)).isEqualTo(expected);
    HttpResponse<byte[]> split =
        unchosen.send(
            unchosen
                .jsonRequest(
                    "/invocations",
                    "{\"dataframe_split\": {\"columns\": [\"text\"], \"data\": [[\"the cat sat,"
                        + " then slept\"], [\"a \\\"quoted\\\" word\"]]}}")
                .header("X-Amzn-SageMaker-Target-Model", "minilm_text.tar.gz"));
    assertThat(E2eServer.numbers(predictions(split))).isEqualTo(expected);
  }

  @Test
  void aModelOfSeveralInputsTakesAColumnPerInput() throws Exception {
    String ids = "[101, 7592, 2088, 102]";
    JsonNode p =
        predictions(
            unchosen.send(
                unchosen
                    .jsonRequest(
                        "/invocations",
                        "{\"dataframe_split\": {\"columns\": [\"input_ids\", \"attention_mask\","
                            + " \"token_type_ids\"], \"data\": [["
                            + ids
                            + ", [1, 1, 1, 1], [0, 0, 0, 0]]]}}")
                    .header("X-Amzn-SageMaker-Target-Model", "all_minilm_l6_v2")));
    List<Double> expected =
        oip(
            unchosen,
            "all_minilm_l6_v2",
            "[{\"name\":\"input_ids\",\"datatype\":\"INT64\",\"shape\":[1,4],\"data\":"
                + ids
                + "},{\"name\":\"attention_mask\",\"datatype\":\"INT64\",\"shape\":[1,4],"
                + "\"data\":[1,1,1,1]},{\"name\":\"token_type_ids\",\"datatype\":\"INT64\","
                + "\"shape\":[1,4],\"data\":[0,0,0,0]}]",
            "last_hidden_state");
    assertThat(p).hasSize(1);
    assertThat(E2eServer.numbers(p)).isEqualTo(expected);
  }

  @Test
  void pingIsReadyWhenTheInvocationsModelIs() throws Exception {
    for (String path : List.of("/ping", "/health")) {
      assertThat(chosen.get(path).statusCode()).as(path).isEqualTo(200);
      assertThat(unchosen.get(path).statusCode()).as(path).isEqualTo(200);
      assertThat(missing.get(path).statusCode()).as(path).isEqualTo(503);
    }
    HttpResponse<byte[]> version = chosen.get("/version");
    assertThat(version.statusCode()).isEqualTo(200);
    assertThat(text(version)).isNotBlank();
  }

  @Test
  void errorsAreMlflowsShapeWithFulcrumsStatuses() throws Exception {
    // A bad body: MLflow's BAD_REQUEST.
    assertThat(
            mlflowError(
                invoke(chosen, "application/json", "{\"data\": [[1]]}"), 400, "BAD_REQUEST"))
        .contains("exactly one of 'dataframe_split'");
    assertThat(mlflowError(invoke(chosen, "text/csv", "a,b\n1,2\n3\n"), 400, "BAD_REQUEST"))
        .contains("row 1 has 1 values but the frame has 2 columns");
    // The model's shape (7 features), refused by the core's validator as for infer.
    mlflowError(
        invoke(chosen, "application/json", "{\"instances\": [[1,2,3,4,5,6,7]]}"),
        400,
        "BAD_REQUEST");
    // More rows than max-batch-size (64).
    StringBuilder many = new StringBuilder("a,b,c,d,e,f,g,h\n");
    for (int i = 0; i < 65; i++) {
      many.append("1,2,3,4,5,6,7,8\n");
    }
    assertThat(mlflowError(invoke(chosen, "text/csv", many.toString()), 400, "BAD_REQUEST"))
        .contains("at most 64");
    assertThat(mlflowError(invoke(chosen, "application/xml", "<x/>"), 415, "BAD_REQUEST"))
        .contains("application/json and text/csv");
    assertThat(mlflowError(chosen.get("/invocations"), 405, "BAD_REQUEST")).contains("POST");
    // No model named, several served: a 400 naming them.
    assertThat(
            mlflowError(
                invoke(unchosen, "application/json", "{\"instances\": [" + FRAUD_ROWS[0] + "]}"),
                400,
                "BAD_REQUEST"))
        .contains("fraud_classifier", "minilm_text", "--invocations-model");
    HttpResponse<byte[]> unknown =
        unchosen.send(
            unchosen
                .jsonRequest("/invocations", "{\"instances\": [" + FRAUD_ROWS[0] + "]}")
                .header("X-Amzn-SageMaker-Target-Model", "fraud.tar.gz"));
    assertThat(mlflowError(unknown, 404, "RESOURCE_DOES_NOT_EXIST")).contains("fraud");
    assertThat(
            mlflowError(
                invoke(missing, "application/json", "{\"instances\": [" + FRAUD_ROWS[0] + "]}"),
                404,
                "RESOURCE_DOES_NOT_EXIST"))
        .contains("nosuch");
    // Over the body limit, refused at the head: 413 in MLflow's shape too.
    assertThat(
            mlflowError(
                invoke(missing, "text/csv", "a\n" + "1\n".repeat(3000)), 413, "BAD_REQUEST"))
        .contains("4096");
  }
}
