package dev.fulcrum.server.dashboard;

import java.io.BufferedReader;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The server strip's numbers: the process's CPU, its heap and the time its garbage collectors took,
 * read from the JVM's management beans once a tick; and the machine's CPU (busy share of all cores,
 * and the share stolen by the hypervisor) from {@code /proc/stat}, so that a process short of CPU
 * shows it (its own CPU may read low while other processes or tenants take the cores); and, in a
 * container with a CPU limit, how often its quota throttled it ({@link CgroupThrottling}).
 *
 * <p>Not thread-safe: owned by the feed's thread.
 */
final class ServerSampler {
  static final int CPU = 0;
  static final int HEAP_MB = 1;
  static final int GC_MS = 2;
  static final int MACHINE_CPU = 3;
  static final int STEAL = 4;
  static final int THROTTLED = 5;
  static final int COLUMNS = 6;

  private static final Path PROC_STAT = Path.of("/proc/stat");

  private final com.sun.management.OperatingSystemMXBean os =
      ManagementFactory.getPlatformMXBean(com.sun.management.OperatingSystemMXBean.class);
  private final List<GarbageCollectorMXBean> collectors =
      ManagementFactory.getGarbageCollectorMXBeans();
  private final Path procStat;
  private final CgroupThrottling throttling;
  private long lastGcMillis = -1;
  private long lastNanos;
  private long @Nullable [] lastTicks;

  ServerSampler() {
    this(PROC_STAT, CgroupThrottling.ofThisProcess());
  }

  /**
   * A sampler that reads the machine's CPU from {@code procStat} and the quota's throttling from
   * {@code throttling} (tests give theirs).
   */
  ServerSampler(Path procStat, CgroupThrottling throttling) {
    this.procStat = procStat;
    this.throttling = throttling;
  }

  /** Percent of all cores, heap used (MiB), GC milliseconds per second since the last call. */
  double[] sample(long nowNanos) {
    double[] v = new double[COLUMNS];
    double load = os.getProcessCpuLoad();
    v[CPU] = load < 0 ? Double.NaN : load * 100;
    v[HEAP_MB] = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() / 1048576.0;
    long gc = 0;
    for (GarbageCollectorMXBean c : collectors) {
      gc += Math.max(0, c.getCollectionTime());
    }
    double seconds = (nowNanos - lastNanos) / 1e9;
    v[GC_MS] = lastGcMillis < 0 || seconds <= 0 ? 0 : (gc - lastGcMillis) / seconds;
    lastGcMillis = gc;
    lastNanos = nowNanos;
    v[MACHINE_CPU] = Double.NaN;
    v[STEAL] = Double.NaN;
    long[] ticks = machineTicks();
    long[] before = lastTicks;
    if (ticks != null && before != null) {
      machineShares(before, ticks, v);
    }
    lastTicks = ticks;
    v[THROTTLED] = throttling.sample();
    return v;
  }

  /**
   * Fills {@link #MACHINE_CPU} (busy: all but idle and iowait, steal included) and {@link #STEAL}
   * as percents of all cores' time between two readings of {@code /proc/stat}'s {@code cpu} line.
   */
  static void machineShares(long[] before, long[] now, double[] v) {
    long total = 0;
    long idle = 0;
    long steal = 0;
    // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user, nice)
    for (int i = 0; i < Math.min(8, now.length); i++) {
      long d = Math.max(0, now[i] - (i < before.length ? before[i] : 0));
      total += d;
      if (i == 3 || i == 4) {
        idle += d;
      } else if (i == 7) {
        steal += d;
      }
    }
    if (total > 0) {
      v[MACHINE_CPU] = 100.0 * (total - idle) / total;
      v[STEAL] = now.length > 7 ? 100.0 * steal / total : Double.NaN;
    }
  }

  /** The aggregate {@code cpu} line's counters, or null where there is no {@code /proc/stat}. */
  private long @Nullable [] machineTicks() {
    try (BufferedReader in = Files.newBufferedReader(procStat, StandardCharsets.US_ASCII)) {
      String line = in.readLine();
      return line == null ? null : parseCpuLine(line);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** The counters of {@code /proc/stat}'s first line ({@code cpu 4705 150 1120 16250 …}). */
  static long @Nullable [] parseCpuLine(String line) {
    String[] f = line.trim().split("\\s+");
    if (f.length < 5 || !f[0].equals("cpu")) {
      return null;
    }
    long[] ticks = new long[f.length - 1];
    for (int i = 1; i < f.length; i++) {
      ticks[i - 1] = Long.parseLong(f[i]);
    }
    return ticks;
  }

  /** The most the heap may grow to (MiB), or what it has committed when unbounded. */
  static double heapMaxMb() {
    MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    return (heap.getMax() > 0 ? heap.getMax() : heap.getCommitted()) / 1048576.0;
  }

  /** Cores the process may use. */
  static int cores() {
    return Runtime.getRuntime().availableProcessors();
  }
}
