package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.server.metrics.ServerMetrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model with an SLO under concurrent load: what {@code /slo} and the metrics report agrees with
 * what the clients counted themselves. No timing assertions: the objective (5 s) is far above what
 * any request takes, so every answer is within it, on any machine.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SloEndpointTest {
  @TempDir static Path repo;
  @AutoClose private static TestModels.Metered server;
  private static final HttpClient client = HttpClient.newHttpClient();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final double PRICE = 3.6; // USD per hour: $0.001 per second

  @BeforeAll
  static void start() throws Exception {
    Path dir = repo.resolve("slo_echo");
    Files.createDirectories(dir.resolve("1"));
    Files.writeString(
        dir.resolve("config.yaml"),
        "max-batch-size: 8\nslo:\n  latency-ms: 5000\n  percentile: 99\n");
    Files.writeString(
        dir.resolve("1").resolve("model.onnx"),
        "{\"mode\":\"identity\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}],"
            + "\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}]}");
    server =
        TestModels.serveWithMetrics(
            repo, new ServerMetrics(false), new ModelConfigResolver(2, 8, PRICE));
  }

  private static HttpResponse<String> get(String url) throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> infer(String body) throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create(server.base() + "/v2/models/slo_echo/infer"))
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Sends requests of 2 rows; returns {answered 200, refused 429, rows answered}. */
  private static long[] load(int requests) throws Exception {
    String body =
        "{\"inputs\":[{\"name\":\"IN\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}";
    long[] counts = new long[3];
    for (int i = 0; i < requests; i++) {
      HttpResponse<String> r = infer(body);
      if (r.statusCode() == 200) {
        counts[0]++;
        counts[2] += 2;
      } else {
        assertThat(r.statusCode()).isEqualTo(429);
        assertThat(r.body()).contains("SLO");
        counts[1]++;
      }
    }
    return counts;
  }

  @Test
  @Order(Integer.MAX_VALUE) // after the test that checks the window's exact counts
  void bestEffortRequestsAreCountedApartFromAttainment() throws Exception {
    String url = server.base() + "/v2/models/slo_echo/slo";
    JsonNode before = JSON.readTree(get(url).body()).at("/windows/3");
    String body =
        "{\"parameters\":{\"slo_class\":\"best_effort\"},"
            + "\"inputs\":[{\"name\":\"IN\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}";
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> r = infer(body);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }
    JsonNode after = JSON.readTree(get(url).body()).at("/windows/3");
    assertThat(after.at("/requests").asLong() - before.at("/requests").asLong()).isEqualTo(5);
    assertThat(after.at("/best_effort").asLong() - before.at("/best_effort").asLong()).isEqualTo(5);
    assertThat(after.at("/within_slo").asLong()).isEqualTo(before.at("/within_slo").asLong());
    long objective = after.at("/requests").asLong() - after.at("/best_effort").asLong();
    if (objective > 0) {
      assertThat(after.at("/attainment").asDouble())
          .isCloseTo((double) after.at("/within_slo").asLong() / objective, within(1e-9));
    } else {
      assertThat(after.at("/attainment").isNull()).isTrue();
    }
  }

  @Test
  void attainmentThroughputAndCostAgreeWithTheClientsCounts() throws Exception {
    ExecutorService clients = Executors.newFixedThreadPool(6);
    List<Future<long[]>> runs = new ArrayList<>();
    for (int c = 0; c < 6; c++) {
      runs.add(clients.submit(() -> load(40)));
    }
    long answered = 0;
    long refused = 0;
    long rows = 0;
    for (Future<long[]> f : runs) {
      long[] n = f.get();
      answered += n[0];
      refused += n[1];
      rows += n[2];
    }
    clients.shutdown();
    assertThat(answered + refused).isEqualTo(240);

    JsonNode slo = JSON.readTree(get(server.base() + "/v2/models/slo_echo/slo").body());
    assertThat(slo.at("/objective/latency_ms").asDouble()).isEqualTo(5000);
    assertThat(slo.at("/cost_per_hour_usd").asDouble()).isEqualTo(PRICE);
    JsonNode start = slo.at("/windows/3");
    assertThat(start.at("/window").asText()).isEqualTo("start");
    assertThat(start.at("/requests").asLong()).isEqualTo(240);
    assertThat(start.at("/slo_rejected").asLong()).isEqualTo(refused);
    assertThat(start.at("/within_slo").asLong()).isEqualTo(answered);
    assertThat(start.at("/attainment").asDouble()).isCloseTo((double) answered / 240, within(1e-9));
    assertThat(start.at("/predictions").asLong()).isEqualTo(rows);
    // $ per 1M recomputed from the client's count and the price: the model is the only one that
    // computed, so its share is 1 and the whole wall time is its cost.
    double seconds = start.at("/seconds").asDouble();
    assertThat(start.at("/cost_per_million_usd").asDouble())
        .isCloseTo(
            PRICE / 3600 * seconds / rows * 1e6,
            within(1e-6 * PRICE / 3600 * seconds / rows * 1e6));
    assertThat(start.at("/latency_ms/p99").isNumber()).isTrue();
    assertThat(start.at("/utilization").asDouble()).isBetween(0.0, 1.0);
    assertThat(slo.at("/policy/name").asText()).isEqualTo("slo");
    assertThat(slo.at("/policy/pass_times")).hasSize(8);
    // The policy's own counts tell refusals at admission from late drops; together they are the
    // SLO refusals the client saw.
    assertThat(
            slo.at("/policy/refused_at_admission").asLong()
                + slo.at("/policy/dropped_in_queue").asLong())
        .isEqualTo(refused);
    // Why it refused: every refusal at admission is in one bucket of the margin histogram (how
    // far past its deadline admission predicted it would finish), the last bucket open; and its
    // plan against outcomes.
    JsonNode admission = slo.at("/policy/admission");
    JsonNode margins = admission.at("/refusal_margin_ms");
    assertThat(margins).hasSize(8);
    assertThat(margins.get(0).at("/up_to").asDouble()).isEqualTo(50.0); // 1 % of 5 s
    assertThat(margins.get(7).at("/up_to").isNull()).isTrue();
    long inBuckets = 0;
    for (JsonNode b : margins) {
      inBuckets += b.at("/count").asLong();
    }
    assertThat(inBuckets).isEqualTo(slo.at("/policy/refused_at_admission").asLong());
    assertThat(admission.at("/tolerance_ms").isNumber()).isTrue();
    assertThat(admission.at("/drop_guard_ms").isNumber()).isTrue();
    assertThat(admission.at("/depth_quantile").asDouble()).isEqualTo(0.95);
    JsonNode byDepth = admission.at("/by_depth");
    assertThat(byDepth).hasSize(6);
    for (int d = 0; d < 6; d++) {
      assertThat(byDepth.get(d).at("/depth").asInt()).isEqualTo(d);
      assertThat(byDepth.get(d).at("/offset_ms").asDouble()).isLessThanOrEqualTo(0);
    }
    assertThat(admission.at("/calibration/heads").asLong())
        .isGreaterThanOrEqualTo(admission.at("/calibration/window").asLong());

    // The same version by number, and 404 for an unknown model.
    assertThat(get(server.base() + "/v2/models/slo_echo/versions/1/slo").statusCode())
        .isEqualTo(200);
    assertThat(get(server.base() + "/v2/models/nope/slo").statusCode()).isEqualTo(404);

    String metrics = get(server.metricsBase() + "/metrics").body();
    assertThat(metrics)
        .contains("fulcrum_slo_attainment_ratio{model=\"slo_echo\",version=\"1\",window=\"start\"}")
        .contains("fulcrum_cost_per_million_predictions_usd{model=\"slo_echo\",version=\"1\"}")
        .contains("fulcrum_model_utilization_ratio{model=\"slo_echo\",version=\"1\"}")
        .contains("fulcrum_slo_rejections_total{model=\"slo_echo\",version=\"1\"} " + refused);
  }
}
