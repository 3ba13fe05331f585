package dev.fulcrum.core.stats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link HostCpu} on fake {@code /proc} and cgroup trees written to a temporary folder: a container
 * with a cgroup v2 or v1 quota, a shared node with a CPU set, and a host with no {@code /proc}.
 */
class HostCpuTest {
  private static final long S = 1_000_000_000L;

  @TempDir Path dir;

  private FakeCgroupTree tree;

  @BeforeEach
  void tree() {
    tree = new FakeCgroupTree(dir);
  }

  /** /proc/stat with the aggregate line and one line a CPU: {user, nice, system, idle} each. */
  private void stat(long[]... cpus) {
    StringBuilder sb = new StringBuilder("cpu  0 0 0 0 0 0 0 0 0 0\n");
    for (int i = 0; i < cpus.length; i++) {
      long[] c = cpus[i];
      sb.append("cpu").append(i).append(' ').append(c[0]).append(' ').append(c[1]).append(' ');
      sb.append(c[2]).append(' ').append(c[3]).append(" 0 0 0 0 0 0\n");
    }
    sb.append("intr 1 2 3\nctxt 4\n");
    tree.procFile("stat", sb.toString());
  }

  private HostCpu host(long processNanos) {
    return new HostCpu(tree.proc(), tree.mount(), () -> processNanos, () -> 7);
  }

  @Test
  void aCgroupV2QuotaIsTheLowestOnTheWayUpExactly() {
    tree.procCgroup("0::/kubepods/pod1/c1\n");
    tree.file("kubepods/pod1/c1/cpu.max", "max 100000\n");
    tree.file("kubepods/pod1/cpu.max", "150000 100000\n");
    tree.file("kubepods/cpu.max", "400000 100000\n");
    stat(new long[] {1, 0, 1, 8}, new long[] {1, 0, 1, 8});
    ProcessCpu.Reading r = host(5).read();
    assertThat(r.quotaCores()).isEqualTo(1.5);
    assertThat(r.cpus()).isEqualTo(2);
    assertThat(r.processNanos()).isEqualTo(5);
    // Lifted while serving: read again at the next reading.
    tree.file("kubepods/pod1/cpu.max", "max 100000\n");
    tree.file("kubepods/cpu.max", "max 100000\n");
    assertThat(host(5).read().quotaCores()).isNaN();
  }

