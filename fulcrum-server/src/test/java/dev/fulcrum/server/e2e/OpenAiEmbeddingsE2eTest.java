package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.SENTENCES;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The OpenAI-compatible embeddings API over a real socket against the demo's {@code minilm_text}:
 * the vectors are the ones {@code v2/models/minilm_text/infer} gives, in OpenAI's shapes (float and
 * base64), a list longer than the model's max-batch-size in order, {@code dimensions}, the errors
 * in OpenAI's error shape, and the bearer token.
 */
class OpenAiEmbeddingsE2eTest {

  @AutoClose private static E2eServer server;

  @BeforeAll
  static void start() throws Exception {
    server = E2eServer.startMiniLm();
  }

  private static HttpResponse<byte[]> embeddings(String body) throws Exception {
    return server.post("/v1/embeddings", body);
  }

  private static JsonNode json(HttpResponse<byte[]> r) throws Exception {
    return E2eServer.JSON.readTree(r.body());
  }

  /** The vector {@code v2/models/minilm_text/infer} gives a sentence. */
  private static float[] oipEmbedding(String sentence) throws Exception {
    HttpResponse<byte[]> r =
        server.post(
            inferPath("minilm_text"),
            "{\"inputs\":[{\"name\":\"text\",\"shape\":[1,1],\"datatype\":\"BYTES\",\"data\":["
                + quote(sentence)
                + "]}]}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return floats(output(r, "embedding").get("data"));
  }

  private static float[] floats(JsonNode array) {
    float[] v = new float[array.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) array.get(i).asDouble();
    }
    return v;
  }

  private static float[] base64Floats(String base64) {
    ByteBuffer b =
        ByteBuffer.wrap(Base64.getDecoder().decode(base64)).order(ByteOrder.LITTLE_ENDIAN);
    float[] v = new float[b.remaining() / 4];
    b.asFloatBuffer().get(v);
    return v;
  }

  private static String inputs(List<String> texts) {
    StringBuilder s = new StringBuilder("[");
    for (String t : texts) {
      s.append(s.length() == 1 ? "" : ",").append(quote(t));
    }
    return s.append(']').toString();
  }

  /** The OpenAI error of a response, checked for its shape; returns its {@code error} object. */
  private static JsonNode openAiError(HttpResponse<byte[]> r, int status) throws Exception {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(status);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode error = json(r).get("error");
    assertThat(error).as(text(r)).isNotNull();
    assertThat(error.isObject()).as(text(r)).isTrue();
    assertThat(error.get("message").asText()).isNotEmpty();
    assertThat(error.get("type").asText()).isNotEmpty();
    assertThat(error.has("param")).isTrue();
    assertThat(error.has("code")).isTrue();
    return error;
  }

  @Test
  void aSentenceGetsTheVectorOfTheInferEndpointInOpenAisShape() throws Exception {
    for (String sentence : SENTENCES) {
      HttpResponse<byte[]> r =
          embeddings("{\"model\":\"minilm_text\",\"input\":" + quote(sentence) + "}");
      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      JsonNode body = json(r);
      assertThat(body.get("object").asText()).isEqualTo("list");
      assertThat(body.get("model").asText()).isEqualTo("minilm_text");
      assertThat(body.get("data")).hasSize(1);
      JsonNode item = body.get("data").get(0);
      assertThat(item.get("object").asText()).isEqualTo("embedding");
      assertThat(item.get("index").asInt()).isZero();
      float[] v = floats(item.get("embedding"));
      float[] oip = oipEmbedding(sentence);
      assertThat(v).hasSize(384);
      for (int d = 0; d < v.length; d++) {
        assertThat(v[d]).as("%s [%d]", sentence, d).isCloseTo(oip[d], within(1e-6f));
      }
      long tokens = body.get("usage").get("prompt_tokens").asLong();
      assertThat(tokens).isPositive();
      assertThat(body.get("usage").get("total_tokens").asLong()).isEqualTo(tokens);
    }
    // The tokenizer's count, special tokens included: [CLS] hello world [SEP].
    JsonNode hello = json(embeddings("{\"model\":\"minilm_text\",\"input\":[\"hello world\"]}"));
    assertThat(hello.get("usage").get("prompt_tokens").asLong()).isEqualTo(4);
  }

