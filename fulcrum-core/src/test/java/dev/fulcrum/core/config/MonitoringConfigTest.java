package dev.fulcrum.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.tensor.DataType;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** config.yaml's {@code monitoring:} section: defaults, and errors that name file and field. */
class MonitoringConfigTest {
  private static final Path FILE = Path.of("fraud", "config.yaml");
  private static final List<TensorConfig> INPUTS =
      List.of(new TensorConfig("features", DataType.FP32, new long[] {3}));

  private static ModelConfigFile.MonitoringFile file(
      Map<String, List<String>> features, Double sampleRate) {
    return new ModelConfigFile.MonitoringFile(
        null, null, sampleRate, features, null, null, null, null, null, null, null);
  }

  @Test
  void defaults() throws Exception {
    MonitoringConfig m =
        ModelConfigResolver.monitoring(
            file(Map.of("features", List.of("a", "b", "c")), null), FILE, INPUTS);
    assertThat(m).isNotNull();
    assertThat(m.enabled()).isTrue();
    assertThat(m.baseline()).isEqualTo(Path.of("baseline.json"));
    assertThat(m.sampleRate()).isEqualTo(1.0);
    assertThat(m.window()).isEqualTo(1000);
    assertThat(m.clearAfter()).isEqualTo(2000);
    assertThat(m.features())
        .containsExactly(new MonitoringConfig.InputFeatures("features", List.of("a", "b", "c")));
    assertThat(m.locatedBaselineIn(Path.of("/repo/fraud")))
        .isEqualTo(Path.of("/repo/fraud/baseline.json"));
    assertThat(ModelConfigResolver.monitoring(null, FILE, INPUTS)).isNull();
  }

