package dev.fulcrum.tools.monitor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.monitoring.Baseline;
import dev.fulcrum.monitoring.Profiler;
import dev.fulcrum.tools.CliRun;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fulcrum skew-check} on logs that do not fit the baseline or are damaged (audit H): its
 * exit status (0 no drift, 1 drift, 2 not checked or an error: never 1 for an error), what it says
 * and where, its JSON (one document), and the settings and baseline it shows. Model {@code m}: one
 * input {@code x} of three normal columns; the baseline is profiled from generated rows.
 */
class SkewCheckCommandTest {
  private static final List<String> NAMES = List.of("a", "b", "c");

  @TempDir Path dir;

  private Path model;
  private Path baseline;
  private final Random random = new Random(7);

  @BeforeEach
  void baseline() throws Exception {
    model = dir.resolve("models").resolve("m");
    Files.createDirectories(model);
    Random r = new Random(1);
    int n = 3_000;
    List<Baseline.FeatureBaseline> features = new ArrayList<>();
    for (int c = 0; c < NAMES.size(); c++) {
      double[] v = new double[n];
      for (int i = 0; i < n; i++) {
        v[i] = 10 * c + r.nextGaussian();
      }
      features.add(Profiler.profile(NAMES.get(c), v));
    }
    baseline = model.resolve("baseline.json");
    new Baseline(
            "m",
            "train.csv",
            n,
            List.of(new Baseline.InputColumns("x", NAMES)),
            features,
            List.of())
        .write(baseline);
  }

  @Test
  void aLogWithoutTheBaselinesInputIsNotCheckedAndSaysWhichItLacks() throws Exception {
    Path log = log("x_renamed", 100, "1", UnaryOperator.identity(), 3);

    CliRun run = skewCheck("--log", log.toString(), "--baseline", baseline.toString());

    assertThat(run.code()).as(run.toString()).isEqualTo(2);
    assertThat(run.out())
        .contains("m version 1: not checked (100 lines, 0 observations)")
        .contains("100 lines: no input 'x', which the baseline (models/m/baseline.json) names")
        .contains("its inputs: x_renamed")
        .doesNotContain("ok after");
    assertThat(run.err()).contains("m version 1 was not checked");
  }

  @Test
  void anotherModelsBaselineIsNotAPass() throws Exception {
    Path log = log("x", 20, "1", UnaryOperator.identity(), 3);
    Files.writeString(log, Files.readString(log).replace("\"model\":\"m\"", "\"model\":\"n\""));

    CliRun run = skewCheck("--log", log.toString(), "--baseline", baseline.toString());

    assertThat(run.code()).as(run.toString()).isEqualTo(2);
    assertThat(run.err())
        .contains(
            "no requests of model m in the logs; nothing was checked (they hold n: 20 lines)");
  }

  @Test
  void aLastLineCutShortIsSkippedWithAWarning() throws Exception {
    Path log = log("x", 300, "1", UnaryOperator.identity(), 3);
    String text = Files.readString(log);
    Files.writeString(log, text.substring(0, text.length() - 30)); // the last line, cut

    CliRun run = skewCheck("--log", log.toString(), "--baseline", baseline.toString());

    assertThat(run.code()).as(run.toString()).isZero();
    assertThat(run.err())
        .contains(
            "warning: predictions-000000.jsonl line 300 is cut short (the file's last line,"
                + " without a newline");
    assertThat(run.out()).contains("m version 1: ok after 299 observations");
  }

