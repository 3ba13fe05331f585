package dev.fulcrum.server.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.stats.CgroupDirs;
import dev.fulcrum.core.stats.FakeCgroupTree;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CgroupThrottlingTest {
  @TempDir Path dir;

  @Test
  void findsTheUnifiedHierarchysCpuStat() {
    FakeCgroupTree tree = new FakeCgroupTree(dir);
    tree.procCgroup("0::/kubepods/pod1/c1\n");
    Path stat =
        tree.file("kubepods/pod1/c1/cpu.stat", "usage_usec 5\nnr_periods 10\nnr_throttled 2\n");
    assertThat(CgroupThrottling.find(tree.dirs())).isEqualTo(stat);
  }

  @Test
  void findsTheV1CpuControllersCpuStatAndNothingWithoutOne() {
    FakeCgroupTree tree = new FakeCgroupTree(dir);
    Path proc = tree.procCgroup("4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n");
    Path stat =
        tree.file(
            "cpu,cpuacct/docker/abc/cpu.stat", "nr_periods 7\nnr_throttled 1\nthrottled_time 99\n");
    assertThat(CgroupThrottling.find(tree.dirs())).isEqualTo(stat);
    assertThat(CgroupThrottling.find(CgroupDirs.of(proc, tree.elsewhere("elsewhere")))).isNull();
    assertThat(CgroupThrottling.find(CgroupDirs.of(tree.elsewhere("no-such-file"), dir))).isNull();
  }

  @Test
  void theShareOfPeriodsThrottledBetweenTwoReadings() throws Exception {
    Path stat = new FakeCgroupTree(dir).file("cpu.stat", "nr_periods 100\nnr_throttled 10\n");
    CgroupThrottling t = new CgroupThrottling(stat);
    assertThat(t.sample()).isNaN(); // the first reading has nothing to compare with
    Files.writeString(stat, "nr_periods 150\nnr_throttled 30\n");
    assertThat(t.sample()).isEqualTo(40.0); // 20 of 50 periods
    assertThat(t.sample()).isNaN(); // no period passed: no quota enforced, nothing to say
    assertThat(new CgroupThrottling(null).sample()).isNaN();
  }
}
