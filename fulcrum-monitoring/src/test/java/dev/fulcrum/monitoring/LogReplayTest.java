package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LogReplay} on logs that are not what the server wrote, or not of the baseline's columns
 * (audit H): a last line cut short, bad lines (not JSON, binary, a bad time, a shape that disagrees
 * with its data) are skipped, counted and told with their file and line; lines with other columns
 * than the baseline's, or without its input, are not compared, and a version with nothing compared
 * is "not checked", never "ok".
 */
class LogReplayTest {
  private static final double[][] TRAINING = Streams.training(4_000, 5);
  private static final Baseline BASELINE = Streams.baseline(TRAINING);

  @TempDir Path dir;

  @Test
  void aLastLineCutShortIsSkippedAndTheRestIsReplayed() throws Exception {
    Random r = new Random(1);
    StringBuilder first = new StringBuilder();
    for (int i = 0; i < 50; i++) {
      first.append(line("1", "x", row(r))).append('\n');
    }
    String cut = line("1", "x", row(r));
    first.append(cut, 0, cut.length() / 2); // a crash or a copy in progress: no newline
    StringBuilder second = new StringBuilder();
    for (int i = 0; i < 10; i++) {
      second.append(line("1", "x", row(r))).append('\n');
    }
    Path a = write("predictions-000000.jsonl", first.toString());
    Path b = write("predictions-000001.jsonl", second.toString());

    LogReplay replay = replay();
    LogReplay.Reading reading = replay.replay(List.of(a, b));

    assertThat(reading.torn()).containsExactly("predictions-000000.jsonl line 51");
    assertThat(reading.bad()).isZero();
    assertThat(reading.files()).isEqualTo(2);
    assertThat(reading.requests()).isEqualTo(60);
    assertThat(replay.reports())
        .singleElement()
        .satisfies(v -> assertThat(v.observations()).isEqualTo(60));
  }

  @Test
  void badLinesAreSkippedCountedAndTheFirstToldWithTheirFileAndLine() throws Exception {
    Random r = new Random(2);
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    log.writeBytes(utf8(line("1", "x", row(r)) + "\n")); // 1
    log.writeBytes(utf8("garbage{not json\n")); // 2
    log.writeBytes(new byte[] {(byte) 0xff, (byte) 0xfe, 0x13, (byte) 0x80, '\n'}); // 3: binary
    log.writeBytes( // 4: a time that is not one
        utf8(
            line("1", "x", row(r)).replaceFirst("\"time\":\"[^\"]*\"", "\"time\":\"yesterday\"")
                + "\n"));
    log.writeBytes(utf8("[1, 2]\n")); // 5: JSON, not a request
    String cut = line("1", "x", row(r));
    log.writeBytes(utf8(cut.substring(0, 40) + "\n")); // 6: cut, but not the last line
    log.writeBytes(utf8("{\"model\":\"m\",\"version\":\"1\"}\n")); // 7: no inputs
    log.writeBytes(utf8(line("1", "x", row(r)) + "\n")); // 8
    log.writeBytes(utf8("\n   \n")); // blank lines: nothing
    Path f = dir.resolve("predictions-000000.jsonl");
    Files.write(f, log.toByteArray());

    LogReplay replay = replay();
    LogReplay.Reading reading = replay.replay(List.of(f));

    assertThat(reading.bad()).isEqualTo(6);
    assertThat(reading.torn()).isEmpty();
    assertThat(reading.badShown())
        .hasSize(LogReplay.SHOWN)
        .satisfiesExactly(
            s -> assertThat(s).startsWith("predictions-000000.jsonl line 2: not JSON"),
            s -> assertThat(s).startsWith("predictions-000000.jsonl line 3: not UTF-8 text"),
            s ->
                assertThat(s)
                    .startsWith("predictions-000000.jsonl line 4: \"time\" \"yesterday\" is not"),
            s -> assertThat(s).startsWith("predictions-000000.jsonl line 5: not a logged request"),
            s -> assertThat(s).startsWith("predictions-000000.jsonl line 6: not JSON"));
    assertThat(replay.reports())
        .singleElement()
        .satisfies(v -> assertThat(v.observations()).isEqualTo(2));
  }

  @Test
  void aShapeThatDisagreesWithItsDataIsABadLine() throws Exception {
    Random r = new Random(3);
    double[] two = concat(row(r), row(r));
    Path f =
        write(
            "predictions-000000.jsonl",
            String.join(
                "\n",
                line("1", "x", new long[] {2, 4}, two), // 10 values for 8
                line("1", "x", new long[] {2, 5}, Arrays.copyOf(two, 9)), // one missing
                line("1", "x", new long[] {2, 5}, two)
                    .replace("\"shape\":[2,5]", "\"shape\":[\"2\",5]"),
                line("1", "x", new long[] {2, 5}, two)
                    .replaceFirst("\"data\":\\[[^,]*,", "\"data\":[\"a\","),
                line("1", "x", new long[] {2, 5}, two), // fine
                ""));

    LogReplay replay = replay();
    LogReplay.Reading reading = replay.replay(List.of(f));

    assertThat(reading.bad()).isEqualTo(4);
    assertThat(reading.badShown())
        .containsExactly(
            "predictions-000000.jsonl line 1: input 'x' has shape [2, 4] (8 values) but its data"
                + " holds 10",
            "predictions-000000.jsonl line 2: input 'x' has shape [2, 5] (10 values) but its data"
                + " holds 9",
            "predictions-000000.jsonl line 3: input 'x' has shape [\"2\",5]: not whole numbers",
            "predictions-000000.jsonl line 4: input 'x' mixes text and numbers");
    assertThat(replay.reports())
        .singleElement()
        .satisfies(v -> assertThat(v.observations()).isEqualTo(2));
  }

