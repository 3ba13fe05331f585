package dev.fulcrum.core.scheduler;

import java.util.ArrayList;
import java.util.List;

/**
 * What a forward pass costs per batch size, learned online from the passes a scheduler runs.
 *
 * <p>Design: the estimate of a pass of n rows is {@code scale · shape(n)}. The shape is, per batch
 * size, an exponentially weighted mean and mean absolute deviation of the measured pass times
 * divided by the scale (weight {@value #ALPHA}, a plain average over the first samples); the scale
 * is the recent ratio (weight {@value #SCALE_ALPHA}) of measured pass times, over the trusted
 * sizes, to each size's own <em>reference</em>: a slow mean of its pass times in nanoseconds
 * (weight {@value #REFERENCE_ALPHA}, starting from its shape when it becomes trusted). A machine
 * that slows down or speeds up as a whole (another process takes the cores, or gives them back)
 * moves the scale within a few passes of whatever sizes run, so every size's estimate follows at
 * once, including the sizes not run lately; a change that lasts ends up in the references and the
 * shapes, and the scale returns to about 1. The reference anchors the scale: nothing the scale
 * moves moves it back. (Until session 14 the scale was the ratio to the estimate it had just moved
 * itself: the split of each estimate into scale and shape was a random walk with a downward drift,
 * and on fraud, where nearly every pass is of one row, it shrank the sizes run now and then to 0-15
 * µs.) A sample far above its estimate (more than {@value #OUTLIER_DEVIATIONS} deviations, or
 * {@value #MATURE_OUTLIER_DEVIATIONS} once the size has {@value #MATURE_SAMPLES} samples and a
 * deviation of its own, say a pass preempted on 2 shared cores) is clipped before it counts unless
 * the sample before it was one too (two in a row are a change, not an outlier), so one outlier
 * moves the estimates little. A size not measured yet is estimated from the trusted ones, by a
 * weighted least-squares line {@code a + b·n} (never below the largest trusted size under it), or,
 * with one size only, by proportion. The planning estimate is the mean plus {@code z} deviations,
 * where {@code z} is the objective's percentile of a normal distribution, so that the policy plans
 * with a high quantile of the pass time, not its mean.
 *
 * <p>Cold passes. The first passes at each batch size are often 20-50 times slower than warm ones
 * (ONNX Runtime's first runs at a shape, the JIT): MiniLM's first three passes of 3 rows averaged
 * 198 ms where a warm one takes ~8 ms. Three things keep such samples from becoming the estimate:
 *
 * <ul>
 *   <li>a size is <em>trusted</em> (its own samples are its estimate, it moves the scale and the
 *       line) only with {@value #TRUSTED_SAMPLES} samples or more <em>and</em> a mean that is
 *       plausible: at most {@value #PLAUSIBLE_PER_ROW} times the time its rows would take at the
 *       lowest cost per row of a trusted smaller size (a batch is never much dearer than its rows
 *       run apart), unless {@value #YOUNG_SAMPLES} samples in a row confirmed it. Any other size is
 *       estimated from the trusted ones (blended with its own samples when they are plausible,
 *       without them when they are not), and never above that bound, so cold samples at one size
 *       cannot make every larger size look too slow to run and then never be measured again;
 *   <li>a sample of a young size (fewer than {@value #YOUNG_SAMPLES} samples) that is under
 *       1/{@value #RESTART_RATIO} of the size's estimate shows that its earlier samples were cold
 *       (pass times are not that much faster by chance): the size starts over from that sample;
 *   <li>the floor of an unmeasured size (never below a smaller size) and the line come from trusted
 *       sizes only.
 * </ul>
 *
 * <p>Not thread-safe: owned by one {@link SloBatchingPolicy}, under its scheduler's lock.
 */
final class PassTimeModel {
  static final double ALPHA = 0.1;
  static final double SCALE_ALPHA = 0.15;
  static final double OUTLIER_DEVIATIONS = 8;

  /**
   * The outlier bound, in deviations, of a size with {@value #MATURE_SAMPLES} samples or more (its
   * deviation is then its own, not a young size's guess): session 14, issue #10.
   */
  static final double MATURE_OUTLIER_DEVIATIONS = 3;

