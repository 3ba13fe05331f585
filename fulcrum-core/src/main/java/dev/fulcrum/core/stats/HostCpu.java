package dev.fulcrum.core.stats;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The readings of {@link ProcessCpu} on this host: the process's CPU clock (given), and from
 * Linux's files where there are some:
 *
 * <ul>
 *   <li>the CPUs the process may run on: {@code /proc/self/status}'s {@code Cpus_allowed_list} (its
 *       affinity, the container's CPU set), read once; else every CPU of {@code /proc/stat}; else
 *       {@link Runtime#availableProcessors()};
 *   <li>their busy and total time: the {@code cpuN} lines of {@code /proc/stat} for those CPUs,
 *       busy being user, system, irq, softirq and steal (a hypervisor's steal is taken from this
 *       process as another's use is; {@code nice} is not counted busy: a niced process yields to
 *       this one; iowait is idle);
 *   <li>its CPU limit: the cgroup's quota over its period (v2 {@code cpu.max}, v1 {@code
 *       cpu.cfs_quota_us} and {@code cpu.cfs_period_us}), the lowest of the process's cgroup and
 *       the cgroups above it (a pod's limit may be set on the pod's cgroup, the container's below
 *       it), exactly: {@code availableProcessors()} rounds 1.5 cores up to 2. The cgroups are found
 *       once, from {@code /proc/self/cgroup}; the files are read at each reading, so a limit that
 *       changes (a pod resized in place) is followed.
 * </ul>
 *
 * Where a file is missing or unreadable (macOS, Windows, a locked-down {@code /proc}) that part is
 * unknown and the reading says so; nothing here throws. Not thread-safe: {@link ProcessCpu} reads
 * it under its monitor.
 */
final class HostCpu implements ProcessCpu.Source {
  private final Path procStat;
  private final LongSupplier processNanos;
  private final IntSupplier availableProcessors;
  private final @Nullable BitSet allowed;
  private final List<Path> v2Dirs;
  private final List<Path> v1Dirs;

  /**
   * @param proc where {@code /proc} is
   * @param cgroupRoot where the cgroup hierarchies are mounted ({@code /sys/fs/cgroup})
   * @param processNanos the process's CPU time (negative: not measured)
   * @param availableProcessors the CPUs when {@code /proc} says nothing
   */
  HostCpu(Path proc, Path cgroupRoot, LongSupplier processNanos, IntSupplier availableProcessors) {
    this.procStat = proc.resolve("stat");
    this.processNanos = processNanos;
    this.availableProcessors = availableProcessors;
    this.allowed = allowedCpus(proc.resolve("self").resolve("status"));
    List<Path> v2 = new ArrayList<>();
    List<Path> v1 = new ArrayList<>();
    cgroups(proc.resolve("self").resolve("cgroup"), cgroupRoot, v2, v1);
    this.v2Dirs = List.copyOf(v2);
    this.v1Dirs = List.copyOf(v1);
  }

  static HostCpu ofThisProcess(LongSupplier processNanos) {
    return new HostCpu(
        Path.of("/proc"),
        Path.of("/sys/fs/cgroup"),
        processNanos,
        Runtime.getRuntime()::availableProcessors);
  }

  @Override
  public ProcessCpu.Reading read() {
    long own = processNanos.getAsLong();
    long[] ticks = ticks();
    int cpus = ticks != null ? (int) ticks[2] : Math.max(1, availableProcessors.getAsInt());
    return new ProcessCpu.Reading(
        own, ticks == null ? -1 : ticks[0], ticks == null ? -1 : ticks[1], cpus, quotaCores());
  }

  /** Busy ticks, total ticks and CPUs counted, of the allowed CPUs; null without /proc/stat. */
  private long @Nullable [] ticks() {
    long busy = 0;
    long total = 0;
    int cpus = 0;
    try (BufferedReader in = Files.newBufferedReader(procStat, StandardCharsets.US_ASCII)) {
      String line;
      while ((line = in.readLine()) != null) {
        if (!line.startsWith("cpu")) {
          if (cpus > 0) {
            break; // the cpuN lines come first, together
          }
          continue;
        }
        if (line.length() < 4 || !Character.isDigit(line.charAt(3))) {
          continue; // the aggregate "cpu " line
        }
        String[] f = line.trim().split("\\s+");
        int cpu = Integer.parseInt(f[0].substring(3));
        if (allowed != null && !allowed.get(cpu)) {
          continue;
        }
        // user nice system idle iowait irq softirq steal (guest is inside user)
        long[] v = new long[8];
        for (int i = 0; i < 8 && i + 1 < f.length; i++) {
          v[i] = Long.parseLong(f[i + 1]);
        }
        busy += v[0] + v[2] + v[5] + v[6] + v[7];
        for (long x : v) {
          total += x;
        }
        cpus++;
      }
    } catch (IOException | RuntimeException e) {
      return null;
    }
    return cpus == 0 || total <= 0 ? null : new long[] {busy, total, cpus};
  }