  @Test
  void base64IsTheLittleEndianFloat32BytesOfTheSameVector() throws Exception {
    HttpResponse<byte[]> r =
        embeddings(
            "{\"model\":\"minilm_text\",\"input\":"
                + inputs(SENTENCES)
                + ",\"encoding_format\":\"base64\"}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode data = json(r).get("data");
    assertThat(data).hasSize(SENTENCES.size());
    for (int i = 0; i < SENTENCES.size(); i++) {
      assertThat(data.get(i).get("index").asInt()).isEqualTo(i);
      assertThat(base64Floats(data.get(i).get("embedding").asText()))
          .as(SENTENCES.get(i))
          .containsExactly(oipEmbedding(SENTENCES.get(i)));
    }
  }

  @Test
  void aListLongerThanTheMaxBatchSizeComesBackWholeAndInOrder() throws Exception {
    // minilm_text's max-batch-size is 16: 37 texts run as three requests of the core.
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < 37; i++) {
      texts.add(SENTENCES.get(i % SENTENCES.size()) + " #" + i);
    }
    long before = inferenceCount();
    HttpResponse<byte[]> r =
        embeddings("{\"model\":\"minilm_text\",\"input\":" + inputs(texts) + "}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode body = json(r);
    assertThat(body.get("data")).hasSize(texts.size());
    long tokens = 0;
    for (int i : new int[] {0, 15, 16, 36}) {
      JsonNode item = body.get("data").get(i);
      assertThat(item.get("index").asInt()).isEqualTo(i);
      float[] alone = oipEmbedding(texts.get(i));
      float[] v = floats(item.get("embedding"));
      for (int d = 0; d < v.length; d++) {
        assertThat(v[d]).as("%s [%d]", texts.get(i), d).isCloseTo(alone[d], within(1e-6f));
      }
    }
    for (String t : texts) {
      tokens +=
          json(embeddings("{\"model\":\"minilm_text\",\"input\":" + quote(t) + "}"))
              .get("usage")
              .get("prompt_tokens")
              .asLong();
    }
    assertThat(body.get("usage").get("prompt_tokens").asLong()).isEqualTo(tokens);
    // Through the core's door: the model's statistics counted the requests.
    assertThat(inferenceCount()).isGreaterThanOrEqualTo(before + 3);
  }

  private static long inferenceCount() throws Exception {
    return json(server.get("/v2/models/minilm_text/stats"))
        .get("model_stats")
        .get(0)
        .get("inference_count")
        .asLong();
  }

  @Test
  void dimensionsCutsTheVectorAndScalesItBackToUnitLength() throws Exception {
    HttpResponse<byte[]> r =
        embeddings("{\"model\":\"minilm_text\",\"input\":\"hello world\",\"dimensions\":128}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    float[] v = floats(json(r).get("data").get(0).get("embedding"));
    assertThat(v).hasSize(128);
    float[] full = oipEmbedding("hello world");
    double norm = 0;
    for (int d = 0; d < 128; d++) {
      norm += (double) full[d] * full[d];
    }
    double sum = 0;
    for (int d = 0; d < 128; d++) {
      assertThat(v[d]).isCloseTo((float) (full[d] / Math.sqrt(norm)), within(1e-6f));
      sum += (double) v[d] * v[d];
    }
    assertThat(Math.sqrt(sum)).isCloseTo(1.0, within(1e-5));
    // Its own dimensions: the vector unchanged.
    JsonNode same =
        json(
            embeddings("{\"model\":\"minilm_text\",\"input\":\"hello world\",\"dimensions\":384}"));
    assertThat(floats(same.get("data").get(0).get("embedding"))).hasSize(384);

    JsonNode more =
        openAiError(
            embeddings("{\"model\":\"minilm_text\",\"input\":\"hi\",\"dimensions\":385}"), 400);
    assertThat(more.get("param").asText()).isEqualTo("dimensions");
    assertThat(more.get("message").asText()).contains("384");
    assertThat(
            openAiError(
                    embeddings("{\"model\":\"minilm_text\",\"input\":\"hi\",\"dimensions\":0}"),
                    400)
                .get("param")
                .asText())
        .isEqualTo("dimensions");
  }

  @Test
  void badRequestsAreAnsweredInOpenAisErrorShape() throws Exception {
    record Case(String body, String param, String says) {}
    StringBuilder tooMany = new StringBuilder("[");
    for (int i = 0; i < 2049; i++) {
      tooMany.append(i == 0 ? "" : ",").append("\"x\"");
    }
    tooMany.append(']');
    List<Case> cases =
        List.of(
            new Case("{\"model\":\"minilm_text\",\"input\":\"\"}", "input", "empty string"),
            new Case("{\"model\":\"minilm_text\",\"input\":[]}", "input", "empty array"),
            new Case("{\"model\":\"minilm_text\",\"input\":[\"a\",\"\"]}", "input", "input[1]"),
            new Case(
                "{\"model\":\"minilm_text\",\"input\":[15339,1917]}",
                "input",
                "check_embedding_ctx_length=False"),
            new Case("{\"model\":\"minilm_text\",\"input\":[[15339,1917]]}", "input", "token ids"),
            new Case("{\"model\":\"minilm_text\",\"input\":[\"a\",{\"b\":1}]}", "input", "string"),
            new Case("{\"model\":\"minilm_text\",\"input\":" + tooMany + "}", "input", "2048"),
            new Case("{\"model\":\"minilm_text\"}", "input", "required"),
            new Case("{\"input\":\"hi\"}", "model", "required"),
            new Case("{\"model\":7,\"input\":\"hi\"}", "model", "string"),
            new Case(
                "{\"model\":\"minilm_text\",\"input\":\"hi\",\"encoding_format\":\"int8\"}",
                "encoding_format",
                "base64"),
            new Case("{\"model\":\"fraud_classifier\",\"input\":\"hi\"}", "model", "minilm_text"),
            new Case("{\"model\":\"all_minilm_l6_v2\",\"input\":\"hi\"}", "model", "text"),
            new Case("not json", "", "JSON"),
            new Case("[1,2]", "", "object"));
    for (Case c : cases) {
      JsonNode error = openAiError(embeddings(c.body()), 400);
      assertThat(error.get("type").asText()).as(c.body()).isEqualTo("invalid_request_error");
      assertThat(error.get("message").asText()).as(c.body()).contains(c.says());
      if (c.param().isEmpty()) {
        assertThat(error.get("param").isNull()).as(c.body()).isTrue();
      } else {
        assertThat(error.get("param").asText()).as(c.body()).isEqualTo(c.param());
      }
    }

    JsonNode unknown = openAiError(embeddings("{\"model\":\"nope\",\"input\":\"hi\"}"), 404);
    assertThat(unknown.get("code").asText()).isEqualTo("model_not_found");
    assertThat(unknown.get("message").asText()).contains("nope");

    // Refusals made before the handler runs take the shape too: no such path, wrong method.
    openAiError(server.post("/v1/completions", "{}"), 404);
    HttpResponse<byte[]> get = server.get("/v1/embeddings");
    openAiError(get, 405);
    assertThat(get.headers().firstValue("Allow")).hasValue("POST");
    // The server stays healthy and the model serves after them.
    assertThat(embeddings("{\"model\":\"minilm_text\",\"input\":\"still here\"}").statusCode())
        .isEqualTo(200);
  }

  @Test
  void modelsListsTheTextEmbeddingModels() throws Exception {
    HttpResponse<byte[]> r = server.get("/v1/models");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode body = json(r);
    assertThat(body.get("object").asText()).isEqualTo("list");
    assertThat(body.get("data")).hasSize(1);
    JsonNode m = body.get("data").get(0);
    assertThat(m.get("id").asText()).isEqualTo("minilm_text");
    assertThat(m.get("object").asText()).isEqualTo("model");
    assertThat(m.get("owned_by").asText()).isEqualTo("fulcrum");
    assertThat(m.get("created").asLong()).isPositive();

    // One model: OpenAI's fields (with KServe v1's and TF Serving's status beside them, which
    // TfServingPredictE2eTest checks), for any served model; the list has only text models.
    HttpResponse<byte[]> one = server.get("/v1/models/minilm_text");
    assertThat(one.statusCode()).as(text(one)).isEqualTo(200);
    for (String field : List.of("id", "object", "created", "owned_by")) {
      assertThat(json(one).get(field)).as(field).isEqualTo(m.get(field));
    }
    assertThat(openAiError(server.get("/v1/models/nope"), 404).get("code").asText())
        .isEqualTo("model_not_found");
    assertThat(json(server.get("/v1/models/fraud_classifier")).get("id").asText())
        .isEqualTo("fraud_classifier");
  }

  @Test
  void theTokenCountIsAnOipParameterToo() throws Exception {
    HttpResponse<byte[]> r =
        server.post(
            inferPath("minilm_text"),
            "{\"parameters\":{\"token_count\":true},\"inputs\":[{\"name\":\"text\",\"shape\":[2,1],"
                + "\"datatype\":\"BYTES\",\"data\":[\"hello world\",\"Ok\"]}]}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    // [CLS] hello world [SEP] and [CLS] ok [SEP]
    assertThat(json(r).get("parameters").get("token_count").asLong()).isEqualTo(7);
    HttpResponse<byte[]> plain =
        server.post(
            inferPath("minilm_text"),
            "{\"inputs\":[{\"name\":\"text\",\"shape\":[1,1],"
                + "\"datatype\":\"BYTES\",\"data\":[\"hello world\"]}]}");
    assertThat(json(plain).has("parameters")).as(text(plain)).isFalse();
  }

  @Test
  void theBearerTokenOfTheInferenceScopeIsWhatTheSdkSends() throws Exception {
    String token = "openai-test-token-0123456789abcdef";
    Security security =
        new Security(
            new AccessPolicy(
                List.of(new AccessPolicy.Token(Scope.INFERENCE, token)), "127.0.0.1", false),
            Optional.empty());
    try (HttpServer guarded =
            new HttpServer(server.service, HttpServerConfig.ephemeral().withSecurity(security))
                .start();
        HttpClient client = HttpClient.newHttpClient()) {
      String body = "{\"model\":\"minilm_text\",\"input\":\"hello world\"}";
      HttpRequest.Builder post =
          HttpRequest.newBuilder(
                  URI.create("http://127.0.0.1:" + guarded.port() + "/v1/embeddings"))
              .timeout(Duration.ofSeconds(60))
              .header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString(body));
      HttpResponse<byte[]> none =
          client.send(post.build(), HttpResponse.BodyHandlers.ofByteArray());
      JsonNode error = openAiError(none, 401);
      assertThat(error.get("code").asText()).isEqualTo("invalid_api_key");
      assertThat(none.headers().firstValue("WWW-Authenticate"))
          .hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
      HttpResponse<byte[]> wrong =
          client.send(
              post.copy().header("Authorization", "Bearer x").build(),
              HttpResponse.BodyHandlers.ofByteArray());
      openAiError(wrong, 401);
      HttpResponse<byte[]> ok =
          client.send(
              post.copy().header("Authorization", "Bearer " + token).build(),
              HttpResponse.BodyHandlers.ofByteArray());
      assertThat(ok.statusCode()).as(text(ok)).isEqualTo(200);
      HttpResponse<byte[]> models =
          client.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + guarded.port() + "/v1/models"))
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofByteArray());
      openAiError(models, 401);
    }
  }

  @Test
  void aTenantsSplitRequestIsOneRequestAdmittedAndCountedOnce() throws Exception {
    String token = "embedder-token-0123456789abcdef";
    // Two in flight, one request every 1000 s with a burst of 4: a request of 37 texts (three core
    // requests) fits both limits once; its parts never each took a place (three places of two:
    // always refused). The rate is judged at each request's headers, before its body: the three
    // bad requests below spend the bucket's other three tokens.
    AccessPolicy access =
        new AccessPolicy(
            List.of(
                new AccessPolicy.Token(
                    Scope.INFERENCE, token, "embedder", new TenantLimits(0.001, 4, 2))),
            "127.0.0.1",
            false);
    Tenant tenant = access.tenants().get(0);
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < 37; i++) {
      texts.add(SENTENCES.get(i % SENTENCES.size()) + " #" + i);
    }
    try (HttpServer guarded =
            new HttpServer(
                    server.service,
                    HttpServerConfig.ephemeral()
                        .withSecurity(new Security(access, Optional.empty())))
                .start();
        HttpClient client = HttpClient.newHttpClient()) {
      HttpRequest.Builder post =
          HttpRequest.newBuilder(
                  URI.create("http://127.0.0.1:" + guarded.port() + "/v1/embeddings"))
              .timeout(Duration.ofSeconds(60))
              .header("Content-Type", "application/json")
              .header("Authorization", "Bearer " + token);
      HttpResponse<byte[]> ok =
          client.send(
              post.POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"model\":\"minilm_text\",\"input\":" + inputs(texts) + "}"))
                  .build(),
              HttpResponse.BodyHandlers.ofByteArray());
      assertThat(ok.statusCode()).as(text(ok)).isEqualTo(200);
      assertThat(json(ok).get("data")).hasSize(37);
      ModelUsage u = tenant.usage().get("minilm_text");
      assertThat(u.requests(Outcome.SUCCESS)).as("one client request, one request").isEqualTo(1);
      assertThat(u.requests(Outcome.REFUSED)).isZero();
      assertThat(u.predictions()).as("the parts' rows summed").isEqualTo(37);
      assertThat(u.computeSeconds()).isPositive();
      assertThat(tenant.inFlight()).as("its one place given back").isZero();

      // Failed after their headers, counted as /infer counts them: a bad field under its model, an
      // unknown model and a body that does not decode under "".
      for (String bad :
          List.of(
              "{\"model\":\"minilm_text\",\"input\":\"hello\",\"dimensions\":5000}",
              "{\"model\":\"no_such_model_xyz\",\"input\":\"hello\"}",
              "{\"model\":")) {
        HttpResponse<byte[]> r =
            client.send(
                post.copy().POST(HttpRequest.BodyPublishers.ofString(bad)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).as(text(r)).isIn(400, 404);
      }
      // The bucket is empty: the next request is the tenant's, refused by its rate in OpenAI's
      // shape.
      HttpResponse<byte[]> limited =
          client.send(
              post.copy()
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"model\":\"minilm_text\",\"input\":\"hello\"}"))
                  .build(),
              HttpResponse.BodyHandlers.ofByteArray());
      assertThat(openAiError(limited, 429).get("message").asText())
          .contains("tenant 'embedder'")
          .contains("rate limit");
      // Refused at its headers: its model, in the body, was not read; counted under "".
      assertThat(u.requests(Outcome.REFUSED)).isZero();
      assertThat(tenant.usage().get("").requests(Outcome.REFUSED)).isEqualTo(1);

      assertThat(u.requests(Outcome.CLIENT_ERROR)).isEqualTo(1);
      assertThat(tenant.usage().get("").requests(Outcome.CLIENT_ERROR)).isEqualTo(2);
      assertThat(tenant.usage()).doesNotContainKey("no_such_model_xyz");
      assertThat(tenant.inFlight()).isZero();
    }
  }
}
