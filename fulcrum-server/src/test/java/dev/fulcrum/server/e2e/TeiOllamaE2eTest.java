package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.SENTENCES;
import static dev.fulcrum.server.e2e.E2eServer.quote;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.tenant.ModelUsage;
import dev.fulcrum.core.tenant.Outcome;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tenant.TenantLimits;
import dev.fulcrum.server.HttpServer;
import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.security.Security;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Hugging Face TEI's and Ollama's embedding routes over a real socket against the demo's {@code
 * minilm_text}: each route's vectors are the ones {@code POST /v1/embeddings} gives the same text
 * (within 1e-6), and each API's errors come in its own shape and status.
 */
class TeiOllamaE2eTest {

  @AutoClose private static E2eServer server;

  @BeforeAll
  static void start() throws Exception {
    server = E2eServer.startMiniLm();
  }

  private static JsonNode json(HttpResponse<byte[]> r) throws Exception {
    return E2eServer.JSON.readTree(r.body());
  }

  private static String inputs(List<String> texts) {
    StringBuilder s = new StringBuilder("[");
    for (String t : texts) {
      s.append(s.length() == 1 ? "" : ",").append(quote(t));
    }
    return s.append(']').toString();
  }

  /** The vectors {@code /v1/embeddings} gives the texts. */
  private static List<float[]> openAi(List<String> texts) throws Exception {
    HttpResponse<byte[]> r =
        server.post(
            "/v1/embeddings", "{\"model\":\"minilm_text\",\"input\":" + inputs(texts) + "}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    List<float[]> out = new ArrayList<>();
    for (JsonNode item : json(r).get("data")) {
      out.add(floats(item.get("embedding")));
    }
    return out;
  }

  private static float[] floats(JsonNode array) {
    float[] v = new float[array.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) array.get(i).asDouble();
    }
    return v;
  }

  private static void sameVectors(JsonNode arrays, List<float[]> expected) {
    assertThat(arrays).hasSize(expected.size());
    for (int i = 0; i < expected.size(); i++) {
      float[] v = floats(arrays.get(i));
      assertThat(v).hasSize(expected.get(i).length);
      for (int d = 0; d < v.length; d++) {
        assertThat(v[d]).as("[%d][%d]", i, d).isCloseTo(expected.get(i)[d], within(1e-6f));
      }
    }
  }

  private static JsonNode teiError(HttpResponse<byte[]> r, int status, String type)
      throws Exception {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(status);
    JsonNode body = json(r);
    assertThat(body.get("error").isTextual()).as(text(r)).isTrue();
    assertThat(body.get("error_type").asText()).as(text(r)).isEqualTo(type);
    return body;
  }

  private static String ollamaError(HttpResponse<byte[]> r, int status) throws Exception {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(status);
    JsonNode body = json(r);
    assertThat(body.size()).as(text(r)).isEqualTo(1);
    return body.get("error").asText();
  }

