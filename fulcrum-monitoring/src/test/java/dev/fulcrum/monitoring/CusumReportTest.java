package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import dev.fulcrum.core.monitor.DriftReport.TestScore;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The CUSUM's entry in a report pairs one side's sum with that side's threshold. A rare flag's two
 * sides have thresholds far apart (the demo's predicted label, 5.4 % fraud: 64.5 up, 9.0 down), and
 * pairing the larger sum with the smaller threshold showed an {@code ok} feature "above" its
 * threshold (session 18: {@code /drift} said label ok, cusum score 12.7, threshold 9.0).
 */
class CusumReportTest {

  @Test
  void anOkFeaturesCusumScoreIsNeverAboveTheThresholdShown() {
    Random r = new Random(11);
    double[][] training = new double[12_000][];
    double[] column = new double[training.length];
    for (int i = 0; i < training.length; i++) {
      training[i] = new double[] {r.nextDouble() < 0.054 ? 1 : 0};
      column[i] = training[i][0];
    }
    Baseline b =
        new Baseline(
            "m",
            "generated",
            training.length,
            List.of(new Baseline.InputColumns("x", List.of("label"))),
            List.of(Profiler.profile("label", column)),
            List.of());
    Streams.Feed feed = new Streams.Feed(b, training, 3, DetectorSettings.defaults());
    double largest = 0; // the largest CUSUM score an ok report showed, over its threshold
    for (int step = 0; step < 400; step++) {
      feed.send(50, row -> row); // in distribution
      FeatureDrift f = feed.monitor.report(0).features().get(0);
      assertThat(f.drift()).isFalse();
      TestScore cusum =
          f.tests().stream().filter(t -> t.test().equals("cusum")).findFirst().orElseThrow();
      largest = Math.max(largest, cusum.score() / cusum.threshold());
      assertThat(f.score()).isLessThanOrEqualTo(f.threshold());
    }
    assertThat(largest).isGreaterThan(0.1).isLessThanOrEqualTo(1.0);
  }
}
