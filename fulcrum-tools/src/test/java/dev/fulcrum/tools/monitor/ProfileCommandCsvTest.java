package dev.fulcrum.tools.monitor;

import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.DYNAMIC;
import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.create;
import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.intAttr;
import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.monitoring.Baseline;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import dev.fulcrum.tools.CliRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code fulcrum profile --data} on training exports as they come (ids, timestamps and free text
 * beside the features, quoting, a byte order mark, the usual spellings of a missing value), on
 * inputs of every datatype it feeds, and its one-line refusals (exit 2) of what it cannot profile.
 * The models are the testkit's, written into a temporary repository.
 */
class ProfileCommandCsvTest {
  @TempDir Path dir;

  /** num FP32 [-1,2] and cat INT64 [-1,1]; s = n0 + n1 and cat_echo; batches of 4 rows. */
  private Path tab() throws IOException {
    return model(
        "tab",
        create("tab")
            .input("num", DataType.FP32, DYNAMIC, 2)
            .input("cat", DataType.INT64, DYNAMIC, 1)
            .output("s", DataType.FP32, DYNAMIC, 1)
            .output("cat_echo", DataType.INT64, DYNAMIC, 1)
            .longInitializer("ax1", new long[] {1}, 1)
            .node("ReduceSum", List.of("num", "ax1"), List.of("s"), intAttr("keepdims", 1))
            .node("Identity", List.of("cat"), List.of("cat_echo")),
        "max-batch-size: 4\nmonitoring:\n  features:\n    num: [n0, n1]\n    cat: [region]\n");
  }

  /** b BOOL [-1,2], i INT32 [-1,2], h FP16 [-1,1]; bi = b + i (INT32), hf = h (FP32). */
  private Path flags() throws IOException {
    return model(
        "flags",
        create("flags")
            .input("b", DataType.BOOL, DYNAMIC, 2)
            .input("i", DataType.INT32, DYNAMIC, 2)
            .input("h", DataType.FP16, DYNAMIC, 1)
            .output("bi", DataType.INT32, DYNAMIC, 2)
            .output("hf", DataType.FP32, DYNAMIC, 1)
            .node("Cast", List.of("b"), List.of("bc"), intAttr("to", 6))
            .node("Add", List.of("bc", "i"), List.of("bi"))
            .node("Cast", List.of("h"), List.of("hf"), intAttr("to", 1)),
        "max-batch-size: 16\nmonitoring:\n  features:\n    b: [b0, b1]\n    i: [i0, i1]\n"
            + "    h: [h0]\n");
  }

  /** text BYTES [-1,1] (echoed) and v FP32 [-1,2] (doubled); only v is named. */
  private Path strm(String features) throws IOException {
    return model(
        "strm",
        create("strm")
            .input("text", DataType.BYTES, DYNAMIC, 1)
            .input("v", DataType.FP32, DYNAMIC, 2)
            .output("text_out", DataType.BYTES, DYNAMIC, 1)
            .output("v2", DataType.FP32, DYNAMIC, 2)
            .node("Identity", List.of("text"), List.of("text_out"))
            .node("Add", List.of("v", "v"), List.of("v2")),
        "max-batch-size: 16\nmonitoring:\n  features:\n" + features);
  }

  /**
   * Excel's byte order mark, pandas' quoted header, CRLF, an id, a timestamp and free text with
   * commas and quotes: only n0, n1 and region are read. NA, nan, null, None, an empty cell are
   * missing; the rows that have every feature (5 of 10: a batch of 4, then 1) are run.
   */
  @Test
  void profilesTheNamedColumnsOfAnOrdinaryExport() throws Exception {
    Path repo = tab();
    Path csv =
        csv(
            "\uFEFF\"row_id\",\"when\",\"n0\",\"note\",\"n1\",\"region\"\r\n"
                + "1,2024-01-01T10:00:00Z,0.5,\"Acme, Inc.\",1.25,2\r\n"
                + "2,2024-01-02 11:00,NA,free text,2,1\r\n"
                + "3,x,nan,\"a \"\"quoted\"\" word\",3,0\r\n"
                + "4,y,1.5,,4,None\r\n"
                + "5,z,0.7,\"two\r\nlines\",5,0\r\n"
                + "6,z,0.1,z,null,1\r\n"
                + "7,z,2,z,1,\r\n"
                + "8,z,3,z,1,1\r\n"
                + "9,z,4,z,1,true\r\n"
                + "10,z,1,z,1,1\r\n");
    CliRun run = profile(repo, "tab", csv);
    assertThat(run.code()).as(run.err()).isZero();
    Baseline b = Baseline.read(repo.resolve("tab").resolve("baseline.json"));
    assertThat(b.rows()).isEqualTo(10);
    assertThat(b.features())
        .extracting(Baseline.FeatureBaseline::name)
        .containsExactly("n0", "n1", "region");
    Baseline.FeatureBaseline n0 = b.features().get(0);
    assertThat(n0.count()).isEqualTo(8);
    assertThat(n0.missingRate()).isEqualTo(0.2);
    assertThat(n0.max()).isEqualTo(4.0);
    assertThat(n0.min()).isEqualTo((double) 0.1f).isNotEqualTo(0.1); // as FP32 is served
    assertThat(b.features().get(2).type()).isEqualTo(Baseline.Kind.CATEGORICAL);
    assertThat(b.features().get(2).missingRate()).isEqualTo(0.2);
    assertThat(b.outputs())
        .extracting(Baseline.FeatureBaseline::name)
        .containsExactly("s", "cat_echo");
    Baseline.FeatureBaseline s = b.outputs().get(0);
    assertThat(s.count()).isEqualTo(5); // rows 1, 5, 8, 9 and 10
    assertThat(s.min()).isEqualTo(1.75);
    assertThat(s.max()).isEqualTo((double) (0.7f + 5f));
    assertThat(run.out()).contains("wrote").contains("(10 rows of data.csv)");
  }

