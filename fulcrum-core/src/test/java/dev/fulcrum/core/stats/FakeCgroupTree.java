package dev.fulcrum.core.stats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A fake cgroup layout in a test's folder, for {@link CgroupDirs#of} and {@link HostCpu}: a fake
 * {@code /proc} ({@link #proc}) with the process's {@code /proc/self/cgroup} ({@link #procCgroup})
 * and the files a test writes there ({@link #procFile}), and a cgroup mount ({@link #mount}) whose
 * folders and files a test creates. The one fixture of it: core's tests and, through core's test
 * jar, the server's (the dashboard's throttling figure). Not thread-safe: one test's.
 */
public final class FakeCgroupTree {
  private final Path root;

  /**
   * @param root an empty folder of the test's ({@code @TempDir})
   */
  public FakeCgroupTree(Path root) {
    this.root = root;
  }

  /** Writes the fake {@code /proc/self/cgroup} with these lines (one per hierarchy). */
  public Path procCgroup(String lines) {
    return procFile("self/cgroup", lines);
  }

  /** The fake {@code /proc}; created by the first file under it. */
  public Path proc() {
    return root.resolve("proc");
  }

  /**
   * Writes a file under the fake {@code /proc} ({@code stat}, {@code self/status}), its folders
   * created.
   */
  public Path procFile(String relative, String text) {
    return write(proc().resolve(relative), text);
  }

  /** The fake mount ({@code /sys/fs/cgroup}); created by the first folder or file under it. */
  public Path mount() {
    return root.resolve("fs");
  }

  /** Creates a folder under the mount ({@code ""}: the mount itself). */
  public Path dir(String relative) {
    Path p = mount().resolve(relative);
    try {
      Files.createDirectories(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p;
  }

  /** Writes a file under the mount, its folders created. */
  public Path file(String relative, String text) {
    return write(mount().resolve(relative), text);
  }

  /** A path in the test's folder outside the fake layout: a file or mount that is not there. */
  public Path elsewhere(String name) {
    return root.resolve(name);
  }

  /** {@link CgroupDirs#of} the fake {@code /proc/self/cgroup} and mount. */
  public CgroupDirs dirs() {
    return CgroupDirs.of(proc().resolve("self/cgroup"), mount());
  }

  private static Path write(Path p, String text) {
    try {
      Files.createDirectories(p.getParent());
      Files.writeString(p, text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p;
  }
}
