package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.InferenceException;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link Route#match}'s hand-written path scan against the decoder it replaced. */
class RouteTest {

  @Test
  void endpointsAndTheirModelAndVersion() {
    assertThat(Route.match("/v2/models/fraud_classifier/infer"))
        .isEqualTo(new Route(Route.Endpoint.MODEL_INFER, "fraud_classifier", ""));
    assertThat(Route.match("/v2/models/m/versions/3/infer?x=1#y"))
        .isEqualTo(new Route(Route.Endpoint.MODEL_INFER, "m", "3"));
    assertThat(Route.match("//v2//health/live/")).isEqualTo(Route.match("/v2/health/live"));
    assertThat(Route.match("/v2/health/live").endpoint()).isEqualTo(Route.Endpoint.HEALTH_LIVE);
    assertThat(Route.match("/v2?/health/live").endpoint())
        .isEqualTo(Route.Endpoint.SERVER_METADATA);
    assertThat(Route.match("/v2#/health/live").endpoint())
        .isEqualTo(Route.Endpoint.SERVER_METADATA);
    assertThat(Route.match("").endpoint()).isEqualTo(Route.Endpoint.NOT_FOUND);
    assertThat(Route.match("/dashboard").model()).isEqualTo("index.html");
  }

  @Test
  void sageMakersAndMlflowsPathsAndTheirErrorShape() {
    assertThat(Route.match("/ping").endpoint()).isEqualTo(Route.Endpoint.PING);
    assertThat(Route.match("/health").endpoint()).isEqualTo(Route.Endpoint.PING);
    assertThat(Route.match("/invocations?x=1").endpoint()).isEqualTo(Route.Endpoint.INVOCATIONS);
    assertThat(Route.match("http://h:8080/invocations").endpoint())
        .isEqualTo(Route.Endpoint.INVOCATIONS);
    assertThat(Route.match("/version").endpoint()).isEqualTo(Route.Endpoint.MLFLOW_VERSION);
    assertThat(Route.match("/invocations/x").endpoint()).isEqualTo(Route.Endpoint.NOT_FOUND);
    assertThat(ErrorShape.of("/invocations")).isEqualTo(ErrorShape.MLFLOW);
    assertThat(ErrorShape.of("http://h/ping/?a")).isEqualTo(ErrorShape.MLFLOW);
    assertThat(ErrorShape.of("/v1/embeddings")).isEqualTo(ErrorShape.OPENAI);
    assertThat(ErrorShape.of("/v1/models/m:predict")).isEqualTo(ErrorShape.OIP);
    assertThat(ErrorShape.of("/v2/models/m/infer")).isEqualTo(ErrorShape.OIP);
    // SageMaker's multi-model invoke answers as /invocations, errors included
    assertThat(ErrorShape.of("/models/m/invoke")).isEqualTo(ErrorShape.MLFLOW);
    assertThat(ErrorShape.of("http://h/models/m/invoke/?x")).isEqualTo(ErrorShape.MLFLOW);
    assertThat(ErrorShape.of("/models//invoke")).isEqualTo(ErrorShape.OIP);
    assertThat(ErrorShape.of("/models/a/b/invoke")).isEqualTo(ErrorShape.OIP);
    assertThat(ErrorShape.of("/models/m")).isEqualTo(ErrorShape.OIP);
  }

