package dev.fulcrum.tools.tune;

import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * One configuration as measured and judged by an {@link Objective}; immutable.
 *
 * @param levels every load level of the measurement the trial is judged by (the median one, when
 *     the configuration was measured more than once: {@link Objective#judgeAll})
 * @param operating the index in {@code levels} of the point the trial is judged by: the highest
 *     throughput that meets the constraints, else the one that misses them least
 * @param costPerMillion USD per million inferences at the operating point, null when no price was
 *     given
 * @param feasible whether the operating point meets every constraint
 * @param score what the search maximizes: the operating throughput when feasible, else a negative
 *     number that is larger the closer the trial came to the constraints
 * @param measurements every measurement of the configuration, each its list of load levels, in the
 *     order they were taken: one from the search, more when it was a candidate re-measured before
 *     the choice
 */
record Trial(
    Knobs knobs,
    List<LevelPoint> levels,
    int operating,
    @Nullable Double costPerMillion,
    boolean feasible,
    double score,
    List<List<LevelPoint>> measurements) {

  Trial {
    levels = List.copyOf(levels);
    measurements = measurements.stream().<List<LevelPoint>>map(List::copyOf).toList();
  }

  /** A trial measured once. */
  Trial(
      Knobs knobs,
      List<LevelPoint> levels,
      int operating,
      @Nullable Double costPerMillion,
      boolean feasible,
      double score) {
    this(knobs, levels, operating, costPerMillion, feasible, score, List.of(levels));
  }

  LevelPoint point() {
    return levels.get(operating);
  }

  double throughput() {
    return point().throughput();
  }

  double p50Ms() {
    return point().p50Ms();
  }

  double p99Ms() {
    return point().p99Ms();
  }

  /**
   * Whether the trial's operating point answered its requests ({@link Objective#answered}): not a
   * configuration the server refused to load, nor one whose requests failed beyond {@link
   * Objective#MAX_FAILED}. Only these have a throughput and a latency to compare, on the frontier
   * or anywhere.
   */
  boolean answered() {
    return Objective.answered(point());
  }

  /**
   * Why the trial is not feasible, in words, or null when it is: the server's reason when the
   * configuration could not be loaded ({@code failed: ...}), the share of failed requests when they
   * were too many, else that it misses the constraints.
   */
  @Nullable String problem() {
    if (feasible) {
      return null;
    }
    LevelPoint p = point();
    if (p.loadFailed()) {
      return p.load();
    }
    if (p.ok() == 0) {
      return "every request failed at " + p.load();
    }
    if (p.failedFraction() > Objective.MAX_FAILED) {
      return String.format(
          Locale.ROOT,
          "%.1f %% of requests failed at %s, %d of %d",
          100 * p.failedFraction(),
          p.load(),
          p.failed(),
          p.ok() + p.failed());
    }
    return "misses the constraints";
  }
}
