package dev.fulcrum.tools.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.pipelines.offline.Pipeline;
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

  @Test
  void progressBarShowsCountAndRate() {
    EmbedCommand.Progress p = new EmbedCommand.Progress(System.err, false, 10);
    p.add(5);
    assertThat(p.line(System.nanoTime())).startsWith("[###############               ] 5/10, ");
  }
}
