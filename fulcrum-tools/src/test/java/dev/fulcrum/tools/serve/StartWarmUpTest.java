package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.config.ModelConfigLoader;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class StartWarmUpTest {
  @Test
  void theSampleIsAValidConfigurationWithTheDemosShapes() throws Exception {
    var config = new ModelConfigLoader().parse(StartWarmUp.SAMPLE, Path.of("config.yaml"));

    assertThat(config.maxBatchSize()).isEqualTo(1);
    assertThat(config.inputs()).hasSize(1);
    assertThat(config.versionPolicy()).isNotNull();
    assertThat(config.monitoring()).isNotNull();
  }

  @Test
  void theWarmUpReturnsNormally() {
    StartWarmUp.run();
  }
}