  @Test
  void badLinesAreSkippedAndNamedAndAnErrorNeverExits1() throws Exception {
    Path log = log("x", 300, "1", UnaryOperator.identity(), 3);
    List<String> lines = new ArrayList<>(Files.readAllLines(log));
    lines.set(9, lines.get(9).replaceFirst("\"time\":\"[^\"]*\"", "\"time\":\"yesterday\""));
    lines.add(20, "garbage{");
    byte[] good = String.join("\n", lines).getBytes(StandardCharsets.UTF_8);
    byte[] junk = {(byte) 0xc3, 0x28, (byte) 0xa0, (byte) 0xff, '\n'};
    byte[] all = new byte[good.length + 1 + junk.length];
    System.arraycopy(good, 0, all, 0, good.length);
    all[good.length] = '\n';
    System.arraycopy(junk, 0, all, good.length + 1, junk.length);
    Files.write(log, all);

    CliRun run = skewCheck("--log", log.toString(), "--baseline", baseline.toString());

    assertThat(run.code()).as(run.toString()).isZero();
    assertThat(run.err())
        .contains("skipped predictions-000000.jsonl line 10: \"time\" \"yesterday\" is not an")
        .contains("skipped predictions-000000.jsonl line 21: not JSON")
        .contains("skipped predictions-000000.jsonl line 302: not UTF-8 text")
        .contains("3 lines skipped in all");
    assertThat(run.out()).contains("299 requests of model m, 3 bad lines skipped");

    // Nothing but bad lines: nothing checked (2), not a verdict.
    Files.write(log, junk);
    run = skewCheck("--log", log.toString(), "--baseline", baseline.toString());
    assertThat(run.code()).as(run.toString()).isEqualTo(2);
    assertThat(run.err()).contains("no readable requests of model m in the logs");

    // A config.yaml that is not valid: an error, 2.
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, "monitoring: [\n");
    run =
        skewCheck(
            "--log",
            log.toString(),
            "--baseline",
            baseline.toString(),
            "--config",
            config.toString());
    assertThat(run.code()).as(run.toString()).isEqualTo(2);
    assertThat(run.err()).startsWith("fulcrum skew-check: ").contains("config.yaml");

    // A baseline that is not one: an error, 2, naming it.
    Path broken = dir.resolve("broken.json");
    Files.writeString(broken, "{\"model\": \"m\"}");
    run = skewCheck("--log", log.toString(), "--baseline", broken.toString());
    assertThat(run.code()).as(run.toString()).isEqualTo(2);
    assertThat(run.err()).contains("cannot read the baseline").contains("broken.json");

