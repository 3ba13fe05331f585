package dev.fulcrum.tools.tune;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The configurations a sweep may try: the product of one ordered list of values per knob (smallest
 * first), seen by the search as integer coordinates; immutable.
 *
 * <p>Several coordinates may name the same configuration (a queue delay means nothing under the SLO
 * policy or without batching): {@link #knobs} normalizes them, and {@link #size} counts each
 * configuration once.
 */
record Grid(
    List<Integer> maxBatchSizes,
    List<Long> maxQueueDelaysMicros,
    List<Integer> instanceCounts,
    List<Integer> intraOpThreads,
    List<Boolean> sloPolicy) {

  static final int AXES = 5;

  Grid {
    maxBatchSizes = List.copyOf(maxBatchSizes);
    maxQueueDelaysMicros = List.copyOf(maxQueueDelaysMicros);
    instanceCounts = List.copyOf(instanceCounts);
    intraOpThreads = List.copyOf(intraOpThreads);
    sloPolicy = List.copyOf(sloPolicy);
    for (List<?> axis :
        List.of(maxBatchSizes, maxQueueDelaysMicros, instanceCounts, intraOpThreads, sloPolicy)) {
      if (axis.isEmpty()) {
        throw new IllegalArgumentException("every knob needs at least one value");
      }
    }
  }

  /** How many values the axis has. */
  int axisSize(int axis) {
    return switch (axis) {
      case 0 -> maxBatchSizes.size();
      case 1 -> maxQueueDelaysMicros.size();
      case 2 -> instanceCounts.size();
      case 3 -> intraOpThreads.size();
      case 4 -> sloPolicy.size();
      default -> throw new IllegalArgumentException("axis " + axis);
    };
  }

  /** The knob an axis turns, in config.yaml's words. */
  static String axisName(int axis) {
    return switch (axis) {
      case 0 -> "max-batch-size";
      case 1 -> "max-queue-delay-microseconds";
      case 2 -> "instance-count";
      case 3 -> "intra-op-threads";
      case 4 -> "slo policy";
      default -> throw new IllegalArgumentException("axis " + axis);
    };
  }

  /** The (normalized) configuration at these coordinates. */
  Knobs knobs(int[] at) {
    return new Knobs(
            maxBatchSizes.get(at[0]),
            maxQueueDelaysMicros.get(at[1]),
            instanceCounts.get(at[2]),
            intraOpThreads.get(at[3]),
            sloPolicy.get(at[4]))
        .normalized();
  }

  /** Every distinct configuration, in coordinate order. */
  List<Knobs> all() {
    Set<Knobs> out = new LinkedHashSet<>();
    for (int[] at : coordinates()) {
      out.add(knobs(at));
    }
    return new ArrayList<>(out);
  }

  /** Every coordinate vector, the last axis fastest. */
  List<int[]> coordinates() {
    List<int[]> out = new ArrayList<>();
    int[] at = new int[AXES];
    while (true) {
      out.add(at.clone());
      int a = AXES - 1;
      while (a >= 0 && ++at[a] == axisSize(a)) {
        at[a] = 0;
        a--;
      }
      if (a < 0) {
        return out;
      }
    }
  }

  /** How many distinct configurations. */
  int size() {
    return all().size();
  }

  /**
   * Where quick mode starts: the middle batch size, no queue delay, one instance with the most
   * threads, the static policy: what a person would try first on a CPU.
   */
  int[] start() {
    return new int[] {
      maxBatchSizes.size() / 2, 0, 0, intraOpThreads.size() - 1, 0,
    };
  }
}
