package dev.fulcrum.server.dashboard;

import dev.fulcrum.core.stats.CgroupDirs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * How often a CPU quota (a container's CPU limit: cgroup v2 {@code cpu.max}, v1 {@code
 * cpu.cfs_quota_us}) stopped this process's cgroup: the share of the scheduler's periods in which
 * the cgroup ran out of quota, from {@code cpu.stat}'s {@code nr_periods} and {@code nr_throttled}.
 * The machine's {@code /proc/stat} cannot show it: a container throttled at its limit waits while
 * the host's cores read idle. No quota, no periods: unknown (NaN).
 *
 * <p>Not thread-safe: owned by the feed's thread.
 */
final class CgroupThrottling {
  private final @Nullable Path cpuStat;
  private long lastPeriods = -1;
  private long lastThrottled;

  CgroupThrottling(@Nullable Path cpuStat) {
    this.cpuStat = cpuStat;
  }

  /** The process's own cgroup's {@code cpu.stat}, or null where there is none. */
  static CgroupThrottling ofThisProcess() {
    return new CgroupThrottling(find(CgroupDirs.ofThisProcess()));
  }

  /**
   * The {@code cpu.stat} with {@code nr_periods} nearest the process's cgroup among {@code dirs}
   * (its own first, then the ones above it; v2's unified hierarchy before v1's {@code cpu}
   * controller); null when none has one.
   */
  static @Nullable Path find(CgroupDirs dirs) {
    for (List<Path> hierarchy : List.of(dirs.v2(), dirs.v1Cpu())) {
      for (Path d : hierarchy) {
        Path p = d.resolve("cpu.stat");
        if (read(p) != null) {
          return p;
        }
      }
    }
    return null;
  }

  /**
   * Percent of the periods since the last call in which the cgroup was throttled; NaN at the first
   * call, without a {@code cpu.stat}, or when no period passed (no quota set).
   */
  double sample() {
    long[] now = cpuStat == null ? null : read(cpuStat);
    if (now == null) {
      return Double.NaN;
    }
    long periods = now[0] - lastPeriods;
    long throttled = now[1] - lastThrottled;
    boolean first = lastPeriods < 0;
    lastPeriods = now[0];
    lastThrottled = now[1];
    return first || periods <= 0 ? Double.NaN : 100.0 * Math.max(0, throttled) / periods;
  }

  /** {@code nr_periods} and {@code nr_throttled}, or null when unreadable or absent. */
  static long @Nullable [] read(Path cpuStat) {
    long periods = -1;
    long throttled = -1;
    try {
      for (String line : Files.readAllLines(cpuStat, StandardCharsets.US_ASCII)) {
        String[] kv = line.trim().split("\\s+");
        if (kv.length == 2 && kv[0].equals("nr_periods")) {
          periods = Long.parseLong(kv[1]);
        } else if (kv.length == 2 && kv[0].equals("nr_throttled")) {
          throttled = Long.parseLong(kv[1]);
        }
      }
    } catch (IOException | RuntimeException e) {
      return null;
    }
    return periods < 0 || throttled < 0 ? null : new long[] {periods, throttled};
  }
}