    // No such file: its path said once.
    Path missing = dir.resolve("missing.json");
    run = skewCheck("--log", log.toString(), "--baseline", missing.toString());
    assertThat(run.code()).as(run.toString()).isEqualTo(2);
    assertThat(run.err()).contains("missing.json");
    assertThat(run.err().split("missing\\.json", -1)).as(run.err()).hasSize(2);
  }

  @Test
  void aLogWithMoreColumnsThanTheBaselineIsRefusedNotReadAsDrift() throws Exception {
    Path log = log("x", 200, "1", UnaryOperator.identity(), 4);

    CliRun run = skewCheck("--log", log.toString(), "--baseline", baseline.toString());

    assertThat(run.code()).as(run.toString()).isEqualTo(2);
    assertThat(run.out())
        .contains("m version 1: not checked (200 lines, 0 observations)")
        .contains("200 lines: input 'x' has 4 columns; the baseline names 3 (a, b, c)")
        .doesNotContain("DRIFT");
  }

  @Test
  void aShiftIsDrift() throws Exception {
    Path log =
        log(
            "x",
            400,
            "1",
            row -> {
              row[1] *= 1000;
              return row;
            },
            3);

    CliRun run = skewCheck("--log", log.toString(), "--baseline", baseline.toString());

    assertThat(run.code()).as(run.toString()).isEqualTo(1);
    assertThat(run.out()).contains("m version 1 feature b: DRIFT (range");
  }

  @Test
  void jsonIsOneDocumentAnArrayForSeveralVersions() throws Exception {
    Path one = log("x", 50, "1", UnaryOperator.identity(), 3);
    ObjectMapper strict = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    CliRun run = skewCheck("--log", one.toString(), "--baseline", baseline.toString(), "--json");
    assertThat(run.code()).as(run.toString()).isZero();
    JsonNode single = strict.readTree(run.out());
    assertThat(single.isObject()).isTrue();
    assertThat(single.get("version").asText()).isEqualTo("1");
    assertThat(single.get("baseline").asText()).isEqualTo("models/m/baseline.json");
    List<String> fields = new ArrayList<>();
    single.fieldNames().forEachRemaining(fields::add);
    assertThat(fields) // GET /v2/models/<m>/versions/<v>/drift's
        .containsExactly(
            "model",
            "version",
            "enabled",
            "status",
            "baseline",
            "observations",
            "dropped",
            "shed",
            "features",
            "outputs");

    Path two = log("x", 50, "2", UnaryOperator.identity(), 3);
    Files.writeString(one, Files.readString(two), StandardOpenOption.APPEND);
    run = skewCheck("--log", one.toString(), "--baseline", baseline.toString(), "--json");
    assertThat(run.code()).as(run.toString()).isZero();
    JsonNode both = strict.readTree(run.out());
    assertThat(both.isArray()).isTrue();
    assertThat(both).hasSize(2);
    assertThat(both.get(0).get("version").asText()).isEqualTo("1");
    assertThat(both.get(1).get("version").asText()).isEqualTo("2");
    assertThat(both.get(1).get("observations").asLong()).isEqualTo(50);
    assertThat(run.err()).contains("baseline models/m/baseline.json"); // stdout: the JSON alone
  }

  @Test
  void theSettingsUsedAndWhereFromAreShown() throws Exception {
    Path log = log("x", 20, "1", UnaryOperator.identity(), 3);

    CliRun run = skewCheck("--log", log.toString(), "--baseline", baseline.toString());
    assertThat(run.out())
        .contains("baseline models/m/baseline.json: model m, 3000 training rows (train.csv)")
        .contains(
            "default settings (no config.yaml beside the baseline; --config FILE names the served"
                + " model's): window 1000, clear-after 2000,");

    Files.writeString(
        model.resolve("config.yaml"),
        "monitoring:\n  features:\n    x: [a, b, c]\n  window: 200\n  clear-after: 400\n");
    run = skewCheck("--log", log.toString(), "--baseline", baseline.toString());
    assertThat(run.code()).as(run.toString()).isZero();
    assertThat(run.out())
        .contains(
            "settings of models/m/config.yaml (beside the baseline): window 200, clear-after 400,"
                + " range-window 50,");
  }

  private static CliRun skewCheck(String... args) {
    String[] all = new String[args.length + 1];
    all[0] = "skew-check";
    System.arraycopy(args, 0, all, 1, args.length);
    return CliRun.of(all);
  }

  /**
   * A log of {@code lines} one-row requests of model m {@code version} as the server writes them,
   * input {@code input} with {@code columns} columns drawn as the training data (changed by {@code
   * change}).
   */
  private Path log(
      String input, int lines, String version, UnaryOperator<double[]> change, int columns)
      throws Exception {
    Path logs = dir.resolve("log-" + input + "-" + version + "-" + columns);
    Files.createDirectories(logs);
    StringBuilder s = new StringBuilder();
    for (int q = 0; q < lines; q++) {
      double[] row = new double[columns];
      for (int c = 0; c < columns; c++) {
        row[c] = 10 * c + random.nextGaussian();
      }
      row = change.apply(row);
      s.append(
              String.format(
                  Locale.ROOT,
                  "{\"time\":\"2026-12-06T10:%02d:%02d.000Z\",\"model\":\"m\",\"version\":\"%s\","
                      + "\"id\":\"r%d\",\"latency_us\":12.5,\"inputs\":{\"%s\":{\"shape\":[1,%d],"
                      + "\"data\":[",
                  q / 60 % 60,
                  q % 60,
                  version,
                  q,
                  input,
                  columns))
          .append(String.join(",", Arrays.stream(row).mapToObj(Double::toString).toList()))
          .append("]}},\"outputs\":{}}\n");
    }
    Path f = logs.resolve("predictions-000000.jsonl");
    Files.writeString(f, s.toString());
    return f;
  }
}