  @Test
  void aCgroupV1QuotaAndTheMountOfANamespacedContainer() {
    tree.procCgroup("5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n");
    tree.file("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "50000\n");
    tree.file("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    assertThat(host(0).read().quotaCores()).isEqualTo(0.5);
    tree.file("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
    assertThat(host(0).read().quotaCores()).as("-1: no quota").isNaN();
    // A container in its own cgroup namespace sees the host's path, which its mount does not
    // hold: its limit is on the mount itself.
    tree.procCgroup("4:cpu,cpuacct:/kubepods/burstable/pod9/xyz\n");
    tree.file("cpu,cpuacct/cpu.cfs_quota_us", "250000\n");
    tree.file("cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    assertThat(host(0).read().quotaCores()).isEqualTo(2.5);
  }

  @Test
  void onASharedNodeOnlyTheAllowedCpusCountAndNicedTimeIsIdle() {
    tree.procFile("self/status", "Name:\tjava\nCpus_allowed_list:\t1,3\nx: 1\n");
    tree.procCgroup("0::/\n");
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
  void throughProcessCpuTheBudgetIsTheCoresOthersLeave() {
    tree.procCgroup("0::/\n");
    AtomicLong wall = new AtomicLong(0);
    AtomicLong own = new AtomicLong(0);
    stat(new long[] {0, 0, 0, 100}, new long[] {0, 0, 0, 100});
    ProcessCpu p =
        new ProcessCpu(wall::get, new HostCpu(tree.proc(), tree.mount(), own::get, () -> 2));
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
    ProcessCpu p =
        new ProcessCpu(wall::get, new HostCpu(tree.proc(), tree.mount(), own::get, () -> 4));
    p.usage();
    wall.set(2 * S);
    own.set(2 * S);
    ProcessCpu.Usage u = p.usage();
    assertThat(u.othersCores()).isNaN();
    assertThat(u.budgetCores()).isEqualTo(4);
    assertThat(u.utilization()).isCloseTo(0.25, within(1e-9));
  }

  /** A PSI file's text whose some total is {@code micros}. */
  private static String pressure(long micros) {
    return "some avg10=1.00 avg60=2.00 avg300=3.00 total="
        + micros
        + "\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n";
  }

  @Test
  void thePressureIsTheCgroupsOwnElseTheHosts() throws IOException {
    tree.procCgroup("0::/kubepods/pod1/c1\n");
    tree.file("kubepods/pod1/c1/cpu.pressure", pressure(123));
    Path type = tree.file("kubepods/pod1/c1/cgroup.type", "domain\n");
    tree.file("kubepods/pod1/cpu.pressure", pressure(999)); // the pod's: others' waits too
    tree.procFile("pressure/cpu", pressure(5000));
    ProcessCpu.Reading r = host(0).read();
    assertThat(r.stalledMicros()).isEqualTo(123);
    assertThat(r.pressure()).isEqualTo(ProcessCpu.PressureScope.CGROUP);
    // A kernel with PSI but cgroup v1: the host's.
    tree.procCgroup("4:cpu,cpuacct:/docker/abc\n");
    r = host(0).read();
    assertThat(r.stalledMicros()).isEqualTo(5000);
    assertThat(r.pressure()).isEqualTo(ProcessCpu.PressureScope.HOST);
    // No PSI at all: nothing, and the reading says so.
    Files.delete(tree.proc().resolve("pressure/cpu"));
    r = host(0).read();
    assertThat(r.stalledMicros()).isNegative();
    assertThat(r.pressure()).isEqualTo(ProcessCpu.PressureScope.NONE);
    // Unparsable: not read.
    assertThat(HostCpu.someTotalMicros(type)).isNegative();
  }

  @Test
  void theRootCgroupsPressureIsTheHostsAlsoInTheHybridLayout() {
    // v1 controllers beside a v2 hierarchy at cgroup/unified, the process in its root.
    tree.procCgroup("1:cpu:/\n0::/\n");
    tree.file("cpu/cpu.shares", "1024\n");
    tree.file("unified/cpu.pressure", pressure(77));
    ProcessCpu.Reading r = host(0).read();
    assertThat(r.stalledMicros()).isEqualTo(77);
    assertThat(r.pressure())
        .as("no cgroup.type: the root")
        .isEqualTo(ProcessCpu.PressureScope.HOST);
    // 1024 shares (v1's default, a pod's 1 CPU request) on v2's scale, as runc and the kubelet map
    // them: 1 + (1024 - 2) x 9999 / 262142.
    assertThat(r.weight()).isCloseTo(39.98, within(0.01));
    assertThat(r.weightShare()).as("its siblings are out of sight").isNaN();
  }

  @Test
  void aBusyNodeOnWhichTheProcessNeverWaitsIsNotFull() {
    tree.procCgroup("0::/pod\n");
    tree.file("pod/cgroup.type", "domain\n");
    tree.file("pod/cpu.pressure", pressure(0));
    AtomicLong wall = new AtomicLong(0);
    AtomicLong ownNanos = new AtomicLong(0);
    stat(new long[] {0, 0, 0, 100}, new long[] {0, 0, 0, 100});
    ProcessCpu p =
        new ProcessCpu(wall::get, new HostCpu(tree.proc(), tree.mount(), ownNanos::get, () -> 2));
    p.usage();
    // 10 s: it used 0.4 cores, others kept 1.6 busy (the CPUs were full), and it never waited:
    // whatever they ran yielded to it when it wanted a CPU.
    wall.set(10 * S);
    ownNanos.set(4 * S);
    stat(new long[] {1000, 0, 0, 100}, new long[] {1000, 0, 0, 100});
    ProcessCpu.Usage u = p.usage();
    assertThat(u.othersCores()).isCloseTo(1.6, within(1e-9));
    assertThat(u.pressureSomeRatio()).isZero();
    assertThat(u.pressure()).isEqualTo(ProcessCpu.PressureScope.CGROUP);
    assertThat(u.budgetCores()).as("the whole allowance").isCloseTo(2.0, within(1e-9));
    assertThat(u.utilization()).isCloseTo(0.2, within(1e-9));
    // The next 10 s: the same use, but a task of it waited for a CPU 5 s of the 10 (the neighbours
    // took what it wanted): half of the rest of its allowance counts.
    wall.set(20 * S);
    ownNanos.set(8 * S);
    stat(new long[] {2000, 0, 0, 100}, new long[] {2000, 0, 0, 100});
    tree.file("pod/cpu.pressure", pressure(5_000_000));
    u = p.usage();
    assertThat(u.pressureSomeRatio()).isCloseTo(0.5, within(1e-9));
    assertThat(u.budgetCores()).isCloseTo(0.4 + 1.6 * 0.5, within(1e-9));
    // Then it waited all the time: it got all it could, its budget is full.
    wall.set(30 * S);
    ownNanos.set(12 * S);
    stat(new long[] {3000, 0, 0, 100}, new long[] {3000, 0, 0, 100});
    tree.file("pod/cpu.pressure", pressure(15_000_000));
    u = p.usage();
    assertThat(u.pressureSomeRatio()).isEqualTo(1.0);
    assertThat(u.budgetCores()).isCloseTo(0.4, within(1e-9));
    assertThat(u.utilization()).isEqualTo(1.0);
  }

  @Test
  void theWeightAndTheShareOfTheMachineItEntitlesTo() {
    tree.procCgroup("0::/kubepods/burstable/pod1/c1\n");
    tree.file("kubepods/cpu.weight", "100\n");
    tree.file("system.slice/cpu.weight", "100\n");
    tree.file("kubepods/burstable/cpu.weight", "50\n");
    tree.file("kubepods/besteffort/cpu.weight", "1\n");
    tree.file("kubepods/guaranteed/cpu.weight", "49\n");
    tree.file("kubepods/burstable/pod1/cpu.weight", "40\n");
    tree.file("kubepods/burstable/pod2/cpu.weight", "120\n");
    tree.file("kubepods/burstable/pod1/c1/cpu.weight", "39\n");
    ProcessCpu.Reading r = host(0).read();
    assertThat(r.weight()).isEqualTo(39);
    // c1 alone in pod1 (1), pod1 a quarter of burstable, burstable half of kubepods, kubepods half
    // of the machine.
    assertThat(r.weightShare()).isCloseTo(0.25 * 0.5 * 0.5, within(1e-12));
    // A sibling whose weight cannot be read: the share is not known, the weight is.
    tree.dir("kubepods/burstable/pod3");
    r = host(0).read();
    assertThat(r.weight()).isEqualTo(39);
    assertThat(r.weightShare()).isNaN();
  }

  @Test
  void cpuListsParse() {
    assertThat(HostCpu.cpuList("0-3,8,10-11")).hasToString("{0, 1, 2, 3, 8, 10, 11}");
    assertThat(HostCpu.cpuList("")).isNull();
  }
}
