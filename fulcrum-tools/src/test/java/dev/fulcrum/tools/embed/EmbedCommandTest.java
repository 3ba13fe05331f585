package dev.fulcrum.tools.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.pipelines.offline.Pipeline;
import dev.fulcrum.testkit.demo.MiniLmPipelines;
import dev.fulcrum.tools.CliRun;
import dev.fulcrum.tools.text.Utf8Lines;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code fulcrum embed} writes, in order, the vectors the offline API (and the server) gives. */
class EmbedCommandTest {
  private static final Path DEMO = Path.of("..", "demo", "models").toAbsolutePath().normalize();

  @Test
  void embedsAFileLineByLine(@TempDir Path dir) throws Exception {
    assumeThat(DEMO.resolve("all_minilm_l6_v2/1/all-minilm-l6-v2-q.onnx")).isRegularFile();
    List<String> sentences = List.of("hello world", "Ok", "A third, longer sentence to embed.");
    Path in = Files.writeString(dir.resolve("sentences.txt"), String.join("\n", sentences) + "\n");
    Path out = dir.resolve("vectors.jsonl");
    int code =
        new CommandLine(new EmbedCommand())
            .execute(
                "--model-repository", DEMO.toString(),
                "--model", "minilm_text",
                "--input", in.toString(),
                "--output", out.toString());
    assertThat(code).isZero();
    List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
    assertThat(lines).hasSize(3);
    List<float[]> expected;
    try (Pipeline p = Pipeline.open(DEMO, "minilm_text")) {
      expected = p.embed(sentences);
    }
    ObjectMapper json = new ObjectMapper();
    for (int i = 0; i < 3; i++) {
      JsonNode v = json.readTree(lines.get(i)).get("embedding");
      assertThat(v).hasSize(384);
      for (int d = 0; d < 384; d++) {
        assertThat((float) v.get(d).asDouble()).isEqualTo(expected.get(i)[d]);
      }
    }
  }

  /** A pipeline of the demo's MiniLM file in {@code repo}, with these steps after the model. */
  private static void pipeline(Path repo, String name, String pipeline) throws Exception {
    MiniLmPipelines.write(DEMO, repo, name, pipeline);
  }

  private record Run(int code, String err) {}

  private static Run embed(String... args) {
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(new EmbedCommand());
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Run(code, err.toString());
  }

  @Test
  void aPipelineThatDoesNotAnswerVectorsIsOneLineAndExitTwo(@TempDir Path dir) throws Exception {
    assumeThat(DEMO.resolve("all_minilm_l6_v2/1/all-minilm-l6-v2-q.onnx")).isRegularFile();
    pipeline(
        dir,
        "classes",
        """
        pipeline:
          model-file: model.onnx
          engine-output: last_hidden_state
          pre:
            - step: tokenize
              tokenizer: tokenizer.json
          post:
            - step: mean-pool
            - step: softmax
            - step: top-k
              k: 3
        """);
    Path in = Files.writeString(dir.resolve("in.txt"), "hello\n");
    Run r =
        embed(
            "--model-repository", dir.toString(),
            "--model", "classes",
            "--input", in.toString(),
            "--output", dir.resolve("out.jsonl").toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().lines().toList())
        .singleElement()
        .asString()
        .startsWith("fulcrum embed: model 'classes' does not answer vectors (FP32 [n, d])")
        .contains("BYTES [-1, 3]", "top-k");
  }

