package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prediction log keeps a text request's sentences (a BYTES tensor, as UTF-8 strings) beside its
 * numbers, leaves out a text larger than its bound, and {@link LogReplay#read} gives them back:
 * what a text pipeline's replay runs again.
 */
class PredictionLogTextTest {
  @TempDir Path dir;

  @Test
  void textIsLoggedAndReadBackAndAHugeTextIsLeftOut() throws Exception {
    List<String> sentences = List.of("The cat likes a new car.", "Ünïcode ᚠᚢ \"quoted\"\n");
    Tensor text = bytes("text", sentences);
    Tensor huge = bytes("huge", List.of("x".repeat((int) Copies.MAX_TEXT_BYTES)));
    Tensor embedding = Streams.fp64("embedding", new long[] {2, 2}, new double[] {0.5, -1, 2, 0});
    PredictionLog log = new PredictionLog(new PredictionLog.Settings(dir, 1 << 20, 2, 1.0, 16));
    try {
      log.offer(
          new Completed(
              null,
              new InferenceRequest("p", "1", "r1", Map.of(), List.of(text, huge), List.of()),
              new InferenceResponse("p", "1", "r1", Map.of(), List.of(embedding)),
              1_000,
              2_000));
    } finally {
      log.close();
    }
    List<Observation> read = new ArrayList<>();
    LogReplay.read(PredictionLog.files(dir), read::add);
    assertThat(read).hasSize(1);
    Observation o = read.get(0);
    assertThat(o.id()).isEqualTo("r1");
    assertThat(o.inputs()).extracting(Observation.Values::name).containsExactly("text");
    Observation.Values t = o.inputs().get(0);
    assertThat(t.isText()).isTrue();
    assertThat(t.strings()).containsExactlyElementsOf(sentences);
    assertThat(t.shape()).containsExactly(2, 1);
    Observation.Values e = o.outputs().get(0);
    assertThat(e.isText()).isFalse();
    assertThat(e.values()).containsExactly(0.5, -1, 2, 0);
  }

  private static Tensor bytes(String name, List<String> rows) {
    List<byte[]> elements = new ArrayList<>();
    for (String r : rows) {
      elements.add(r.getBytes(StandardCharsets.UTF_8));
    }
    return Tensor.ofBytes(name, new long[] {rows.size(), 1}, elements);
  }
}
