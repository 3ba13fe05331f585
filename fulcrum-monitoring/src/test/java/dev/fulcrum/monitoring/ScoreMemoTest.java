package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The memo of a discrete feature's scores ({@link FeatureDetector#discrete}) changes nothing: a
 * detector that remembers and one that computes every value reach the same alerts and the same
 * scores, to the last bit, on a fixed-seed stream with repeated, unseen, shifted and missing
 * values.
 */
class ScoreMemoTest {

  @Test
  void onlyDiscreteFeaturesAreMemoized() {
    Baseline b = Streams.baseline(Streams.training(12_000, 11));
    assertThat(b.features())
        .extracting(f -> f.name() + "=" + FeatureDetector.discrete(f))
        .containsExactly(
            "amount=false", "risk=false", "hour=true", "is_foreign=true", "card_present=true");
  }

  @Test
  void rememberedScoresAreTheComputedOnes() {
    double[][] training = Streams.training(12_000, 11);
    Baseline b = Streams.baseline(training);
    Random r = new Random(3);
    for (int c = 0; c < Streams.NAMES.size(); c++) {
      Baseline.FeatureBaseline f = b.features().get(c);
      FeatureDetector memo = new FeatureDetector(f, DetectorSettings.defaults(), 5, true);
      FeatureDetector plain = new FeatureDetector(f, DetectorSettings.defaults(), 5, false);
      for (int i = 1; i <= 30_000; i++) {
        double x = training[r.nextInt(training.length)][c];
        if (i > 10_000 && i <= 12_000) {
          x = x * 100; // a unit error: values never seen, a few repeated
        } else if (i > 15_000 && i <= 20_000) {
          x = x + 3; // a shift: unseen categories, new hours
        } else if (i % 997 == 0) {
          x = Double.NaN;
        } else if (i % 1009 == 0) {
          x = -0.0; // its own bits, the same score as 0
        }
        assertThat(memo.observe(x, i, i))
            .as("%s at %d", f.name(), i)
            .isEqualTo(plain.observe(x, i, i));
        if (i % 1000 == 0) {
          assertThat(memo.snapshot()).isEqualTo(plain.snapshot());
        }
      }
      assertThat(memo.snapshot()).isEqualTo(plain.snapshot());
    }
  }
}
