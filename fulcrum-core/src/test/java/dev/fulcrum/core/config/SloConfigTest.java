package dev.fulcrum.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code slo:} and {@code slow-request-ms} in config.yaml, and the server's price. */
class SloConfigTest {
  @TempDir Path dir;

  private static final ModelSignature SIG =
      new ModelSignature(
          List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, 4})),
          List.of(new TensorSpec("y", DataType.FP32, new long[] {-1, 2})));

  private ModelConfig resolve(String yaml, double serverPrice) throws Exception {
    Path file = dir.resolve("config.yaml");
    Files.writeString(file, yaml);
    ModelConfigFile f = new ModelConfigLoader().read(file);
    ModelConfigResolver r = new ModelConfigResolver(2, 32, serverPrice);
    return r.complete("m", f, file, r.deployment("m", f, file), SIG);
  }

  @Test
  void withoutSloThereIsNoObjectiveAndTheServersPrice() throws Exception {
    SloConfig s = resolve("", 1.5).slo();
    assertThat(s.hasObjective()).isFalse();
    assertThat(s.costPerHour()).isEqualTo(1.5);
    assertThat(resolve("", 0).slo()).isEqualTo(SloConfig.NONE);
  }

  @Test
  void latencyPercentileAndPriceAreRead() throws Exception {
    SloConfig s = resolve("slo: {latency-ms: 10}", 2).slo();
    assertThat(s).isEqualTo(new SloConfig(10_000_000, 99, 2));
    s = resolve("slo: {latency-ms: 2.5, percentile: 99.9, cost-per-hour: 0.34}", 2).slo();
    assertThat(s).isEqualTo(new SloConfig(2_500_000, 99.9, 0.34));
    s = resolve("slo: {cost-per-hour: 0}", 2).slo();
    assertThat(s.hasObjective()).isFalse();
    assertThat(s.priced()).isFalse();
  }

  @Test
  void badValuesNameTheFileAndField() {
    assertFails("slo: {latency-ms: 0}", "'slo.latency-ms'", "must be > 0");
    assertFails("slo: {latency-ms: -3}", "'slo.latency-ms'");
    assertFails("slo: {latency-ms: 10, percentile: 100}", "'slo.percentile'", "< 100");
    assertFails("slo: {latency-ms: 10, percentile: 20}", "'slo.percentile'");
    assertFails("slo: {percentile: 99}", "'slo.percentile'", "needs slo.latency-ms");
    assertFails("slo: {latency-ms: 10, cost-per-hour: -1}", "'slo.cost-per-hour'");
    assertFails("slo: {}", "'slo'", "latency-ms", "or cost-per-hour alone");
    assertFails("slo: {latency: 10}", "latency");
  }

  @Test
  void slowRequestMsIsTheModelsOwnSlowRequestThreshold() throws Exception {
    assertThat(resolve("", 0).slowRequestNanos()).as("not set").isZero();
    assertThat(resolve("slow-request-ms: 50", 0).slowRequestNanos()).isEqualTo(50_000_000);
    ModelConfig both = resolve("slow-request-ms: 0.5\nslo: {latency-ms: 20}", 0);
    assertThat(both.slowRequestNanos()).isEqualTo(500_000);
    assertThat(both.slo().latencyNanos()).as("the objective is unchanged").isEqualTo(20_000_000);
    assertFails("slow-request-ms: 0", "'slow-request-ms'", "must be > 0");
    assertFails("slow-request-ms: -5", "'slow-request-ms'");
    assertFails("slow-request-ms: 3600001", "'slow-request-ms'", "<= 600000");
    assertFails("slow-request-ms: soon", "slow-request-ms");
  }

  private void assertFails(String yaml, String... fragments) {
    assertThatThrownBy(() -> resolve(yaml, 0))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("config.yaml")
        .satisfies(e -> assertThat(e.getMessage()).contains(fragments));
  }
}