  @Test
  void teisAndOllamasPathsAndTheirErrorShape() {
    assertThat(Route.match("/embed").endpoint()).isEqualTo(Route.Endpoint.TEI_EMBED);
    assertThat(Route.match("/similarity/").endpoint()).isEqualTo(Route.Endpoint.TEI_SIMILARITY);
    assertThat(Route.match("/info?x").endpoint()).isEqualTo(Route.Endpoint.TEI_INFO);
    assertThat(Route.match("/tokenize"))
        .isEqualTo(new Route(Route.Endpoint.TEI_UNSERVED, "/tokenize", ""));
    assertThat(Route.match("/api/embed").endpoint()).isEqualTo(Route.Endpoint.OLLAMA_EMBED);
    assertThat(Route.match("/api/embeddings").endpoint())
        .isEqualTo(Route.Endpoint.OLLAMA_EMBEDDINGS);
    assertThat(Route.match("/api/tags").endpoint()).isEqualTo(Route.Endpoint.OLLAMA_TAGS);
    assertThat(Route.match("/api/version").endpoint()).isEqualTo(Route.Endpoint.OLLAMA_VERSION);
    assertThat(Route.match("/api/chat").endpoint()).isEqualTo(Route.Endpoint.NOT_FOUND);
    assertThat(Route.match("/embed/x").endpoint()).isEqualTo(Route.Endpoint.NOT_FOUND);
    assertThat(ErrorShape.of("/embed")).isEqualTo(ErrorShape.TEI);
    assertThat(ErrorShape.of("http://h:1/similarity?q")).isEqualTo(ErrorShape.TEI);
    assertThat(ErrorShape.of("/embedding")).isEqualTo(ErrorShape.OIP);
    assertThat(ErrorShape.of("/api/embed")).isEqualTo(ErrorShape.OIP); // Ollama's is OIP's
    assertThat(TeiHandler.status(io.netty.handler.codec.http.HttpResponseStatus.BAD_REQUEST).code())
        .isEqualTo(422);
    assertThat(TeiHandler.type(io.netty.handler.codec.http.HttpResponseStatus.TOO_MANY_REQUESTS))
        .isEqualTo("Overloaded");
  }

  @Test
  void theMultiModelHeaderNamesTheModelByItsArtifactsFileName() {
    assertThat(InvocationsTarget.modelOf("fraud_classifier.tar.gz")).isEqualTo("fraud_classifier");
    assertThat(InvocationsTarget.modelOf("/models/text/minilm_text.TGZ")).isEqualTo("minilm_text");
    assertThat(InvocationsTarget.modelOf("m.onnx")).isEqualTo("m");
    assertThat(InvocationsTarget.modelOf("plain")).isEqualTo("plain");
    assertThatThrownBy(() -> InvocationsTarget.modelOf("dir/"))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("names no model");
  }

  @Test
  void segmentsArePercentDecodedAsBefore() {
    assertThat(Route.match("/v2/models/a%2Fb/ready"))
        .isEqualTo(new Route(Route.Endpoint.MODEL_READY, "a/b", ""));
    // '+' is itself in a path (RFC 3986); only a query string's decoding reads it as a space.
    assertThat(Route.match("/v2/models/a+b/ready").model()).isEqualTo("a+b");
    assertThat(Route.match("/v2/models/a%2Bb+c%20d/ready").model()).isEqualTo("a+b+c d");
    assertThatThrownBy(() -> Route.match("/v2/models/a%zz/ready"))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("not valid percent-encoding");
    for (String coded : List.of("%00", "%0A", "%1f", "%7F")) {
      assertThatThrownBy(() -> Route.match("/v2/models/a" + coded + "b/ready"))
          .as(coded)
          .isInstanceOf(InferenceException.class)
          .hasMessageContaining("decodes to a control character");
    }
  }

  /**
   * The segments the replaced code made: QueryStringDecoder's raw path, split, each decoded (with
   * '+' kept, as a path has it).
   */
  private static List<String> segmentsBefore(String uri) {
    List<String> s = new ArrayList<>();
    for (String part : new QueryStringDecoder(uri).rawPath().split("/", -1)) {
      if (!part.isEmpty()) {
        s.add(QueryStringDecoder.decodeComponent(part.replace("+", "%2B")));
      }
    }
    return s;
  }

