package dev.fulcrum.tools.bench;

import java.util.List;

/**
 * perf_analyzer's stability test: the last three windows agree within ±P % of their mean on both
 * throughput and p99 latency; stateless, thread-safe.
 */
final class StabilityRule {
  static final int WINDOWS = 3;
  private final double percent;

  StabilityRule(double percent) {
    if (!(percent > 0)) {
      throw new IllegalArgumentException("stability percentage must be > 0");
    }
    this.percent = percent;
  }

  /** Whether the last {@value #WINDOWS} windows are stable (false while there are fewer). */
  boolean isStable(List<WindowStats> windows) {
    if (windows.size() < WINDOWS) {
      return false;
    }
    List<WindowStats> last = windows.subList(windows.size() - WINDOWS, windows.size());
    if (last.stream().anyMatch(w -> w.ok() == 0)) {
      return false;
    }
    return within(last.stream().mapToDouble(WindowStats::throughput).toArray())
        && within(last.stream().mapToDouble(w -> w.latency().getValueAtPercentile(99)).toArray());
  }

  private boolean within(double[] values) {
    double mean = 0;
    for (double v : values) {
      mean += v / values.length;
    }
    for (double v : values) {
      if (Math.abs(v - mean) > mean * percent / 100) {
        return false;
      }
    }
    return true;
  }
}
