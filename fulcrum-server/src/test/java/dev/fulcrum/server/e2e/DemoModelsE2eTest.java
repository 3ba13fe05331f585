package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The bundled demo repository ({@code demo/models}) served as {@code fulcrum serve} serves it, with
 * the JSON requests a user would send. all_minilm_l6_v2's model file is placed by the fulcrum-tools
 * build from a Maven artifact; its test is skipped when the file is absent.
 */
class DemoModelsE2eTest {
  private static final Path DEMO = Path.of("..", "demo", "models").toAbsolutePath().normalize();
  private static final Path MINILM_FILE =
      DEMO.resolve("all_minilm_l6_v2").resolve("1").resolve("all-minilm-l6-v2-q.onnx");

  private static E2eServer server;

  @BeforeAll
  static void start() throws Exception {
    assumeThat(DEMO.resolve("fraud_classifier")).as("the demo repository").isDirectory();
    server = E2eServer.start(DEMO);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void fraudClassifier() throws Exception {
    // amount_usd, hour_of_day, merchant_risk, distance_from_home_km, transactions_last_24h,
    // account_age_days, is_foreign, card_present
    HttpResponse<byte[]> r =
        server.post(
            inferPath("fraud_classifier"),
            """
            {"id":"txn-1",
             "inputs":[{"name":"features","shape":[1,8],"datatype":"FP32",
                        "data":[[2500.0, 3, 0.9, 800.0, 14, 20, 1, 0]]}]}""");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(E2eServer.header(r).get("id").asText()).isEqualTo("txn-1");

    JsonNode probabilities = output(r, "probabilities");
    assertThat(probabilities.get("datatype").asText()).isEqualTo("FP32");
    assertThat(probabilities.get("shape").toString()).isEqualTo("[1,2]");
    double legit = probabilities.get("data").get(0).asDouble();
    double fraud = probabilities.get("data").get(1).asDouble();
    assertThat(legit).isBetween(0.0, 1.0);
    assertThat(fraud).isBetween(0.0, 1.0);
    assertThat(legit + fraud).isCloseTo(1.0, within(1e-5));

    JsonNode label = output(r, "label");
    assertThat(label.get("datatype").asText()).isEqualTo("INT64");
    assertThat(label.get("shape").toString()).isEqualTo("[1]");
    assertThat(label.get("data").get(0).asLong()).isEqualTo(fraud > legit ? 1 : 0);
  }

  @Test
  void miniLmSentenceEmbeddings() throws Exception {
    assumeThat(MINILM_FILE)
        .as("the MiniLM model file (placed by the fulcrum-tools build)")
        .isRegularFile();
    // "[CLS] hello world [SEP]" in the BERT uncased vocabulary.
    HttpResponse<byte[]> r =
        server.post(
            inferPath("all_minilm_l6_v2"),
            """
            {"inputs":[
               {"name":"input_ids","shape":[1,4],"datatype":"INT64","data":[101,7592,2088,102]},
               {"name":"attention_mask","shape":[1,4],"datatype":"INT64","data":[1,1,1,1]},
               {"name":"token_type_ids","shape":[1,4],"datatype":"INT64","data":[0,0,0,0]}],
             "outputs":[{"name":"last_hidden_state"}]}""");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode hidden = output(r, "last_hidden_state");
    assertThat(hidden.get("datatype").asText()).isEqualTo("FP32");
    assertThat(hidden.get("shape").toString()).isEqualTo("[1,4,384]");
    assertThat(hidden.get("data")).hasSize(4 * 384);
    for (JsonNode v : hidden.get("data")) {
      assertThat(Double.isFinite(v.asDouble())).as("finite: %s", v).isTrue();
    }
  }

  @Test
  void demoModelsAreListedReady() throws Exception {
    assertThat(server.get("/v2/models/fraud_classifier/ready").statusCode()).isEqualTo(200);
    if (Files.isRegularFile(MINILM_FILE)) {
      assertThat(server.get("/v2/models/all_minilm_l6_v2/ready").statusCode()).isEqualTo(200);
      assertThat(server.get("/v2/health/ready").statusCode()).isEqualTo(200);
    }
  }
}
