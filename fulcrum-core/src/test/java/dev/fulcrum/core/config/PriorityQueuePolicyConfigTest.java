package dev.fulcrum.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.SchedulingConfig.QueuePolicy;
import dev.fulcrum.core.config.SchedulingConfig.TimeoutAction;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code priority-queue-policy} in config.yaml: Triton's {@code priority_queue_policy}. */
class PriorityQueuePolicyConfigTest {
  @TempDir Path dir;

  private static final ModelSignature SIG =
      new ModelSignature(
          List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, 4})),
          List.of(new TensorSpec("y", DataType.FP32, new long[] {-1, 2})));

  private SchedulingConfig resolve(String yaml) throws Exception {
    Path file = dir.resolve("config.yaml");
    Files.writeString(file, yaml);
    ModelConfigFile f = new ModelConfigLoader().read(file);
    ModelConfigResolver r = new ModelConfigResolver(2, 32);
    return r.complete("m", f, file, r.deployment("m", f, file), SIG).scheduling();
  }

  @Test
  void eachLevelGetsItsOwnPolicyAndTheOthersTheDefault() throws Exception {
    SchedulingConfig s =
        resolve(
            """
            dynamic-batching: {priority-levels: 3, default-priority-level: 3}
            queue-policy: {max-queue-size: 64, default-timeout-microseconds: 5000}
            priority-queue-policy:
              1: {max-queue-size: 8, timeout-action: delay, default-timeout-microseconds: 100,
                  allow-timeout-override: true}
              3: {max-queue-size: 0}
            """);
    assertThat(s.priorityQueuePolicies())
        .containsExactly(
            Map.entry(1, new QueuePolicy(8, 100, TimeoutAction.DELAY, true)),
            // A field not written takes Fulcrum's default, not the queue-policy's (as in Triton).
            Map.entry(3, new QueuePolicy(0, 0, TimeoutAction.REJECT, false)));
    assertThat(s.queuePolicy(2))
        .isEqualTo(s.defaultQueuePolicy())
        .isEqualTo(new QueuePolicy(64, 5000, TimeoutAction.REJECT, false));
    assertThat(resolve("").priorityQueuePolicies()).isEmpty();
  }

  @Test
  void aLevelOutsideThePriorityLevelsIsRefusedAsTritonRefusesIt() {
    assertFails(
        "dynamic-batching: {priority-levels: 2}\npriority-queue-policy: {3: {max-queue-size: 1}}",
        "'priority-queue-policy.3'",
        "levels are 1..2");
    assertFails(
        "priority-queue-policy: {1: {max-queue-size: 1}}",
        "'priority-queue-policy.1'",
        "levels are 1..0");
    assertFails(
        "dynamic-batching: {priority-levels: 2}\npriority-queue-policy: {0: {}}",
        "'priority-queue-policy.0'");
    assertFails(
        "dynamic-batching: {priority-levels: 2}\npriority-queue-policy: {high: {}}",
        "'priority-queue-policy.high'");
  }

  @Test
  void badValuesNameTheLevelsField() {
    String levels = "dynamic-batching: {priority-levels: 2}\n";
    assertFails(
        levels + "priority-queue-policy: {2: {max-queue-size: -1}}",
        "'priority-queue-policy.2.max-queue-size'",
        ">= 0");
    assertFails(
        levels + "priority-queue-policy: {1: {default-timeout-microseconds: -5}}",
        "'priority-queue-policy.1.default-timeout-microseconds'");
    assertFails(
        levels + "priority-queue-policy: {1: {timeout-action: drop}}",
        "priority-queue-policy.1.timeout-action");
  }

  /**
   * Triton refuses {@code preserve_ordering} with a queue policy whose action is DELAY and whose
   * default timeout is set (model_config_utils.cc), the default's or a level's; so does Fulcrum,
   * naming the file and the field. DELAY without a default timeout loads, as in Triton.
   */
  @Test
  void preserveOrderingWithDelayIsRefusedAsTritonRefusesIt() throws Exception {
    assertFails(
        """
        dynamic-batching: {preserve-ordering: true}
        queue-policy: {default-timeout-microseconds: 1000, timeout-action: delay}
        """,
        "field 'queue-policy.timeout-action'",
        "preserve-ordering: true",
        "timeout-action: reject, or preserve-ordering: false");
    assertFails(
        """
        dynamic-batching: {preserve-ordering: true, priority-levels: 1}
        priority-queue-policy: {1: {default-timeout-microseconds: 1000, timeout-action: delay}}
        """,
        "field 'priority-queue-policy.1.timeout-action'");
    SchedulingConfig noDefaultTimeout =
        resolve(
            """
            dynamic-batching: {preserve-ordering: true}
            queue-policy: {timeout-action: delay}
            """);
    assertThat(noDefaultTimeout.preserveOrdering()).isTrue();
    assertThat(noDefaultTimeout.timeoutAction()).isEqualTo(TimeoutAction.DELAY);
    assertThat(
            resolve(
                    """
                    queue-policy: {default-timeout-microseconds: 1000, timeout-action: delay}
                    """)
                .timeoutAction())
        .as("without preserve-ordering DELAY is fine")
        .isEqualTo(TimeoutAction.DELAY);
  }

  private void assertFails(String yaml, String... fragments) {
    assertThatThrownBy(() -> resolve(yaml))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("config.yaml")
        .satisfies(e -> assertThat(e.getMessage()).contains(fragments));
  }
}
