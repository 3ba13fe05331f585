package dev.fulcrum.core.stats;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link CgroupDirs} on fake {@code /proc/self/cgroup} files and cgroup mounts. */
class CgroupDirsTest {
  @TempDir Path dir;

  @Test
  void theUnifiedHierarchysFoldersOwnFirstUpToTheMount() {
    FakeCgroupTree tree = new FakeCgroupTree(dir);
    tree.procCgroup("0::/kubepods/pod1/c1\n");
    Path fs = tree.mount();
    tree.dir("kubepods/pod1/c1");
    CgroupDirs d = tree.dirs();
    assertThat(d.v2())
        .containsExactly(
            fs.resolve("kubepods/pod1/c1"),
            fs.resolve("kubepods/pod1"),
            fs.resolve("kubepods"),
            fs);
    assertThat(d.v1Cpu()).isEmpty();
  }

  @Test
  void theHybridLayoutsUnifiedFolderAndV1sCpuController() {
    FakeCgroupTree tree = new FakeCgroupTree(dir);
    tree.procCgroup("4:memory:/x\n2:cpu,cpuacct:/docker/abc\n0::/docker/abc\n");
    tree.dir("unified/docker/abc");
    tree.dir("cpu,cpuacct/docker/abc");
    CgroupDirs d = tree.dirs();
    Path fs = tree.mount();
    assertThat(d.v2()).first().isEqualTo(fs.resolve("unified/docker/abc"));
    assertThat(d.v2()).last().isEqualTo(fs.resolve("unified"));
    assertThat(d.v1Cpu()).first().isEqualTo(fs.resolve("cpu,cpuacct/docker/abc"));
  }

  @Test
  void aNamespacedContainersCgroupIsTheMountAndNothingWithoutTheFile() {
    FakeCgroupTree tree = new FakeCgroupTree(dir);
    Path proc = tree.procCgroup("0::/kubepods/burstable/pod9/xyz\n");
    Path fs = tree.dir("");
    assertThat(tree.dirs().v2()).containsExactly(fs);
    assertThat(CgroupDirs.of(proc, tree.elsewhere("elsewhere")).v2()).isEmpty();
    assertThat(CgroupDirs.of(tree.elsewhere("no-such-file"), fs)).isSameAs(CgroupDirs.NONE);
    // A path that climbs out of the mount is not followed.
    tree.procCgroup("0::/../../etc\n");
    assertThat(tree.dirs().v2()).isEmpty();
  }
}
