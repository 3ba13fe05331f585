package dev.fulcrum.pipelines;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.pipeline.ModelStages;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The stages around a stand-in engine: what {@link PipelineStages#after} makes of its outputs. */
class PipelineStagesTest {
  static final Path FOLDER = Path.of("..", "demo", "models", "all_minilm_l6_v2");
  static final String TOKENIZER = "all-minilm-l6-v2-q-tokenizer.json";
  static final int HIDDEN = 4;

  /** A BERT-like engine: token ids in, [batch, sequence, 4] token vectors out. */
  static ModelSignature bert() {
    List<TensorSpec> inputs =
        List.of(
            new TensorSpec(PipelineStages.INPUT_IDS, DataType.INT64, new long[] {-1, -1}),
            new TensorSpec(PipelineStages.ATTENTION_MASK, DataType.INT64, new long[] {-1, -1}),
            new TensorSpec(PipelineStages.TOKEN_TYPE_IDS, DataType.INT64, new long[] {-1, -1}));
    return new ModelSignature(
        inputs,
        List.of(new TensorSpec("last_hidden_state", DataType.FP32, new long[] {-1, -1, HIDDEN})));
  }

  static PipelineConfig pipeline(List<PipelineConfig.Step> post) {
    return new PipelineConfig(
        "bert",
        0,
        null,
        null,
        null,
        null,
        List.of(new PipelineConfig.Tokenize(TOKENIZER, 512, true, PipelineConfig.Padding.LONGEST)),
        post,
        PipelineConfig.Batching.PAD);
  }

  static Tensor text(String... rows) {
    List<byte[]> bytes =
        java.util.Arrays.stream(rows).map(r -> r.getBytes(StandardCharsets.UTF_8)).toList();
    return Tensor.ofBytes("text", new long[] {rows.length, 1}, bytes);
  }

  /**
   * The engine's answer to a request of {@code rows} rows of {@code own} tokens, padded by its
   * batch to {@code padded} positions: value {@code 1000 r + 10 t + d} at row r, position t,
   * dimension d; the padding's positions hold 99.
   */
  static Tensor engineOutput(int rows, int own, int padded) {
    float[] x = new float[rows * padded * HIDDEN];
    for (int r = 0; r < rows; r++) {
      for (int t = 0; t < padded; t++) {
        for (int d = 0; d < HIDDEN; d++) {
          x[(r * padded + t) * HIDDEN + d] = t < own ? 1000 * r + 10 * t + d : 99;
        }
      }
    }
    return PipelineStages.floatTensor("last_hidden_state", new long[] {rows, padded, HIDDEN}, x);
  }

  static float[] floats(Tensor t) {
    return PipelineStages.floats(t);
  }

  @Test
  void aRequestsTokenVectorsComeBackAtItsOwnLengthWhateverItsBatchPaddedThemTo() throws Exception {
    try (PipelineStages stages =
        PipelineStages.open(pipeline(List.of()), List.of(FOLDER), bert())) {
      List<RequestedOutput> outputs = List.of(RequestedOutput.named("last_hidden_state"));
      ModelStages.Prepared p = stages.before(List.of(text("hello world")), outputs);
      assertThat(p.engineInputs().get(0).shape()).containsExactly(1, 4); // [CLS] hello world [SEP]

      Tensor alone = stages.after(p, List.of(engineOutput(1, 4, 4))).get(0);
      Tensor batched = stages.after(p, List.of(engineOutput(1, 4, 243))).get(0);

      assertThat(alone.shape()).containsExactly(1, 4, HIDDEN);
      assertThat(batched.shape()).containsExactly(1, 4, HIDDEN);
      assertThat(floats(batched)).containsExactly(floats(alone));
      assertThat(floats(batched)).doesNotContain(99f);
    }
  }

  @Test
  void aManyRowRequestIsCutToItsOwnLongestRowAndEachRowKeepsItsPositions() throws Exception {
    try (PipelineStages stages =
        PipelineStages.open(
            pipeline(List.of(new PipelineConfig.Normalize())), List.of(FOLDER), bert())) {
      List<RequestedOutput> outputs = List.of(RequestedOutput.named("last_hidden_state"));
      ModelStages.Prepared p = stages.before(List.of(text("hello world", "hello")), outputs);
      assertThat(p.engineInputs().get(0).shape()).containsExactly(2, 4);

      Tensor batched = stages.after(p, List.of(engineOutput(2, 4, 9))).get(0);

      assertThat(batched.shape()).containsExactly(2, 4, HIDDEN);
      float[] x = floats(batched);
      // Row 1, position 2, normalized: (1020, 1021, 1022, 1023) / its norm.
      double norm = Math.sqrt(1020.0 * 1020 + 1021.0 * 1021 + 1022.0 * 1022 + 1023.0 * 1023);
      assertThat(x[(4 + 2) * HIDDEN]).isEqualTo((float) (1020 / norm));
    }
  }

  @Test
  void classificationOfTokenVectorsRanksEachRequestRowOverItsOwnPositions() throws Exception {
    try (PipelineStages stages =
        PipelineStages.open(pipeline(List.of()), List.of(FOLDER), bert())) {
      List<RequestedOutput> outputs =
          List.of(new RequestedOutput("last_hidden_state", Map.of("classification", 2L)));
      ModelStages.Prepared p = stages.before(List.of(text("hello world")), outputs);

      Tensor classes = stages.after(p, List.of(engineOutput(1, 4, 243))).get(0);

      // One row (the request's one sentence) of 2, not one per position; padding's 99 not among
      // them: the best is position 3, dimension 3 (33.0), index 3 * 4 + 3.
      assertThat(classes.datatype()).isEqualTo(DataType.BYTES);
      assertThat(classes.shape()).containsExactly(1, 2);
      assertThat(new String(classes.bytesElements().get(0), StandardCharsets.UTF_8))
          .isEqualTo("33.000000:15");
    }
  }

  @Test
  void topKOnTokenVectorsIsALoadError() {
    assertThatThrownBy(
            () ->
                PipelineStages.open(
                    pipeline(List.of(new PipelineConfig.TopK(2, null))), List.of(FOLDER), bert()))
        .hasMessageContaining("pipeline.post[0]")
        .hasMessageContaining("top-k takes [batch, classes]")
        .hasMessageContaining("mean-pool it first");
  }
}
