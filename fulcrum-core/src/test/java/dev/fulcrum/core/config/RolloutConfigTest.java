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

/** {@code rollout:} in config.yaml: read once, defaults filled in, mistakes named by field. */
class RolloutConfigTest {
  @TempDir Path dir;

  private static final ModelSignature SIG =
      new ModelSignature(
          List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, 4})),
          List.of(new TensorSpec("y", DataType.FP32, new long[] {-1, 2})));

  private static final String TWO = "version-policy: {latest: 2}\n";

  private ModelConfig resolve(String yaml) throws Exception {
    Path file = dir.resolve("config.yaml");
    Files.writeString(file, yaml);
    ModelConfigFile f = new ModelConfigLoader().read(file);
    ModelConfigResolver r = new ModelConfigResolver(2, 32, 0);
    return r.complete("m", f, file, r.deployment("m", f, file), SIG);
  }

  @Test
  void withoutRolloutThereIsNone() throws Exception {
    assertThat(resolve(TWO).rollout()).isNull();
  }

  @Test
  void theShareAloneTakesEveryDefault() throws Exception {
    assertThat(resolve(TWO + "rollout: {canary-traffic-percent: 10}").rollout())
        .isEqualTo(RolloutConfig.ofPercent(10));
  }

  @Test
  void everyFieldIsRead() throws Exception {
    RolloutConfig c =
        resolve(
                TWO
                    + "rollout:\n"
                    + "  canary-traffic-percent: 25\n"
                    + "  min-requests: 50\n"
                    + "  window: 400\n"
                    + "  max-failed-percent-increase: 0.5\n"
                    + "  max-p99-ratio: 1.5\n"
                    + "  p99-slack-ms: 2\n"
                    + "  max-slo-miss-percent-increase: 3\n"
                    + "  promote-after-requests: 1000\n"
                    + "  promote-after-seconds: 600\n")
            .rollout();
    assertThat(c)
        .isEqualTo(
            new RolloutConfig(
                List.of(25), 50, 400, 0.5, 1.5, 2_000_000, 3, 1000, 600_000_000_000L));
  }

  @Test
  void badValuesNameTheFileAndField() {
    assertFails(TWO + "rollout: {}", "'rollout.canary-traffic-percent'", "is required");
    assertFails(TWO + "rollout: {canary-traffic-percent: 101}", "'rollout.canary-traffic-percent'");
    assertFails(TWO + "rollout: {canary-traffic-percent: -1}", "'rollout.canary-traffic-percent'");
    assertFails(
        TWO + "rollout: {canary-traffic-percent: 10, min-requests: 0}", "'rollout.min-requests'");
    assertFails(TWO + "rollout: {canary-traffic-percent: 10, window: 0}", "'rollout.window'");
    assertFails(
        TWO + "rollout: {canary-traffic-percent: 10, max-p99-ratio: 0.5}",
        "'rollout.max-p99-ratio'",
        "between 1 and");
    assertFails(
        TWO + "rollout: {canary-traffic-percent: 10, max-failed-percent-increase: -1}",
        "'rollout.max-failed-percent-increase'");
    assertFails(
        TWO + "rollout: {canary-traffic-percent: 10, promote-after-requests: 10}",
        "'rollout.promote-after-requests'",
        "at least rollout.min-requests (100)");
    assertFails(
        TWO + "rollout: {canary-traffic-percent: 10, promote-after-seconds: 60}",
        "'rollout.promote-after-seconds'",
        "needs rollout.promote-after-requests");
    assertFails(TWO + "rollout: {canary-percent: 10}", "canary-percent");
  }

  @Test
  void stepsAreReadInTurn() throws Exception {
    RolloutConfig c =
        resolve(TWO + "rollout: {canary-steps: [5, 25, 50], min-requests: 20}").rollout();
    assertThat(c).isNotNull();
    assertThat(c.canarySteps()).containsExactly(5, 25, 50);
    assertThat(c.canaryTrafficPercent()).as("the first step").isEqualTo(5);
    assertThat(c.stepped()).isTrue();
    assertThat(RolloutConfig.ofPercent(10).stepped()).isFalse();
    assertThat(resolve(TWO + "rollout: {canary-steps: [100]}").rollout())
        .as("one step is a share")
        .isEqualTo(RolloutConfig.ofPercent(100));
  }

  @Test
  void badStepsNameTheFileAndTheStep() {
    assertFails(
        TWO + "rollout: {canary-traffic-percent: 10, canary-steps: [10, 50]}",
        "'rollout.canary-steps'",
        "not both");
    assertFails(TWO + "rollout: {canary-steps: []}", "'rollout.canary-steps'", "one or more");
    assertFails(
        TWO + "rollout: {canary-steps: [5, 0]}", "'rollout.canary-steps[1]'", "1 to 100, was 0");
    assertFails(
        TWO + "rollout: {canary-steps: [0, 50]}", "'rollout.canary-steps[0]'", "1 to 100, was 0");
    assertFails(TWO + "rollout: {canary-steps: [5, 101]}", "'rollout.canary-steps[1]'", "was 101");
    assertFails(
        TWO + "rollout: {canary-steps: [25, 25]}",
        "'rollout.canary-steps[1]'",
        "above the step before it (25), was 25");
    assertFails(
        TWO + "rollout: {canary-steps: [50, 10]}",
        "'rollout.canary-steps[1]'",
        "above the step before it (50)");
    assertFails(TWO + "rollout: {canary-steps: 10}", "canary-steps");
  }

  @Test
  void aRolloutNeedsTwoVersionsServing() {
    assertFails(
        "rollout: {canary-traffic-percent: 10}", "'rollout'", "version-policy: {latest: 2}");
    assertFails(
        "version-policy: {specific: [3]}\nrollout: {canary-traffic-percent: 10}", "'rollout'");
  }

  @Test
  void theOtherPoliciesThatServeTwoAreAccepted() throws Exception {
    assertThat(
            resolve("version-policy: {all: true}\nrollout: {canary-traffic-percent: 5}").rollout())
        .isNotNull();
    assertThat(
            resolve("version-policy: {specific: [1, 2]}\nrollout: {canary-traffic-percent: 5}")
                .rollout())
        .isNotNull();
  }

  @Test
  void aStatefulModelIsRefusedACanary() throws Exception {
    Path file = dir.resolve("config.yaml");
    Files.writeString(
        file,
        TWO
            + "max-batch-size: 4\n"
            + "sequence-batching:\n"
            + "  control-inputs:\n"
            + "    - {name: start, kind: start}\n"
            + "    - {name: id, kind: corrid}\n"
            + "rollout: {canary-traffic-percent: 10}\n");
    ModelSignature stateful =
        new ModelSignature(
            List.of(
                new TensorSpec("x", DataType.FP32, new long[] {-1, 1}),
                new TensorSpec("start", DataType.INT32, new long[] {-1, 1}),
                new TensorSpec("id", DataType.BYTES, new long[] {-1, 1})),
            List.of(new TensorSpec("y", DataType.FP32, new long[] {-1, 1})));
    ModelConfigFile f = new ModelConfigLoader().read(file);
    ModelConfigResolver r = new ModelConfigResolver(2, 32, 0);
    assertThatThrownBy(() -> r.complete("m", f, file, r.deployment("m", f, file), stateful))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("config.yaml")
        .hasMessageContaining("'rollout'")
        .hasMessageContaining("a sequence's requests must all reach one version");
  }

  private void assertFails(String yaml, String... fragments) {
    assertThatThrownBy(() -> resolve(yaml))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("config.yaml")
        .satisfies(e -> assertThat(e.getMessage()).contains(fragments));
  }
}
