package dev.fulcrum.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import dev.fulcrum.core.monitor.DriftReport.TestScore;
import dev.fulcrum.core.monitor.ModelMonitor;
import dev.fulcrum.core.repository.ModelVersion;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * {@code fulcrum serve --metrics-drift-detail false} (session 36): a server of many monitored
 * models exports a few drift series per version (the count of raised alerts, observations,
 * monitored) and a feature's status only while its alert is raised, instead of every feature's
 * status, scores and thresholds (101 series per demo model); the default keeps them all.
 */
class DriftMetricsDetailTest {
  private static final List<TestScore> TESTS =
      List.of(
          new TestScore("cusum", 1, 35),
          new TestScore("psi", 0.01, 0.1),
          new TestScore("range", 0, 4),
          new TestScore("missing", 0, 4));

  private static FeatureDrift feature(String name, boolean drift) {
    return new FeatureDrift(
        name, drift, drift ? 5 : 1, 4, "range", drift ? Instant.EPOCH : null, drift ? 9 : 0, TESTS);
  }

  /** A demo-like version: 8 features and 3 outputs, amount_usd and the label drifting or not. */
  private static DriftReport report(String model, boolean drifting) {
    return report(model, drifting, 100);
  }

  private static DriftReport report(String model, boolean drifting, long observations) {
    List<FeatureDrift> features = new ArrayList<>();
    features.add(feature("amount_usd", drifting));
    for (int i = 1; i < 8; i++) {
      features.add(feature("f" + i, false));
    }
    List<FeatureDrift> outputs =
        List.of(
            feature("probabilities[0]", false),
            feature("probabilities[1]", false),
            feature("label", drifting));
    return new DriftReport(model, "1", true, null, "b.json", observations, 0, 0, features, outputs);
  }

  private static List<String> series(String scrape, String prefix) {
    return scrape.lines().filter(l -> l.startsWith(prefix)).toList();
  }

  private static String scrape(boolean detail, List<DriftReport> reports) {
    ServerMetrics metrics = new ServerMetrics(false, true, detail);
    metrics.bindMonitor(
        new ModelMonitor() {
          @Override
          public void completed(
              ModelVersion version,
              InferenceRequest request,
              InferenceResponse response,
              long latencyNanos,
              boolean inPass) {}

          @Override
          public Optional<DriftReport> drift(ModelVersion version) {
            return Optional.empty();
          }

          @Override
          public List<DriftReport> reports() {
            return reports;
          }
        });
    return metrics.scrape();
  }

  @Test
  void theDefaultKeepsEveryFeaturesSeriesAndAddsTheCount() {
    String text = scrape(true, List.of(report("quiet", false), report("drifting", true)));
    // Per version: 11 statuses, 44 scores, 44 thresholds, drifting, monitored, observations.
    assertThat(series(text, "fulcrum_drift_")).hasSize(2 * 102 + 2);
    assertThat(text)
        .contains(
            "fulcrum_drift_status{model=\"quiet\",version=\"1\",feature=\"f1\",kind=\"feature\"} 0")
        .contains(
            "fulcrum_drift_score{model=\"quiet\",version=\"1\",feature=\"f1\",kind=\"feature\",test=\"psi\"} 0.0100000")
        .contains("fulcrum_drift_drifting{model=\"quiet\",version=\"1\"} 0")
        .contains("fulcrum_drift_drifting{model=\"drifting\",version=\"1\"} 2");
  }

  @Test
  void withoutTheDetailAQuietVersionHasThreeSeriesAndADriftingOneNamesItsFeatures() {
    String text = scrape(false, List.of(report("quiet", false), report("drifting", true)));
    assertThat(series(text, "fulcrum_drift_score")).isEmpty();
    assertThat(series(text, "fulcrum_drift_threshold")).isEmpty();
    assertThat(series(text, "fulcrum_drift_status"))
        .containsExactly(
            "fulcrum_drift_status{model=\"drifting\",version=\"1\",feature=\"amount_usd\",kind=\"feature\"} 1",
            "fulcrum_drift_status{model=\"drifting\",version=\"1\",feature=\"label\",kind=\"output\"} 1");
    assertThat(series(text, "fulcrum_drift_").stream().filter(l -> l.contains("\"quiet\"")))
        .containsExactlyInAnyOrder(
            "fulcrum_drift_drifting{model=\"quiet\",version=\"1\"} 0",
            "fulcrum_drift_monitored{model=\"quiet\",version=\"1\"} 1",
            "fulcrum_drift_observations_total{model=\"quiet\",version=\"1\"} 100");
    assertThat(text)
        .contains("fulcrum_drift_drifting{model=\"drifting\",version=\"1\"} 2")
        .contains("fulcrum_drift_dropped_total 0")
        .contains("fulcrum_drift_shed_total 0");

    // 200 quiet versions: 600 series and the two server-wide counters, not 20,200.
    List<DriftReport> many = new ArrayList<>();
    for (int m = 0; m < 200; m++) {
      many.add(report(String.format("fraud_%03d", m), false));
    }
    assertThat(series(scrape(false, many), "fulcrum_drift_")).hasSize(602);
  }

  /**
   * A monitored version that has compared no row has no score to tell: with the detail on, its
   * features' statuses, scores and thresholds appear with its first compared row (and stay: the
   * count never goes back), its three per-version series from the start. 300 idle demo models had
   * exported 3.3 MB of such zeros and thresholds per scrape.
   */
  @Test
  void aVersionThatComparedNoRowHasOnlyItsPerVersionSeries() {
    String text = scrape(true, List.of(report("idle", false, 0), report("quiet", false)));
    assertThat(series(text, "fulcrum_drift_").stream().filter(l -> l.contains("\"idle\"")))
        .containsExactlyInAnyOrder(
            "fulcrum_drift_drifting{model=\"idle\",version=\"1\"} 0",
            "fulcrum_drift_monitored{model=\"idle\",version=\"1\"} 1",
            "fulcrum_drift_observations_total{model=\"idle\",version=\"1\"} 0");
    assertThat(series(text, "fulcrum_drift_").stream().filter(l -> l.contains("\"quiet\"")))
        .hasSize(102);
    // The families' HELP and TYPE lines stay, so the list of families does not change.
    assertThat(text)
        .contains("# TYPE fulcrum_drift_score gauge", "# TYPE fulcrum_drift_status gauge");

    String after = scrape(true, List.of(report("idle", false, 1)));
    assertThat(series(after, "fulcrum_drift_")).hasSize(102 + 2);
  }
}
