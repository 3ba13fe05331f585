package dev.fulcrum.tools.tune;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One configuration as measured and judged by an {@link Objective}; immutable.
 *
 * @param levels every load level measured
 * @param operating the index in {@code levels} of the point the trial is judged by: the highest
 *     throughput that meets the constraints, else the one that misses them least
 * @param costPerMillion USD per million inferences at the operating point, null when no price was
 *     given
 * @param feasible whether the operating point meets every constraint
 * @param score what the search maximizes: the operating throughput when feasible, else a negative
 *     number that is larger the closer the trial came to the constraints
 */
record Trial(
    Knobs knobs,
    List<LevelPoint> levels,
    int operating,
    @Nullable Double costPerMillion,
    boolean feasible,
    double score) {

  Trial {
    levels = List.copyOf(levels);
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
}