  /** Samples from which a size's outliers are bounded at {@link #matureOutlierDeviations}. */
  static final long MATURE_SAMPLES = 100;

  /** Weight of one pass in its size's reference (see {@link #reference}): some 1,000 passes. */
  static final double REFERENCE_ALPHA = 0.001;

  /** Samples of a size before its own estimate is trusted over the fitted line. */
  static final int TRUSTED_SAMPLES = 3;

  /**
   * A size's mean is plausible up to this many times its rows at the lowest cost per row of a
   * trusted smaller size.
   */
  static final double PLAUSIBLE_PER_ROW = 2;

  /** A size with fewer samples starts over from a sample this many times under its estimate. */
  static final double RESTART_RATIO = 4;

  /** Samples under which a size is young enough to start over (see {@link #RESTART_RATIO}). */
  static final int YOUNG_SAMPLES = 20;

  /** Mean absolute deviation to standard deviation, for a normal distribution. */
  private static final double MAD_TO_SD = 1.2533;

  private final int maxBatchSize;
  private final double z;

  /** See {@link #MATURE_OUTLIER_DEVIATIONS}. */
  private final double matureOutlierDeviations;

  private final double[] mean;
  private final double[] dev;
  private final long[] samples;

  /** Per size, whether its own samples are its estimate (see the class comment); with the fit. */
  private final boolean[] trusted;

  /** Per size, the most its shape may be: PLAUSIBLE_PER_ROW bound of trusted smaller sizes. */
  private final double[] bound;

  /**
   * Per trusted size, a slow mean of its pass times in nanoseconds (weight {@value
   * #REFERENCE_ALPHA}), measured without the scale: what the scale compares a pass with.
   */
  private final double[] reference;

  /** Per size, the samples in its reference (0: none yet; set when the size is trusted). */
  private final long[] refSamples;

  private long total;
  private double scale = 1;
  private boolean lastWasOutlier;
  private boolean fitted;
  private double a;
  private double b;

  /**
   * @param percentile the quantile to plan with, in percent (e.g. 99)
   */
  PassTimeModel(int maxBatchSize, double percentile) {
    this(maxBatchSize, percentile, MATURE_OUTLIER_DEVIATIONS);
  }

  /**
   * @param percentile the quantile to plan with, in percent (e.g. 99)
   * @param matureOutlierDeviations the outlier bound of a size with {@value #MATURE_SAMPLES}
   *     samples or more, in deviations ({@link #OUTLIER_DEVIATIONS} before session 14)
   */
  PassTimeModel(int maxBatchSize, double percentile, double matureOutlierDeviations) {
    this.matureOutlierDeviations = matureOutlierDeviations;
    this.maxBatchSize = Math.max(1, maxBatchSize);
    this.z = normalQuantile(percentile / 100);
    this.mean = new double[this.maxBatchSize + 1];
    this.dev = new double[this.maxBatchSize + 1];
    this.samples = new long[this.maxBatchSize + 1];
    this.trusted = new boolean[this.maxBatchSize + 1];
    this.bound = new double[this.maxBatchSize + 1];
    this.reference = new double[this.maxBatchSize + 1];
    this.refSamples = new long[this.maxBatchSize + 1];
  }

  /** True once there is anything to estimate from. */
  boolean ready() {
    return total > 0;
  }

  /** The passes recorded. */
  long passes() {
    return total;
  }

  int maxBatchSize() {
    return maxBatchSize;
  }

