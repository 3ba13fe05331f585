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
import org.junit.jupiter.api.io.TempDir;

/** The stages around a stand-in engine: what {@link PipelineStages#after} makes of its outputs. */
class PipelineStagesTest {
  static final Path FOLDER = Path.of("..", "demo", "models", "all_minilm_l6_v2");
  static final String TOKENIZER = "all-minilm-l6-v2-q-tokenizer.json";
  static final int HIDDEN = 4;
  static final Path CONFIG = Path.of("models", "p", "config.yaml");

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
        PipelineStages.open(pipeline(List.of()), List.of(FOLDER), bert(), CONFIG)) {
      List<RequestedOutput> outputs = List.of(RequestedOutput.named("last_hidden_state"));
      ModelStages.Prepared p = stages.before(List.of(text("hello world")), 0, outputs);
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
            pipeline(List.of(new PipelineConfig.Normalize())), List.of(FOLDER), bert(), CONFIG)) {
      List<RequestedOutput> outputs = List.of(RequestedOutput.named("last_hidden_state"));
      ModelStages.Prepared p = stages.before(List.of(text("hello world", "hello")), 0, outputs);
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
        PipelineStages.open(pipeline(List.of()), List.of(FOLDER), bert(), CONFIG)) {
      List<RequestedOutput> outputs =
          List.of(new RequestedOutput("last_hidden_state", Map.of("classification", 2L)));
      ModelStages.Prepared p = stages.before(List.of(text("hello world")), 0, outputs);

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
                    pipeline(List.of(new PipelineConfig.TopK(2, null))),
                    List.of(FOLDER),
                    bert(),
                    CONFIG))
        .hasMessageContaining("pipeline.post[0]")
        .hasMessageContaining("top-k takes [batch, classes]")
        .hasMessageContaining("mean-pool it first");
  }

  /** A classifier: FP32 [batch, 8] features in, FP32 [batch, 2] probabilities out. */
  static ModelSignature classifier() {
    return new ModelSignature(
        List.of(new TensorSpec("features", DataType.FP32, new long[] {-1, 8})),
        List.of(new TensorSpec("probabilities", DataType.FP32, new long[] {-1, 2})));
  }

  static PipelineConfig classifierPipeline(
      List<PipelineConfig.Step> pre, List<PipelineConfig.Step> post) {
    return new PipelineConfig(
        "fraud", 0, null, null, null, null, pre, post, PipelineConfig.Batching.PAD);
  }

  static String loadError(PipelineConfig p, Path folder, ModelSignature engine) {
    Throwable t =
        org.assertj.core.api.Assertions.catchThrowable(
            () -> PipelineStages.open(p, List.of(folder), engine, CONFIG).close());
    assertThat(t).isInstanceOf(dev.fulcrum.core.config.ConfigException.class);
    return t.getMessage();
  }

  @Test
  void statisticsThatFp32CannotHoldOrThatAreNotNumbersAreLoadErrorsNamingFileAndField(
      @TempDir Path dir) throws Exception {
    String eight = "0,0,0,0,0,0,0,";
    for (String[] bad :
        List.of(
            new String[] {
              "{\"mean\":[" + eight + "1e39],\"std\":[" + eight + "1]}",
              "mean[7] is 1.0E39",
              "FP32 cannot hold"
            },
            new String[] {
              "{\"mean\":[" + eight + "0],\"std\":[" + eight + "1e400]}",
              "std[7]",
              "FP32 cannot hold"
            },
            new String[] {
              "{\"mean\":[" + eight + "\"NaN\"],\"std\":[" + eight + "1]}",
              "mean[7] is \"NaN\", not a number"
            },
            new String[] {
              "{\"mean\":[" + eight + "0],\"std\":[1,1,1,1,1,1,1,0]}",
              "every std must be > 0",
              "std[7] is 0.0"
            },
            new String[] {"{\"mean\":[1,2", "cannot read it as JSON", "line 1, column 13"})) {
      java.nio.file.Files.writeString(dir.resolve("s.json"), bad[0]);
      String message =
          loadError(
              classifierPipeline(List.of(new PipelineConfig.Standardize("s.json")), List.of()),
              dir,
              classifier());
      assertThat(message)
          .as(bad[0])
          .startsWith("models/p/config.yaml: field 'pipeline.pre[0].statistics': s.json")
          .contains(java.util.Arrays.copyOfRange(bad, 1, bad.length));
    }
  }

  @Test
  void aLabelsFileShorterThanTheClassesIsALoadError(@TempDir Path dir) throws Exception {
    java.nio.file.Files.writeString(dir.resolve("l.txt"), "only_one\n");
    assertThat(
            loadError(
                classifierPipeline(List.of(), List.of(new PipelineConfig.TopK(2, "l.txt"))),
                dir,
                classifier()))
        .isEqualTo(
            "models/p/config.yaml: field 'pipeline.post[0].labels': l.txt has 1 line(s) for the"
                + " output's 2 classes (line i names class i)");
    java.nio.file.Files.writeString(dir.resolve("l.txt"), "legit\nfraud\n");
    PipelineStages.open(
            classifierPipeline(List.of(), List.of(new PipelineConfig.TopK(2, "l.txt"))),
            List.of(dir),
            classifier(),
            CONFIG)
        .close();
  }

  @Test
  void stepOrderErrorsNameTheFileAndTheStep() {
    assertThat(
            loadError(
                pipeline(List.of(new PipelineConfig.TopK(1, null), new PipelineConfig.MeanPool())),
                FOLDER,
                bert()))
        .isEqualTo("models/p/config.yaml: field 'pipeline.post[0]': top-k must be the last step");
  }

  @Test
  void aJsonFileThatIsNoTokenizerSaysSo(@TempDir Path dir) throws Exception {
    java.nio.file.Files.writeString(dir.resolve("t.json"), "{\"not\":\"a tokenizer\"}");
    PipelineConfig p =
        new PipelineConfig(
            "bert",
            0,
            null,
            null,
            null,
            null,
            List.of(
                new PipelineConfig.Tokenize("t.json", 512, true, PipelineConfig.Padding.LONGEST)),
            List.of(),
            PipelineConfig.Batching.PAD);
    assertThat(loadError(p, dir, bert()))
        .startsWith(
            "models/p/config.yaml: field 'pipeline.pre[0].tokenizer': t.json is JSON but not a"
                + " Hugging Face tokenizer.json");
  }
}
