package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A request's own timing and cost ({@code timing: true}) over real sockets, against the demo
 * repository's fraud classifier served at a price: REST JSON answers it in the response's
 * parameters and as a {@code Server-Timing} header, a request that does not ask gets neither, and a
 * pipeline's request counts its steps. The cases every transport shares (the parameters and their
 * types over REST's binary extension and gRPC, none when not asked, a timing of another type
 * refused) are in {@code ProtocolContractTest}. Only relations between the figures are checked,
 * never durations.
 */
class RequestTimingE2eTest {
  private static final Path DEMO = E2eServer.DEMO_MODELS;
  private static final Path MINILM_FILE = E2eServer.MINILM_FILE;
  private static final double PRICE = 3.6;
  private static final Pattern SERVER_TIMING =
      Pattern.compile(
          "queue;dur=\\d+\\.\\d{3}, compute;dur=\\d+\\.\\d{3}(, steps;dur=\\d+\\.\\d{3})?,"
              + " total;dur=\\d+\\.\\d{3}(, cache;desc=hit)?");
  private static final String TWO_ROWS =
      "\"inputs\":[{\"name\":\"features\",\"shape\":[2,8],\"datatype\":\"FP32\","
          + "\"data\":[2500.0,3,0.9,800.0,14,20,1,0, 12.5,14,0.1,2.0,1,900,0,1]}]";

  @AutoClose private static E2eServer server;

  @BeforeAll
  static void start() throws Exception {
    assumeThat(DEMO.resolve("fraud_classifier")).as("the demo repository").isDirectory();
    server = E2eServer.serving(DEMO).costPerHour(PRICE).start();
  }

  /** The timing parameters of a REST response, checked for what every timing must satisfy. */
  private static JsonNode saneTiming(HttpResponse<byte[]> r, int requestRows) throws Exception {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode p = E2eServer.header(r).get("parameters");
    assertThat(p).as("the response's parameters").isNotNull();
    long queue = p.get("queue_us").asLong();
    long compute = p.get("compute_us").asLong();
    long total = p.get("total_us").asLong();
    assertThat(queue).isNotNegative();
    assertThat(compute).isNotNegative();
    assertThat(queue + compute).isLessThanOrEqualTo(total);
    assertThat(p.get("request_rows").asInt()).isEqualTo(requestRows);
    assertThat(p.get("batch_rows").asInt()).isGreaterThanOrEqualTo(requestRows);
    assertThat(p.get("cache_hit").asBoolean()).isFalse();
    assertThat(p.get("cost_usd").isNumber()).as("priced: %s", p).isTrue();
    assertThat(p.get("cost_usd").asDouble()).isPositive();
    String header = r.headers().firstValue("Server-Timing").orElse("");
    assertThat(header).matches(SERVER_TIMING);
    return p;
  }

  @Test
  void restJsonAskedGetsItsTimingInParametersAndServerTiming() throws Exception {
    HttpResponse<byte[]> r =
        server.post(
            inferPath("fraud_classifier"), "{\"parameters\":{\"timing\":true}," + TWO_ROWS + "}");
    saneTiming(r, 2);
  }

  @Test
  void restNotAskedGetsNoTiming() throws Exception {
    for (String parameters : new String[] {"", "\"parameters\":{\"timing\":false},"}) {
      HttpResponse<byte[]> r =
          server.post(inferPath("fraud_classifier"), "{" + parameters + TWO_ROWS + "}");
      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      assertThat(E2eServer.header(r).has("parameters")).as(text(r)).isFalse();
      assertThat(r.headers().firstValue("Server-Timing")).isEmpty();
    }
  }

  @Test
  void aPipelineRequestCountsItsStepsAndItsWholeSpan() throws Exception {
    assumeThat(MINILM_FILE).as("the MiniLM file (placed by the build)").isRegularFile();
    HttpResponse<byte[]> r =
        server.post(
            inferPath("minilm_text"),
            "{\"parameters\":{\"timing\":true},\"inputs\":[{\"name\":\"text\",\"shape\":[1,1],"
                + "\"datatype\":\"BYTES\",\"data\":[\"hello world\"]}]}");
    JsonNode p = saneTiming(r, 1);
    assertThat(p.get("steps_us").asLong()).as("tokenize and pool").isPositive();
    assertThat(
            p.get("queue_us").asLong() + p.get("compute_us").asLong() + p.get("steps_us").asLong())
        .isLessThanOrEqualTo(p.get("total_us").asLong());
    assertThat(r.headers().firstValue("Server-Timing").orElseThrow()).contains("steps;dur=");
  }
}
