package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.server.dashboard.DashboardFeed;
import dev.fulcrum.server.dashboard.RepositoryExtras;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scaling signal end to end: a server whose model's pass costs a millisecond a row (the fake
 * runtime's {@code slow} mode: about 1,000 rows a second on one instance, whatever the batch)
 * states its capacity at a loose objective once the policy is warm, and the load ratio on {@code
 * /slo} and {@code /metrics} rises from a trickle to a closed loop of 16 clients, with the CPU
 * budget it is from. No timing assertions beyond that ordering of the pass load, with a margin of 2
 * where the loads differ some tenfold: on a slow or busy machine the heavy load offers less, and
 * the capacity is lower too (and the CPU side of the ratio is the machine's: not compared).
 */
class SloCapacityEndpointTest {
  @TempDir static Path repo;
  @AutoClose private static TestModels.Metered server;
  private static final HttpClient client = HttpClient.newHttpClient();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String BODY =
      "{\"inputs\":[{\"name\":\"IN\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}";

  @BeforeAll
  static void start() throws Exception {
    Path dir = repo.resolve("slow_echo");
    Files.createDirectories(dir.resolve("1"));
    Files.writeString(
        dir.resolve("config.yaml"),
        "max-batch-size: 8\ninstance-count: 1\nslo:\n  latency-ms: 2000\n");
    Files.writeString(
        dir.resolve("1").resolve("model.onnx"),
        "{\"mode\":\"slow\",\"row_millis\":5,\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}],"
            + "\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}]}");
    server =
        TestModels.serveWithMetrics(repo, new ServerMetrics(false), new ModelConfigResolver(2, 8));
  }

  private static HttpResponse<String> get(String url) throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static int infer() throws Exception {
    return client
        .send(
            HttpRequest.newBuilder(URI.create(server.base() + "/v2/models/slow_echo/infer"))
                .POST(HttpRequest.BodyPublishers.ofString(BODY))
                .build(),
            HttpResponse.BodyHandlers.ofString())
        .statusCode();
  }

  private static JsonNode capacity() throws Exception {
    return JSON.readTree(get(server.base() + "/v2/models/slow_echo/slo").body()).at("/capacity");
  }

  /** The value of a series of the model on /metrics, or NaN when it is not there. */
  private static double metric(String name) throws Exception {
    String text = get(server.metricsBase() + "/metrics").body();
    Matcher m =
        Pattern.compile(
                "(?m)^" + name + "\\{model=\"slow_echo\",version=\"1\"\\} ([0-9.eE+-]+|NaN)$")
            .matcher(text);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  @Test
  void capacityIsStatedOnceWarmAndTheLoadRatioRisesWithTheOfferedLoad() throws Exception {
    JsonNode cold = capacity();
    assertThat(cold.at("/state").asText()).isEqualTo("learning");
    assertThat(cold.at("/load_ratio").isNull()).isTrue();
    assertThat(metric("fulcrum_slo_load_ratio")).as("no series while learning").isNaN();

    // A trickle: one client, 120 requests 40 ms apart (the policy is warm after 100 passes).
    for (int i = 0; i < 120; i++) {
      assertThat(infer()).isEqualTo(200);
      Thread.sleep(40);
    }
    JsonNode light = capacity();
    assertThat(light.at("/state").asText()).isEqualTo("known");
    assertThat(light.at("/window").asText()).isEqualTo("10s");
    double lightCapacity = light.at("/requests_per_s").asDouble();
    // 5 ms a row at least: about 200 rows a second at most (1 row a request); the model's scale
    // follows the recent passes, so its estimate may read a little under 5 ms a row.
    assertThat(lightCapacity).isGreaterThan(0).isLessThan(250);
    assertThat(light.at("/predictions_per_s").asDouble()).isEqualTo(lightCapacity);
    // The lower of the two bounds: the pass bound, or the CPU's where this busy test process's
    // CPU budget would fill first (a CPU bound is stated only beyond the background allowance).
    // (Or the observed bound, where this busy machine made the policy refuse more than 1 %.)
    assertThat(light.at("/bound").asText()).isIn("passes", "cpu", "observed");
    assertThat(lightCapacity).isLessThanOrEqualTo(light.at("/passes_requests_per_s").asDouble());
    // What the observed bound is from: the window's requests under the objective, its misses for
    // load (refusals, timeouts) and what the objective allows of them.
    JsonNode observed = light.at("/observed");
    assertThat(observed.at("/requests").asLong()).isPositive();
    assertThat(observed.at("/load_misses").asLong())
        .isBetween(0L, observed.at("/requests").asLong());
    assertThat(observed.at("/allowed_misses").asDouble())
        .isCloseTo(0.01 * observed.at("/requests").asLong(), within(1e-6));
    if (light.at("/bound").asText().equals("observed")) {
      assertThat(light.at("/observed_requests_per_s").asDouble()).isEqualTo(lightCapacity);
    } else {
      assertThat(lightCapacity)
          .isLessThanOrEqualTo(
              light.at("/observed_requests_per_s").isNull()
                  ? Double.MAX_VALUE
                  : light.at("/observed_requests_per_s").asDouble());
    }
    JsonNode cpu = light.at("/cpu");
    assertThat(cpu.at("/state").asText()).isIn("idle", "known");
    if (light.at("/bound").asText().equals("cpu")) {
      assertThat(light.at("/cpu_requests_per_s").asDouble()).isEqualTo(lightCapacity);
      assertThat(cpu.at("/state").asText()).isEqualTo("known");
      assertThat(cpu.at("/own_busy").asDouble())
          .isGreaterThan(cpu.at("/background_cores").asDouble());
    }
    // The budget the CPU bound is from, and what it is made of (the machine's readings where this
    // host has a /proc/stat; the limit where its cgroup sets one).
    assertThat(cpu.at("/cpus").asInt()).isPositive();
    double allowed = cpu.at("/cores_allowed").asDouble();
    assertThat(allowed).isPositive().isLessThanOrEqualTo(cpu.at("/cpus").asInt());
    assertThat(cpu.at("/budget_cores").asDouble())
        .isLessThanOrEqualTo(Math.max(allowed, cpu.at("/own_busy").asDouble()));
    assertThat(cpu.at("/background_cores").asDouble()).isCloseTo(0.05 * allowed, within(1e-9));
    assertThat(cpu.at("/load").asDouble()).isBetween(0.0, 1.0);
    if (Files.isReadable(Path.of("/proc/stat"))) {
      assertThat(cpu.at("/others_busy").isNumber()).as("%s", cpu).isTrue();
    }
    // The CPU pressure where this host's kernel reports one (PSI), with whose waits it counts.
    assertThat(cpu.at("/pressure_scope").asText()).isIn("cgroup", "host", "none");
    if (cpu.at("/pressure_scope").asText().equals("none")) {
      assertThat(cpu.at("/pressure_some_ratio").isNull()).as("%s", cpu).isTrue();
    } else {
      assertThat(cpu.at("/pressure_some_ratio").asDouble()).isBetween(0.0, 1.0);
    }
    assertThat(cpu.has("weight")).as("%s", cpu).isTrue();
    assertThat(cpu.has("weight_share")).as("%s", cpu).isTrue();
    assertThat(light.at("/batch_size").asInt()).isBetween(1, 8);
    double lightRatio = light.at("/load_ratio").asDouble();
    assertThat(lightRatio)
        .isGreaterThan(0)
        .isEqualTo(light.at("/offered_per_s").asDouble() / lightCapacity);
    assertThat(metric("fulcrum_slo_capacity_requests_per_second")).isGreaterThan(0);
    assertThat(metric("fulcrum_slo_load_ratio")).isGreaterThan(0);
    String text = get(server.metricsBase() + "/metrics").body();
    assertThat(text)
        .containsPattern("(?m)^fulcrum_slo_cpu_cores\\{use=\"allowed\"\\} [0-9.eE+-]+$")
        .containsPattern("(?m)^fulcrum_slo_cpu_cores\\{use=\"budget\"\\} [0-9.eE+-]+$")
        .containsPattern("(?m)^fulcrum_slo_cpu_cores\\{use=\"own\"\\} [0-9.eE+-]+$")
        .containsPattern("(?m)^fulcrum_slo_cpu_pressure_ratio ([0-9.eE+-]+|NaN)$");

    // A closed loop of 16 clients for 4 s: the one instance is saturated (the batches fill).
    ExecutorService clients = Executors.newFixedThreadPool(16);
    long end = System.nanoTime() + 4_000_000_000L;
    List<Future<Integer>> runs = new ArrayList<>();
    for (int c = 0; c < 16; c++) {
      runs.add(
          clients.submit(
              () -> {
                int ok = 0;
                while (System.nanoTime() < end) {
                  ok += infer() == 200 ? 1 : 0;
                }
                return ok;
              }));
    }
    long answered = 0;
    for (Future<Integer> f : runs) {
      answered += f.get();
    }
    clients.shutdown();
    assertThat(answered).isGreaterThan(0);
    JsonNode heavy = capacity();
    assertThat(heavy.at("/state").asText()).isEqualTo("known");
    assertThat(heavy.at("/requests_per_s").asDouble()).isGreaterThan(0).isLessThan(250);
    double heavyRatio = heavy.at("/load_ratio").asDouble();
    // The load on the passes rises with the offered load. The ratio is at least that; its CPU side
    // is this machine's (on a machine that other work keeps busy a trickle already fills much of
    // the budget left to this process), so it is compared through the pass load only.
    double lightPassLoad = passLoad(light);
    double heavyPassLoad = passLoad(heavy);
    assertThat(heavyPassLoad)
        .as("light %s, heavy %s", light, heavy)
        .isGreaterThan(2 * lightPassLoad);
    assertThat(lightRatio).isGreaterThanOrEqualTo(lightPassLoad * (1 - 1e-9));
    assertThat(heavyRatio).isGreaterThanOrEqualTo(heavyPassLoad * (1 - 1e-9));
    assertThat(metric("fulcrum_slo_load_ratio")).isGreaterThan(2 * lightPassLoad);

    // The dashboard's feed carries the same capacity block and the load ratio each second.
    List<JsonNode> frames = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (DashboardFeed feed = new DashboardFeed()) {
      feed.bind(server.repository);
      feed.source(new RepositoryExtras(server.repository, null));
      feed.subscribe(
          new DashboardFeed.Subscriber() {
            @Override
            public boolean send(byte[] frame) {
              try {
                frames.add(JSON.readTree(frame));
              } catch (java.io.IOException e) {
                throw new AssertionError(e);
              }
              return true;
            }

            @Override
            public void end() {}
          });
      feed.start();
      Await.until("two frames", () -> frames.size() >= 2);
    }
    JsonNode row = frames.getLast().at("/models/0");
    assertThat(row.at("/model").asText()).isEqualTo("slow_echo");
    JsonNode block = row.at("/slo/capacity");
    assertThat(block.at("/state").asText()).isEqualTo("known");
    assertThat(block.at("/bound").asText()).isIn("passes", "cpu", "observed");
    assertThat(block.at("/requestsPerS").asDouble()).isPositive();
    assertThat(block.at("/cpu").asText()).isIn("idle", "known");
    assertThat(block.at("/allowedCores").asDouble()).isPositive();
    assertThat(row.at("/series/loadRatio").isArray()).isTrue();
    assertThat(row.at("/series/loadRatio/0").isNumber()).as("%s", row.at("/series")).isTrue();
    assertThat(row.at("/series/attainment/0").asDouble()).isBetween(0.0, 1.0);
  }

  /** The offered rate over the pass bound alone. */
  private static double passLoad(JsonNode capacity) {
    return capacity.at("/offered_per_s").asDouble()
        / capacity.at("/passes_requests_per_s").asDouble();
  }
}
