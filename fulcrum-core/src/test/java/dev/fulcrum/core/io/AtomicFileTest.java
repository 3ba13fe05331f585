package dev.fulcrum.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file replaced whole: the new content in place, the old one kept when the content or the rename
 * fails, no temporary file left either way, and the file made as any file the process writes, or
 * its owner's only when asked.
 */
class AtomicFileTest {
  @TempDir Path dir;

  @Test
  void writesANewFileAndReplacesAnOldOne() throws Exception {
    Path file = dir.resolve("results.json");
    AtomicFile.replace(file, "first\n");
    assertThat(file).hasContent("first");
    AtomicFile.replace(file, "second".getBytes(StandardCharsets.UTF_8));
    assertThat(file).hasContent("second");
    assertThat(others(file)).isEmpty();
  }

  @Test
  void contentThatClosesTheStreamIsWrittenWhole() throws Exception {
    Path file = dir.resolve("baseline.json");
    AtomicFile.replace(
        file,
        out -> {
          out.write("a".getBytes(StandardCharsets.UTF_8));
          out.close(); // as Jackson does with a stream it is given
        });
    assertThat(file).hasContent("a");
  }

  @Test
  void contentThatFailsKeepsTheOldFileAndLeavesNoTemporaryFile() throws Exception {
    Path file = Files.writeString(dir.resolve("record.json"), "old");
    assertThatThrownBy(
            () ->
                AtomicFile.replace(
                    file,
                    out -> {
                      out.write("half".getBytes(StandardCharsets.UTF_8));
                      throw new IOException("disk full");
                    }))
        .isInstanceOf(IOException.class)
        .hasMessage("disk full");
    assertThat(file).hasContent("old");
    assertThat(others(file)).isEmpty();
  }

  @Test
  void aRenameThatFailsLeavesNoTemporaryFile() throws Exception {
    // the file's name taken by a folder that is not empty: the rename onto it fails
    Path file = Files.createDirectories(dir.resolve("record.json").resolve("x")).getParent();
    assertThatThrownBy(() -> AtomicFile.replace(file, "new")).isInstanceOf(IOException.class);
    assertThat(file).isDirectory();
    assertThat(others(file)).isEmpty();
  }

  @Test
  void theFileHasThePermissionsOfAnyFileTheProcessWrites() throws Exception {
    Path plain = Files.writeString(dir.resolve("plain.txt"), "x");
    Path replaced = dir.resolve("replaced.txt");
    AtomicFile.replace(replaced, "x");
    assertThat(Files.getPosixFilePermissions(replaced))
        .isEqualTo(Files.getPosixFilePermissions(plain));
  }

  @Test
  void ownerOnlyMakesTheFileReadableAndWritableByItsOwnerAlone() throws Exception {
    assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
    Path file = dir.resolve("rollout-state.json");
    AtomicFile.replace(file, "old");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    AtomicFile.replace(file, "new", AtomicFile.Option.OWNER_ONLY);
    assertThat(file).hasContent("new");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
        .isEqualTo("rw-------");
    assertThat(others(file)).isEmpty();
  }

  @Test
  void unsyncedIsWrittenWholeAsWell() throws Exception {
    Path file = dir.resolve("entry.onnx");
    AtomicFile.replace(
        file,
        "graph".getBytes(StandardCharsets.UTF_8),
        AtomicFile.Option.NO_SYNC,
        AtomicFile.Option.OWNER_ONLY);
    assertThat(file).hasContent("graph");
    assertThat(others(file)).isEmpty();
  }

  /** What else lies in the file's folder (a temporary file left behind would). */
  private static List<Path> others(Path file) throws IOException {
    try (Stream<Path> s = Files.list(file.getParent())) {
      return s.filter(p -> !p.equals(file)).toList();
    }
  }
}
