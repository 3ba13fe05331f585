package dev.fulcrum.core.stats;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where this process's cgroups are: the folders of the cgroup v2 unified hierarchy and of cgroup
 * v1's {@code cpu} controller that hold its CPU files ({@code cpu.max}, {@code cpu.stat}, {@code
 * cpu.pressure}, {@code cpu.weight}; {@code cpu.cfs_quota_us}, {@code cpu.shares}), each its own
 * first and then each parent up to the hierarchy's mount. Read once from {@code /proc/self/cgroup}
 * (the one parser of it: {@link HostCpu}'s limit and pressure and the dashboard's throttling figure
 * all start here); the files inside are for the caller to read when it wants them.
 *
 * <p>The unified hierarchy is mounted at the root given ({@code /sys/fs/cgroup}), or, on a host in
 * the hybrid layout (v1 controllers at {@code /sys/fs/cgroup/<controller>}, v2 beside them), at its
 * {@code unified} folder. A container in its own cgroup namespace sees the host's path ({@code
 * /kubepods/...}) that its mount does not hold: its cgroup is then the mount itself, which is last
 * in each list. Only folders that exist are listed; none where {@code /proc/self/cgroup} cannot be
 * read (macOS, Windows). Immutable, so thread-safe.
 */
public final class CgroupDirs {
  /** No cgroups: nothing to read. */
  public static final CgroupDirs NONE = new CgroupDirs(List.of(), List.of());

  private final List<Path> v2;
  private final List<Path> v1Cpu;

  private CgroupDirs(List<Path> v2, List<Path> v1Cpu) {
    this.v2 = List.copyOf(v2);
    this.v1Cpu = List.copyOf(v1Cpu);
  }

  /**
   * This process's, from {@code /proc/self/cgroup} and the hierarchies at {@code /sys/fs/cgroup}.
   */
  public static CgroupDirs ofThisProcess() {
    return of(Path.of("/proc/self/cgroup"), Path.of("/sys/fs/cgroup"));
  }

  /**
   * @param procCgroup a {@code /proc/<pid>/cgroup} file
   * @param root where the cgroup hierarchies are mounted
   */
  public static CgroupDirs of(Path procCgroup, Path root) {
    List<String> lines;
    try {
      lines = Files.readAllLines(procCgroup, StandardCharsets.US_ASCII);
    } catch (IOException | RuntimeException e) {
      return NONE;
    }
    List<Path> v2 = new ArrayList<>();
    List<Path> v1 = new ArrayList<>();
    for (String line : lines) {
      String[] f = line.split(":", 3);
      if (f.length < 3) {
        continue;
      }
      String path = f[2].startsWith("/") ? f[2].substring(1) : f[2];
      if (f[0].equals("0") && f[1].isEmpty()) {
        Path hybrid = root.resolve("unified");
        boolean isHybrid =
            !Files.exists(root.resolve("cgroup.controllers")) && Files.isDirectory(hybrid);
        upwards(isHybrid ? hybrid : root, path, v2);
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
    return new CgroupDirs(v2, v1);
  }

  /** The unified hierarchy's folders, the process's own first; empty without cgroup v2. */
  public List<Path> v2() {
    return v2;
  }

  /** The v1 {@code cpu} controller's folders, the process's own first; empty without one. */
  public List<Path> v1Cpu() {
    return v1Cpu;
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
