package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.server.metrics.MetricsServer;
import dev.fulcrum.server.metrics.ServerMetrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fulcrum serve --metrics-histograms false}: the four per-model histogram families are left
 * out of the scrape (70 series per model, for servers of many models), every other family stays and
 * counts.
 */
class MetricsHistogramsOffTest {
  @TempDir Path repo;

  @Test
  void scrapeHasNoHistogramFamiliesButKeepsTritonsCounters() throws Exception {
    ServerMetrics metrics = new ServerMetrics(false, false, true);
    TestModels.write(repo);
    try (SchedulerEnvironment environment = SchedulerEnvironment.system(metrics);
        ModelRepository repository =
            new ModelRepository(
                List.of(repo),
                List.of(new FakeRuntime()),
                new ModelConfigResolver(2, 8),
                environment)) {
      repository.loadAll();
      metrics.bind(repository);
      HttpServer http =
          new HttpServer(new InferenceService(repository, false), HttpServerConfig.ephemeral())
              .start();
      MetricsServer metricsServer = new MetricsServer("127.0.0.1", 0, metrics);
      try {
        HttpClient client = HttpClient.newHttpClient();
        String body =
            """
            {"inputs":[{"name":"IN","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]}""";
        for (int i = 0; i < 2; i++) {
          HttpResponse<String> r =
              client.send(
                  HttpRequest.newBuilder(
                          URI.create(
                              "http://127.0.0.1:" + http.port() + "/v2/models/echo_fp32/infer"))
                      .POST(HttpRequest.BodyPublishers.ofString(body))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          assertThat(r.statusCode()).isEqualTo(200);
        }

        String text =
            client
                .send(
                    HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + metricsServer.port() + "/metrics"))
                        .build(),
                    HttpResponse.BodyHandlers.ofString())
                .body();

        assertThat(text)
            .doesNotContain("fulcrum_request_duration_seconds")
            .doesNotContain("fulcrum_queue_duration_seconds")
            .doesNotContain("fulcrum_compute_duration_seconds")
            .doesNotContain("fulcrum_batch_size")
            .contains("nv_inference_request_success{model=\"echo_fp32\",version=\"1\"} 2")
            .contains("nv_inference_count{model=\"echo_fp32\",version=\"1\"} 4")
            .contains("nv_inference_request_duration_us{model=\"echo_fp32\",version=\"1\"} ")
            .contains("# TYPE fulcrum_rejected_requests_total counter")
            .contains("nv_model_load_duration_secs{model=\"echo_fp32\",version=\"1\"} ")
            .contains("fulcrum_model_utilization_ratio{model=\"echo_fp32\",version=\"1\"} ")
            .contains("fulcrum_startup_seconds");
      } finally {
        http.close();
        metricsServer.close();
      }
    }
  }
}