  @Test
  void linesWithOtherColumnsThanTheBaselinesAreNotComparedNorMisread() throws Exception {
    Random r = new Random(4);
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 20; i++) { // a model with a sixth column: not to be read as five
      s.append(line("1", "x", new long[] {1, 6}, concat(row(r), new double[] {7}))).append('\n');
    }
    for (int i = 0; i < 30; i++) { // version 2: as the baseline, then 5 lines of six columns
      s.append(line("2", "x", row(r))).append('\n');
    }
    for (int i = 0; i < 5; i++) {
      s.append(line("2", "x", new long[] {1, 6}, concat(row(r), new double[] {7}))).append('\n');
    }
    Path f = write("predictions-000000.jsonl", s.toString());

    LogReplay replay = replay();
    LogReplay.Reading reading = replay.replay(List.of(f));

    assertThat(reading.bad()).isZero();
    List<LogReplay.VersionReplay> versions = replay.versions();
    assertThat(versions).hasSize(2);
    LogReplay.VersionReplay one = versions.get(0);
    assertThat(one.unchecked()).isTrue();
    assertThat(one.lines()).isEqualTo(20);
    assertThat(one.notCompared())
        .containsExactly(
            "20 lines: input 'x' has 6 columns; the baseline names 5 (amount, risk, hour,"
                + " is_foreign, card_present) (first: predictions-000000.jsonl line 1, shape [1,"
                + " 6])");
    assertThat(one.report().problem()).startsWith("not checked: none of its 20 lines had a row");
    assertThat(DriftJson.status(one.report())).isEqualTo("unavailable");
    assertThat(one.report().features()).isEmpty();
    LogReplay.VersionReplay two = versions.get(1);
    assertThat(two.unchecked()).isFalse();
    assertThat(two.report().observations()).isEqualTo(30);
    assertThat(two.report().problem()).isNull();
    assertThat(two.notCompared())
        .singleElement()
        .satisfies(w -> assertThat(w).startsWith("5 lines: input 'x' has 6 columns"));
  }

  @Test
  void aLogWithoutTheBaselinesInputIsNotCheckedAndSaysWhichItLacks() throws Exception {
    Random r = new Random(5);
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 10; i++) {
      s.append(line("1", "x_renamed", row(r))).append('\n');
      s.append(line("1", "x", row(r)).replace("\"model\":\"m\"", "\"model\":\"other\""));
      s.append('\n');
    }
    Path f = write("predictions-000000.jsonl", s.toString());

    LogReplay replay = replay();
    replay.replay(List.of(f));

    LogReplay.VersionReplay v = replay.versions().get(0);
    assertThat(v.unchecked()).isTrue();
    assertThat(v.report().problem())
        .contains("10 lines: no input 'x', which the baseline (baseline.json) names")
        .contains("its inputs: x_renamed");
    assertThat(replay.otherModels()).containsExactly(Map.entry("other", 10L));
  }

  private LogReplay replay() {
    return new LogReplay(
        BASELINE, "baseline.json", DetectorSettings.defaults(), (m, v, f, o) -> {});
  }

  private Path write(String name, String content) throws Exception {
    Path f = dir.resolve(name);
    Files.writeString(f, content);
    return f;
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static double[] row(Random r) {
    return TRAINING[r.nextInt(TRAINING.length)].clone();
  }

  private static double[] concat(double[] a, double[] b) {
    double[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  /** One row of model m's input as the server logs it. */
  private static String line(String version, String input, double[] row) {
    return line(version, input, new long[] {1, row.length}, row);
  }

  /** A line as the server logs it: model m, the version, one input. */
  private static String line(String version, String input, long[] shape, double[] data) {
    StringBuilder s = new StringBuilder();
    s.append("{\"time\":\"2026-12-06T10:03:31.686Z\",\"model\":\"m\",\"version\":\"")
        .append(version)
        .append("\",\"id\":\"\",\"latency_us\":12.5,\"inputs\":{\"")
        .append(input)
        .append("\":{\"shape\":[");
    for (int i = 0; i < shape.length; i++) {
      s.append(i == 0 ? "" : ",").append(shape[i]);
    }
    s.append("],\"data\":[");
    for (int i = 0; i < data.length; i++) {
      s.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT, "%s", data[i]));
    }
    return s.append("]}},\"outputs\":{}}").toString();
  }
}
