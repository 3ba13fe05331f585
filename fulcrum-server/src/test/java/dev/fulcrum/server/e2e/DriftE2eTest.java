package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.monitoring.Baseline;
import dev.fulcrum.monitoring.DetectorSettings;
import dev.fulcrum.monitoring.DriftJson;
import dev.fulcrum.monitoring.DriftMonitor;
import dev.fulcrum.monitoring.LogReplay;
import dev.fulcrum.monitoring.PredictionLog;
import dev.fulcrum.server.Await;
import dev.fulcrum.server.metrics.ServerMetrics;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #11 end to end: the demo fraud classifier with its committed baseline, served with a drift
 * monitor and a prediction log, receives training rows and then rows with amount_usd in cents;
 * {@code GET .../drift}, the metric and the alert (the monitor's listener, told right after its log
 * line) name that feature and no other, and the prediction log replayed offline reaches the live
 * verdict.
 */
class DriftE2eTest {
  private static final Path DEMO = Path.of("..", "demo").toAbsolutePath().normalize();

  @TempDir Path dir;

  @Test
  void aUnitErrorIsNamedByDriftMetricsAlertAndReplay() throws Exception {
    Path model = DEMO.resolve("models").resolve("fraud_classifier");
    assumeThat(model.resolve("baseline.json")).as("the demo baseline").isRegularFile();
    Path repo = dir.resolve("models");
    copy(model, repo.resolve("fraud_classifier"));
    List<String> alerts = Collections.synchronizedList(new ArrayList<>());
    PredictionLog log =
        new PredictionLog(new PredictionLog.Settings(dir.resolve("log"), 1 << 20, 5, 1.0, 4096));
    DriftMonitor monitor =
        new DriftMonitor(
            4096,
            log,
            List.of(
                (m, v, f, output) -> alerts.add(m + " " + v + " " + f.name() + " " + f.drift())),
            true);
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bindMonitor(monitor);
    try (E2eServer server =
        E2eServer.serving(repo)
            .monitor(monitor)
            .settings(
                new ModelRepository.Settings(
                    ControlMode.EXPLICIT, 1, List.of("*"), Duration.ofSeconds(15)))
            .start()) {
      List<String> rows = Files.readAllLines(DEMO.resolve("data").resolve("fraud_training.csv"));
      for (int i = 1; i <= 300; i++) {
        infer(server, rows.get(i), 1);
      }
      observed(server, 300);
      assertThat(monitor.awaitIdle(Duration.ofSeconds(60))).isTrue();
      JsonNode before = json(server.get("/v2/models/fraud_classifier/drift"));
      assertThat(before.get("status").asText()).as(before.toString()).isEqualTo("ok");
      assertThat(before.get("observations").asLong()).isEqualTo(300);

      for (int i = 301; i <= 340; i++) {
        infer(server, rows.get(i), 100); // dollars sent as cents
      }
      observed(server, 340);
      assertThat(monitor.awaitIdle(Duration.ofSeconds(60))).isTrue();
      JsonNode after = json(server.get("/v2/models/fraud_classifier/versions/1/drift"));
      assertThat(after.get("status").asText()).isEqualTo("drift");
      List<String> drifting = new ArrayList<>();
      for (JsonNode f : after.get("features")) {
        if (f.get("status").asText().equals("drift")) {
          drifting.add(f.get("name").asText());
          assertThat(f.get("since_observation").asLong()).isBetween(301L, 340L);
          assertThat(f.get("test").asText()).isIn("range", "cusum");
          assertThat(f.get("since").asText()).isNotEmpty();
        }
      }
      assertThat(drifting).containsExactly("amount_usd");
      assertThat(alerts).contains("fraud_classifier 1 amount_usd true");
      assertThat(alerts).noneMatch(a -> a.contains("hour_of_day") || a.contains("card_present"));
      assertThat(metrics.scrape())
          .contains(
              "fulcrum_drift_status{model=\"fraud_classifier\",version=\"1\","
                  + "feature=\"amount_usd\",kind=\"feature\"} 1")
          .contains(
              "fulcrum_drift_status{model=\"fraud_classifier\",version=\"1\","
                  + "feature=\"hour_of_day\",kind=\"feature\"} 0");

      HttpResponse<byte[]> unknown = server.get("/v2/models/nope/drift");
      assertThat(unknown.statusCode()).isEqualTo(404);

      // The prediction log, replayed offline through the same detectors: the live verdict.
      assertThat(log.awaitFlushed(Duration.ofSeconds(60))).isTrue();
      assertThat(metrics.scrape())
          .contains("fulcrum_prediction_log_written_total 340\n")
          .contains("fulcrum_prediction_log_dropped_total 0\n")
          .contains("fulcrum_drift_shed_total 0\n"); // no rate limit: every pass compared
      LogReplay replay =
          new LogReplay(
              Baseline.read(model.resolve("baseline.json")),
              "baseline.json",
              DetectorSettings.defaults(),
              (m, v, f, output) -> {});
      replay.replay(PredictionLog.files(dir.resolve("log")));
      DriftReport offline = replay.reports().get(0);
      ObjectNode live = (ObjectNode) after.deepCopy();
      ObjectNode replayed = DriftJson.report(offline);
      for (ObjectNode o : List.of(live, replayed)) {
        o.remove("baseline");
        o.remove("dropped");
        // The live monitor stamps a pass when it is handed over, the log each request when it
        // completes: the wall-clock "since" may differ by a millisecond or so; the observation
        // ("since_observation"), the scores and every verdict may not.
        for (JsonNode f : o.get("features")) {
          ((ObjectNode) f).remove("since");
        }
        for (JsonNode f : o.get("outputs").get("features")) {
          ((ObjectNode) f).remove("since");
        }
      }
      assertThat(replayed.toString()).isEqualTo(live.toString());

      // A reload that changes batching, not monitoring, keeps the detectors: no alert ends or is
      // raised again, and the observations go on.
      int told = alerts.size();
      Path config = repo.resolve("fraud_classifier").resolve("config.yaml");
      Files.writeString(
          config, Files.readString(config).replace("max-batch-size: 64", "max-batch-size: 32"));
      server.service.repository().manager().load("fraud_classifier", null).get();
      assertThat(
              server.service.repository().resolve("fraud_classifier", "").config().maxBatchSize())
          .isEqualTo(32);
      infer(server, rows.get(341), 100);
      observed(server, 341);
      assertThat(monitor.awaitIdle(Duration.ofSeconds(60))).isTrue();
      JsonNode reloaded = json(server.get("/v2/models/fraud_classifier/drift"));
      assertThat(reloaded.get("status").asText()).isEqualTo("drift");
      assertThat(alerts).hasSize(told);

      // Unloading the version ends its alert (told as a clear, so a webhook's incident closes),
      // and only that one; the metric's series go with the version.
      server.service.repository().manager().unload("fraud_classifier").get();
      Await.until(
          "the alert ended",
          () -> alerts.size() > told && alerts.get(alerts.size() - 1).endsWith("false"));
      assertThat(alerts.subList(told, alerts.size()))
          .containsExactly("fraud_classifier 1 amount_usd false");
      assertThat(metrics.scrape())
          .doesNotContain("fulcrum_drift_status{model=\"fraud_classifier\"");
    } finally {
      monitor.close();
    }
  }

