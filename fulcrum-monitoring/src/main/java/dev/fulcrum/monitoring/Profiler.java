package dev.fulcrum.monitoring;

import dev.fulcrum.monitoring.Baseline.Category;
import dev.fulcrum.monitoring.Baseline.FeatureBaseline;
import dev.fulcrum.monitoring.Baseline.Kind;
import dev.fulcrum.monitoring.Baseline.ScoreReference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Profiles one column of training data into a {@link FeatureBaseline}. A column whose values are
 * all integers with at most {@value #MAX_CATEGORIES} distinct values (flags such as is_foreign and
 * card_present, a predicted label) is categorical; any other is numeric, including ordinal integers
 * with more values (hour_of_day, transactions_last_24h), which keep their order and so their mean
 * shifts. Stateless.
 */
public final class Profiler {
  /** The most distinct integer values a categorical feature has. */
  public static final int MAX_CATEGORIES = 10;

  /** Quantile bins of a numeric feature (PSI); fewer when values tie. */
  public static final int BINS = 10;

  /** The step to which the baseline rounds each standardized normal score. */
  static final double SCORE_STEP = 0.05;

  private Profiler() {}

  /**
   * Profiles a column.
   *
   * @param values one per row; NaN marks a missing value
   * @throws IllegalArgumentException when no value is present
   */
  public static FeatureBaseline profile(String name, double[] values) {
    double[] present = Arrays.stream(values).filter(v -> !Double.isNaN(v)).toArray();
    return profile(name, present, values.length - present.length);
  }

  /**
   * Profiles a column given as its present values and the number of missing ones: a large column
   * without a second copy, for {@code present} is sorted in place.
   *
   * @throws IllegalArgumentException when no value is present, or one is NaN or infinite
   */
  public static FeatureBaseline profile(String name, double[] present, int missing) {
    Arrays.sort(present);
    int n = present.length;
    if (n == 0) {
      throw new IllegalArgumentException("feature '" + name + "' has no values");
    }
    if (!Double.isFinite(present[0]) || !Double.isFinite(present[n - 1])) {
      // sorted: -Infinity first, +Infinity and NaN last; the normal scores would be NaN
      throw new IllegalArgumentException("feature '" + name + "' has a value that is not finite");
    }
    double missingRate = missing / (double) (n + missing);
    double mean = Arrays.stream(present).average().orElse(0);
    double var = 0;
    for (double v : present) {
      var += (v - mean) * (v - mean);
    }
    double stddev = Math.sqrt(var / n);
    double min = present[0];
    double max = present[n - 1];
    Map<Double, Integer> distinct = new TreeMap<>();
    boolean integral = true;
    for (double v : present) {
      integral &= v == Math.rint(v);
      if (distinct.size() <= MAX_CATEGORIES) {
        distinct.merge(v, 1, Integer::sum);
      }
    }
    FeatureBaseline f;
    if (integral && distinct.size() <= MAX_CATEGORIES) {
      List<Category> categories = new ArrayList<>();
      distinct.forEach((v, c) -> categories.add(new Category(v, c / (double) n)));
      f =
          new FeatureBaseline(
              name,
              Kind.CATEGORICAL,
              n,
              missingRate,
              mean,
              stddev,
              min,
              max,
              null,
              null,
              null,
              categories,
              null);
    } else {
      List<Double> quantiles = new ArrayList<>();
      for (int i = 0; i <= 100; i++) {
        quantiles.add(quantile(present, i / 100.0));
      }
      List<Double> edges = new ArrayList<>();
      for (int i = 1; i < BINS; i++) {
        double e = quantile(present, i / (double) BINS);
        if (e > min && (edges.isEmpty() || e > edges.get(edges.size() - 1))) {
          edges.add(e);
        }
      }
      double[] counts = new double[edges.size() + 1];
      for (double v : present) {
        counts[Bins.index(edges, v)]++;
      }
      List<Double> freq = Arrays.stream(counts).mapToObj(c -> c / n).toList();
      f =
          new FeatureBaseline(
              name,
              Kind.NUMERIC,
              n,
              missingRate,
              mean,
              stddev,
              min,
              max,
              edges,
              freq,
              quantiles,
              null,
              null);
    }
    return f.withScore(scoreReference(f, present));
  }

  /** The normal scores' mean, deviation and standardized distribution on the training values. */
  private static ScoreReference scoreReference(FeatureBaseline f, double[] present) {
    ScoreTransform t = new ScoreTransform(f);
    double[] s = Arrays.stream(present).map(t::score).toArray();
    double mean = Arrays.stream(s).average().orElse(0);
    double var = 0;
    for (double v : s) {
      var += (v - mean) * (v - mean);
    }
    double std = Math.sqrt(var / s.length);
    if (!(std > 1e-9)) {
      std = 1;
    }
    Map<Long, Integer> rounded = new TreeMap<>();
    for (double v : s) {
      rounded.merge(Math.round((v - mean) / std / SCORE_STEP), 1, Integer::sum);
    }
    List<Double> values = new ArrayList<>();
    List<Double> weights = new ArrayList<>();
    rounded.forEach(
        (k, c) -> {
          values.add(k * SCORE_STEP);
          weights.add(c / (double) s.length);
        });
    return new ScoreReference(mean, std, values, weights);
  }

  /** Linear interpolation between order statistics (R's type 7). */
  static double quantile(double[] sorted, double p) {
    double h = p * (sorted.length - 1);
    int lo = (int) Math.floor(h);
    int hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
  }
}
