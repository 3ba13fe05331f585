package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The CUSUM's threshold keeps false alarms at or below the rate asked for, on generated streams
 * with fixed seeds, for the distributions the usual approximation gets wrong: a few tied values
 * with a heavy atom, a skewed binary flag, and a continuous (normal) feature for comparison. The
 * rate asked for is high (one in 2,000) so that a run of a few million rows sees hundreds of alarms
 * if the threshold is too low.
 */
class CusumThresholdTest {
  private static final double K = 0.25;
  private static final double ARL0 = 2000;
  private static final int ROWS = 2_000_000;

  @Test
  void tiedValuesWithAHeavyAtomStayWithinTheRate() {
    // merchant_risk-like: a fifth of the rows tie at the lowest value, the rest on a coarse grid.
    double[] values = new double[21];
    double[] weights = new double[21];
    values[0] = 0;
    weights[0] = 0.2;
    for (int i = 1; i < values.length; i++) {
      values[i] = i;
      weights[i] = 0.8 / 20;
    }
    assertWithinRate(standardized(values, weights), weights, 1);
  }

  @Test
  void aSkewedFlagStaysWithinTheRate() {
    assertWithinRate(
        standardized(new double[] {0, 1}, new double[] {0.9, 0.1}), new double[] {0.9, 0.1}, 2);
  }

  @Test
  void aNormalFeatureStaysWithinTheRate() {
    int n = 161;
    double[] values = new double[n];
    double[] weights = new double[n];
    for (int i = 0; i < n; i++) {
      values[i] = -4 + i * 0.05;
      weights[i] = Math.exp(-values[i] * values[i] / 2);
    }
    assertWithinRate(standardized(values, weights), weights, 3);
  }

  @Test
  void theThresholdGrowsWithTheRunLengthAskedFor() {
    double[] v = {-1, 1};
    double[] w = {0.5, 0.5};
    double h3 = Stats.cusumThreshold(v, w, K, 1e3);
    double h9 = Stats.cusumThreshold(v, w, K, 1e9);
    assertThat(h9).isGreaterThan(h3);
    // h = ln(ARL0) / θ: six decades more cost ln(1e6) / θ more.
    double theta = Stats.adjustment(v, w, K);
    assertThat(h9 - h3).isCloseTo(Math.log(1e6) / theta, org.assertj.core.data.Offset.offset(1e-6));
  }

  /** Runs a one-sided CUSUM over ROWS draws and checks its alarms against ROWS / ARL0. */
  private static void assertWithinRate(double[] values, double[] weights, long seed) {
    double h = Stats.cusumThreshold(values, weights, K, ARL0);
    double[] cumulative = new double[weights.length];
    double total = 0;
    for (double w : weights) {
      total += w;
    }
    double c = 0;
    for (int i = 0; i < weights.length; i++) {
      c += weights[i] / total;
      cumulative[i] = c;
    }
    SplittableRandom random = new SplittableRandom(seed);
    double s = 0;
    int alarms = 0;
    for (int r = 0; r < ROWS; r++) {
      double u = random.nextDouble();
      int i = 0;
      while (i < cumulative.length - 1 && cumulative[i] < u) {
        i++;
      }
      s = Math.max(0, s + values[i] - K);
      if (s > h) {
        alarms++;
        s = 0;
      }
    }
    assertThat(alarms)
        .as("alarms in %d rows, h %.2f", ROWS, h)
        .isLessThanOrEqualTo((int) (ROWS / ARL0));
  }

  /**
   * The values standardized with their weights (mean 0, deviation 1), as the baseline keeps them.
   */
  private static double[] standardized(double[] values, double[] weights) {
    double w = 0;
    double m = 0;
    for (int i = 0; i < values.length; i++) {
      w += weights[i];
      m += weights[i] * values[i];
    }
    m /= w;
    double var = 0;
    for (int i = 0; i < values.length; i++) {
      var += weights[i] * (values[i] - m) * (values[i] - m);
    }
    double sd = Math.sqrt(var / w);
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = (values[i] - m) / sd;
    }
    return out;
  }
}
