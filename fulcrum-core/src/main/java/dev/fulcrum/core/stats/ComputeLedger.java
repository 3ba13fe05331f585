package dev.fulcrum.core.stats;

/**
 * The machine's compute time, all models together: the denominator of each model's share of the
 * machine when cost per million predictions is computed. Kept per second of the scheduler's clock
 * for the last {@value #SECONDS} seconds (the rolling windows), and as a running total since the
 * server started, which a version reads when it starts and again later to get the machine's compute
 * time since it started (its {@code start} window, and any window it is younger than: the ring
 * cannot give that, as it forgets seconds and cannot split the second the version started in). One
 * per server (the model manager's), shared by every {@link SloAccounting}, with the process's CPU
 * clock ({@link ProcessCpu}) beside it for the capacity's CPU bound. Thread-safe (one monitor, held
 * for an array update).
 */
public final class ComputeLedger {
  /** Seconds kept: the longest window, plus the second in progress. */
  static final int SECONDS = SloAccounting.LONGEST_WINDOW_SECONDS + 2;

  private final long originNanos;
  private final long[] second = new long[SECONDS];
  private final long[] busyNanos = new long[SECONDS];
  private long totalNanos;
  private final ProcessCpu processCpu;

  /**
   * A ledger without a CPU clock ({@link ProcessCpu#NONE}: only the pass bound is stated).
   *
   * @param originNanos the scheduler clock's time when the server started; seconds count from it
   */
  public ComputeLedger(long originNanos) {
    this(originNanos, ProcessCpu.NONE);
  }

  /**
   * @param originNanos the scheduler clock's time when the server started; seconds count from it
   * @param processCpu the process's CPU clock
   */
  public ComputeLedger(long originNanos, ProcessCpu processCpu) {
    this.originNanos = originNanos;
    this.processCpu = processCpu;
    java.util.Arrays.fill(second, -1);
  }

  /** The process's CPU clock, shared by every model's accounting. */
  public ProcessCpu processCpu() {
    return processCpu;
  }

  long originNanos() {
    return originNanos;
  }

  /** The second (since the origin) that {@code nanos} falls in. */
  long secondOf(long nanos) {
    return Math.max(0, (nanos - originNanos) / 1_000_000_000L);
  }

  synchronized void add(long atNanos, long nanos) {
    long s = secondOf(atNanos);
    int i = (int) (s % SECONDS);
    if (second[i] != s) {
      second[i] = s;
      busyNanos[i] = 0;
    }
    busyNanos[i] += nanos;
    totalNanos += nanos;
  }

  /** Compute time since the server started, all seconds, including those no longer kept. */
  synchronized long total() {
    return totalNanos;
  }

  /** Compute time of seconds {@code from..to} (inclusive) that are still kept. */
  synchronized long busy(long from, long to) {
    long sum = 0;
    for (long s = Math.max(from, to - SECONDS + 1); s <= to; s++) {
      int i = (int) (s % SECONDS);
      if (second[i] == s) {
        sum += busyNanos[i];
      }
    }
    return sum;
  }
}
