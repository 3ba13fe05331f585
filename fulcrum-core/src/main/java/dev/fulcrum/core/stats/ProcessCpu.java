package dev.fulcrum.core.stats;

import dev.fulcrum.core.scheduler.Ticker;
import java.lang.management.ManagementFactory;
import java.util.ArrayDeque;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * The process's CPU time against the cores available to it, over about the last {@value
 * #WINDOW_SECONDS} seconds: the CPU bound of {@link SloAccounting.Load} (what the replica's cores
 * allow, which the pass times do not see: the transport's decoding, encoding and writes, the
 * batcher's joins, garbage collection).
 *
 * <p>Design: readings are taken when a second of a version's requests begins ({@link #record}, from
 * {@link SloAccounting}) and when the utilization is asked for (a scrape, a {@code /slo} request),
 * not on a timer of its own. Each takes the process's CPU clock and the wall clock and is kept if
 * the last one kept is at least a second old; {@link #usage} answers the CPU used over the wall
 * time since the newest kept reading that is at least {@value #WINDOW_SECONDS} s old (or, until
 * there is one, the oldest at least a second old), over the cores: a utilization from 0 to 1.
 * Readings older than that one are dropped, so about a dozen are kept. While no requests come and
 * nothing reads it, no readings are taken: the next read's utilization is then the mean since the
 * last reading, as a counter's rate would be. The first reading has nothing to compare with: the
 * utilization is unknown (NaN) until a reading a second old is kept.
 *
 * <p>Sources, the ones the rest of core already uses: the JVM's management bean for the process's
 * CPU time (as the scheduler reads its threads' CPU time from {@code ThreadMXBean}) and {@link
 * Runtime#availableProcessors()} for the cores, which follows a container's CPU limit (its quota
 * over its period, rounded up) and the CPU set; the wall clock is {@link System#nanoTime()}, not
 * the schedulers' clock, which tests replace. One per server (the {@link ComputeLedger}'s), shared
 * by every version's accounting. Thread-safe (one monitor, held for a clock read and a deque
 * update).
 */
public final class ProcessCpu {
  /**
   * The window the utilization is over, as the offered rate's ({@link SloAccounting#LOAD_WINDOW}).
   */
  public static final int WINDOW_SECONDS = 10;

  private static final long SECOND = 1_000_000_000L;

  /** No CPU clock: the utilization is always unknown, and only the pass bound is stated. */
  public static final ProcessCpu NONE = new ProcessCpu(() -> 0, () -> -1, () -> 1);

  private final Ticker wall;
  private final LongSupplier cpuNanos;
  private final IntSupplier cores;
  private final ArrayDeque<long[]> readings = new ArrayDeque<>();

  /**
   * @param wall the wall clock
   * @param cpuNanos the process's CPU time in nanoseconds (negative: not measured)
   * @param cores the cores the process may use
   */
  public ProcessCpu(Ticker wall, LongSupplier cpuNanos, IntSupplier cores) {
    this.wall = wall;
    this.cpuNanos = cpuNanos;
    this.cores = cores;
  }

  /** This process's CPU clock, or {@link #NONE} where the JVM does not measure it. */
  public static ProcessCpu ofThisProcess() {
    if (ManagementFactory.getOperatingSystemMXBean()
            instanceof com.sun.management.OperatingSystemMXBean os
        && os.getProcessCpuTime() >= 0) {
      Runtime runtime = Runtime.getRuntime();
      return new ProcessCpu(System::nanoTime, os::getProcessCpuTime, runtime::availableProcessors);
    }
    return NONE;
  }

  /**
   * The process's CPU use over about the last {@value #WINDOW_SECONDS} s. Immutable.
   *
   * @param utilization CPU time over wall time times cores, 0 to 1 (NaN: not known yet, or not
   *     measured)
   * @param cores the cores available
   * @param seconds the wall time it is over (0 when unknown)
   */
  public record Usage(double utilization, int cores, double seconds) {
    /** Not known. */
    public static final Usage UNKNOWN = new Usage(Double.NaN, 1, 0);
  }

  /**
   * Takes a reading, kept if the last kept is at least a second old: what each version's accounting
   * calls as a second of its requests begins, so the readings span the window between two reads of
   * {@link #usage}.
   */
  public synchronized void record() {
    long cpu = cpuNanos.getAsLong();
    if (cpu >= 0) {
      record(wall.nanoTime(), cpu);
    }
  }

  /** The utilization since the reading about {@value #WINDOW_SECONDS} s ago (see the class). */
  public synchronized Usage usage() {
    long cpu = cpuNanos.getAsLong();
    if (cpu < 0) {
      return Usage.UNKNOWN;
    }
    long now = wall.nanoTime();
    record(now, cpu);
    long[] from = readings.peekFirst();
    if (from == null || now - from[0] < SECOND) {
      return Usage.UNKNOWN;
    }
    int n = Math.max(1, cores.getAsInt());
    double u = (double) Math.max(0, cpu - from[1]) / ((double) (now - from[0]) * n);
    return new Usage(Math.min(1, u), n, (now - from[0]) / 1e9);
  }

  private void record(long now, long cpu) {
    long[] last = readings.peekLast();
    if (last == null || now - last[0] >= SECOND) {
      readings.addLast(new long[] {now, cpu});
    }
    // Drop readings older than the newest one that is at least the window old.
    while (readings.size() > 1) {
      java.util.Iterator<long[]> it = readings.iterator();
      it.next();
      if (now - it.next()[0] < WINDOW_SECONDS * SECOND) {
        break;
      }
      readings.removeFirst();
    }
  }
}