  @Test
  void errorsNameTheFileAndTheField() {
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    file(Map.of("pixels", List.of("a", "b", "c")), null), FILE, INPUTS))
        .hasMessageContaining("config.yaml")
        .hasMessageContaining("monitoring.features.pixels")
        .hasMessageContaining("no input 'pixels'");
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    file(Map.of("features", List.of("a", "b")), null), FILE, INPUTS))
        .hasMessageContaining("monitoring.features.features")
        .hasMessageContaining("last dimension is 3");
    Map<String, List<String>> twice = new LinkedHashMap<>();
    twice.put("features", List.of("a", "a", "c"));
    assertThatThrownBy(() -> ModelConfigResolver.monitoring(file(twice, null), FILE, INPUTS))
        .hasMessageContaining("names a column twice");
    // One name in two inputs: their metrics and baseline entries would be one.
    List<TensorConfig> two =
        List.of(
            new TensorConfig("num", DataType.FP32, new long[] {2}),
            new TensorConfig("amt", DataType.FP64, new long[] {1}));
    Map<String, List<String>> shared = new LinkedHashMap<>();
    shared.put("num", List.of("n0", "n1"));
    shared.put("amt", List.of("n0"));
    assertThatThrownBy(() -> ModelConfigResolver.monitoring(file(shared, null), FILE, two))
        .hasMessageContaining("monitoring.features.amt")
        .hasMessageContaining("names column 'n0', which monitoring.features.num names too");
    // Samples that are not one row of columns ([batch, 3, 4]): profile cannot feed them.
    List<TensorConfig> grid = List.of(new TensorConfig("x", DataType.FP32, new long[] {3, 4}));
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    file(Map.of("x", List.of("c0", "c1", "c2", "c3")), null), FILE, grid))
        .hasMessageContaining("monitoring.features.x")
        .hasMessageContaining("input 'x' has shape [3, 4]");
    // A string input: its values are not numbers the monitor can compare.
    List<TensorConfig> strings = List.of(new TensorConfig("x", DataType.BYTES, new long[] {1}));
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    file(Map.of("x", List.of("x0")), null), FILE, strings))
        .hasMessageContaining("monitoring.features.x")
        .hasMessageContaining("input 'x' is BYTES; drift monitoring compares numeric inputs");
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    file(Map.of("features", List.of("a", "b", "c")), 1.5), FILE, INPUTS))
        .hasMessageContaining("monitoring.sample-rate");
    assertThatThrownBy(() -> ModelConfigResolver.monitoring(file(null, null), FILE, INPUTS))
        .hasMessageContaining("monitoring.features");
  }

  private static final List<TensorConfig> TOKENS =
      List.of(
          new TensorConfig("input_ids", DataType.INT64, new long[] {-1}),
          new TensorConfig("attention_mask", DataType.INT64, new long[] {-1}));

  private static ModelConfigFile.MonitoringFile text(ModelConfigFile.TextFile t) {
    return new ModelConfigFile.MonitoringFile(
        null, null, null, null, null, null, null, null, null, null, t);
  }

  @Test
  void textInputDefaultsAndChecks(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path file = dir.resolve("config.yaml");
    MonitoringConfig m =
        ModelConfigResolver.monitoring(
            text(new ModelConfigFile.TextFile(null, null, null)), file, TOKENS);
    assertThat(m).isNotNull();
    assertThat(m.features()).isEmpty();
    assertThat(m.text())
        .isEqualTo(new MonitoringConfig.TextInput("input_ids", "attention_mask", 100));
    // the [UNK] id of a vocabulary beside config.yaml
    java.nio.file.Files.writeString(dir.resolve("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n");
    m =
        ModelConfigResolver.monitoring(
            text(new ModelConfigFile.TextFile(null, null, null)), file, TOKENS);
    assertThat(m).isNotNull();
    assertThat(java.util.Objects.requireNonNull(m.text()).unkId()).isEqualTo(1);
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    text(new ModelConfigFile.TextFile(null, "mask", null)), file, TOKENS))
        .hasMessageContaining("config.yaml")
        .hasMessageContaining("monitoring.text.mask")
        .hasMessageContaining("no input 'mask'");
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    text(new ModelConfigFile.TextFile(null, null, -1)), file, TOKENS))
        .hasMessageContaining("monitoring.text.unk-id");
  }

  /** monitoring.text.output: the embedding output, checked against the model's outputs. */
  @Test
  void textOutputNamesAnEmbeddingOutput(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("config.yaml");
    List<TensorConfig> outputs =
        List.of(
            new TensorConfig("last_hidden_state", DataType.FP32, new long[] {-1, 384}),
            new TensorConfig("pooled", DataType.FP32, new long[] {384}),
            new TensorConfig("label", DataType.INT64, new long[] {-1, 2, 2}),
            new TensorConfig("ids", DataType.INT64, new long[] {384}));
    MonitoringConfig m =
        ModelConfigResolver.monitoring(
            text(new ModelConfigFile.TextFile(null, null, 100, "last_hidden_state")),
            file,
            TOKENS,
            outputs,
            true);
    assertThat(m).isNotNull();
    assertThat(java.util.Objects.requireNonNull(m.text()).output()).isEqualTo("last_hidden_state");
    m =
        ModelConfigResolver.monitoring(
            text(new ModelConfigFile.TextFile(null, null, 100, "pooled")),
            file,
            TOKENS,
            outputs,
            true);
    assertThat(java.util.Objects.requireNonNull(m).text().output()).isEqualTo("pooled");
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    text(new ModelConfigFile.TextFile(null, null, 100, "embedding")),
                    file,
                    TOKENS,
                    outputs,
                    true))
        .hasMessageContaining("config.yaml")
        .hasMessageContaining("monitoring.text.output")
        .hasMessageContaining("no output 'embedding'")
        .hasMessageContaining("last_hidden_state");
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    text(new ModelConfigFile.TextFile(null, null, 100, "label")),
                    file,
                    TOKENS,
                    outputs,
                    true))
        .hasMessageContaining("monitoring.text.output")
        .hasMessageContaining("4 dimensions");
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    text(new ModelConfigFile.TextFile(null, null, 100, "ids")),
                    file,
                    TOKENS,
                    outputs,
                    true))
        .hasMessageContaining("monitoring.text.output")
        .hasMessageContaining("FP32 or FP64");
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    text(new ModelConfigFile.TextFile(null, null, 100, " ")), file, TOKENS))
        .hasMessageContaining("monitoring.text.output");
  }
}