  /**
   * Waits until the monitor has compared {@code n} rows: the hook runs on the engine thread after
   * the response is written, so a client can hold the last response before it was offered.
   */
  private static void observed(E2eServer server, long n) throws Exception {
    Await.until(
        n + " rows observed",
        () ->
            json(server.get("/v2/models/fraud_classifier/drift")).get("observations").asLong()
                >= n);
  }

  @Test
  void aModelWithoutMonitoringIs404() throws Exception {
    Path repo = dir.resolve("models");
    Path model = DEMO.resolve("models").resolve("fraud_classifier");
    copy(model, repo.resolve("fraud_classifier"));
    Path config = repo.resolve("fraud_classifier").resolve("config.yaml");
    String yaml = Files.readString(config);
    Files.writeString(config, yaml.substring(0, yaml.indexOf("monitoring:")));
    try (DriftMonitor monitor = new DriftMonitor(16, null, List.of(), true);
        E2eServer server = E2eServer.serving(repo).monitor(monitor).start()) {
      HttpResponse<byte[]> r = server.get("/v2/models/fraud_classifier/drift");
      assertThat(r.statusCode()).isEqualTo(404);
      assertThat(E2eServer.error(r)).contains("no drift monitoring").contains("config.yaml");
    }
  }

  private static void infer(E2eServer server, String csvRow, double amountScale)
      throws IOException, InterruptedException {
    String[] cells = csvRow.split(",");
    StringBuilder data = new StringBuilder();
    for (int c = 0; c < 8; c++) {
      double v = Double.parseDouble(cells[c]) * (c == 0 ? amountScale : 1);
      data.append(c == 0 ? "" : ",").append(String.format(Locale.ROOT, "%s", v));
    }
    HttpResponse<byte[]> r =
        server.post(
            inferPath("fraud_classifier"),
            "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,8],\"datatype\":\"FP32\",\"data\":["
                + data
                + "]}]}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
  }

  private static JsonNode json(HttpResponse<byte[]> r) throws IOException {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return E2eServer.JSON.readTree(r.body());
  }

  private static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path p : files.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
  }
}
