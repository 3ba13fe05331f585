package dev.fulcrum.core.stats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link HostCpu} on fake {@code /proc} and cgroup trees written to a temporary folder: a container
 * with a cgroup v2 or v1 quota, a shared node with a CPU set, and a host with no {@code /proc}.
 */
class HostCpuTest {
  private static final long S = 1_000_000_000L;

  @TempDir Path dir;

  private Path proc() {
    return dir.resolve("proc");
  }

  private Path cgroup() {
    return dir.resolve("cgroup");
  }

  private void write(Path file, String text) throws IOException {
    Files.createDirectories(file.getParent());
    Files.writeString(file, text);
  }

  /** /proc/stat with the aggregate line and one line a CPU: {user, nice, system, idle} each. */
  private void stat(long[]... cpus) throws IOException {
    StringBuilder sb = new StringBuilder("cpu  0 0 0 0 0 0 0 0 0 0\n");
    for (int i = 0; i < cpus.length; i++) {
      long[] c = cpus[i];
      sb.append("cpu").append(i).append(' ').append(c[0]).append(' ').append(c[1]).append(' ');
      sb.append(c[2]).append(' ').append(c[3]).append(" 0 0 0 0 0 0\n");
    }
    sb.append("intr 1 2 3\nctxt 4\n");
    write(proc().resolve("stat"), sb.toString());
  }

  private HostCpu host(long processNanos) {
    return new HostCpu(proc(), cgroup(), () -> processNanos, () -> 7);
  }

  @Test
  void aCgroupV2QuotaIsTheLowestOnTheWayUpExactly() throws IOException {
    write(proc().resolve("self/cgroup"), "0::/kubepods/pod1/c1\n");
    write(cgroup().resolve("kubepods/pod1/c1/cpu.max"), "max 100000\n");
    write(cgroup().resolve("kubepods/pod1/cpu.max"), "150000 100000\n");
    write(cgroup().resolve("kubepods/cpu.max"), "400000 100000\n");
    stat(new long[] {1, 0, 1, 8}, new long[] {1, 0, 1, 8});
    ProcessCpu.Reading r = host(5).read();
    assertThat(r.quotaCores()).isEqualTo(1.5);
    assertThat(r.cpus()).isEqualTo(2);
    assertThat(r.processNanos()).isEqualTo(5);
    // Lifted while serving: read again at the next reading.
    write(cgroup().resolve("kubepods/pod1/cpu.max"), "max 100000\n");
    write(cgroup().resolve("kubepods/cpu.max"), "max 100000\n");
    assertThat(host(5).read().quotaCores()).isNaN();
  }

  @Test
  void aCgroupV1QuotaAndTheMountOfANamespacedContainer() throws IOException {
    write(proc().resolve("self/cgroup"), "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n");
    write(cgroup().resolve("cpu,cpuacct/docker/abc/cpu.cfs_quota_us"), "50000\n");
    write(cgroup().resolve("cpu,cpuacct/docker/abc/cpu.cfs_period_us"), "100000\n");
    assertThat(host(0).read().quotaCores()).isEqualTo(0.5);
    write(cgroup().resolve("cpu,cpuacct/docker/abc/cpu.cfs_quota_us"), "-1\n");
    assertThat(host(0).read().quotaCores()).as("-1: no quota").isNaN();
    // A container in its own cgroup namespace sees the host's path, which its mount does not
    // hold: its limit is on the mount itself.
    write(proc().resolve("self/cgroup"), "4:cpu,cpuacct:/kubepods/burstable/pod9/xyz\n");
    write(cgroup().resolve("cpu,cpuacct/cpu.cfs_quota_us"), "250000\n");
    write(cgroup().resolve("cpu,cpuacct/cpu.cfs_period_us"), "100000\n");
    assertThat(host(0).read().quotaCores()).isEqualTo(2.5);
  }

  @Test
  void onASharedNodeOnlyTheAllowedCpusCountAndNicedTimeIsIdle() throws IOException {
    write(proc().resolve("self/status"), "Name:\tjava\nCpus_allowed_list:\t1,3\nx: 1\n");
    write(proc().resolve("self/cgroup"), "0::/\n");
    // CPUs 0 and 2 are another tenant's, busy all the time: not this process's cores.
    stat(
        new long[] {100, 0, 0, 0},
        new long[] {10, 5, 10, 75},
        new long[] {100, 0, 0, 0},
        new long[] {20, 0, 0, 80});
    ProcessCpu.Reading r = host(0).read();
    assertThat(r.cpus()).isEqualTo(2);
    assertThat(r.busyTicks()).as("user and system of CPUs 1 and 3; nice is idle").isEqualTo(40);
    assertThat(r.totalTicks()).isEqualTo(200);
    assertThat(r.quotaCores()).as("no cpu.max: no limit").isNaN();
  }

  @Test
  void throughProcessCpuTheBudgetIsTheCoresOthersLeave() throws IOException {
    write(proc().resolve("self/cgroup"), "0::/\n");
    AtomicLong wall = new AtomicLong(0);
    AtomicLong own = new AtomicLong(0);
    stat(new long[] {0, 0, 0, 100}, new long[] {0, 0, 0, 100});
    ProcessCpu p = new ProcessCpu(wall::get, new HostCpu(proc(), cgroup(), own::get, () -> 2));
    p.usage();
    // 10 s later: the process used 6 s of CPU (0.6 cores); the machine's 2 CPUs were busy 1.6 of
    // their 2 (ticks of 10 ms): others 1.0; it may use the 1.0 they leave.
    wall.set(10 * S);
    own.set(6 * S);
    stat(new long[] {500, 0, 300, 300}, new long[] {600, 0, 200, 300});
    ProcessCpu.Usage u = p.usage();
    assertThat(u.ownCores()).isCloseTo(0.6, within(1e-9));
    assertThat(u.othersCores()).isCloseTo(1.0, within(1e-9));
    assertThat(u.budgetCores()).isCloseTo(1.0, within(1e-9));
    assertThat(u.utilization()).isCloseTo(0.6, within(1e-9));
  }

  @Test
  void withoutProcOnlyTheProcesssClockAndTheJvmsCpusAreKnown() {
    // macOS, Windows: no /proc, no cgroups.
    ProcessCpu.Reading r = host(42).read();
    assertThat(r.processNanos()).isEqualTo(42);
    assertThat(r.totalTicks()).isNegative();
    assertThat(r.cpus()).isEqualTo(7);
    assertThat(r.quotaCores()).isNaN();
    AtomicLong wall = new AtomicLong(0);
    AtomicLong own = new AtomicLong(0);
    ProcessCpu p = new ProcessCpu(wall::get, new HostCpu(proc(), cgroup(), own::get, () -> 4));
    p.usage();
    wall.set(2 * S);
    own.set(2 * S);
    ProcessCpu.Usage u = p.usage();
    assertThat(u.othersCores()).isNaN();
    assertThat(u.budgetCores()).isEqualTo(4);
    assertThat(u.utilization()).isCloseTo(0.25, within(1e-9));
  }

  @Test
  void cpuListsParse() {
    assertThat(HostCpu.cpuList("0-3,8,10-11")).hasToString("{0, 1, 2, 3, 8, 10, 11}");
    assertThat(HostCpu.cpuList("")).isNull();
  }
}
