package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The detectors on generated streams with fixed seeds: no drift raises no alert; a x100 unit error,
 * a 0.5 sigma mean shift and two swapped columns raise the right features within the counts issue
 * #11 states; alerts rise once and clear once.
 */
class DetectorStatisticsTest {
  private static double[][] training;
  private static Baseline baseline;

  @BeforeAll
  static void profile() {
    training = Streams.training(12_000, 11);
    baseline = Streams.baseline(training);
  }

  private static Streams.Feed feed(long seed) {
    return new Streams.Feed(baseline, training, seed, DetectorSettings.defaults());
  }

  @Test
  void noDriftNoAlertInTwoHundredThousandRows() {
    Streams.Feed f = feed(1);
    f.send(200_000, r -> r);
    assertThat(f.raised).isEmpty();
  }

  @Test
  void aUnitErrorIsFlaggedWithinFiftyRowsNamingThatFeatureOnly() {
    for (long seed = 1; seed <= 5; seed++) {
      Streams.Feed f = feed(seed);
      f.send(3000, r -> r);
      long start = f.sent;
      long first =
          f.send(
              200,
              r -> {
                r[0] *= 100;
                return r;
              });
      assertThat(first - start).as("seed %d", seed).isBetween(1L, 50L);
      assertThat(f.raised).containsOnly("amount");
    }
  }

  @Test
  void aHalfSigmaShiftIsFlaggedWithinAMedianOfThreeHundredRows() {
    double sigma = baseline.features().get(1).stddev();
    List<Long> delays = new ArrayList<>();
    for (long seed = 1; seed <= 9; seed++) {
      Streams.Feed f = feed(seed);
      f.send(3000, r -> r);
      long start = f.sent;
      long first =
          f.send(
              2000,
              r -> {
                r[1] += 0.5 * sigma;
                return r;
              });
      assertThat(first).as("seed %d", seed).isPositive();
      assertThat(f.raised).as("seed %d", seed).containsOnly("risk");
      delays.add(first - start);
    }
    Collections.sort(delays);
    assertThat(delays.get(delays.size() / 2)).isLessThanOrEqualTo(300L);
  }

  @Test
  void swappedColumnsAreFlaggedWithinTwoHundredRows() {
    for (long seed = 1; seed <= 5; seed++) {
      Streams.Feed f = feed(seed);
      f.send(3000, r -> r);
      long start = f.sent;
      f.send(
          400,
          r -> {
            double t = r[3];
            r[3] = r[4];
            r[4] = t;
            return r;
          });
      assertThat(f.raised)
          .as("seed %d", seed)
          .containsExactlyInAnyOrder("is_foreign", "card_present");
      assertThat(f.raisedAt).allSatisfy(at -> assertThat(at - start).isBetween(1L, 200L));
    }
  }

  @Test
  void anAlertRisesOnceAndClearsOnce() {
    Streams.Feed f = feed(7);
    f.send(3000, r -> r);
    f.send(
        500,
        r -> {
          r[0] *= 100;
          return r;
        });
    assertThat(f.raised).containsExactly("amount");
    assertThat(f.drifting()).extracting(d -> d.name()).containsExactly("amount");
    f.send(10_000, r -> r);
    assertThat(f.raised).containsExactly("amount");
    assertThat(f.cleared).containsExactly("amount");
    assertThat(f.drifting()).isEmpty();
  }
}
