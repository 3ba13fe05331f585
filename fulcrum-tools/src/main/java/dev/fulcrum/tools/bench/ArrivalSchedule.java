package dev.fulcrum.tools.bench;

import java.util.Random;

/**
 * The send times of an open-loop run, as offsets from its start: evenly spaced (constant) or a
 * Poisson process (exponential gaps) from a seeded RNG; not thread-safe, owned by the one
 * scheduling thread.
 */
final class ArrivalSchedule {
  /** How the gaps between sends are drawn. */
  enum Distribution {
    CONSTANT,
    POISSON
  }

  private final Distribution distribution;
  private final double meanGapNanos;
  private final Random random;
  private double next;

  /**
   * @param ratePerSecond requests per second, > 0
   * @param seed the RNG seed (used by POISSON only), so a run can be repeated
   */
  ArrivalSchedule(double ratePerSecond, Distribution distribution, long seed) {
    if (!(ratePerSecond > 0)) {
      throw new IllegalArgumentException("rate must be > 0");
    }
    this.distribution = distribution;
    this.meanGapNanos = 1e9 / ratePerSecond;
    this.random = new Random(seed);
  }

  /** The offset (ns from the start) of the next send; the first send is at 0. */
  long nextOffsetNanos() {
    long t = Math.round(next);
    next +=
        switch (distribution) {
          case CONSTANT -> meanGapNanos;
          case POISSON -> -Math.log(1 - random.nextDouble()) * meanGapNanos;
        };
    return t;
  }
}