  /** Records a pass of {@code rows} rows (clamped to max-batch-size) that took {@code nanos}. */
  void record(int rows, long nanos) {
    int n = clamp(rows);
    double x = Math.max(0, nanos);
    fit();
    if (trusted[n]) {
      double k = samples[n] >= MATURE_SAMPLES ? matureOutlierDeviations : OUTLIER_DEVIATIONS;
      double limit = scale * (mean[n] + k * Math.max(dev[n] * MAD_TO_SD, mean[n] * 0.05));
      boolean outlier = x > limit;
      if (outlier && !lastWasOutlier) {
        x = limit;
      }
      lastWasOutlier = outlier;
      // Only sizes with an estimate of their own move the scale: the recent ratio of their pass
      // times to their own slow reference in nanoseconds, each ratio held within half and double
      // the scale: a real change shows in a few passes, one odd pass moves it by SCALE_ALPHA at
      // most. The reference starts from the size's shape when it becomes trusted (its time at a
      // scale of 1, so no cold sample is in it, and a size first trusted in a slow spell does not
      // take the spell for the norm), then follows its passes slowly, and nothing the scale does
      // moves it: it anchors the scale (see aRareSizeKeepsItsEstimateWhilePassesOfOneRowDominate).
      if (refSamples[n] == 0) {
        reference[n] = mean[n];
      }
      if (reference[n] > 0) {
        double ratio = Math.max(0.5, Math.min(x / reference[n] / scale, 2));
        scale *= 1 + SCALE_ALPHA * (ratio - 1);
      }
      reference[n] += REFERENCE_ALPHA * (x - reference[n]);
      refSamples[n]++;
    }
    double y = x / scale;
    if (samples[n] > 0 && samples[n] < YOUNG_SAMPLES && y * RESTART_RATIO < mean[n]) {
      // Far under what this young size measured so far: its earlier samples were cold ones.
      samples[n] = 0;
      refSamples[n] = 0;
    }
    if (samples[n] == 0) {
      mean[n] = y;
      dev[n] = y / 4;
    } else {
      // A plain average over the first samples (the first, often the coldest, weighs 1/k after k
      // samples rather than 0.9^k), an exponential one from 1/ALPHA samples on.
      double w = Math.max(ALPHA, 1.0 / (samples[n] + 1));
      double err = y - mean[n];
      mean[n] += w * err;
      dev[n] += w * (Math.abs(err) - dev[n]);
    }
    samples[n]++;
    total++;
    fitted = false;
  }

  /** The expected pass time of {@code rows} rows, in nanoseconds (0 before any sample). */
  double mean(int rows) {
    return scale * shape(rows);
  }

  /** The recent ratio of pass times to the per-size shape (1 when nothing changed). */
  double scale() {
    return scale;
  }

  private double shape(int rows) {
    int n = clamp(rows);
    fit();
    if (trusted[n]) {
      return mean[n];
    }
    double line = Math.min(line(n), bound[n]);
    if (samples[n] == 0 || mean[n] > bound[n]) {
      // Not measured, or measured cold only: what the trusted sizes say.
      return line;
    }
    return Math.min((mean[n] * samples[n] + line) / (samples[n] + 1), bound[n]);
  }

  /** True when the size's own samples are its estimate (see the class comment). */
  boolean trusted(int rows) {
    fit();
    return trusted[clamp(rows)];
  }

  /** The standard deviation of the pass time of {@code rows} rows, in nanoseconds. */
  double deviation(int rows) {
    int n = clamp(rows);
    fit();
    if (trusted[n]) {
      return scale * dev[n] * MAD_TO_SD;
    }
    // Borrow the relative spread of the nearest trusted size, else of the nearest measured one (a
    // quarter of the mean if none).
    int near = nearest(n, true);
    if (near < 0) {
      near = nearest(n, false);
    }
    double relative = near < 0 || mean[near] <= 0 ? 0.25 : dev[near] * MAD_TO_SD / mean[near];
    return Math.max(relative, 0.1) * mean(n);
  }

  /** The pass time to plan with: the mean plus z deviations. */
  double quantile(int rows) {
    return mean(rows) + z * deviation(rows);
  }

  double z() {
    return z;
  }

  long samples(int rows) {
    return samples[clamp(rows)];
  }

  /** The table of every batch size, measured or fitted. */
  List<PolicyState.PassTime> table() {
    List<PolicyState.PassTime> out = new ArrayList<>(maxBatchSize);
    for (int n = 1; n <= maxBatchSize; n++) {
      out.add(
          new PolicyState.PassTime(n, Math.round(mean(n)), Math.round(quantile(n)), samples[n]));
    }
    return out;
  }

  private int clamp(int rows) {
    return Math.max(1, Math.min(maxBatchSize, rows));
  }

  /**
   * The size nearest {@code n} that is trusted (or, when {@code trustedOnly} is false, measured).
   */
  private int nearest(int n, boolean trustedOnly) {
    for (int d = 0; d <= maxBatchSize; d++) {
      if (usable(n - d, trustedOnly)) {
        return n - d;
      }
      if (usable(n + d, trustedOnly)) {
        return n + d;
      }
    }
    return -1;
  }

