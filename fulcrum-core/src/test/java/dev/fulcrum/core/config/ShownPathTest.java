package dev.fulcrum.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ShownPathTest {
  @Test
  void showsTheLastThreeNamesOnly() {
    assertThat(ShownPath.of(Path.of("/srv/secret/models/resnet/1/model.onnx")))
        .isEqualTo(Path.of("resnet/1/model.onnx").toString());
    assertThat(ShownPath.of(Path.of("/srv/models/resnet/config.yaml")))
        .isEqualTo(Path.of("models/resnet/config.yaml").toString());
    assertThat(ShownPath.of(Path.of("config.yaml"))).isEqualTo("config.yaml");
  }

  @Test
  void configExceptionsNameNoAbsolutePath() {
    ConfigException e =
        new ConfigException(Path.of("/srv/secret/models/m/config.yaml"), "inputs", "is wrong");
    assertThat(e.getMessage())
        .doesNotContain("/srv/secret")
        .contains("m" + java.io.File.separator + "config.yaml", "inputs", "is wrong");
  }
}
