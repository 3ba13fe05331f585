package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/**
 * A request the model cannot take (wrong shape, wrong datatype, an input missing) is answered 400
 * and counted in the statistics extension's {@code fail}, as Triton counts it, and apart in {@code
 * fulcrum.invalid}: a client that sends nothing else does not look idle.
 */
class InvalidRequestStatisticsE2eTest {

  @Test
  void invalidRequestsCountAsFailures() throws Exception {
    try (E2eServer server = E2eServer.start(E2eServer.DEMO_MODELS)) {
      String path = inferPath("fraud_classifier");
      String good =
          "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,8],\"datatype\":\"FP32\","
              + "\"data\":[1250.0,3,0.92,410.5,14,20,1,0]}]}";
      String[] bad = {
        "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,7],\"datatype\":\"FP32\","
            + "\"data\":[1,2,3,4,5,6,7]}]}",
        "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,8],\"datatype\":\"INT32\","
            + "\"data\":[1,2,3,4,5,6,7,8]}]}",
        "{\"inputs\":[{\"name\":\"other\",\"shape\":[1,8],\"datatype\":\"FP32\","
            + "\"data\":[1,2,3,4,5,6,7,8]}]}",
      };
      HttpResponse<byte[]> ok = server.post(path, good);
      assertThat(ok.statusCode()).as(text(ok)).isEqualTo(200);
      for (String b : bad) {
        HttpResponse<byte[]> r = server.post(path, b);
        assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
      }
      JsonNode stats =
          E2eServer.JSON
              .readTree(server.get("/v2/models/fraud_classifier/stats").body())
              .get("model_stats")
              .get(0);
      assertThat(stats.at("/inference_stats/success/count").asLong()).isEqualTo(1);
      assertThat(stats.at("/inference_stats/fail/count").asLong()).isEqualTo(3);
      assertThat(stats.at("/fulcrum/invalid").asLong()).isEqualTo(3);
    }
  }
}