  private boolean usable(int k, boolean trustedOnly) {
    return k >= 1 && k <= maxBatchSize && (trustedOnly ? trusted[k] : samples[k] > 0);
  }

  /** The fitted line at {@code n}, kept at or above the largest trusted size's mean under n. */
  private double line(int n) {
    fit();
    double est = a + b * n;
    double floor = 0;
    for (int k = n - 1; k >= 1; k--) {
      if (trusted[k]) {
        floor = mean[k];
        break;
      }
    }
    return Math.max(est, floor);
  }

  /**
   * Decides which sizes are trusted and their bounds (smallest size first: a size's bound comes
   * from the trusted sizes under it), then fits the line: weighted least squares over the trusted
   * sizes (weight: samples, capped), or over every measured size when none is trusted yet (one odd
   * pass at a rare size must not tilt the line), with the cost per row at most that of the smallest
   * size fitted (a batch never costs more per row than its rows run apart).
   */
  private void fit() {
    if (fitted) {
      return;
    }
    boolean anyTrusted = false;
    double lowestPerRow = Double.POSITIVE_INFINITY;
    for (int n = 1; n <= maxBatchSize; n++) {
      bound[n] = PLAUSIBLE_PER_ROW * n * lowestPerRow;
      // Young and implausible: cold. Old and implausible: no sample ever restarted it, so it is
      // what this size costs.
      trusted[n] =
          samples[n] >= TRUSTED_SAMPLES && (mean[n] <= bound[n] || samples[n] >= YOUNG_SAMPLES);
      if (trusted[n]) {
        anyTrusted = true;
        lowestPerRow = Math.min(lowestPerRow, mean[n] / n);
      }
    }
    double maxPerRow = Double.MAX_VALUE;
    double sw = 0;
    double sx = 0;
    double sy = 0;
    double sxx = 0;
    double sxy = 0;
    int sizes = 0;
    for (int n = 1; n <= maxBatchSize; n++) {
      if (anyTrusted ? !trusted[n] : samples[n] == 0) {
        continue;
      }
      if (maxPerRow == Double.MAX_VALUE) {
        maxPerRow = mean[n] / n;
      }
      double w = Math.min(samples[n], 50);
      sw += w;
      sx += w * n;
      sy += w * mean[n];
      sxx += w * n * n;
      sxy += w * n * mean[n];
      sizes++;
    }
    if (sizes == 0) {
      a = 0;
      b = 0;
    } else if (sizes == 1) {
      // One size: assume the cost grows in proportion (pessimistic above it; floored below).
      double n = sx / sw;
      a = 0;
      b = (sy / sw) / n;
    } else {
      double denom = sw * sxx - sx * sx;
      b = denom == 0 ? 0 : (sw * sxy - sx * sy) / denom;
      b = Math.max(0, Math.min(b, maxPerRow));
      a = (sy - b * sx) / sw;
      if (a < 0) {
        // A line through the origin instead: a pass never costs less than nothing.
        a = 0;
        b = sxy / sxx;
      }
    }
    fitted = true;
  }

  /**
   * The standard normal quantile of {@code p} (0.5 <= p < 1), by Acklam's rational approximation
   * (relative error below 1.2e-9).
   */
  static double normalQuantile(double p) {
    if (p <= 0.5) {
      return 0;
    }
    double q;
    double r;
    if (p < 0.97575) {
      q = p - 0.5;
      r = q * q;
      return (((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02)
                                  * r
                              + 1.383577518672690e+02)
                          * r
                      - 3.066479806614716e+01)
                  * r
              + 2.506628277459239e+00)
          * q
          / (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02)
                                  * r
                              + 6.680131188771972e+01)
                          * r
                      - 1.328068155288572e+01)
                  * r
              + 1);
    }
    q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00)
                                * q
                            - 2.549732539343734e+00)
                        * q
                    + 4.374664141464968e+00)
                * q
            + 2.938163982698783e+00)
        / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q
                    + 3.754408661907416e+00)
                * q
            + 1);
  }
}
