package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.server.metrics.ServerMetrics;
import dev.fulcrum.server.triton.PbtxtConfigFormat;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
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
  private static final String IDENTITY =
      "{\"mode\":\"identity\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}],"
          + "\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}]}";
  private static final String INFER =
      "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}";

  @TempDir Path repo;
  private final HttpClient client =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(10))
          .build();
  private final ServerMetrics metrics = new ServerMetrics(false);
  private SchedulerEnvironment environment;
  private InferenceService service;
  private HttpServer http;

  @AfterEach
  void stop() {
    if (http != null) {
      http.close();
    }
    if (service != null) {
      service.repository().close();
    }
    if (environment != null) {
      environment.close();
    }
  }

  private void start(String... models) throws Exception {
    for (String name : models) {
      Path dir = repo.resolve(name).resolve("1");
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("model.onnx"), IDENTITY);
    }
    environment = SchedulerEnvironment.system(metrics).withWorkerIdle(Duration.ofMillis(50));
    ModelRepository repository =
        new ModelRepository(
            List.of(repo),
            List.of(new FakeRuntime()),
            new ModelConfigResolver(2, 8),
            environment,
            new ModelRepository.Settings(
                ControlMode.EXPLICIT, 2, List.of(models), Duration.ofMillis(200)),
            new ModelConfigLoader(List.of(new PbtxtConfigFormat())));
    repository.manager().addListener(metrics);
    metrics.bind(repository);
    repository.loadAll();
    service = new InferenceService(repository, true);
    http = new HttpServer(service, HttpServerConfig.ephemeral());
    http.start();
  }

  private HttpResponse<String> post(String path, String body) throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + path))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private JsonNode get(String path) throws Exception {
    HttpResponse<String> r =
        client.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + path))
                .timeout(Duration.ofSeconds(60))
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofString());
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
    HttpResponse<String> r = post("/v2/models/a/infer", INFER);
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
