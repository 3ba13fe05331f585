package dev.fulcrum.tools.tune;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep's files while it runs: written after every trial, marked partial, so that Ctrl-C keeps
 * them (the shutdown hook calls {@link Checkpoint#interrupted}); and the output folder, checked
 * before any measurement and cleared of an earlier run's files.
 */
class CheckpointTest {
  private static final Objective NONE = new Objective(null, null, 0);

  @TempDir Path tmp;

  private static Trial trial(int batch, double throughput) {
    return NONE.judge(
        new Knobs(batch, 0, 1, 1, false),
        List.of(new LevelPoint("c=2", throughput, 1, 2, 100, 0, 100)));
  }

  private static JsonNode results(Path dir) throws Exception {
    return new ObjectMapper().readTree(dir.resolve("results.json").toFile());
  }

  @Test
  void eachTrialIsWrittenAsItEndsAndAnInterruptionKeepsWhatWasWritten() throws Exception {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Checkpoint c =
        new Checkpoint(
            new Progress(new PrintStream(err, true, StandardCharsets.UTF_8), false, () -> 0L),
            tmp,
            (trials, run) -> Sweep.of("m", "quick", 20, run, NONE, false, trials, true, null),
            new PrintStream(out, true, StandardCharsets.UTF_8));
    Trial a = trial(4, 100);
    Trial b = trial(8, 300);
    c.trialDone(a, 1, 10);
    c.measuredSoFar(List.of(a), 1);
    c.trialDone(b, 2, 10);
    c.measuredSoFar(List.of(a, b), 2);
    JsonNode r = results(tmp);
    assertThat(r.get("partial").asBoolean()).isTrue();
    assertThat(r.get("trials")).hasSize(2);
    assertThat(r.get("trials_run").asInt()).isEqualTo(2);
    assertThat(r.get("chosen").isNull()).isTrue(); // the search had not finished
    assertThat(Files.readString(tmp.resolve("report.html"))).contains("\"partial\" : true");
    assertThat(tmp.resolve("recommended.yaml")).doesNotExist();
    try (var files = Files.list(tmp)) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("results.json", "report.html"); // no temporary file left
    }

    c.interrupted(); // the shutdown hook
    assertThat(out.toString(StandardCharsets.UTF_8))
        .startsWith("interrupted after 2 trials: ")
        .contains(tmp.toAbsolutePath().normalize() + " holds the 2 configurations measured so far");
    // A trial that ends while the JVM shuts down (perhaps broken by it) is neither shown nor
    // written, and the sweep does not write its final files over the partial ones.
    int shown = err.size();
    c.trialDone(trial(16, 900), 3, 10);
    c.measuredSoFar(List.of(a, b, trial(16, 900)), 3);
    assertThat(err.size()).isEqualTo(shown);
    assertThat(results(tmp).get("trials")).hasSize(2);
    assertThat(c.finish()).isFalse();
  }

  @Test
  void aFinishedSweepIsNotReportedAsInterrupted() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Checkpoint c =
        new Checkpoint(
            new Progress(new PrintStream(new ByteArrayOutputStream()), false, () -> 0L),
            tmp,
            (trials, run) -> Sweep.of("m", "quick", 20, run, NONE, false, trials, true, null),
            new PrintStream(out, true, StandardCharsets.UTF_8));
    assertThat(c.finish()).isTrue();
    c.interrupted();
    assertThat(out.size()).isZero();
    assertThat(Checkpoint.message(0, 0, tmp))
        .isEqualTo("interrupted before the first trial finished: nothing written");
    assertThat(Checkpoint.message(1, 1, tmp)).startsWith("interrupted after 1 trial: ");
  }

  @Test
  void theOutputFolderIsCheckedBeforeAnyMeasurement() throws Exception {
    Path file = Files.writeString(tmp.resolve("afile"), "hi");
    assertThat(ResultFiles.prepare(file)).isEqualTo(file + " is a file, not a folder");
    assertThat(ResultFiles.prepare(file.resolve("sub")))
        .isEqualTo(file.resolve("sub") + ": " + file.toAbsolutePath() + " is a file, not a folder");
    Path nested = tmp.resolve("a/b/c");
    assertThat(ResultFiles.prepare(nested)).isNull();
    assertThat(nested).isDirectory();
    try (var left = Files.list(nested)) {
      assertThat(left).isEmpty(); // the write probe is gone
    }
  }

  @Test
  void anEarlierRunsFilesAreRemovedSoNoneOutlivesTheRunThatWroteIt() throws Exception {
    for (String f : List.of("recommended.yaml", "results.json", "report.html", "compare.json")) {
      Files.writeString(tmp.resolve(f), "old");
    }
    ResultFiles.clear(tmp);
    assertThat(tmp.resolve("recommended.yaml")).doesNotExist();
    assertThat(tmp.resolve("results.json")).doesNotExist();
    assertThat(tmp.resolve("report.html")).doesNotExist();
    assertThat(tmp.resolve("compare.json")).exists(); // --compare's, not a sweep's
  }
}
