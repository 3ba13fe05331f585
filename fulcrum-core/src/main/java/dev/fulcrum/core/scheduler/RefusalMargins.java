package dev.fulcrum.core.scheduler;

/**
 * How far past its deadline admission predicted each refused request would finish, as a share of
 * the objective, counted since start in a few fixed buckets (upper edges {@link #EDGES}; the last
 * bucket is open). A refusal with a margin of a few per cent is one the plan's pessimism decides;
 * one of half the objective or more is an overload. O(1) per refusal, no allocation.
 *
 * <p>Not thread-safe: guarded by its scheduler's lock, like the policy that owns it.
 */
final class RefusalMargins {
  /** Upper edges of the buckets, as shares of the objective; a last bucket holds the rest. */
  static final double[] EDGES = {0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1};

  private final long[] counts = new long[EDGES.length + 1];

  void record(double margin) {
    if (Double.isNaN(margin)) {
      return;
    }
    int b = 0;
    while (b < EDGES.length && margin > EDGES[b]) {
      b++;
    }
    counts[b]++;
  }

  /** The counts per bucket, a copy: {@code EDGES.length + 1} of them. */
  long[] counts() {
    return counts.clone();
  }
}
