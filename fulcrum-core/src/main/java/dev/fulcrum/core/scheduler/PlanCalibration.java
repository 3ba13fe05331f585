package dev.fulcrum.core.scheduler;

/**
 * How admission's plan compares with what happened: for each batch head that was admitted with a
 * plan, realized finish less planned finish as a share of the objective, kept over the last {@link
 * #WINDOW} such outcomes in a fixed histogram of {@link #BUCKETS} linear buckets from -1/2 to +1/2
 * of the objective (1/64 of it each: 1.6 ms for 100 ms). A quantile of it is a conformal-style
 * bound on how far the plan under-predicts (above 0) or over-predicts (below 0) now: it shrinks
 * when passes run faster than planned and grows within a window's worth of passes after a step. (A
 * ratio realized/planned was tried first: short plans, one pass from an idle queue, made its high
 * quantiles 2.5x and the admission scaled by it refused four times as much.)
 *
 * <p>O(1) per record (a ring of bucket indices, no allocation), O(BUCKETS) per quantile. Not
 * thread-safe: guarded by its scheduler's lock, like the policy that owns it.
 */
final class PlanCalibration {
  static final int WINDOW = 256;
  static final int BUCKETS = 64;
  private static final double MIN = -0.5;
  private static final double SPAN = 1;

  private final int[] counts = new int[BUCKETS];
  private final byte[] ring = new byte[WINDOW];
  private int next;
  private int size;
  private long total;

  /** Records one outcome: realized less planned finish, as a share of the objective. */
  void record(double residual) {
    if (Double.isNaN(residual)) {
      return;
    }
    int b = bucket(residual);
    if (size == WINDOW) {
      counts[ring[next]]--;
    } else {
      size++;
    }
    ring[next] = (byte) b;
    counts[b]++;
    next = (next + 1) % WINDOW;
    total++;
  }

  static int bucket(double residual) {
    int b = (int) Math.floor((residual - MIN) / SPAN * BUCKETS);
    return Math.max(0, Math.min(BUCKETS - 1, b));
  }

  /** The upper edge of bucket {@code b}. */
  static double upper(int b) {
    return MIN + SPAN * (b + 1) / BUCKETS;
  }

  /** Outcomes in the window now. */
  int size() {
    return size;
  }

  /** Outcomes recorded since start. */
  long total() {
    return total;
  }

  /**
   * The {@code q} quantile (0-1) of the residual over the window, as the upper edge of its bucket
   * (a bound: at most one bucket above the true quantile), or 0 when empty.
   */
  double quantile(double q) {
    if (size == 0) {
      return 0;
    }
    long rank = (long) Math.ceil(q * size);
    long seen = 0;
    for (int b = 0; b < BUCKETS; b++) {
      seen += counts[b];
      if (seen >= rank) {
        return upper(b);
      }
    }
    return upper(BUCKETS - 1);
  }
}
