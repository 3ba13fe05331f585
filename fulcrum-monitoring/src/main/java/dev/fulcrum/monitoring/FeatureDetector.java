package dev.fulcrum.monitoring;

import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import dev.fulcrum.core.monitor.DriftReport.TestScore;
import dev.fulcrum.monitoring.Baseline.FeatureBaseline;
import dev.fulcrum.monitoring.Baseline.Kind;
import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Compares one feature's served values with its baseline, one value at a time, through five tests,
 * and keeps the feature's alert:
 *
 * <ul>
 *   <li>{@code cusum}: a two-sided CUSUM on the standardized normal score ({@link ScoreTransform}),
 *       which catches a sharp shift of the mean in few values; its threshold comes from the score's
 *       own training distribution ({@link Stats#cusumThreshold}), so skewed and binary features get
 *       the same false-alarm rate as continuous ones;
 *   <li>{@code psi} (numeric): the population stability index over the baseline's quantile bins,
 *       per window, against a sample-size-aware threshold: under no drift window·PSI is about
 *       chi-square with bins-1 degrees of freedom, scaled by 1/window + 1/training rows for the
 *       baseline's own noise; never below the configured floor;
 *   <li>{@code linf} (categorical): the largest difference of a category's share, per window (as
 *       TFDV), against the same kind of bound; an unseen value is a category of its own;
 *   <li>{@code range}: values outside the training range (or unseen categories) among the last
 *       range-window ones, against a binomial bound at the training rate;
 *   <li>{@code missing}: missing values (NaN) among the last range-window ones, likewise.
 * </ul>
 *
 * The false-alarm budget per observation is split evenly across features, then half to the CUSUM's
 * two sides and a quarter each to the window test and the two count tests (Bonferroni). The alert
 * has hysteresis: a test firing raises it once; it clears once, after clear-after observations in
 * which no test fired.
 *
 * <p>Not thread-safe: owned by the thread that feeds it (the {@code fulcrum-monitor} thread, or the
 * replay's).
 */
final class FeatureDetector {
  static final String CUSUM = "cusum";
  static final String PSI = "psi";
  static final String LINF = "linf";
  static final String RANGE = "range";
  static final String MISSING = "missing";

  /** What an observation did to the alert. */
  enum Change {
    NONE,
    RAISED,
    CLEARED
  }

  private final FeatureBaseline baseline;
  private final DetectorSettings settings;
  private final ScoreTransform transform;
  private final double scoreMean;
  private final double scoreStd;
  private final double hUp;
  private final double hDown;
  private final boolean categorical;
  private final double[] edges; // numeric bins
  // Numeric, when every bin edge is one of the percentiles (as Profiler makes them): the bin of a
  // value from its position among the percentiles, found once for the score and the bin alike.
  // binAtPoint[i]: the bin of a value equal to percentile i; binBelowPoint[i]: of a value between
  // percentiles i-1 and i (below the first when i = 0, above the last when i = their count).
  private final int @Nullable [] binAtPoint;
  private final int @Nullable [] binBelowPoint;
  private final double[] categoryValues; // categorical, sorted
  // The standardized score and window bin of recently seen values, by the value's bits (null when
  // the feature's training values are continuous: a value then rarely repeats). Direct-mapped:
  // memoKeys[i] the raw bits of the value held in slot i (EMPTY: none), memoZ[i] its score,
  // memoBin[i] its bin. A hit returns exactly what the computation would (it is the same
  // computation's earlier result), so verdicts do not change.
  private final long @Nullable [] memoKeys;
  private final double[] memoZ;
  private final int[] memoBin;
  private final double[] expected; // per bin or category (+ unseen), the training share
  private final double windowThreshold;
  private final int rangeCritical;
  private final int missingCritical;

  private int lastBin; // z's second result
  private double up;
  private double down;
  private final int[] windowCounts;
  private int windowN;
  private double lastWindowScore;
  private final boolean[] rangeRing;
  private final boolean[] missingRing;
  private int ringPos;
  private int rangeCount;
  private int missingCount;

  private boolean drift;
  private @Nullable Instant since;
  private long sinceObservation;
  private long lastFired;
  private String firedTest = CUSUM;
  private double firedScore;
  private double firedThreshold;

  /**
   * @param features how many features (inputs and outputs) share the false-alarm budget
   */
  FeatureDetector(FeatureBaseline baseline, DetectorSettings settings, int features) {
    this(baseline, settings, features, discrete(baseline));
  }

  /**
   * @param memo whether to remember the scores of values seen (tests compare both ways)
   */
  FeatureDetector(FeatureBaseline baseline, DetectorSettings settings, int features, boolean memo) {
    this.baseline = baseline;
    if (memo) {
      memoKeys = new long[MEMO_SLOTS];
      java.util.Arrays.fill(memoKeys, EMPTY);
      memoZ = new double[MEMO_SLOTS];
      memoBin = new int[MEMO_SLOTS];
    } else {
      memoKeys = null;
      memoZ = new double[0];
      memoBin = new int[0];
    }
    this.settings = settings;
    this.transform = new ScoreTransform(baseline);
    Baseline.ScoreReference ref = baseline.score();
    if (ref == null) {
      throw new IllegalArgumentException("feature '" + baseline.name() + "' has no score");
    }
    this.scoreMean = ref.mean();
    this.scoreStd = ref.std() > 0 ? ref.std() : 1;
    double perFeature = settings.falseAlarmRate() / Math.max(1, features);
    double[] values = ref.values().stream().mapToDouble(Double::doubleValue).toArray();
    double[] weights = ref.weights().stream().mapToDouble(Double::doubleValue).toArray();
    // The baseline rounds each standardized score to the nearest SCORE_STEP: each side tests the
    // values moved half a step its way, so that the threshold holds for the true values.
    double half = Profiler.SCORE_STEP / 2;
    double[] raised = new double[values.length];
    double[] negated = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      raised[i] = values[i] + half;
      negated[i] = -values[i] + half;
    }
    double arl0 = 4 / perFeature; // each side a quarter of the feature's budget
    this.hUp = Stats.cusumThreshold(raised, weights, settings.cusumK(), arl0);
    this.hDown = Stats.cusumThreshold(negated, weights, settings.cusumK(), arl0);
    this.categorical = baseline.type() == Kind.CATEGORICAL;
    double m = Math.max(1, baseline.count());
    double alphaWindow = Math.min(0.01, perFeature / 4 * settings.window());
    double sampling = 1.0 / settings.window() + 1.0 / m;
    if (categorical) {
      List<Baseline.Category> cats =
          baseline.categories() == null
              ? List.of()
              : baseline.categories().stream()
                  .sorted((a, b) -> Double.compare(a.value(), b.value()))
                  .toList();
      categoryValues = cats.stream().mapToDouble(Baseline.Category::value).toArray();
      expected = new double[cats.size() + 1];
      for (int i = 0; i < cats.size(); i++) {
        expected[i] = cats.get(i).frequency();
      }
      edges = new double[0];
      binAtPoint = null;
      binBelowPoint = null;
      double z = Stats.phiInverse(1 - alphaWindow / (2 * expected.length));
      // The worst case share 0.5 bounds every category's deviation.
      windowThreshold = z * Math.sqrt(0.25 * sampling);
    } else {
      edges = baseline.edges().stream().mapToDouble(Double::doubleValue).toArray();
      List<Double> f = baseline.binFrequencies() == null ? List.of() : baseline.binFrequencies();
      expected = f.stream().mapToDouble(Double::doubleValue).toArray();
      categoryValues = new double[0];
      double[] points = transform.points();
      int bins = Math.max(1, expected.length);
      if (edgesArePercentiles(edges, points)) {
        binAtPoint = new int[points.length];
        binBelowPoint = new int[points.length + 1];
        for (int i = 0; i < points.length; i++) {
          binAtPoint[i] = Math.min(Bins.index(edges, points[i]), bins - 1);
          binBelowPoint[i] = Math.min(ScoreTransform.lowerBound(edges, points[i]), bins - 1);
        }
        binBelowPoint[points.length] = Math.min(edges.length, bins - 1);
      } else {
        binAtPoint = null;
        binBelowPoint = null;
      }
      int df = Math.max(1, expected.length - 1);
      windowThreshold =
          Math.max(settings.psiFloor(), Stats.chiSquareUpper(df, alphaWindow) * sampling);
    }
    this.windowCounts = new int[categorical ? expected.length : Math.max(1, expected.length)];
    double outside = (categorical ? 1 : 2) / (m + 1);
    this.rangeCritical = Stats.binomialCritical(settings.rangeWindow(), outside, perFeature / 8);
    double missingRate = Math.max(baseline.missingRate(), 1 / (m + 1));
    this.missingCritical =
        Stats.binomialCritical(settings.rangeWindow(), Math.min(0.5, missingRate), perFeature / 8);
    this.rangeRing = new boolean[settings.rangeWindow()];
    this.missingRing = new boolean[settings.rangeWindow()];
  }

  /** Slots of a discrete feature's memo: more than the demo's most varied one (101 values). */
  static final int MEMO_SLOTS = 256;

  private static final int MEMO_BITS = Integer.numberOfTrailingZeros(MEMO_SLOTS);

  /** A NaN's bits: never the key of a value looked up (NaN is missing, never scored). */
  private static final long EMPTY = 0x7ff8_dead_0000_0001L;

  /**
   * Whether to remember the scores of values already seen: for a categorical feature, or a numeric
   * one whose percentiles tie (its training values are discrete: hours, counts, rounded shares), so
   * the values served repeat; a continuous feature's would only evict each other.
   */
  static boolean discrete(FeatureBaseline f) {
    if (f.type() == Kind.CATEGORICAL) {
      return true;
    }
    List<Double> q = f.quantiles();
    if (q == null) {
      return false;
    }
    for (int i = 1; i < q.size(); i++) {
      if (q.get(i).equals(q.get(i - 1))) {
        return true;
      }
    }
    return false;
  }

  private static boolean edgesArePercentiles(double[] edges, double[] points) {
    for (double e : edges) {
      if (java.util.Arrays.binarySearch(points, e) < 0) {
        return false;
      }
    }
    return points.length > 0;
  }

  String name() {
    return baseline.name();
  }

  boolean drifting() {
    return drift;
  }

  /**
   * Takes one served value.
   *
   * @param x the value; NaN when missing
   * @param observation this version's observation count, 1-based
   * @param epochMillis when the request completed
   */
  Change observe(double x, long observation, long epochMillis) {
    boolean missing = Double.isNaN(x);
    double z = 0;
    int bin = 0;
    if (!missing) {
      long[] keys = memoKeys;
      if (keys == null) {
        z = z(x);
        bin = lastBin;
      } else {
        long bits = Double.doubleToRawLongBits(x);
        int slot = (int) ((bits * 0x9E3779B97F4A7C15L) >>> (64 - MEMO_BITS));
        if (keys[slot] == bits) {
          z = memoZ[slot];
          bin = memoBin[slot];
        } else {
          z = z(x);
          bin = lastBin;
          keys[slot] = bits;
          memoZ[slot] = z;
          memoBin[slot] = bin;
        }
      }
    }
    boolean outside = !missing && (categorical ? bin == categoryValues.length : outside(x));
    missingCount += (missing ? 1 : 0) - (missingRing[ringPos] ? 1 : 0);
    rangeCount += (outside ? 1 : 0) - (rangeRing[ringPos] ? 1 : 0);
    missingRing[ringPos] = missing;
    rangeRing[ringPos] = outside;
    ringPos = ringPos + 1 == rangeRing.length ? 0 : ringPos + 1;

    @Nullable String fired = null;
    double score = 0;
    double threshold = 0;
    if (missingCount >= missingCritical) {
      fired = MISSING;
      score = missingCount;
      threshold = missingCritical;
    }
    if (rangeCount >= rangeCritical) {
      fired = RANGE;
      score = rangeCount;
      threshold = rangeCritical;
    }
    if (!missing) {
      up = Math.max(0, up + z - settings.cusumK());
      down = Math.max(0, down - z - settings.cusumK());
      if (up > hUp || down > hDown) {
        if (fired == null) {
          fired = CUSUM;
          score = Math.max(up, down);
          threshold = up > hUp ? hUp : hDown;
        }
        up = 0;
        down = 0;
      }
      windowCounts[bin]++;
      if (++windowN == settings.window()) {
        lastWindowScore = categorical ? linf() : psi();
        java.util.Arrays.fill(windowCounts, 0);
        windowN = 0;
        if (lastWindowScore > windowThreshold && fired == null) {
          fired = categorical ? LINF : PSI;
          score = lastWindowScore;
          threshold = windowThreshold;
        }
      }
    }
    if (fired != null) {
      lastFired = observation;
      if (!drift) {
        drift = true;
        since = Instant.ofEpochMilli(epochMillis);
        sinceObservation = observation;
        firedTest = fired;
        firedScore = score;
        firedThreshold = threshold;
        return Change.RAISED;
      }
      return Change.NONE;
    }
    if (drift && observation - lastFired >= settings.clearAfter()) {
      drift = false;
      since = null;
      sinceObservation = 0;
      return Change.CLEARED;
    }
    return Change.NONE;
  }

  /**
   * The standardized score of a value (not NaN), leaving its window bin (or category) in {@link
   * #lastBin}: numeric with percentile edges, one search gives the score's interval and the bin.
   */
  private double z(double x) {
    double s;
    if (binAtPoint != null) {
      int position = transform.position(x);
      s = transform.score(x, position);
      lastBin = bin(x, position);
    } else {
      s = transform.score(x);
      lastBin = bucket(x);
    }
    return (s - scoreMean) / scoreStd;
  }

  /** A numeric value outside the training range (a categorical one's is its unseen bin). */
  private boolean outside(double x) {
    return x < baseline.min() || x > baseline.max();
  }

  /**
   * The PSI bin of a value at {@code position} among the percentiles (numeric features whose edges
   * are percentiles only); the same as {@link #bucket}.
   */
  int bin(double x, int position) {
    int[] at = binAtPoint;
    int[] below = binBelowPoint;
    if (at == null || below == null) {
      return bucket(x);
    }
    return position < at.length && transform.points()[position] == x
        ? at[position]
        : below[position];
  }

  /** Whether {@link #bin} takes the shared search (numeric, edges among the percentiles). */
  boolean sharesSearch() {
    return binAtPoint != null;
  }

  /** The score's percentiles' position of x (numeric features). */
  int position(double x) {
    return transform.position(x);
  }

  /** The PSI bin or category of a value, by its own search. */
  int bucket(double x) {
    if (!categorical) {
      return Math.min(Bins.index(edges, x), windowCounts.length - 1);
    }
    int i = java.util.Arrays.binarySearch(categoryValues, x);
    return i >= 0 ? i : categoryValues.length;
  }

  private double psi() {
    double n = windowN;
    double s = 0;
    for (int i = 0; i < windowCounts.length; i++) {
      double a = Math.max(windowCounts[i] / n, 1e-4);
      double e = Math.max(expected[i], 1e-4);
      s += (a - e) * Math.log(a / e);
    }
    return s;
  }

  private double linf() {
    double n = windowN;
    double max = 0;
    for (int i = 0; i < windowCounts.length; i++) {
      max = Math.max(max, Math.abs(windowCounts[i] / n - expected[i]));
    }
    return max;
  }

  /**
   * The CUSUM side nearer its own threshold, with that threshold: a rare flag's sides have
   * thresholds far apart (the demo's label: 64.5 up, 9.0 down), so the larger sum against the
   * smaller threshold would show an {@code ok} feature above its threshold.
   */
  private TestScore cusumScore() {
    return up / hUp >= down / hDown
        ? new TestScore(CUSUM, up, hUp)
        : new TestScore(CUSUM, down, hDown);
  }

  /** The feature's status now. */
  FeatureDrift snapshot() {
    List<TestScore> tests =
        List.of(
            cusumScore(),
            new TestScore(categorical ? LINF : PSI, lastWindowScore, windowThreshold),
            new TestScore(RANGE, rangeCount, rangeCritical),
            new TestScore(MISSING, missingCount, missingCritical));
    if (drift) {
      return new FeatureDrift(
          name(), true, firedScore, firedThreshold, firedTest, since, sinceObservation, tests);
    }
    TestScore nearest = tests.get(0);
    for (TestScore t : tests) {
      if (t.score() / t.threshold() > nearest.score() / nearest.threshold()) {
        nearest = t;
      }
    }
    return new FeatureDrift(
        name(), false, nearest.score(), nearest.threshold(), nearest.test(), null, 0, tests);
  }
}