  /** BOOL from 0/1/true/False, INT32, FP16 profiled as the halves the model is served. */
  @Test
  void feedsBoolIntegerAndHalfPrecisionInputs() throws Exception {
    Path repo = flags();
    Path csv = csv("b0,b1,i0,i1,h0\n0,1,3,0,0.1\ntrue,False,4,2,-1.5\nTRUE,1,5,7,2\n");
    CliRun run = profile(repo, "flags", csv);
    assertThat(run.code()).as(run.err()).isZero();
    Baseline b = Baseline.read(repo.resolve("flags").resolve("baseline.json"));
    assertThat(b.features())
        .extracting(Baseline.FeatureBaseline::name)
        .containsExactly("b0", "b1", "i0", "i1", "h0");
    assertThat(b.features().get(0).categories())
        .extracting(Baseline.Category::value)
        .containsExactly(0.0, 1.0);
    assertThat(b.features().get(0).mean()).isEqualTo(2 / 3.0);
    double half = Float.float16ToFloat(Float.floatToFloat16(0.1f));
    assertThat(half).isNotEqualTo((double) 0.1f);
    assertThat(b.features().get(4).min()).isEqualTo(-1.5);
    assertThat(b.features().get(4).quantiles()).contains(half);
    assertThat(b.outputs())
        .extracting(Baseline.FeatureBaseline::name)
        .containsExactly("bi[0]", "bi[1]", "hf");
    assertThat(b.outputs().get(0).max()).isEqualTo(6.0); // TRUE + 5
    assertThat(b.outputs().get(2).quantiles()).contains(half);
  }

  /**
   * A BYTES input monitoring.features leaves out is fed from the CSV column of its name (quoted
   * strings with commas); its numeric neighbour is profiled; the string output is not.
   */
  @Test
  void feedsAStringInputFromItsColumn() throws Exception {
    Path repo = strm("    v: [v0, v1]\n");
    Path csv = csv("v0,v1,text\n0.5,1,\"hello, world\"\n1.5,2,\"\"\n-1,NA,x\n");
    CliRun run = profile(repo, "strm", csv);
    assertThat(run.code()).as(run.err()).isZero();
    Baseline b = Baseline.read(repo.resolve("strm").resolve("baseline.json"));
    assertThat(b.features()).extracting(Baseline.FeatureBaseline::name).containsExactly("v0", "v1");
    assertThat(b.outputs())
        .extracting(Baseline.FeatureBaseline::name)
        .containsExactly("v2[0]", "v2[1]");
    assertThat(b.outputs().get(0).count()).isEqualTo(2);
    assertThat(b.outputs().get(0).max()).isEqualTo(3.0);
  }

