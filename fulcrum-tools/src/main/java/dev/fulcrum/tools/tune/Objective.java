package dev.fulcrum.tools.tune;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The constraints of a sweep and how a trial's levels are judged against them; immutable.
 *
 * <p>A level meets the latency SLO when at least 99 % of its requests were answered within {@code
 * sloP99Ms} (rejections and errors count as misses, so a policy that sheds cannot look better than
 * it is). With or without an SLO, a level where more than {@link #MAX_FAILED} of the requests
 * failed meets nothing: its throughput counts only the answers, and a configuration that answers
 * half its requests with errors is no recommendation. A trial's operating point is its
 * highest-throughput level that meets every constraint; without an SLO that is simply its highest
 * throughput among the levels that answered.
 *
 * @param sloP99Ms the latency SLO in ms at the 99th percentile, or null for none
 * @param maxCostPerMillion the most USD per million inferences, or null for none
 * @param costPerHour what the machine costs per hour in USD (0: cost not reported)
 */
record Objective(
    @Nullable Double sloP99Ms, @Nullable Double maxCostPerMillion, double costPerHour) {

  static final double ATTAINMENT = 0.99;

  /**
   * The most a level's failed requests may be, as a fraction of all its requests, for the level to
   * count: the share of misses the p99 SLO allows, so that a sweep without an SLO is no more
   * lenient with errors than one with it.
   */
  static final double MAX_FAILED = 1 - ATTAINMENT;

  /**
   * Whether the level's requests were answered: some succeeded, at most {@link #MAX_FAILED} not.
   */
  static boolean answered(LevelPoint level) {
    return level.ok() > 0 && level.failedFraction() <= MAX_FAILED;
  }

  Objective {
    if (sloP99Ms != null && !(sloP99Ms > 0)) {
      throw new IllegalArgumentException("--slo-p99-ms must be > 0");
    }
    if (maxCostPerMillion != null && !(maxCostPerMillion > 0)) {
      throw new IllegalArgumentException("--max-cost-per-million must be > 0");
    }
    if (maxCostPerMillion != null && !(costPerHour > 0)) {
      throw new IllegalArgumentException("--max-cost-per-million needs --cost-per-hour");
    }
    if (costPerHour < 0) {
      throw new IllegalArgumentException("--cost-per-hour must be >= 0");
    }
  }

  /** USD per million inferences at this throughput (inferences per second), null without price. */
  @Nullable Double costPerMillion(double throughput) {
    if (!(costPerHour > 0)) {
      return null;
    }
    return throughput > 0 ? costPerHour / 3600 / throughput * 1e6 : Double.POSITIVE_INFINITY;
  }

  /** Whether one level meets every constraint. */
  boolean meets(LevelPoint level) {
    if (!answered(level)) {
      return false;
    }
    if (sloP99Ms != null && level.attainment() < ATTAINMENT) {
      return false;
    }
    Double cost = costPerMillion(level.throughput());
    return maxCostPerMillion == null || cost == null || cost <= maxCostPerMillion;
  }

  /**
   * Judges a configuration measured several times by its median measurement: each measurement is
   * judged on its own (its operating point, feasible or not), and the trial is the one in the
   * middle by score (of an even number, the lower of the middle two), with every measurement kept.
   * So one measurement that a hiccup slowed, sped up or pushed past the SLO does not decide it; a
   * configuration is feasible when most of its measurements are, and every figure it shows
   * (throughput, latency, cost, the operating level) was measured together.
   */
  Trial judgeAll(Knobs knobs, List<List<LevelPoint>> measurements) {
    if (measurements.isEmpty()) {
      throw new IllegalArgumentException("a trial measures at least once");
    }
    List<Trial> each = new ArrayList<>();
    for (List<LevelPoint> m : measurements) {
      each.add(judge(knobs, m));
    }
    each.sort(Comparator.comparingDouble(Trial::score));
    Trial t = each.get((each.size() - 1) / 2);
    return new Trial(
        knobs,
        t.levels(),
        t.operating(),
        t.costPerMillion(),
        t.feasible(),
        t.score(),
        measurements);
  }

  /** Picks the operating point of a trial's levels (one measurement) and scores it. */
  Trial judge(Knobs knobs, List<LevelPoint> levels) {
    if (levels.isEmpty()) {
      throw new IllegalArgumentException("a trial measures at least one level");
    }
    int best = -1;
    for (int i = 0; i < levels.size(); i++) {
      if (meets(levels.get(i))
          && (best < 0 || levels.get(i).throughput() > levels.get(best).throughput())) {
        best = i;
      }
    }
    if (best >= 0) {
      LevelPoint p = levels.get(best);
      return new Trial(knobs, levels, best, costPerMillion(p.throughput()), true, p.throughput());
    }
    // None meets them: judge by the level that misses least, scored below every feasible trial.
    int least = 0;
    double leastMiss = Double.POSITIVE_INFINITY;
    for (int i = 0; i < levels.size(); i++) {
      double miss = miss(levels.get(i));
      if (miss < leastMiss) {
        leastMiss = miss;
        least = i;
      }
    }
    LevelPoint p = levels.get(least);
    return new Trial(knobs, levels, least, costPerMillion(p.throughput()), false, -leastMiss);
  }

  /** How far a level is from the constraints, > 0 when it misses one: a sum of relative misses. */
  private double miss(LevelPoint level) {
    if (level.ok() == 0) {
      return 1e9;
    }
    double miss = Math.max(0, level.failedFraction() - MAX_FAILED);
    if (sloP99Ms != null) {
      miss +=
          Math.max(0, ATTAINMENT - level.attainment()) + Math.max(0, level.p99Ms() / sloP99Ms - 1);
    }
    Double cost = costPerMillion(level.throughput());
    if (maxCostPerMillion != null && cost != null) {
      miss += Math.max(0, cost / maxCostPerMillion - 1);
    }
    return Math.max(miss, 1e-9);
  }
}
