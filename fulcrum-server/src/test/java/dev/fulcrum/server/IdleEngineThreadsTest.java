package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.server.metrics.ServerMetrics;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Idle engine threads through the REST port ({@code serve --engine-thread-idle-secs}, here a {@link
 * SchedulerEnvironment#withWorkerIdle} of 50 ms): no engine thread before a model's first request,
 * answers and statistics as always, the thread gone after the idle time and back for the next
 * request, and unloading a model that never served (its instance never had a thread) answers 200.
 * No timing assertions: waits for a state are bounded at 30 s.
 */
class IdleEngineThreadsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path repo;
  private final ServerMetrics metrics = new ServerMetrics(false);
  private TestModels.Controlled server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  private void start(String... models) throws Exception {
    for (String name : models) {
      TestModels.writeFp32(repo, name, 1, "identity");
    }
    server =
        TestModels.serveControlled(
            repo,
            metrics,
            new ModelRepository.Settings(
                ControlMode.EXPLICIT, 2, List.of(models), Duration.ofMillis(200)),
            Duration.ofMillis(50));
  }

  private HttpResponse<String> post(String path, String body) throws Exception {
    return server.post(path, body);
  }

  private JsonNode get(String path) throws Exception {
    HttpResponse<String> r = server.get(path);
    assertThat(r.statusCode()).as(path).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  private static long engineThreads(String model) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().startsWith("fulcrum-exec-" + model + "-v1-"))
        .count();
  }

  private static void awaitNoEngineThread(String model) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (engineThreads(model) > 0) {
      assertThat(System.nanoTime() - end).as("%s's engine thread still runs", model).isNegative();
      Thread.sleep(10);
    }
  }

  private void answersOnce() throws Exception {
    HttpResponse<String> r = post("/v2/models/a/infer", TestModels.FP32_INFER);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(JSON.readTree(r.body()).get("outputs").get(0).get("data").toString())
        .isEqualTo("[1.0,2.0,3.0,4.0]");
  }

  @Test
  void engineThreadsFollowTheRequestsAndUnloadingStaysClean() throws Exception {
    start("a", "b");
    assertThat(engineThreads("a")).isZero();
    assertThat(engineThreads("b")).isZero();

    answersOnce();
    answersOnce();
    awaitNoEngineThread("a");
    answersOnce();

    JsonNode stats = get("/v2/models/a/stats").get("model_stats").get(0);
    assertThat(stats.get("inference_count").asLong()).isEqualTo(3);
    assertThat(stats.get("inference_stats").get("success").get("count").asLong()).isEqualTo(3);
    assertThat(engineThreads("b")).as("b was never asked").isZero();

    assertThat(post("/v2/repository/models/b/unload", "").statusCode()).isEqualTo(200);
    assertThat(post("/v2/repository/models/a/unload", "").statusCode()).isEqualTo(200);
    awaitNoEngineThread("a");
    awaitNoEngineThread("b");
    assertThat(post("/v2/repository/models/a/load", "").statusCode()).isEqualTo(200);
    answersOnce();
  }
}
