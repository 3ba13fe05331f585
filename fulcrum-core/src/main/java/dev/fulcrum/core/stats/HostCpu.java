package dev.fulcrum.core.stats;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
 *       it), exactly: {@code availableProcessors()} rounds 1.5 cores up to 2;
 *   <li>its CPU pressure: the {@code total=} of the {@code some} line of its cgroup's {@code
 *       cpu.pressure} (cgroup v2), else of {@code /proc/pressure/cpu} (the host's; so is the root
 *       cgroup's, told by its lack of {@code cgroup.type}); none on a kernel without PSI;
 *   <li>its CPU weight: its cgroup's {@code cpu.weight} (v2), else {@code cpu.shares} (v1, put on
 *       v2's scale as runc and the kubelet map them), and where its siblings are in sight, the
 *       share of the machine it entitles the process to when every cgroup wants all CPU (reported,
 *       not used for the budget: the kernel gives a cgroup at least that share only while all
 *       others want more).
 * </ul>
 *
 * The cgroups are found once ({@link CgroupDirs}); the files are read at each reading (the weight
 * at every tenth), so a limit or weight that changes (a pod resized in place) is followed.
 *
 * <p>Design: why the pressure, and the budget rule it gives ({@link ProcessCpu.Usage#budgetCores}).
 * On a node shared with other pods that have CPU requests (weights) rather than limits, what others
 * keep busy ({@code /proc/stat}) is the wrong measure of what this process can get: a neighbour
 * soaking up idle cycles at a lower weight would yield to it, so counting it makes the budget what
 * the process gets now and the load ratio 1 at any load on a busy node; and a neighbour in another
 * cgroup at {@code nice} 19 is not counted although across cgroups the kernel shares by weight, not
 * by nice, so it does take CPU from the process. PSI measures the effect itself (the kernel's
 * Documentation/accounting/psi.rst): {@code some} is the share of the wall time in which at least
 * one of the cgroup's runnable tasks waited for a CPU (on several CPUs the kernel weighs it as
 * delayed tasks over the CPUs they could use, so it approximates the share of the cgroup's work
 * potential lost to waiting); {@code total} is that time in microseconds, cumulative, so its delta
 * over a window is the window's share exactly, where the {@code avg10} figures are decaying
 * averages of another span. The rule: in the share p of the window in which a task of the process
 * waited, it could not have had more CPU; in the rest, 1 − p, every task that wanted a CPU had one
 * at once, so whatever more it is allowed (its limit or its CPUs) was there to take as far as
 * anything can tell: budget = own + (allowed − own) × (1 − p). A busy node on which the process
 * never waits is therefore not full (p = 0: the budget is the whole allowance), one on which it
 * waits all the time is (p = 1: the budget is what it got, the load ratio 1). The waits count
 * whatever causes them, the process's own threads outnumbering its cores included, so a replica
 * whose threads burst beyond its cores reads somewhat fuller than its CPU: the safe side. And p is
 * a share of the wall time, not of the time the process was runnable: one that is runnable little
 * (a light load, or a load held back by a client starved on the same cores) shows a small p even
 * where each of its wake-ups waits, so its budget stays near its allowance; such waits harm its
 * latency before its throughput, and show in the objective's attainment and refusals, not in a full
 * budget (the busy-time rule called every busy node full whatever the load instead). The host's
 * pressure (the fallback) counts every task's waits, at least the process's own: on a node whose
 * neighbours wait for each other it reads fuller still, as the busy-time rule did. Without any
 * pressure file the budget is the busy-time one, as before.
 *
 * <p>Where a file is missing or unreadable (macOS, Windows, a locked-down {@code /proc}) that part
 * is unknown and the reading says so; nothing here throws. Not thread-safe: {@link ProcessCpu}
 * reads it one read at a time, under a lock of its own (not the monitor requests' threads take).
 */
final class HostCpu implements ProcessCpu.Source {
  private final Path procStat;
  private final LongSupplier processNanos;
  private final IntSupplier availableProcessors;
  private final @Nullable BitSet allowed;
  private final List<Path> v2Dirs;
  private final List<Path> v1Dirs;
  private final @Nullable Path pressure;
  private final ProcessCpu.PressureScope pressureScope;

  /**
   * The weight is read at every {@value}th reading: its share lists the sibling cgroups (a node's
   * hundred pods), and a weight changes only when a pod is resized.
   */
  private static final int WEIGHT_EVERY = 10;

  private int readings;
  private double[] weight = {Double.NaN, Double.NaN};

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
    CgroupDirs dirs = CgroupDirs.of(proc.resolve("self").resolve("cgroup"), cgroupRoot);
    this.v2Dirs = dirs.v2();
    this.v1Dirs = dirs.v1Cpu();
    Path own = null;
    for (Path d : v2Dirs) {
      if (Files.isRegularFile(d.resolve("cpu.pressure"))) {
        own = d;
        break;
      }
    }
    if (own != null) {
      this.pressure = own.resolve("cpu.pressure");
      // The root cgroup has no cgroup.type (every other one has): its pressure is the host's.
      this.pressureScope =
          Files.exists(own.resolve("cgroup.type"))
              ? ProcessCpu.PressureScope.CGROUP
              : ProcessCpu.PressureScope.HOST;
    } else {
      Path host = proc.resolve("pressure").resolve("cpu");
      boolean readable = Files.isRegularFile(host);
      this.pressure = readable ? host : null;
      this.pressureScope = readable ? ProcessCpu.PressureScope.HOST : ProcessCpu.PressureScope.NONE;
    }
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
    long stalled = pressure == null ? -1 : someTotalMicros(pressure);
    if (readings++ % WEIGHT_EVERY == 0) {
      weight = weight();
    }
    return new ProcessCpu.Reading(
        own,
        ticks == null ? -1 : ticks[0],
        ticks == null ? -1 : ticks[1],
        cpus,
        quotaCores(),
        stalled,
        stalled < 0 ? ProcessCpu.PressureScope.NONE : pressureScope,
        weight[0],
        weight[1]);
  }

  /**
   * The {@code total=} of a pressure file's {@code some} line: the microseconds in which at least
   * one of the tasks it covers was runnable but waited for a CPU; -1 when unreadable.
   */
  static long someTotalMicros(Path file) {
    String line = firstLine(file);
    if (line == null || !line.startsWith("some ")) {
      return -1;
    }
    for (String field : line.trim().split("\\s+")) {
      if (field.startsWith("total=")) {
        try {
          return Long.parseLong(field.substring("total=".length()));
        } catch (NumberFormatException e) {
          return -1;
        }
      }
    }
    return -1;
  }

  /**
   * The process's cgroup's CPU weight on the v2 scale (1 to 10000, 100 by default; v1's {@code
   * cpu.shares} converted as runc and the kubelet map them) and the share of the machine's CPU it
   * entitles the process to when every cgroup wants all: on each level from its cgroup up to the
   * mount, its weight over the sum of its and its siblings' weights, multiplied (NaN where a level
   * is unreadable, or a sibling's weight is, or the cgroup is the mount itself, whose siblings are
   * not in sight). {NaN, NaN} without a weight file.
   */
  private double[] weight() {
    boolean v2 = !v2Dirs.isEmpty() && Files.isRegularFile(v2Dirs.get(0).resolve("cpu.weight"));
    List<Path> dirs = v2 ? v2Dirs : v1Dirs;
    String file = v2 ? "cpu.weight" : "cpu.shares";
    if (dirs.isEmpty()) {
      return new double[] {Double.NaN, Double.NaN};
    }
    Path own = dirs.get(0);
    double weight = weightOf(own.resolve(file), v2);
    if (Double.isNaN(weight)) {
      return new double[] {Double.NaN, Double.NaN};
    }
    Path mount = dirs.get(dirs.size() - 1);
    // At the mount (a container in its own cgroup namespace, or the root) its siblings are out of
    // sight: the weight alone is known.
    double share = own.equals(mount) ? Double.NaN : 1;
    for (Path d = own; d != null && !d.equals(mount); d = d.getParent()) {
      Path parent = d.getParent();
      double mine = weightOf(d.resolve(file), v2);
      double sum = 0;
      try (var children = Files.list(parent)) {
        for (Path c : (Iterable<Path>) children::iterator) {
          if (Files.isDirectory(c)) {
            double w = weightOf(c.resolve(file), v2);
            sum += Double.isNaN(w) ? Double.NaN : w;
          }
        }
      } catch (IOException | RuntimeException e) {
        sum = Double.NaN;
      }
      share *= mine / sum;
    }
    return new double[] {weight, share};
  }

  /** A weight file's value on the v2 scale; NaN when unreadable. */
  private static double weightOf(Path file, boolean v2) {
    String line = firstLine(file);
    double w = line == null ? Double.NaN : parse(line.trim());
    if (v2 || Double.isNaN(w)) {
      return w;
    }
    // cpu.shares 2..262144 onto cpu.weight 1..10000, as runc and the kubelet map them.
    return 1 + (Math.max(2, Math.min(262144, w)) - 2) * 9999 / 262142;
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
}
