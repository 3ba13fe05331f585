package dev.fulcrum.tools.tune;

import static dev.fulcrum.tools.tune.TuneEndToEndTest.runTune;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mistakes on tune's command line: each a usage error (exit 2, the reason on the first line, no
 * stack trace) before the server starts, so before any measurement.
 */
class TuneUsageTest {
  private static final Path DEMO = Path.of("../demo/models");

  @TempDir Path tmp;

  @Test
  void meaninglessOptionsAreRefusedBeforeAnyWork() throws Exception {
    Path bad = Files.writeString(tmp.resolve("bad.yaml"), "max-batch-size: [\n");
    Path afile = Files.writeString(tmp.resolve("afile"), "hi");
    Path out = tmp.resolve("out");
    for (List<String> mistake :
        List.of(
            List.of("--max-trials", "0"),
            List.of("--max-trials", "-3"),
            List.of("--instance-counts", "0"),
            List.of("--intra-op-threads", "-1"),
            List.of("--max-batch-sizes", "0"),
            List.of("--queue-delays-us", "-5"),
            List.of("--concurrency", "0:4"),
            List.of("--concurrency", "abc"),
            List.of("--rounds", "2"),
            List.of("--exhaustive", "--max-trials", "3"),
            List.of("--compare", bad.toString()),
            List.of("--compare", tmp.resolve("nosuch.yaml").toString()),
            List.of("--compare", afile.toString(), "--exhaustive", "--max-batch-sizes", "1,2"),
            List.of("--compare", afile.toString(), "--remeasure", "5"),
            List.of("--output", afile.toString()),
            List.of("--output", afile.resolve("sub").toString()),
            List.of("--model-repository", tmp.resolve("nosuchrepo").toString()))) {
      List<String> args =
          new ArrayList<>(List.of("--model", "fraud_classifier", "--trial-seconds", "0.2"));
      if (!mistake.contains("--model-repository")) {
        args.addAll(List.of("--model-repository", DEMO.toString()));
      }
      if (!mistake.contains("--output")) {
        args.addAll(List.of("--output", out.toString()));
      }
      args.addAll(mistake);
      TuneEndToEndTest.Run r = runTune(args.toArray(String[]::new));
      String first = r.err().lines().findFirst().orElse("");
      assertThat(r.code()).as(mistake + ": " + r.err()).isEqualTo(2);
      assertThat(first).as(mistake.toString()).contains(mistake.get(0));
      assertThat(r.err()).as(mistake.toString()).doesNotContain("\tat ").contains("Usage:");
      assertThat(r.err()).as(mistake.toString()).doesNotContain("tuning fraud_classifier");
    }
    assertThat(out).doesNotExist(); // refused before the folder was made
  }

  @Test
  void theMessagesSayWhatIsWrong() {
    TuneEndToEndTest.Run r =
        runTune(
            "--model-repository",
            DEMO.toString(),
            "--model",
            "fraud_classifier",
            "--output",
            tmp.resolve("o").toString(),
            "--concurrency",
            "0:4");
    assertThat(r.err()).startsWith("--concurrency: '0:4': levels must be > 0");
  }

  @Test
  void axisValuesAreSortedAndCountedOnce() {
    assertThat(TuneCommand.ascending(List.of(32, 1, 8, 8))).containsExactly(1, 8, 32);
    assertThat(TuneCommand.ascending(List.of(2000L, 0L))).containsExactly(0L, 2000L);
  }

  @Test
  void theHeaderPromisesOnlyTheReMeasurementTheBudgetKeeps() {
    Search.Remeasure quick = Search.Remeasure.QUICK;
    assertThat(TuneCommand.remeasureNote(quick, false, 19))
        .isEqualTo("; then the best 2 measured 2 more times each, in turns");
    assertThat(TuneCommand.remeasureNote(quick, false, 8))
        .isEqualTo("; then the best 2 measured 1 more times each, in turns");
    assertThat(TuneCommand.remeasureNote(quick, false, 4))
        .isEqualTo("; too few trials to keep any back to re-measure the best");
    assertThat(TuneCommand.remeasureNote(Search.Remeasure.EXHAUSTIVE, true, 4))
        .isEqualTo("; then the best 3 measured 2 more times each, in turns");
    assertThat(TuneCommand.remeasureNote(Search.Remeasure.NONE, false, 100)).isEmpty();
  }

  @Test
  void aMultiLineParserMessageIsOneLine() {
    assertThat(TuneCommand.oneLine("a.yaml: not valid YAML: while parsing\n in 'reader'\n  x\n"))
        .isEqualTo("a.yaml: not valid YAML: while parsing in 'reader' x");
  }
}
