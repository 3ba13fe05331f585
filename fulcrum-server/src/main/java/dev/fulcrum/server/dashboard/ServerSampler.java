package dev.fulcrum.server.dashboard;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.util.List;

/**
 * The server strip's numbers: the process's CPU, its heap and the time its garbage collectors took,
 * read from the JVM's management beans once a tick.
 *
 * <p>Not thread-safe: owned by the feed's thread.
 */
final class ServerSampler {
  static final int CPU = 0;
  static final int HEAP_MB = 1;
  static final int GC_MS = 2;
  static final int COLUMNS = 3;

  private final com.sun.management.OperatingSystemMXBean os =
      ManagementFactory.getPlatformMXBean(com.sun.management.OperatingSystemMXBean.class);
  private final List<GarbageCollectorMXBean> collectors =
      ManagementFactory.getGarbageCollectorMXBeans();
  private long lastGcMillis = -1;
  private long lastNanos;

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
    return v;
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
