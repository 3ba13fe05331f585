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
