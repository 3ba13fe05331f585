package dev.fulcrum.core.stats;

import dev.fulcrum.core.scheduler.Ticker;
import java.lang.management.ManagementFactory;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.concurrent.Executor;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * The process's CPU use against the CPU it may use, over about the last {@value #WINDOW_SECONDS}
 * seconds: the CPU bound of {@link SloAccounting.Load} (what the replica's cores allow, which the
 * pass times do not see: the transport's decoding, encoding and writes, the batcher's joins,
 * garbage collection).
 *
 * <p>What it may use, its budget ({@link Usage#budgetCores}): the lower of its CPU limit (a
 * container's quota, {@code cpu.max} or {@code cpu.cfs_quota_us} over the period, exactly, not
 * rounded up as {@link Runtime#availableProcessors()} rounds it) and the CPUs it may run on less
 * what other processes use of them now ({@code /proc/stat}'s busy time on those CPUs less the
 * process's own). Other processes take cores, not the container's quota: a pod limited to 2 cores
 * on a node of 16 that others keep 10 busy may still use its 2, one on a node they keep 15 busy
 * only 1. A load generator or another server on the same machine is counted at what it uses now, so
 * with the load on this process growing a client beside it still leaves the budget high until the
 * cores are full (the bound is then the rate at saturation). Where a reading is not available (no
 * {@code /proc}: macOS, Windows; no quota) the budget falls back to what is known: the CPUs the JVM
 * sees, as before, less nothing. Where the kernel reports CPU pressure (Linux PSI: the time the
 * process's runnable tasks waited for a CPU) the budget is from that instead of from what others
 * use: its use, and of the rest of what it is allowed the share of the time it did not wait ({@link
 * HostCpu} says why); others' busy time is then reported, not used.
 *
 * <p>Design: readings are taken when a second of a version's requests begins ({@link #record}, from
 * {@link SloAccounting}) and when the use is asked for (a scrape, a {@code /slo} request, the
 * dashboard), not on a timer of its own; a reading is a {@link Source#read()} (the process's CPU
 * clock, the CPUs' busy and total ticks, the quota, the pressure's stall time) and the wall clock,
 * and one is kept if the last one kept is at least a second old. {@link #usage} answers the use
 * over the wall time since the newest kept reading that is at least {@value #WINDOW_SECONDS} s old
 * (or, until there is one, the oldest at least a second old). Readings older than that one are
 * dropped, so about a dozen are kept. While no requests come and nothing reads it, no readings are
 * taken: the next read is then the mean since the last reading, as a counter's rate would be. The
 * first reading has nothing to compare with: the use is unknown (NaN) until a reading a second old
 * is kept. A source is read at most once a second by {@link #record} and once every {@value
 * #FRESH_MILLIS} ms by {@link #usage} (the dashboard asks for every version each second), whatever
 * the number of versions.
 *
 * <p>Sources: {@link HostCpu} (the JVM's management bean for the process's CPU time, as the
 * scheduler reads its threads' CPU time from {@code ThreadMXBean}; {@code /proc} and the cgroup
 * files for the rest); the wall clock is {@link System#nanoTime()}, not the schedulers' clock,
 * which tests replace. One per server (the {@link ComputeLedger}'s), shared by every version's
 * accounting. Thread-safe: the source is read under a lock of its own (it need not be thread-safe),
 * never under the monitor, which is held only to compare times and update the deque; so a request's
 * thread in {@link #record} never waits for a read of {@code /proc} or the cgroup tree (every tenth
 * reading lists the sibling cgroups), and {@link #record}'s readings are taken on the reader it was
 * given.
 */
public final class ProcessCpu {
  /** The window the use is over, as the offered rate's ({@link SloAccounting#LOAD_WINDOW}). */
  public static final int WINDOW_SECONDS = 10;

  /** How old the newest reading may be for {@link #usage} to answer from it without a new one. */
  static final long FRESH_MILLIS = 250;

  private static final long SECOND = 1_000_000_000L;

  /** Whose CPU pressure (Linux PSI) a reading's stall time is. */
  public enum PressureScope {
    /** None read: no pressure file (PSI off, not Linux, a kernel before 4.20). */
    NONE("none"),
    /** The process's own cgroup's {@code cpu.pressure}: its tasks' waits alone. */
    CGROUP("cgroup"),
    /**
     * The whole host's ({@code /proc/pressure/cpu}, or the root cgroup's): any task's waits, the
     * process's among them, so at least its own.
     */
    HOST("host");

    private final String label;

    PressureScope(String label) {
      this.label = label;
    }

    /** How {@code /slo} names it. */
    public String label() {
      return label;
    }
  }

  /**
   * One reading of where the CPU goes; immutable.
   *
   * @param processNanos the process's CPU time in nanoseconds (negative: not measured)
   * @param busyTicks the busy time of the CPUs it may run on, in any unit: user, system, irq,
   *     softirq and steal (not {@code nice}: a niced process yields its CPU to this one)
   * @param totalTicks their whole time in the same unit (negative: the machine's CPU is not known)
   * @param cpus the CPUs the process may run on (those the ticks are of)
   * @param quotaCores its CPU limit in cores (NaN: none)
   * @param stalledMicros the CPU pressure's {@code some total}: microseconds in which at least one
   *     task of {@code pressure}'s scope was runnable but waited for a CPU (negative: not read)
   * @param pressure whose tasks {@code stalledMicros} is of
   * @param weight its cgroup's CPU weight on the cgroup v2 scale, 1 to 10000, 100 by default (NaN:
   *     not read)
   * @param weightShare the share of the machine's CPU that weight entitles it to when every cgroup
   *     wants all: its weight over its siblings' and its own, on each level up to the mount,
   *     multiplied (NaN: not read)
   */
  public record Reading(
      long processNanos,
      long busyTicks,
      long totalTicks,
      int cpus,
      double quotaCores,
      long stalledMicros,
      PressureScope pressure,
      double weight,
      double weightShare) {
    public Reading {
      cpus = Math.max(1, cpus);
      if (stalledMicros < 0) {
        pressure = PressureScope.NONE;
      }
    }

    /** A reading without CPU pressure and weight. */
    public Reading(
        long processNanos, long busyTicks, long totalTicks, int cpus, double quotaCores) {
      this(
          processNanos,
          busyTicks,
          totalTicks,
          cpus,
          quotaCores,
          -1,
          PressureScope.NONE,
          Double.NaN,
          Double.NaN);
    }

    /** A reading of the process's CPU clock alone, on {@code cpus} CPUs, without a limit. */
    public static Reading processOnly(long processNanos, int cpus) {
      return new Reading(processNanos, -1, -1, cpus, Double.NaN);
    }
  }

  /** Where the readings come from; called by one thread at a time, never under the monitor. */
  @FunctionalInterface
  public interface Source {
    Reading read();
  }

  /** No CPU clock: the use is always unknown, and only the pass bound is stated. */
  public static final ProcessCpu NONE = new ProcessCpu(() -> 0, () -> Reading.processOnly(-1, 1));

  private final Ticker wall;
  private final Source source;
  private final Executor reader;

  /** Held while the source is read: one read at a time, apart from the monitor. */
  private final Object sourceLock = new Object();

  /** A reading {@link #record} handed to the reader is not taken yet. */
  private boolean pending;

  /** Kept readings: {wall, processNanos, busyTicks, totalTicks, stalledMicros}. */
  private final ArrayDeque<long[]> readings = new ArrayDeque<>();

  /** The newest reading taken, kept or not, and when: what {@link #usage} answers up to. */
  private long[] latest = {Long.MIN_VALUE, -1, -1, -1, -1};

  private Reading latestReading = Reading.processOnly(-1, 1);

  /**
   * @param wall the wall clock
   * @param source the readings
   */
  public ProcessCpu(Ticker wall, Source source) {
    this(wall, source, Runnable::run);
  }

  /**
   * @param wall the wall clock
   * @param source the readings
   * @param reader where {@link #record}'s readings are taken: off the request path that calls it
   *     ({@code /proc/stat} takes the kernel a while to write on a machine of many CPUs)
   */
  public ProcessCpu(Ticker wall, Source source, Executor reader) {
    this.wall = wall;
    this.source = source;
    this.reader = reader;
  }

  /**
   * A process CPU clock alone (no machine, no limit): the budget is the {@code cores}.
   *
   * @param wall the wall clock
   * @param cpuNanos the process's CPU time in nanoseconds (negative: not measured)
   * @param cores the cores the process may use
   */
  public ProcessCpu(Ticker wall, LongSupplier cpuNanos, IntSupplier cores) {
    this(wall, () -> Reading.processOnly(cpuNanos.getAsLong(), cores.getAsInt()));
  }

  /** This process's CPU, or {@link #NONE} where the JVM does not measure its CPU time. */
  public static ProcessCpu ofThisProcess() {
    if (ManagementFactory.getOperatingSystemMXBean()
            instanceof com.sun.management.OperatingSystemMXBean os
        && os.getProcessCpuTime() >= 0) {
      return new ProcessCpu(
          System::nanoTime,
          HostCpu.ofThisProcess(os::getProcessCpuTime),
          task -> Thread.ofVirtual().name("fulcrum-cpu-reading").start(task));
    }
    return NONE;
  }

  /**
   * The process's CPU use over about the last {@value #WINDOW_SECONDS} s, and what it may use.
   * Immutable.
   *
   * @param ownCores the process's CPU time over the wall time: the cores it kept busy (NaN: not
   *     known yet, or not measured)
   * @param othersCores the cores other processes kept busy among those it may run on (NaN: not
   *     known, e.g. no {@code /proc/stat})
   * @param quotaCores its CPU limit in cores at the newest reading (NaN: none)
   * @param cpus the CPUs it may run on
   * @param seconds the wall time it is over (0 when unknown)
   * @param pressureSomeRatio the share of the wall time in which at least one task of {@code
   *     pressure}'s scope was runnable and waited for a CPU (PSI's {@code some}), 0 to 1 (NaN: not
   *     read)
   * @param pressure whose waits {@code pressureSomeRatio} counts
   * @param weight its cgroup's CPU weight, cgroup v2 scale (NaN: not read), at the newest reading
   * @param weightShare the share of the machine's CPU the weight entitles it to when every cgroup
   *     wants all (NaN: not read), at the newest reading
   */
  public record Usage(
      double ownCores,
      double othersCores,
      double quotaCores,
      int cpus,
      double seconds,
      double pressureSomeRatio,
      PressureScope pressure,
      double weight,
      double weightShare) {
    /** Not known. */
    public static final Usage UNKNOWN = new Usage(Double.NaN, Double.NaN, Double.NaN, 1, 0);

    /** A use without CPU pressure and weight: the budget from what others use. */
    public Usage(double ownCores, double othersCores, double quotaCores, int cpus, double seconds) {
      this(
          ownCores,
          othersCores,
          quotaCores,
          cpus,
          seconds,
          Double.NaN,
          PressureScope.NONE,
          Double.NaN,
          Double.NaN);
    }

    /** What the process may use on CPUs nothing else uses: the lower of its limit and its CPUs. */
    public double allowedCores() {
      return Double.isNaN(quotaCores) ? cpus : Math.min(quotaCores, cpus);
    }

    /**
     * What it may use now, and never less than it uses itself (its budget is at least what it got).
     * With its CPU pressure known: what it uses, and of the rest of what it is allowed the share of
     * the time it did not wait, {@code own + (allowed − own) × (1 − pressure)} (see the class).
     * Without: the lower of its limit and its CPUs less what other processes use of them.
     */
    public double budgetCores() {
      double budget;
      if (!Double.isNaN(pressureSomeRatio) && !Double.isNaN(ownCores)) {
        double allowed = allowedCores();
        budget = ownCores + Math.max(0, allowed - ownCores) * (1 - pressureSomeRatio);
      } else {
        double free = Double.isNaN(othersCores) ? cpus : cpus - othersCores;
        budget = Math.min(allowedCores(), free);
      }
      return Double.isNaN(ownCores) ? budget : Math.max(ownCores, budget);
    }

    /** Its use over its budget, 0 to 1 (NaN: not known). */
    public double utilization() {
      double budget = budgetCores();
      return budget > 0 ? Math.min(1, ownCores / budget) : Double.NaN;
    }
  }

  /**
   * Takes a reading, kept if the last kept is at least a second old: what each version's accounting
   * calls as a second of its requests begins, so the readings span the window between two reads of
   * {@link #usage}. Reads the source only when a reading would be kept, on the reader (a virtual
   * thread for this process's), not on the caller's thread: a request's.
   */
  public void record() {
    synchronized (this) {
      long[] last = readings.peekLast();
      if (pending || (last != null && wall.nanoTime() - last[0] < SECOND)) {
        return;
      }
      pending = true;
    }
    try {
      reader.execute(
          () -> {
            try {
              take();
            } finally {
              synchronized (this) {
                pending = false;
              }
            }
          });
    } catch (RuntimeException e) {
      synchronized (this) {
        pending = false; // no reading this second; the next record() tries again
      }
    }
  }

  /** The use since the reading about {@value #WINDOW_SECONDS} s ago (see the class). */
  public Usage usage() {
    boolean stale;
    synchronized (this) {
      long now = wall.nanoTime();
      stale = now - latest[0] >= FRESH_MILLIS * 1_000_000L || latest[0] == Long.MIN_VALUE;
    }
    if (stale) {
      take();
    }
    return usageNow();
  }

  private synchronized Usage usageNow() {
    long[] to = latest;
    long[] from = readings.peekFirst();
    if (to[1] < 0 || from == null || to[0] - from[0] < SECOND) {
      return Usage.UNKNOWN;
    }
    Reading r = latestReading;
    double wallNanos = to[0] - from[0];
    double own = Math.max(0, to[1] - from[1]) / wallNanos;
    double others = Double.NaN;
    long total = to[3] - from[3];
    if (from[3] >= 0 && to[3] >= 0 && total > 0) {
      double busy = (double) Math.max(0, to[2] - from[2]) / total * r.cpus();
      others = Math.max(0, busy - own);
    }
    double stalled = Double.NaN;
    if (from[4] >= 0 && to[4] >= 0) {
      stalled = Math.min(1, Math.max(0, to[4] - from[4]) * 1e3 / wallNanos);
    }
    return new Usage(
        own,
        others,
        r.quotaCores(),
        r.cpus(),
        wallNanos / 1e9,
        stalled,
        Double.isNaN(stalled) ? PressureScope.NONE : r.pressure(),
        r.weight(),
        r.weightShare());
  }

  /** Reads the source (outside the monitor) and keeps the reading. */
  private void take() {
    long now;
    Reading r;
    synchronized (sourceLock) {
      now = wall.nanoTime();
      r = source.read();
    }
    synchronized (this) {
      keep(now, r);
    }
  }

  /**
   * Keeps a reading if it is the newest (two readers may finish out of order), in the deque if the
   * last kept is a second old. Holding this.
   */
  private void keep(long now, Reading r) {
    if (latest[0] != Long.MIN_VALUE && now < latest[0]) {
      return;
    }
    if (r.processNanos() < 0) {
      latest = new long[] {now, -1, -1, -1, -1};
      latestReading = r;
      return;
    }
    long[] reading = {now, r.processNanos(), r.busyTicks(), r.totalTicks(), r.stalledMicros()};
    latest = reading;
    latestReading = r;
    long[] last = readings.peekLast();
    if (last == null || now - last[0] >= SECOND) {
      readings.addLast(reading);
    }
    // Drop readings older than the newest one that is at least the window old.
    while (readings.size() > 1) {
      Iterator<long[]> it = readings.iterator();
      it.next();
      if (now - it.next()[0] < WINDOW_SECONDS * SECOND) {
        break;
      }
      readings.removeFirst();
    }
  }
}