  @Test
  void openAisPaths() {
    assertThat(Route.match("/v1/embeddings"))
        .isEqualTo(new Route(Route.Endpoint.OPENAI_EMBEDDINGS, "", ""));
    assertThat(Route.match("/v1/models"))
        .isEqualTo(new Route(Route.Endpoint.OPENAI_MODELS, "", ""));
    assertThat(Route.match("/v1/models/minilm_text?x=1"))
        .isEqualTo(new Route(Route.Endpoint.OPENAI_MODELS, "minilm_text", ""));
    // TF Serving's and KServe v1's, beside them.
    assertThat(Route.match("/v1/models/fraud:predict"))
        .isEqualTo(new Route(Route.Endpoint.TFS_PREDICT, "fraud", ""));
    assertThat(Route.match("/v1/models/fraud/versions/2:predict?x"))
        .isEqualTo(new Route(Route.Endpoint.TFS_PREDICT, "fraud", "2"));
    assertThat(Route.match("/v1/models/fraud%3Apredict"))
        .isEqualTo(new Route(Route.Endpoint.TFS_PREDICT, "fraud", ""));
    assertThat(Route.match("/v1/models/fraud/versions/2"))
        .isEqualTo(new Route(Route.Endpoint.TFS_STATUS, "fraud", "2"));
    assertThat(Route.match("/v1/models/fraud/metadata"))
        .isEqualTo(new Route(Route.Endpoint.TFS_METADATA, "fraud", ""));
    assertThat(Route.match("/v1/models/fraud/versions/2/metadata"))
        .isEqualTo(new Route(Route.Endpoint.TFS_METADATA, "fraud", "2"));
    for (String tf :
        List.of(
            "/v1/models/fraud:predict",
            "/v1/models/fraud/versions/2",
            "/v1/models/fraud/metadata?x",
            "http://h:8000/v1/models/f%3apredict",
            "/v1/models/f:classify")) {
      assertThat(OpenAiHandler.isPath(tf)).as(tf).isFalse(); // errors in TF Serving's shape
      assertThat(PredictHandler.isPath(tf)).as(tf).isTrue();
    }
    assertThat(PredictHandler.isPath("/v1/models/fraud")).isFalse(); // OpenAI's, shared
    for (String none :
        List.of(
            "/v1",
            "/v1/completions",
            "/v1/models/a/b",
            "/v1/embeddings/x",
            "/v1/models/a/versions/1/b",
            "/v1/models/a/metadata:predict",
            "/v1/models/a:classify",
            "/v1/models/a/versions/1:regress",
            "/v1/models/a:explain",
            "/v1/models:predict")) {
      assertThat(Route.match(none).endpoint()).as(none).isEqualTo(Route.Endpoint.NOT_FOUND);
    }
    // Whose errors take OpenAI's shape: every /v1 path, absolute-form targets too.
    for (String uri :
        List.of("/v1/embeddings", "/v1", "/v1?x", "/v1/nope", "http://h:8000/v1/models")) {
      assertThat(OpenAiHandler.isPath(uri)).as(uri).isTrue();
    }
    for (String uri : List.of("/v2/models", "/v10/embeddings", "/", "", "http://h:8000", "/x/v1")) {
      assertThat(OpenAiHandler.isPath(uri)).as(uri).isFalse();
    }
  }

  @Test
  void randomPathsRouteAsTheDecoderDid() {
    Random r = new Random(11);
    String alphabet = "/v2?#%+a1 m";
    for (int n = 0; n < 20_000; n++) {
      StringBuilder b = new StringBuilder();
      int len = r.nextInt(16);
      for (int i = 0; i < len; i++) {
        b.append(alphabet.charAt(r.nextInt(alphabet.length())));
      }
      String uri = b.toString();
      Route expected;
      try {
        List<String> s = segmentsBefore(uri);
        if (s.stream().anyMatch(x -> x.chars().anyMatch(c -> c < 0x20 || c == 0x7F))) {
          // A control character decoded (%1a) is no name: refused, where it was routed.
          assertThatThrownBy(() -> Route.match(uri)).as(uri).isInstanceOf(InferenceException.class);
          continue;
        }
        // Rebuild a clean path of the same segments: its route is what the old code returned.
        expected =
            s.isEmpty() || s.stream().anyMatch(x -> x.contains("/") || x.contains("?"))
                ? null
                : Route.match("/" + String.join("/", s));
      } catch (IllegalArgumentException e) {
        assertThatThrownBy(() -> Route.match(uri)).as(uri).isInstanceOf(InferenceException.class);
        continue;
      }
      Route got = Route.match(uri);
      if (expected != null) {
        assertThat(got).as(uri).isEqualTo(expected);
      }
    }
  }
}