  static Stream<Arguments> refusals() {
    String head = "row_id,n0,n1,region\n";
    return Stream.of(
        Arguments.of("tab", head, "data.csv has no rows, only a header"),
        Arguments.of(
            "tab",
            head + "1,0.5,1,\n2,0.5,1,NA\n",
            "data.csv: column 'region' has no values (each of its 2 cells is empty or missing)"),
        Arguments.of(
            "tab",
            head + "1,0.5,1,0\n2,0.5,Infinity,0\n",
            "data.csv line 3, column n1: 'Infinity' is not a finite number"),
        Arguments.of(
            "tab",
            head + "1,1e39,1,0\n",
            "data.csv line 2, column n0: '1e39' is too large (input 'num' is FP32)"),
        Arguments.of(
            "tab", head + "1,abc,1,0\n", "data.csv line 2, column n0: 'abc' is not a number"),
        Arguments.of(
            "tab",
            head + "1,0.5,1,2.5\n",
            "data.csv line 2, column region: '2.5' is not an integer (input 'cat' is INT64)"),
        Arguments.of(
            "tab",
            "row_id,n0,n1,region,n1\n1,2,3,0,4\n",
            "data.csv has two columns named 'n1' (columns 3 and 5): rename one"),
        Arguments.of(
            "tab",
            "row_id,n0,n1\n1,2,3\n",
            "data.csv has no column 'region' (its columns: [row_id, n0, n1])"),
        Arguments.of(
            "flags",
            "b0,b1,i0,i1,h0\n2,1,3,0,0.1\n",
            "data.csv line 2, column b0: '2' is not 0, 1, true or false (input 'b' is BOOL)"),
        Arguments.of(
            "flags",
            "b0,b1,i0,i1,h0\n0,1,3e9,0,0.1\n",
            "data.csv line 2, column i0: '3e9' is out of range (input 'i' is INT32)"),
        Arguments.of(
            "flags",
            "b0,b1,i0,i1,h0\n0,1,3,0,70000\n",
            "data.csv line 2, column h0: '70000' is too large (input 'h' is FP16)"));
  }

  /** Each is one line on stderr, "fulcrum profile: ...", and exit 2; no stack trace. */
  @ParameterizedTest
  @MethodSource("refusals")
  void refusesWhatItCannotProfileInOneLine(String model, String text, String message)
      throws Exception {
    Path repo = model.equals("tab") ? tab() : flags();
    CliRun run = profile(repo, model, csv(text));
    assertThat(run.code()).as(run.err()).isEqualTo(2);
    assertThat(run.err()).isEqualTo("fulcrum profile: " + message + System.lineSeparator());
  }

  /**
   * Inputs profile cannot feed: a BYTES input named as features, an input left out without a column
   * of its name, one of several values per row left out, one of more than [batch, columns].
   */
  @Test
  void refusesInputsItCannotFeedInOneLine() throws Exception {
    Path csv = csv("v0,v1,text\n0.5,1,a\n");
    // config.yaml refuses a BYTES input in monitoring.features: the model does not load.
    CliRun bytes = profile(strm("    v: [v0, v1]\n    text: [t]\n"), "strm", csv);
    assertThat(bytes.code()).isEqualTo(2);
    assertThat(bytes.err())
        .startsWith("fulcrum profile: model 'strm' did not load: ")
        .contains("'monitoring.features.text': input 'text' is BYTES")
        .hasLineCount(1);
    CliRun run = profile(strm("    v: [v0, v1]\n"), "strm", csv("v0,v1\n0.5,1\n"));
    assertThat(run.code()).isEqualTo(2);
    assertThat(run.err()).startsWith("fulcrum profile: data.csv has no column 'text'");

    Path flags = flags();
    Files.writeString(
        flags.resolve("flags").resolve("config.yaml"),
        "max-batch-size: 16\nmonitoring:\n  features:\n    i: [i0, i1]\n    h: [h0]\n");
    run = profile(flags, "flags", csv("b0,b1,i0,i1,h0\n0,1,3,0,0.1\n"));
    assertThat(run.code()).isEqualTo(2);
    assertThat(run.err())
        .isEqualTo(
            "fulcrum profile: input 'b' is BOOL[2], which monitoring.features does not name:"
                + " name its columns there (an input left out is fed from the one CSV column of"
                + " its name)"
                + System.lineSeparator());

    Path grid =
        model(
            "grid",
            create("grid")
                .input("x", DataType.FP32, DYNAMIC, 3, 2)
                .output("y", DataType.FP32, DYNAMIC, 3, 2)
                .node("Identity", List.of("x"), List.of("y")),
            "max-batch-size: 4\nmonitoring:\n  features:\n    x: [c0, c1]\n");
    run = profile(grid, "grid", csv("c0,c1\n1,2\n"));
    assertThat(run.code()).isEqualTo(2);
    // config.yaml refuses it first: the live monitor could not compare it either.
    assertThat(run.err())
        .startsWith("fulcrum profile: model 'grid' did not load: ")
        .contains("input 'x' has shape [3, 2]")
        .hasLineCount(1);
  }

  private static CliRun profile(Path repo, String model, Path csv) {
    return CliRun.of(
        "profile",
        "--model-repository",
        repo.toString(),
        "--model",
        model,
        "--data",
        csv.toString());
  }

  /** Writes {@code name}'s version 1 and config.yaml into the repository; the repository. */
  private Path model(String name, OnnxModelBuilder onnx, String yaml) throws IOException {
    Path repo = dir.resolve("models");
    onnx.write(repo.resolve(name).resolve("1").resolve("model.onnx"));
    Files.writeString(repo.resolve(name).resolve("config.yaml"), yaml);
    return repo;
  }

  private Path csv(String text) throws IOException {
    return Files.writeString(dir.resolve("data.csv"), text);
  }
}
