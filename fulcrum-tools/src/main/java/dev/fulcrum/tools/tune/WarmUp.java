package dev.fulcrum.tools.tune;

import java.util.ArrayList;
import java.util.List;

/**
 * Unmeasured passes over the load levels before a sweep's first trial, until the server stops
 * getting faster; confined to the calling thread.
 *
 * <p>Design: the JIT compiles client and server, and the engine settles (its allocator, the batched
 * shapes), over the first seconds of load; a trial measured before then reads several times slower
 * than the same configuration later and sends the quick search the wrong way from its start. How
 * long that takes depends on the model and the machine: after the single pass tune ran before, an
 * image model's first three trials still rose 4.5k, 9.8k, 18.2k/s, and the demo's fraud classifier
 * took five passes to level off, its first a sixth of the warm rate (docs/PERFORMANCE.md, "tune",
 * session 22). So passes repeat until one is no more than {@link #GAIN} faster than the one before:
 * at least {@link #MIN_PASSES}, at most {@code maxPasses}.
 */
final class WarmUp {

  /** One unmeasured pass; returns its throughput (inferences a second, summed over the levels). */
  @FunctionalInterface
  interface Pass {
    double run() throws InterruptedException;
  }

  /** A pass less than this much faster (a fraction) than the one before ends the warm-up. */
  static final double GAIN = 0.05;

  /**
   * Three passes at least: the first is always the coldest, and on a noisy machine one pass's dip
   * can look like a plateau (the image model's quick sweep stopped at 10.8k, 24.9k, 23.7k/s where
   * its exhaustive sweep's warm-up went on to 44.7k).
   */
  static final int MIN_PASSES = 3;

  /** The default cap on passes (a pass is half a trial's load time). */
  static final int MAX_PASSES = 8;

  private WarmUp() {}

  /**
   * Runs {@code pass} until it levels off or {@code maxPasses} ran; returns every pass's
   * throughput, in order.
   */
  static List<Double> run(Pass pass, int maxPasses) throws InterruptedException {
    if (maxPasses < 1) {
      throw new IllegalArgumentException("a warm-up needs at least one pass, not " + maxPasses);
    }
    List<Double> rates = new ArrayList<>();
    while (rates.size() < maxPasses) {
      rates.add(pass.run());
      if (rates.size() >= MIN_PASSES && levelledOff(rates)) {
        break;
      }
    }
    return rates;
  }

  /** Whether the last pass was no more than {@link #GAIN} faster than the one before it. */
  static boolean levelledOff(List<Double> rates) {
    double last = rates.get(rates.size() - 1);
    double before = rates.get(rates.size() - 2);
    return last <= before * (1 + GAIN);
  }
}
