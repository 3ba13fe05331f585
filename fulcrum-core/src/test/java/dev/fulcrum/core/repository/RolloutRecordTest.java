package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The durable record of rolled-back canaries: what a new server reads of what the last one wrote, a
 * version set going again or whose folder is gone forgotten, and a file that is not a record
 * refused with its name.
 */
class RolloutRecordTest {
  private static final Clock CLOCK =
      Clock.fixed(Instant.parse("2026-12-07T20:00:00Z"), ZoneOffset.UTC);

  @TempDir Path dir;

  @Test
  void aNewServerReadsTheVersionsTheLastOneRolledBack() {
    try (RolloutRecord r = RolloutRecord.open(dir.resolve("state"), CLOCK)) {
      assertThat(r.rolledBack("fraud")).isEmpty();
      r.note("fraud", 2, true, "p99 latency 9 ms vs 1 ms");
      r.note("fraud", 2, true, "a later reason"); // recorded already: the first stands
      r.note("minilm", 5, true, "rolled back by hand");
      r.note("minilm", 5, false, ""); // set going again
    }
    assertThat(dir.resolve("state").resolve(RolloutRecord.FILE)).isRegularFile();
    assertThat(dir.resolve("state").resolve(RolloutRecord.FILE + ".tmp")).doesNotExist();
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
}