  @Test
  void teiEmbedGivesTheVectorsOfTheOpenAiRoute() throws Exception {
    List<float[]> expected = openAi(SENTENCES);
    HttpResponse<byte[]> r =
        server.post("/embed", "{\"inputs\":" + inputs(SENTENCES) + ",\"normalize\":true}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    sameVectors(json(r), expected);
    // A single string is a list of one, answered as an array of one array.
    HttpResponse<byte[]> one =
        server.post("/embed", "{\"inputs\":" + quote(SENTENCES.get(1)) + "}");
    assertThat(one.statusCode()).as(text(one)).isEqualTo(200);
    sameVectors(json(one), List.of(expected.get(1)));
  }

  @Test
  void teiSimilarityIsTheCosineOfTheVectors() throws Exception {
    List<float[]> v = openAi(SENTENCES);
    HttpResponse<byte[]> r =
        server.post(
            "/similarity",
            "{\"inputs\":{\"source_sentence\":"
                + quote(SENTENCES.get(0))
                + ",\"sentences\":"
                + inputs(SENTENCES.subList(1, SENTENCES.size()))
                + "}}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode scores = json(r);
    assertThat(scores).hasSize(SENTENCES.size() - 1);
    for (int i = 1; i < v.size(); i++) {
      double dot = 0;
      for (int d = 0; d < v.get(0).length; d++) {
        dot += (double) v.get(0)[d] * v.get(i)[d];
      }
      assertThat(scores.get(i - 1).asDouble()).isCloseTo(dot, within(1e-5));
    }
  }

  @Test
  void teiInfoNamesThePipelineTheRoutesRun() throws Exception {
    HttpResponse<byte[]> r = server.get("/info");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode info = json(r);
    assertThat(info.get("model_id").asText()).isEqualTo("minilm_text");
    assertThat(info.get("model_type").get("embedding").get("pooling").asText()).isEqualTo("mean");
    assertThat(info.get("max_client_batch_size").asInt()).isEqualTo(2048);
    assertThat(info.get("max_batch_requests").asInt()).isEqualTo(16);
  }

  @Test
  void teiErrorsComeInTeisShapeAndStatuses() throws Exception {
    teiError(server.post("/embed", "{\"inputs\":42}"), 422, "Validation");
    teiError(server.post("/embed", "{\"inputs\":[]}"), 422, "Validation");
    teiError(server.post("/embed", "{\"inputs\":[\"\"]}"), 422, "Validation");
    teiError(server.post("/embed", "{\"inputs\":\"a\",\"truncate\":\"yes\"}"), 422, "Validation");
    teiError(server.post("/embed", "not json"), 422, "Validation");
    List<String> many = new ArrayList<>();
    for (int i = 0; i < 2049; i++) {
      many.add("t");
    }
    teiError(server.post("/embed", "{\"inputs\":" + inputs(many) + "}"), 413, "Validation");
    // minilm_text normalizes: raw vectors cannot be given, and that is said, not ignored.
    teiError(server.post("/embed", "{\"inputs\":\"a\",\"normalize\":false}"), 422, "Validation");
    JsonNode all = teiError(server.post("/embed_all", "{\"inputs\":\"a\"}"), 501, "Validation");
    assertThat(all.get("error").asText()).contains("/embed_all is not served");
    teiError(server.post("/tokenize", "{\"inputs\":\"a\"}"), 501, "Validation");
    // A refusal before any handler (the method) in TEI's shape too.
    teiError(server.get("/embed"), 405, "Validation");
  }

  /** Over minilm_text's 128 tokens: 200 words. */
  private static final String LONG = "word ".repeat(200).strip();

  @Test
  void overLongTextIsRefusedWithoutTruncateAndCutWithIt() throws Exception {
    // TEI's default is truncate: false; a silent cut would hide that the text was not read whole.
    JsonNode tei =
        teiError(server.post("/embed", "{\"inputs\":" + quote(LONG) + "}"), 413, "Validation");
    assertThat(tei.get("error").asText()).contains("more than 128 tokens");
    teiError(
        server.post("/embed", "{\"inputs\":[\"short\"," + quote(LONG) + "],\"truncate\":false}"),
        413,
        "Validation");
    HttpResponse<byte[]> cut =
        server.post("/embed", "{\"inputs\":" + quote(LONG) + ",\"truncate\":true}");
    assertThat(cut.statusCode()).as(text(cut)).isEqualTo(200);
    sameVectors(json(cut), openAi(List.of(LONG)));
    // Ollama's default is truncate: true.
    HttpResponse<byte[]> ollama =
        server.post("/api/embed", "{\"model\":\"minilm_text\",\"input\":" + quote(LONG) + "}");
    assertThat(ollama.statusCode()).as(text(ollama)).isEqualTo(200);
    assertThat(
            ollamaError(
                server.post(
                    "/api/embed",
                    "{\"model\":\"minilm_text\",\"input\":" + quote(LONG) + ",\"truncate\":false}"),
                413))
        .contains("truncate: false");
  }

  @Test
  void ollamaEmbedGivesTheVectorsOfTheOpenAiRoute() throws Exception {
    List<float[]> expected = openAi(SENTENCES);
    HttpResponse<byte[]> r =
        server.post(
            "/api/embed", "{\"model\":\"minilm_text\",\"input\":" + inputs(SENTENCES) + "}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode body = json(r);
    assertThat(body.get("model").asText()).isEqualTo("minilm_text:latest");
    sameVectors(body.get("embeddings"), expected);
    assertThat(body.get("total_duration").asLong()).isPositive();
    assertThat(body.get("load_duration").asLong()).isZero();
    assertThat(body.get("prompt_eval_count").asLong()).isPositive();
    // The tag Ollama's clients add, and a single string.
    HttpResponse<byte[]> tagged =
        server.post(
            "/api/embed",
            "{\"model\":\"minilm_text:latest\",\"input\":" + quote(SENTENCES.get(2)) + "}");
    assertThat(tagged.statusCode()).as(text(tagged)).isEqualTo(200);
    sameVectors(json(tagged).get("embeddings"), List.of(expected.get(2)));
  }

  @Test
  void ollamaLegacyEmbeddingsGivesOneVector() throws Exception {
    List<float[]> expected = openAi(List.of(SENTENCES.get(3)));
    HttpResponse<byte[]> r =
        server.post(
            "/api/embeddings",
            "{\"model\":\"minilm_text\",\"prompt\":" + quote(SENTENCES.get(3)) + "}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode body = json(r);
    assertThat(body.size()).isEqualTo(1);
    sameVectors(E2eServer.JSON.createArrayNode().add(body.get("embedding")), expected);
  }

  @Test
  void ollamaDimensionsCutsAndRescales() throws Exception {
    HttpResponse<byte[]> r =
        server.post("/api/embed", "{\"model\":\"minilm_text\",\"input\":\"a\",\"dimensions\":8}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    float[] v = floats(json(r).get("embeddings").get(0));
    assertThat(v).hasSize(8);
    double sum = 0;
    for (float x : v) {
      sum += x * x;
    }
    assertThat(sum).isCloseTo(1.0, within(1e-5));
  }

  @Test
  void ollamaTagsAndVersion() throws Exception {
    JsonNode tags = json(server.get("/api/tags"));
    assertThat(tags.get("models")).hasSize(1);
    assertThat(tags.get("models").get(0).get("name").asText()).isEqualTo("minilm_text:latest");
    HttpResponse<byte[]> v = server.get("/api/version");
    assertThat(v.statusCode()).isEqualTo(200);
    assertThat(json(v).get("version").asText()).isNotEmpty();
  }

  @Test
  void ollamaErrorsComeInOllamasShapeAndStatuses() throws Exception {
    assertThat(ollamaError(server.post("/api/embed", "{\"model\":\"nope\",\"input\":\"a\"}"), 404))
        .contains("nope");
    ollamaError(server.post("/api/embed", "{\"model\":\"minilm_text:v9\",\"input\":\"a\"}"), 404);
    ollamaError(server.post("/api/embed", "{\"model\":\"minilm_text\",\"input\":7}"), 400);
    ollamaError(server.post("/api/embed", "{\"model\":\"minilm_text\",\"input\":[]}"), 400);
    ollamaError(server.post("/api/embed", "{\"model\":\"minilm_text\",\"input\":\"\"}"), 400);
    ollamaError(server.post("/api/embed", "{\"input\":\"a\"}"), 400);
    ollamaError(server.post("/api/embeddings", "{\"model\":\"minilm_text\",\"prompt\":1}"), 400);
    ollamaError(server.post("/api/embed", "[1]"), 400);
    // The pipeline, not a text model: 400 naming what it is not.
    ollamaError(server.post("/api/embed", "{\"model\":\"fraud_classifier\",\"input\":\"a\"}"), 400);
  }

  @Test
  void aTenantsRequestsAreAdmittedCountedAndRefusedInEachApisShape() throws Exception {
    String token = "tei-ollama-token-0123456789abcdef";
    // A burst of 2, one request every 1000 s: two requests pass, the third is refused at its head.
    AccessPolicy access =
        new AccessPolicy(
            List.of(
                new AccessPolicy.Token(
                    Scope.INFERENCE, token, "retrieval", new TenantLimits(0.001, 2, 2))),
            "127.0.0.1",
            false);
    Tenant tenant = access.tenants().get(0);
    try (HttpServer guarded =
            new HttpServer(
                    server.service,
                    HttpServerConfig.ephemeral()
                        .withSecurity(new Security(access, Optional.empty())))
                .start();
        HttpClient client = HttpClient.newHttpClient()) {
      String base = "http://127.0.0.1:" + guarded.port();
      HttpResponse<byte[]> tei = send(client, base + "/embed", token, "{\"inputs\":[\"a\",\"b\"]}");
      assertThat(tei.statusCode()).as(text(tei)).isEqualTo(200);
      HttpResponse<byte[]> ollama =
          send(client, base + "/api/embed", token, "{\"model\":\"minilm_text\",\"input\":\"a\"}");
      assertThat(ollama.statusCode()).as(text(ollama)).isEqualTo(200);
      ModelUsage u = tenant.usage().get("minilm_text");
      assertThat(u.requests(Outcome.SUCCESS)).isEqualTo(2);
      assertThat(u.predictions()).isEqualTo(3);
      JsonNode refused =
          teiError(send(client, base + "/embed", token, "{\"inputs\":\"a\"}"), 429, "Overloaded");
      assertThat(refused.get("error").asText()).contains("tenant 'retrieval'");
      assertThat(
              ollamaError(
                  send(
                      client,
                      base + "/api/embed",
                      token,
                      "{\"model\":\"minilm_text\",\"input\":\"a\"}"),
                  429))
          .contains("tenant 'retrieval'");
      // Without the token: TEI's 401 in TEI's shape.
      teiError(send(client, base + "/embed", "wrong", "{\"inputs\":\"a\"}"), 401, "Validation");
      assertThat(tenant.inFlight()).isZero();
    }
  }

  private static HttpResponse<byte[]> send(HttpClient client, String url, String token, String body)
      throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create(url))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .header("Authorization", "Bearer " + token)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }
}
