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
    assertThatThrownBy(
            () ->
                ModelConfigResolver.monitoring(
                    file(Map.of("features", List.of("a", "b", "c")), 1.5), FILE, INPUTS))
        .hasMessageContaining("monitoring.sample-rate");
    assertThatThrownBy(() -> ModelConfigResolver.monitoring(file(null, null), FILE, INPUTS))
        .hasMessageContaining("monitoring.features");
  }
}
