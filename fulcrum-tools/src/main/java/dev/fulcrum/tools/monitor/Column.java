package dev.fulcrum.tools.monitor;

import dev.fulcrum.monitoring.Baseline;
import dev.fulcrum.monitoring.Profiler;
import java.util.ArrayList;
import java.util.List;

/**
 * The values of one profiled column as a CSV is read: the present ones in blocks of {@value #BLOCK}
 * doubles, so that it grows without copies and with at most one block of slack (a column of n
 * values holds about 8n bytes), the missing ones counted. Not thread-safe: filled, then profiled,
 * by one thread.
 */
final class Column {
  static final int BLOCK = 1 << 14;

  private final List<double[]> blocks = new ArrayList<>();
  private int count;
  private int missing;

  /** Adds a value; NaN is a missing one. */
  void add(double v) {
    if (Double.isNaN(v)) {
      missing++;
      return;
    }
    int i = count % BLOCK;
    if (i == 0) {
      blocks.add(new double[BLOCK]);
    }
    blocks.get(blocks.size() - 1)[i] = v;
    count++;
  }

  /** The values present. */
  int count() {
    return count;
  }

  /** Profiles the values, letting the blocks go (once: the column is empty afterwards). */
  Baseline.FeatureBaseline profile(String name) {
    double[] present = new double[count];
    for (int b = 0; b < blocks.size(); b++) {
      System.arraycopy(blocks.get(b), 0, present, b * BLOCK, Math.min(BLOCK, count - b * BLOCK));
    }
    blocks.clear();
    int m = missing;
    count = 0;
    missing = 0;
    return Profiler.profile(name, present, m);
  }
}