  @Test
  void aLineTheModelRefusesIsNamedAndTheLinesBeforeItAreWritten(@TempDir Path dir)
      throws Exception {
    assumeThat(DEMO.resolve("all_minilm_l6_v2/1/all-minilm-l6-v2-q.onnx")).isRegularFile();
    pipeline(
        dir,
        "strict",
        """
        max-batch-size: 4
        pipeline:
          model-file: model.onnx
          engine-output: last_hidden_state
          batching: alone
          pre:
            - step: tokenize
              tokenizer: tokenizer.json
              max-length: 16
              truncation: false
          post:
            - step: mean-pool
            - step: normalize
        """);
    List<String> lines = new java.util.ArrayList<>();
    for (int i = 1; i <= 10; i++) {
      lines.add(i == 7 ? "word ".repeat(40).trim() : "sentence number " + i);
    }
    Path in = Files.writeString(dir.resolve("in.txt"), String.join("\n", lines) + "\n");
    Path out = dir.resolve("out.jsonl");
    Run r =
        embed(
            "--model-repository", dir.toString(),
            "--model", "strict",
            "--input", in.toString(),
            "--output", out.toString());

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().lines().toList())
        .singleElement()
        .asString()
        .startsWith("fulcrum embed: " + in + ":7: ")
        .contains("max-length", "wrote the vectors of lines 1-6 to " + out, "none after");
    List<String> written = Files.readAllLines(out, StandardCharsets.UTF_8);
    assertThat(written).hasSize(6);
    List<float[]> expected;
    try (Pipeline p = Pipeline.open(dir, "strict")) {
      expected = p.embed(lines.subList(0, 6));
    }
    ObjectMapper json = new ObjectMapper();
    for (int i = 0; i < 6; i++) {
      JsonNode v = json.readTree(written.get(i)).get("embedding");
      for (int d = 0; d < 384; d++) {
        assertThat((float) v.get(d).asDouble()).isEqualTo(expected.get(i)[d]);
      }
    }
  }

  @Test
  void anUnknownModelIsOneLineWithoutTheUsage(@TempDir Path dir) throws Exception {
    Run r = embed("--model-repository", dir.toString(), "--model", "nope", "--input", "-");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("fulcrum embed: ").contains("nope").doesNotContain("Usage");
    assertThat(r.err().lines()).hasSize(1);
  }

  /**
   * A line that is not UTF-8 is named by file, line and byte, exit status 2, before any output (it
   * printed "fulcrum embed: Input length = 1"), as the server refuses the same text with a 400.
   */
  @Test
  void aLineThatIsNotUtf8IsNamedByItsFileAndNumber(@TempDir Path dir) throws Exception {
    Path in =
        Files.write(
            dir.resolve("bad.txt"),
            new byte[] {
              'o', 'k', '\r', '\n', 'f', 'i', 'n', 'e', '\n', 'c', 'a', 'f', (byte) 0xE9, '\n'
            });
    Path out = dir.resolve("vectors.jsonl");
    CliRun run =
        CliRun.of(
            "embed",
            "--model-repository",
            DEMO.toString(),
            "--model",
            "minilm_text",
            "--input",
            in.toString(),
            "--output",
            out.toString());
    assertThat(run.code()).isEqualTo(2);
    assertThat(run.err().strip())
        .isEqualTo("fulcrum embed: " + in + ": line 3 is not valid UTF-8 at byte offset 3 (0xE9)");
    assertThat(out).doesNotExist();
  }

  /** Lines split as BufferedReader splits them: LF, CRLF, a lone CR; the last without one. */
  @Test
  void linesEndAsBufferedReadersDo() throws Exception {
    String text = "a\r\nb\rc\n\nd\r\n\r\né ü 漢字\n\ufeffbom\nlast";
    List<String> expected =
        new java.io.BufferedReader(new java.io.StringReader(text)).lines().toList();
    List<String> lines = new java.util.ArrayList<>();
    try (Utf8Lines u =
        new Utf8Lines(
            new java.io.ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), "t")) {
      String line;
      while ((line = u.next()) != null) {
        lines.add(line);
      }
      assertThat(u.count()).isEqualTo(expected.size());
    }
    assertThat(lines).isEqualTo(expected);
    try (Utf8Lines empty = new Utf8Lines(new java.io.ByteArrayInputStream(new byte[0]), "t")) {
      assertThat(empty.next()).isNull();
    }
  }

  @Test
  void progressBarShowsCountAndRate() {
    EmbedCommand.Progress p = new EmbedCommand.Progress(System.err, false, 10);
    p.add(5);
    assertThat(p.line(System.nanoTime())).startsWith("[###############               ] 5/10, ");
  }
}
