package dev.fulcrum.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.SequenceBatchingConfig.Kind;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sequence-batching} in config.yaml: checked against the graph, and the control and state
 * tensors taken out of what clients send and see.
 */
class SequenceBatchingConfigTest {
  @TempDir Path dir;

  private static final ModelSignature SIG =
      new ModelSignature(
          List.of(
              new TensorSpec("x", DataType.FP32, new long[] {-1, 1}),
              new TensorSpec("start", DataType.INT32, new long[] {-1, 1}),
              new TensorSpec("id", DataType.BYTES, new long[] {-1, 1}),
              new TensorSpec("h_in", DataType.FP32, new long[] {-1, 4}),
              new TensorSpec("open_in", DataType.FP32, new long[] {-1, -1})),
          List.of(
              new TensorSpec("y", DataType.FP32, new long[] {-1, 1}),
              new TensorSpec("h_out", DataType.FP32, new long[] {-1, 4}),
              new TensorSpec("open_out", DataType.FP32, new long[] {-1, -1})));

  private static final String BASE =
      """
      max-batch-size: 4
      sequence-batching:
        control-inputs:
          - {name: start, kind: start}
          - {name: id, kind: corrid}
        states:
          - {input-name: h_in, output-name: h_out}
          - {input-name: open_in, output-name: open_out, dims: [3]}
      """;

  private ModelConfig resolve(String yaml) throws Exception {
    Path file = dir.resolve("config.yaml");
    Files.writeString(file, yaml);
    ModelConfigFile f = new ModelConfigLoader().read(file);
    ModelConfigResolver r = new ModelConfigResolver(2, 32, 0);
    return r.complete("m", f, file, r.deployment("m", f, file), SIG);
  }

  @Test
  void controlsAndStatesAreReadAndHiddenFromClients() throws Exception {
    ModelConfig c = resolve(BASE);
    SequenceBatchingConfig s = c.sequenceBatching();
    assertThat(s).isNotNull();
    assertThat(s.maxSequenceIdleMicros()).isEqualTo(1_000_000);
    assertThat(s.controlInputs())
        .containsExactly(
            new SequenceBatchingConfig.ControlInput("start", Kind.START, DataType.INT32),
            new SequenceBatchingConfig.ControlInput("id", Kind.CORRID, DataType.BYTES));
    assertThat(s.states().get(0).dims()).containsExactly(4L);
    assertThat(s.states().get(1).dims()).containsExactly(3L);
    assertThat(c.inputs()).extracting(TensorConfig::name).containsExactly("x");
    assertThat(c.outputs()).extracting(TensorConfig::name).containsExactly("y");
    assertThat(resolve("").sequenceBatching()).isNull();
  }

  @Test
  void theOldestStrategyHoldsItsCandidatesPerInstance() throws Exception {
    assertThat(resolve(BASE).sequenceBatching().strategy())
        .isEqualTo(SequenceBatchingConfig.Strategy.DIRECT);
    assertThat(resolve(BASE).sequenceBatching().slotsPerInstance(4)).isEqualTo(4);
    SequenceBatchingConfig dflt =
        resolve(BASE.replace("sequence-batching:", "sequence-batching:\n  strategy: oldest"))
            .sequenceBatching();
    assertThat(dflt.strategy()).isEqualTo(SequenceBatchingConfig.Strategy.OLDEST);
    assertThat(dflt.maxCandidateSequences()).as("Triton's default: max-batch-size").isEqualTo(4);
    SequenceBatchingConfig many =
        resolve(
                BASE.replace(
                    "sequence-batching:",
                    "sequence-batching:\n  strategy: oldest\n  max-candidate-sequences: 64"))
            .sequenceBatching();
    assertThat(many.slotsPerInstance(4)).isEqualTo(64);
  }

  @Test
  void mistakesNameTheFileAndField() {
    assertFails(
        BASE.replace("sequence-batching:", "sequence-batching:\n  strategy: newest"),
        "'sequence-batching.strategy'",
        "'newest' is not one of [direct, oldest]");
    assertFails(
        BASE.replace("sequence-batching:", "sequence-batching:\n  max-candidate-sequences: 8"),
        "'sequence-batching.max-candidate-sequences'",
        "belongs to the oldest strategy");
    assertFails(
        BASE.replace(
            "sequence-batching:",
            "sequence-batching:\n  strategy: oldest\n  max-candidate-sequences: 0"),
        "'sequence-batching.max-candidate-sequences'",
        "must be 1..65536");
    assertFails(
        BASE.replace("name: start, kind: start", "name: begin, kind: start"),
        "'sequence-batching.control-inputs[0].name'",
        "no input named 'begin'");
    assertFails(
        BASE.replace("kind: start", "kind: first"),
        "'sequence-batching.control-inputs[0].kind'",
        "not one of");
    assertFails(
        BASE.replace("name: id, kind: corrid", "name: x, kind: start"),
        "'sequence-batching.control-inputs[1].kind'",
        "given to two control inputs");
    assertFails(
        BASE.replace(", dims: [3]", ""),
        "'sequence-batching.states[1].dims'",
        "give the state's dims");
    assertFails(
        BASE.replace("name: start, kind: start", "name: id, kind: start")
            .replace("name: id, kind: corrid", "name: start, kind: corrid"),
        "'sequence-batching.control-inputs[0].name'",
        "INT32, INT64, FP32 or BOOL");
    assertFails(
        BASE + "inputs:\n  - {name: start}\n", "'inputs[0].name'", "filled by sequence-batching");
    assertFails(
        BASE + "response-cache: {enabled: true}\n",
        "'response-cache.enabled'",
        "no response cache");
    assertFails(
        BASE.replace(
            "sequence-batching:", "sequence-batching:\n  max-sequence-idle-microseconds: 0"),
        "'sequence-batching.max-sequence-idle-microseconds'");
  }

  private void assertFails(String yaml, String... fragments) {
    assertThatThrownBy(() -> resolve(yaml))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("config.yaml")
        .satisfies(e -> assertThat(e.getMessage()).contains(fragments));
  }
}
