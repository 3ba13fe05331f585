package dev.fulcrum.tools.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.testkit.EnsembleModels;
import dev.fulcrum.tools.CliRun;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fulcrum predict} in process: an ensemble scored from CSV and JSON lines, into JSON lines
 * and CSV; bad rows stopping the run or skipped in place, never shifting a row; usage errors.
 */
class PredictCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;

  private static Path repo;

  private static final float[][] ROWS = {
    {0.1f, 0.2f, 0.3f, 0.4f},
    {1f, 0f, 0.5f, 0.25f},
    {0.9f, 0.8f, 0.7f, 0.6f},
    {0f, 0f, 0f, 1f},
    {0.5f, 0.5f, 0.5f, 0.5f}
  };

  @BeforeAll
  static void writeEnsemble() throws Exception {
    repo = EnsembleModels.write(dir.resolve("repo"));
  }

  private static String csv(float[][] rows) {
    StringBuilder sb = new StringBuilder("a,b,c,d\n");
    for (float[] r : rows) {
      sb.append(r[0]).append(',').append(r[1]).append(',').append(r[2]).append(',').append(r[3]);
      sb.append('\n');
    }
    return sb.toString();
  }

  private static CliRun predict(Path in, Path out, String... more) {
    List<String> args =
        new java.util.ArrayList<>(
            List.of(
                "predict",
                "--model-repository",
                repo.toString(),
                "--model",
                EnsembleModels.ENSEMBLE,
                "--input",
                in.toString(),
                "--output",
                out.toString()));
    if (!List.of(more).contains("--batch-size")) {
      args.addAll(List.of("--batch-size", "2"));
    }
    args.addAll(List.of(more));
    return CliRun.of(args.toArray(String[]::new));
  }

  private static int best(float[] scores) {
    int best = 0;
    for (int i = 1; i < scores.length; i++) {
      if (scores[i] > scores[best]) {
        best = i;
      }
    }
    return best;
  }

  @Test
  void scoresAnEnsembleFromCsvIntoJsonLinesInOrder() throws Exception {
    Path in = Files.writeString(dir.resolve("rows.csv"), csv(ROWS));
    Path out = dir.resolve("scores.jsonl");
    CliRun run = predict(in, out);
    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.err()).contains("predict: 5 rows, 0 errors");
    List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
    assertThat(lines).hasSize(ROWS.length);
    for (int i = 0; i < ROWS.length; i++) {
      JsonNode row = JSON.readTree(lines.get(i));
      float[] expected = EnsembleModels.expectedScores(ROWS[i]);
      for (int c = 0; c < 3; c++) {
        assertThat(row.get("SCORES").get(c).floatValue()).isCloseTo(expected[c], within(1e-5f));
      }
      assertThat(row.get("LABEL").get(0).asInt()).as("row %d", i).isEqualTo(best(expected));
    }
  }

  @Test
  void jsonLinesInCsvOutTheSameAnswers() throws Exception {
    StringBuilder jsonl = new StringBuilder();
    for (float[] r : ROWS) {
      jsonl.append("{\"INPUT\":[").append(r[0]).append(',').append(r[1]).append(',');
      jsonl.append(r[2]).append(',').append(r[3]).append("]}\n");
    }
    Path in = Files.writeString(dir.resolve("rows.jsonl"), jsonl.toString());
    Path out = dir.resolve("scores.csv");
    CliRun run = predict(in, out);
    assertThat(run.code()).as(run.err()).isZero();
    List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
    assertThat(lines.get(0)).isEqualTo("SCORES_0,SCORES_1,SCORES_2,LABEL");
    assertThat(lines).hasSize(ROWS.length + 1);
    for (int i = 0; i < ROWS.length; i++) {
      String[] cells = lines.get(i + 1).split(",");
      float[] expected = EnsembleModels.expectedScores(ROWS[i]);
      for (int c = 0; c < 3; c++) {
        assertThat(Float.parseFloat(cells[c])).isCloseTo(expected[c], within(1e-5f));
      }
      assertThat(Integer.parseInt(cells[3])).isEqualTo(best(expected));
    }
  }

  /** Line 4 (the third row) holds text where a number goes. */
  private static Path badCsv() throws Exception {
    String body = csv(ROWS).replaceFirst("\n0\\.9,", "\nnope,");
    assertThat(body).contains("nope");
    return Files.writeString(dir.resolve("bad.csv"), body);
  }

  @Test
  void aBadRowStopsTheRunNamingItsLineAfterTheRowsBeforeIt() throws Exception {
    Path out = dir.resolve("stopped.jsonl");
    CliRun run = predict(badCsv(), out);
    assertThat(run.code()).isEqualTo(1);
    assertThat(run.err()).contains("bad.csv:4: ").contains("nope");
    assertThat(run.err()).contains("wrote the answers of the 2 rows before it");
    assertThat(Files.readAllLines(out, StandardCharsets.UTF_8)).hasSize(2);
  }

  @Test
  void skippedRowsKeepTheirPlaceAsErrorLines() throws Exception {
    Path out = dir.resolve("skipped.jsonl");
    CliRun run = predict(badCsv(), out, "--on-error", "skip");
    assertThat(run.code()).as(run.err()).isEqualTo(3);
    assertThat(run.err()).contains("predict: 5 rows, 1 errors");
    List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
    assertThat(lines).hasSize(ROWS.length);
    JsonNode error = JSON.readTree(lines.get(2));
    assertThat(error.get("line").asInt()).isEqualTo(4);
    assertThat(error.get("error").asText()).contains("bad.csv:4: ").contains("nope");
    for (int i : new int[] {0, 1, 3, 4}) {
      JsonNode row = JSON.readTree(lines.get(i));
      assertThat(row.get("SCORES").get(0).floatValue())
          .as("row %d in its place", i)
          .isCloseTo(EnsembleModels.expectedScores(ROWS[i])[0], within(1e-5f));
    }

    Path csvOut = dir.resolve("skipped.csv");
    assertThat(predict(badCsv(), csvOut, "--on-error", "skip").code()).isEqualTo(3);
    List<String> csvLines = Files.readAllLines(csvOut, StandardCharsets.UTF_8);
    assertThat(csvLines.get(0)).endsWith(",LABEL,error");
    assertThat(csvLines).hasSize(ROWS.length + 1);
    assertThat(csvLines.get(3)).startsWith(",,,,").contains("bad.csv:4: ");
    assertThat(csvLines.get(4)).endsWith(",");
  }

  @Test
  void aJsonLineOfTwoRecordsOrAShortRowIsAnErrorNeverAShift() throws Exception {
    Path in =
        Files.writeString(
            dir.resolve("odd.jsonl"),
            """
            {"INPUT":[0.1,0.2,0.3,0.4]}
            {"INPUT":[1,0,0.5,0.25]},{"INPUT":[1,0,0.5,0.25]}

            {"INPUT":[0.9,0.8,0.7]}
            {"INPUT":[0,0,0,1]}
            """);
    Path out = dir.resolve("odd-scores.jsonl");
    CliRun run = predict(in, out, "--on-error", "skip");
    assertThat(run.code()).as(run.err()).isEqualTo(3);
    List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
    assertThat(lines).hasSize(4);
    assertThat(JSON.readTree(lines.get(1)).get("line").asInt()).isEqualTo(2);
    assertThat(JSON.readTree(lines.get(2)).get("line").asInt()).isEqualTo(4);
    assertThat(JSON.readTree(lines.get(3)).get("SCORES").get(0).floatValue())
        .isCloseTo(EnsembleModels.expectedScores(ROWS[3])[0], within(1e-5f));
  }

  /** A copy of the demo's fraud_classifier in {@code repo}, with more lines of config.yaml. */
  static Path fraudRepo(Path repo, String moreConfig) throws Exception {
    Path from = Path.of("..", "demo", "models", "fraud_classifier").toAbsolutePath().normalize();
    try (java.util.stream.Stream<Path> files = Files.walk(from)) {
      for (Path f : files.toList()) {
        Path to = repo.resolve("fraud_classifier").resolve(from.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(to);
        } else {
          Files.copy(f, to);
        }
      }
    }
    Path config = repo.resolve("fraud_classifier/config.yaml");
    Files.writeString(config, Files.readString(config) + moreConfig);
    return repo;
  }

  @Test
  void aFullQueueIsRetriedNotARowError() throws Exception {
    // A queue of one request and 32 in flight: whatever the full queue refuses is overload, sent
    // again, never a bad row; every row is answered.
    Path small = fraudRepo(dir.resolve("small-queue"), "queue-policy:\n  max-queue-size: 1\n");
    StringBuilder rows = new StringBuilder("a,b,c,d,e,f,g,h\n");
    for (int i = 0; i < 2000; i++) {
      rows.append(i % 5000).append(",14,0.2,3.1,2,400,0,1\n");
    }
    Path in = Files.writeString(dir.resolve("queue.csv"), rows.toString());
    Path out = dir.resolve("queue.jsonl");
    CliRun run =
        CliRun.of(
            "predict",
            "--model-repository",
            small.toString(),
            "--model",
            "fraud_classifier",
            "--input",
            in.toString(),
            "--output",
            out.toString(),
            "--batch-size",
            "4",
            "--in-flight",
            "32");
    assertThat(run.code()).as(run.err()).isZero();
    assertThat(Files.readAllLines(out, StandardCharsets.UTF_8)).hasSize(2000);
  }

  @Test
  void usageErrorsSayWhatIsWrong() throws Exception {
    Path in = Files.writeString(dir.resolve("ok.csv"), csv(ROWS));
    CliRun missing = predict(dir.resolve("nosuch.csv"), dir.resolve("x.jsonl"));
    assertThat(missing.code()).isEqualTo(2);
    assertThat(missing.err()).contains("nosuch.csv");
    CliRun model =
        CliRun.of(
            "predict",
            "--model-repository",
            repo.toString(),
            "--model",
            "nosuch",
            "--input",
            in.toString(),
            "--output",
            dir.resolve("y.jsonl").toString());
    assertThat(model.code()).isEqualTo(2);
    assertThat(model.err()).contains("fulcrum predict: ").contains("nosuch");
    CliRun big = predict(in, dir.resolve("z.jsonl"), "--batch-size", "9");
    assertThat(big.code()).isEqualTo(2);
    assertThat(big.err()).contains("at most 8 rows per request");
  }
}
