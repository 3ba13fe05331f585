package dev.fulcrum.monitoring;

import dev.fulcrum.monitoring.Baseline.FeatureBaseline;
import java.util.List;

/**
 * Maps a feature's value to its normal score: its mid-distribution CDF under the baseline (the
 * percentiles, interpolated, for a numeric feature; the category shares for a categorical one),
 * clamped to half an observation from 0 and 1, through the inverse normal CDF. Whatever the
 * feature's distribution, the scores of in-distribution values have a known, light-tailed
 * distribution (about N(0, 1) for a continuous feature; the baseline records it exactly), so one
 * sequential test with one threshold rule serves every feature, and a value far beyond the training
 * range scores only a bounded ~4 (the range check catches those). Immutable.
 */
final class ScoreTransform {
  private final double[] points; // numeric: percentiles; categorical: sorted values
  private final double[] below; // categorical: share of values below points[i]
  private final double[] share; // categorical: share of points[i]
  private final double[] categoryScore; // categorical: the score of points[i], computed once
  private final boolean categorical;
  private final double lowest;
  private final double highest;

  ScoreTransform(FeatureBaseline f) {
    double half = 0.5 / Math.max(1, f.count());
    this.lowest = Stats.phiInverse(half);
    this.highest = Stats.phiInverse(1 - half);
    if (f.type() == Baseline.Kind.CATEGORICAL) {
      List<Baseline.Category> cats =
          f.categories() == null
              ? List.of()
              : f.categories().stream()
                  .sorted((a, b) -> Double.compare(a.value(), b.value()))
                  .toList();
      categorical = true;
      points = new double[cats.size()];
      below = new double[cats.size()];
      share = new double[cats.size()];
      double cum = 0;
      for (int i = 0; i < cats.size(); i++) {
        points[i] = cats.get(i).value();
        share[i] = cats.get(i).frequency();
        below[i] = cum;
        cum += share[i];
      }
      categoryScore = new double[cats.size()];
      for (int i = 0; i < cats.size(); i++) {
        categoryScore[i] = normal(below[i] + share[i] / 2); // as score() would, every time
      }
    } else {
      categorical = false;
      List<Double> q = f.quantiles() == null ? List.of(f.min(), f.max()) : f.quantiles();
      points = q.stream().mapToDouble(Double::doubleValue).toArray();
      below = new double[0];
      share = new double[0];
      categoryScore = new double[0];
    }
  }

  /** The value's normal score (not standardized); NaN for NaN. */
  double score(double x) {
    if (Double.isNaN(x)) {
      return Double.NaN;
    }
    if (categorical) {
      int lo = lowerBound(points, x);
      return lo < points.length && points[lo] == x
          ? categoryScore[lo]
          : normal(lo < points.length ? below[lo] : 1); // unseen: between its neighbours
    }
    return normal(numericCdf(x, lowerBound(points, x)));
  }

  /**
   * A numeric feature's score when the caller has already found {@code position(x)} (the detector
   * uses the same search for its PSI bin); the same value as {@link #score}. x must not be NaN.
   */
  double score(double x, int position) {
    return normal(numericCdf(x, position));
  }

  /** Where x falls among the percentiles: how many are below it. */
  int position(double x) {
    return lowerBound(points, x);
  }

  /** The percentiles (numeric features); not to be written. */
  double[] points() {
    return points;
  }

  private double normal(double u) {
    double z = Stats.phiInverse(Math.min(Math.max(u, 1e-12), 1 - 1e-12));
    return Math.min(Math.max(z, lowest), highest);
  }

  private double numericCdf(double x, int lo) {
    int n = points.length;
    if (n < 2) {
      return 0.5;
    }
    double step = 1.0 / (n - 1);
    // lo: points < x
    // points <= x: the same as lo unless x equals a percentile (a tie: rare for a continuous
    // feature, so the second search runs only then)
    int hi = lo < n && points[lo] == x ? upperBound(x) : lo;
    if (hi > lo) { // x equals points[lo..hi-1]: the middle of their span
      return (lo + hi - 1) * step / 2;
    }
    if (lo == 0) {
      return 0;
    }
    if (lo == n) {
      return 1;
    }
    double a = points[lo - 1];
    double b = points[lo];
    return ((lo - 1) + (x - a) / (b - a)) * step;
  }

  /**
   * How many of the sorted values are below x (the first index whose value is not below it). Branch
   * free: a fixed number of halvings (7 for 101 percentiles) whose choice compiles to a conditional
   * move, so a varied stream of values costs no mispredicted branches.
   */
  static int lowerBound(double[] sorted, double x) {
    int n = sorted.length;
    if (n == 0) {
      return 0;
    }
    int base = 0;
    while (n > 1) {
      int half = n >>> 1;
      base = sorted[base + half] < x ? base + half : base;
      n -= half;
    }
    return base + (sorted[base] < x ? 1 : 0);
  }

  private int upperBound(double x) {
    int lo = 0;
    int hi = points.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (points[mid] <= x) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
}
