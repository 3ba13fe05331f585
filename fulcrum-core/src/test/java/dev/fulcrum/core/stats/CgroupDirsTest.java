package dev.fulcrum.core.stats;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link CgroupDirs} on fake {@code /proc/self/cgroup} files and cgroup mounts. */
class CgroupDirsTest {
  @TempDir Path dir;

  private Path write(String relative, String text) throws IOException {
    Path p = dir.resolve(relative);
    Files.createDirectories(p.getParent());
    Files.writeString(p, text);
    return p;
  }

  @Test
  void theUnifiedHierarchysFoldersOwnFirstUpToTheMount() throws IOException {
    Path proc = write("cgroup", "0::/kubepods/pod1/c1\n");
    Path fs = dir.resolve("fs");
    Files.createDirectories(fs.resolve("kubepods/pod1/c1"));
    CgroupDirs d = CgroupDirs.of(proc, fs);
    assertThat(d.v2())
        .containsExactly(
            fs.resolve("kubepods/pod1/c1"),
            fs.resolve("kubepods/pod1"),
            fs.resolve("kubepods"),
            fs);
    assertThat(d.v1Cpu()).isEmpty();
  }

  @Test
  void theHybridLayoutsUnifiedFolderAndV1sCpuController() throws IOException {
    Path proc = write("cgroup", "4:memory:/x\n2:cpu,cpuacct:/docker/abc\n0::/docker/abc\n");
    Path fs = dir.resolve("fs");
    Files.createDirectories(fs.resolve("unified/docker/abc"));
    Files.createDirectories(fs.resolve("cpu,cpuacct/docker/abc"));
    CgroupDirs d = CgroupDirs.of(proc, fs);
    assertThat(d.v2()).first().isEqualTo(fs.resolve("unified/docker/abc"));
    assertThat(d.v2()).last().isEqualTo(fs.resolve("unified"));
    assertThat(d.v1Cpu()).first().isEqualTo(fs.resolve("cpu,cpuacct/docker/abc"));
  }

  @Test
  void aNamespacedContainersCgroupIsTheMountAndNothingWithoutTheFile() throws IOException {
    Path proc = write("cgroup", "0::/kubepods/burstable/pod9/xyz\n");
    Path fs = dir.resolve("fs");
    Files.createDirectories(fs);
    assertThat(CgroupDirs.of(proc, fs).v2()).containsExactly(fs);
    assertThat(CgroupDirs.of(proc, dir.resolve("elsewhere")).v2()).isEmpty();
    assertThat(CgroupDirs.of(dir.resolve("no-such-file"), fs)).isSameAs(CgroupDirs.NONE);
    // A path that climbs out of the mount is not followed.
    assertThat(CgroupDirs.of(write("up", "0::/../../etc\n"), fs).v2()).isEmpty();
  }
}
