package dev.fulcrum.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A fake server that stalls one request for about a second. In open loop with one request allowed
 * in flight, the client cannot send during the stall: the sends behind it go out late, so their
 * service time stays small while their latency from the schedule carries the stall.
 */
class CoordinatedOmissionTest {
  private static final int STALL_AT = 60;
  private static final long STALL_NANOS = 1_000_000_000L;
  private HttpServer server;
  private final AtomicInteger infers = new AtomicInteger();

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setExecutor(Executors.newFixedThreadPool(4));
    server.createContext(
        "/v2/models/fake",
        ex -> {
          String path = ex.getRequestURI().getPath();
          ex.getRequestBody().readAllBytes();
          if (path.endsWith("/config")) {
            reply(ex, 200, "{\"name\":\"fake\",\"max_batch_size\":8}");
          } else if (path.endsWith("/stats")) {
            reply(ex, 404, "{\"error\":\"no statistics\"}");
          } else if (path.endsWith("/infer")) {
            if (infers.incrementAndGet() == STALL_AT) {
              try {
                Thread.sleep(STALL_NANOS / 1_000_000);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
            reply(ex, 200, "{\"model_name\":\"fake\",\"outputs\":[]}");
          } else {
            reply(
                ex,
                200,
                "{\"name\":\"fake\",\"platform\":\"onnxruntime_onnx\","
                    + "\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-1,4]}],"
                    + "\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[-1,1]}]}");
          }
        });
    server.start();
  }

  private static void reply(HttpExchange ex, int status, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().add("Content-Type", "application/json");
    ex.sendResponseHeaders(status, b.length);
    try (OutputStream o = ex.getResponseBody()) {
      o.write(b);
    }
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  @Test
  void theStallShowsInLatencyFromTheScheduleButNotInServiceTime() throws Exception {
    URI base = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
    HttpClient client = ServerApi.newClient();
    ServerApi api = new ServerApi(client, base, "fake", "");
    ModelInfo info = api.modelInfo();
    assertThat(info.maxBatchSize()).isEqualTo(8);
    assertThat(api.stats()).isEmpty();
    List<Sample> samples = InputGenerator.random(info, Map.of(), 1, 4, 1);
    LoadRunner runner =
        new LoadRunner(
            new LoadRunner.Settings(
                Duration.ofMillis(100),
                Duration.ofMillis(1500),
                10,
                2,
                Duration.ofSeconds(5),
                1,
                false,
                1),
            System::nanoTime,
            Optional::empty,
            s -> {});
    LevelResult r;
    try (RestTransport t =
        new RestTransport(base, info, "", samples, true, Duration.ofSeconds(10), 1, 1)) {
      r = runner.run("server", t, new Load.Open(200, ArrivalSchedule.Distribution.CONSTANT), 1);
    }

    assertThat(infers.get()).isGreaterThan(STALL_AT);
    assertThat(r.sent()).isEqualTo(r.completed());
    assertThat(r.errors()).isZero();
    double correctedP99 = r.stats().latency().getValueAtPercentile(99);
    double serviceP99 = r.stats().service().getValueAtPercentile(99);
    // Bounds are relative to the 1 s stall, not to each other's multiples, so that a loaded
    // machine (slow sends, slow answers) cannot tip them: the stalled request took the stall in
    // service time...
    assertThat(r.stats().service().getMaxValue()).isGreaterThan(STALL_NANOS * 9 / 10);
    // ...but only the corrected latency shows it at p99, because the sends behind it were late.
    assertThat(correctedP99).isGreaterThan(STALL_NANOS / 2.0);
    assertThat(serviceP99).isLessThan(correctedP99 / 2);
    assertThat(r.stats().lateSends()).isPositive();
    assertThat(r.stats().maxLagNanos()).isGreaterThan(STALL_NANOS / 2);
    // Each merged window's own rate is kept (tune takes their median as a level's throughput).
    assertThat(r.windowRates()).hasSize(r.windows()).allMatch(rate -> rate >= 0);
  }
}
