package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.io.AtomicFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The durable record of rolled-back canaries: what a new server reads of what the last one wrote, a
 * version set going again or whose folder is gone forgotten, a file that is not a record (or is far
 * too large to be one) refused with its name, and the write through a temporary file of its own (no
 * link followed, none left behind).
 */
class RolloutRecordTest {
  private static final Clock CLOCK =
      Clock.fixed(Instant.parse("2026-12-07T20:00:00Z"), ZoneOffset.UTC);

  @TempDir Path dir;

  @Test
  void aNewServerReadsTheVersionsTheLastOneRolledBack() throws Exception {
    try (RolloutRecord r = RolloutRecord.open(dir.resolve("state"), CLOCK)) {
      assertThat(r.rolledBack("fraud")).isEmpty();
      r.note("fraud", 2, true, "p99 latency 9 ms vs 1 ms");
      r.note("fraud", 2, true, "a later reason"); // recorded already: the first stands
      r.note("minilm", 5, true, "rolled back by hand");
      r.note("minilm", 5, false, ""); // set going again
    }
    assertThat(dir.resolve("state").resolve(RolloutRecord.FILE)).isRegularFile();
    assertThat(temporaryFiles(dir.resolve("state"))).isEmpty();
    try (RolloutRecord again = RolloutRecord.open(dir.resolve("state"), CLOCK)) {
      assertThat(again.rolledBack("fraud"))
          .containsOnlyKeys(2L)
          .containsEntry(
              2L,
              new RolloutRecord.Entry(
                  "p99 latency 9 ms vs 1 ms", Instant.parse("2026-12-07T20:00:00Z")));
      assertThat(again.rolledBack("minilm")).isEmpty();
      again.retain("fraud", Set.of(1L, 3L)); // version 2's folder is gone
    }
    try (RolloutRecord third = RolloutRecord.open(dir.resolve("state"), CLOCK)) {
      assertThat(third.rolledBack("fraud")).isEmpty();
    }
  }

  @Test
  void aFileThatIsNotARecordIsRefusedWithItsName() throws Exception {
    Files.writeString(dir.resolve(RolloutRecord.FILE), "{\"models\": {\"fraud\": {}}}");
    assertThatThrownBy(() -> RolloutRecord.open(dir, CLOCK))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(dir.resolve(RolloutRecord.FILE).toString())
        .hasMessageContaining("models.fraud.rolled_back must be a list");
    Files.writeString(dir.resolve(RolloutRecord.FILE), "{not json");
    assertThatThrownBy(() -> RolloutRecord.open(dir, CLOCK))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cannot be read");
  }

  @Test
  void aLinkAtTheOldTemporaryNameIsNotFollowed() throws Exception {
    Path state = Files.createDirectories(dir.resolve("state"));
    Path victim = Files.writeString(dir.resolve("victim.txt"), "keep me");
    Files.createSymbolicLink(state.resolve(RolloutRecord.FILE + ".tmp"), victim);
    try (RolloutRecord r = RolloutRecord.open(state, CLOCK)) {
      r.note("fraud", 2, true, "p99 latency");
    }
    assertThat(victim).hasContent("keep me");
    assertThat(state.resolve(RolloutRecord.FILE)).isRegularFile();
    try (RolloutRecord again = RolloutRecord.open(state, CLOCK)) {
      assertThat(again.rolledBack("fraud")).containsOnlyKeys(2L);
    }
  }

  @Test
  void aWriteThatFailsLeavesNoTemporaryFile() throws Exception {
    Path state = dir.resolve("state");
    try (RolloutRecord r = RolloutRecord.open(state, CLOCK)) {
      // the record's name taken by a folder that is not empty: the rename onto it fails
      Files.createDirectories(state.resolve(RolloutRecord.FILE).resolve("x"));
      r.note("fraud", 2, true, "p99 latency");
    }
    assertThat(temporaryFiles(state)).isEmpty();
    assertThat(state.resolve(RolloutRecord.FILE)).isDirectory();
  }

  @Test
  void aFileTooLargeToBeARecordIsRefusedWithItsName() throws Exception {
    Path file = dir.resolve(RolloutRecord.FILE);
    try (var c =
        java.nio.channels.FileChannel.open(
            file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      c.write(java.nio.ByteBuffer.wrap(new byte[] {' '}), RolloutRecord.MAX_BYTES); // sparse
    }
    assertThatThrownBy(() -> RolloutRecord.open(dir, CLOCK))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("larger than 16 MiB");
  }

  private static List<Path> temporaryFiles(Path folder) throws Exception {
    try (Stream<Path> s = Files.list(folder)) {
      return s.filter(p -> p.getFileName().toString().endsWith(AtomicFile.TEMP_SUFFIX))
          .filter(p -> !Files.isSymbolicLink(p))
          .toList();
    }
  }
}