  /** The lowest quota over its period of the cgroups found, in cores; NaN: none. */
  private double quotaCores() {
    double lowest = Double.NaN;
    for (Path dir : v2Dirs) {
      String max = firstLine(dir.resolve("cpu.max"));
      if (max == null) {
        continue;
      }
      String[] f = max.trim().split("\\s+");
      if (f.length == 2 && !f[0].equals("max")) {
        lowest = lower(lowest, parse(f[0]), parse(f[1]));
      }
    }
    for (Path dir : v1Dirs) {
      String quota = firstLine(dir.resolve("cpu.cfs_quota_us"));
      String period = firstLine(dir.resolve("cpu.cfs_period_us"));
      if (quota != null && period != null) {
        lowest = lower(lowest, parse(quota.trim()), parse(period.trim()));
      }
    }
    return lowest;
  }

  private static double lower(double lowest, double quota, double period) {
    if (!(quota > 0) || !(period > 0)) {
      return lowest; // -1: no quota (v1); unparsable
    }
    double cores = quota / period;
    return Double.isNaN(lowest) ? cores : Math.min(lowest, cores);
  }

  private static double parse(String s) {
    try {
      return Double.parseDouble(s);
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }

  private static @Nullable String firstLine(Path file) {
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.US_ASCII)) {
      return in.readLine();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** {@code Cpus_allowed_list} ({@code 0-3,8,10-11}) as a set; null when not there. */
  static @Nullable BitSet allowedCpus(Path status) {
    try {
      for (String line : Files.readAllLines(status, StandardCharsets.US_ASCII)) {
        if (line.startsWith("Cpus_allowed_list:")) {
          return cpuList(line.substring("Cpus_allowed_list:".length()).trim());
        }
      }
    } catch (IOException | RuntimeException e) {
      return null;
    }
    return null;
  }

  static @Nullable BitSet cpuList(String list) {
    BitSet set = new BitSet();
    for (String part : list.split(",")) {
      String p = part.trim();
      if (p.isEmpty()) {
        continue;
      }
      int dash = p.indexOf('-');
      int from = Integer.parseInt(dash < 0 ? p : p.substring(0, dash));
      int to = dash < 0 ? from : Integer.parseInt(p.substring(dash + 1));
      set.set(from, to + 1);
    }
    return set.isEmpty() ? null : set;
  }

  /**
   * The cgroup folders whose CPU limit applies to the process, its own first then each parent up to
   * the mount: the v2 unified hierarchy's ({@code 0::/path}) and v1's {@code cpu} controller's,
   * with the controller's mount itself for a container whose cgroup namespace shows the host's path
   * ({@code /kubepods/...}) that its mount does not hold. Only folders that exist.
   */
  static void cgroups(Path procCgroup, Path root, List<Path> v2, List<Path> v1) {
    List<String> lines;
    try {
      lines = Files.readAllLines(procCgroup, StandardCharsets.US_ASCII);
    } catch (IOException | RuntimeException e) {
      return;
    }
    for (String line : lines) {
      String[] f = line.split(":", 3);
      if (f.length < 3) {
        continue;
      }
      String path = f[2].startsWith("/") ? f[2].substring(1) : f[2];
      if (f[0].equals("0") && f[1].isEmpty()) {
        upwards(root, path, v2);
      } else if (List.of(f[1].split(",")).contains("cpu")) {
        for (String mount : List.of("cpu,cpuacct", "cpu", "cpuacct,cpu")) {
          Path base = root.resolve(mount);
          if (Files.isDirectory(base)) {
            upwards(base, path, v1);
            break;
          }
        }
      }
    }
  }

  private static void upwards(Path base, String path, List<Path> into) {
    Path dir = path.isEmpty() ? base : base.resolve(path);
    if (!dir.normalize().startsWith(base.normalize())) {
      return;
    }
    for (Path d = dir; d != null && d.startsWith(base); d = d.getParent()) {
      if (Files.isDirectory(d) && !into.contains(d)) {
        into.add(d);
      }
    }
    if (Files.isDirectory(base) && !into.contains(base)) {
      into.add(base);
    }
  }
}
