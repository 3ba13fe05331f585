package dev.fulcrum.testkit;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A stateful ONNX model for the sequence batcher's tests and demo, written with its {@code
 * config.yaml} as a Triton-layout model folder. Stateless and thread-safe.
 *
 * <p>{@code accumulator}: each request of a sequence adds its {@code INPUT} (FP32 [-1, 1]) to the
 * running sum of the sequence's earlier requests and answers the new sum in {@code OUTPUT}; the
 * model itself keeps nothing. The sum is its implicit state ({@code STATE_IN} fed, {@code
 * STATE_OUT} taken), and its control input {@code START} (INT32) drops the state at a sequence's
 * first request: {@code OUTPUT = STATE_IN * (1 - START) + INPUT}. The control input {@code CORRID}
 * (INT64) comes back as {@code CORRID_OUT}, so a test sees which sequence a row was filled for.
 * {@code accumulator_str} is the same with a BYTES {@code CORRID}: its sequences have string ids.
 */
public final class StatefulModels {
  public static final String ACCUMULATOR = "accumulator";

  /** The accumulator whose sequence ids are strings (CORRID is BYTES). */
  public static final String ACCUMULATOR_STRING_IDS = "accumulator_str";

  /**
   * The accumulator configured by a Triton config.pbtxt with the oldest strategy: four candidate
   * sequences on an instance whose passes take two rows.
   */
  public static final String ACCUMULATOR_OLDEST = "accumulator_oldest";

  public static final String INPUT = "INPUT";
  public static final String OUTPUT = "OUTPUT";
  public static final String START = "START";
  public static final String CORRID = "CORRID";
  public static final String CORRID_OUT = "CORRID_OUT";
  public static final String STATE_IN = "STATE_IN";
  public static final String STATE_OUT = "STATE_OUT";

  private static final long D = OnnxModelBuilder.DYNAMIC;

  private StatefulModels() {}

  /**
   * Writes the accumulators for a demo: {@code <repo>/accumulator} and {@code
   * <repo>/accumulator_str} (string ids), each with 8 slots on one instance, Triton's 1 s idle
   * limit and 64 waiting requests, and {@code <repo>/accumulator_oldest} (a Triton config.pbtxt,
   * the oldest strategy: 4 candidate sequences, passes of 2 rows, a 60 s idle limit). Argument: the
   * repository (default {@code demo/stateful}; generated, not committed).
   */
  public static void main(String[] args) throws IOException {
    Path repo = Path.of(args.length > 0 ? args[0] : "demo/stateful");
    Path folder = writeAccumulator(repo, ACCUMULATOR, 8, 1, 1_000_000, 64);
    System.out.println("wrote " + folder);
    Path strings = repo.resolve(ACCUMULATOR_STRING_IDS);
    accumulator(DataType.BYTES)
        .write(strings.resolve(TestModels.VERSION).resolve(TestModels.MODEL_FILENAME));
    Files.writeString(strings.resolve("config.yaml"), accumulatorConfig(8, 1, 1_000_000, 64));
    System.out.println("wrote " + strings);
    Path oldest = repo.resolve(ACCUMULATOR_OLDEST);
    accumulator().write(oldest.resolve(TestModels.VERSION).resolve(TestModels.MODEL_FILENAME));
    Files.writeString(oldest.resolve("config.pbtxt"), oldestPbtxt());
    System.out.println("wrote " + oldest);
  }

  /** {@link #ACCUMULATOR_OLDEST}'s config.pbtxt, as a team moving off Triton has it. */
  private static String oldestPbtxt() {
    return """
        name: "%s"
        platform: "onnxruntime_onnx"
        max_batch_size: 2
        input [ { name: "INPUT" data_type: TYPE_FP32 dims: [ 1 ] } ]
        output [
          { name: "OUTPUT" data_type: TYPE_FP32 dims: [ 1 ] },
          { name: "CORRID_OUT" data_type: TYPE_INT64 dims: [ 1 ] }
        ]
        instance_group [ { count: 1 kind: KIND_CPU } ]
        sequence_batching {
          max_sequence_idle_microseconds: 60000000
          oldest { max_candidate_sequences: 4 preferred_batch_size: [ 2 ] }
          control_input [
            { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
            { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_INT64 } ] }
          ]
          state [ { input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_FP32 dims: [ 1 ] } ]
        }
        """
        .formatted(ACCUMULATOR_OLDEST);
  }

  /** The accumulator's graph. */
  public static OnnxModelBuilder accumulator() {
    return accumulator(DataType.INT64);
  }

  /** The accumulator's graph with a CORRID of {@code corrid} (INT64, or BYTES for string ids). */
  public static OnnxModelBuilder accumulator(DataType corrid) {
    return OnnxModelBuilder.create(ACCUMULATOR)
        .input(INPUT, DataType.FP32, D, 1)
        .input(START, DataType.INT32, D, 1)
        .input(CORRID, corrid, D, 1)
        .input(STATE_IN, DataType.FP32, D, 1)
        .output(OUTPUT, DataType.FP32, D, 1)
        .output(CORRID_OUT, corrid, D, 1)
        .output(STATE_OUT, DataType.FP32, D, 1)
        .floatInitializer("one", new long[0], 1f)
        .node(
            "Cast",
            List.of(START),
            List.of("start_f"),
            OnnxModelBuilder.intAttr("to", OnnxModelBuilder.onnxType(DataType.FP32).getNumber()))
        .node("Sub", List.of("one", "start_f"), List.of("keep"))
        .node("Mul", List.of(STATE_IN, "keep"), List.of("carried"))
        .node("Add", List.of("carried", INPUT), List.of(OUTPUT))
        .node("Identity", List.of(OUTPUT), List.of(STATE_OUT))
        .node("Identity", List.of(CORRID), List.of(CORRID_OUT));
  }

  /**
   * The accumulator's config.yaml: its sequence batcher with the two control inputs and the state.
   *
   * @param maxBatchSize the rows of a pass, and the slots per instance
   * @param instanceCount the instances (slots: their product)
   * @param idleMicros {@code max-sequence-idle-microseconds}
   * @param maxQueueSize the requests that may wait for their sequence's turn or a slot
   */
  public static String accumulatorConfig(
      int maxBatchSize, int instanceCount, long idleMicros, int maxQueueSize) {
    return """
        max-batch-size: %d
        instance-count: %d
        queue-policy:
          max-queue-size: %d
        sequence-batching:
          max-sequence-idle-microseconds: %d
          control-inputs:
            - name: START
              kind: start
            - name: CORRID
              kind: corrid
          states:
            - input-name: STATE_IN
              output-name: STATE_OUT
        """
        .formatted(maxBatchSize, instanceCount, maxQueueSize, idleMicros);
  }

  /**
   * The accumulator's config.pbtxt, as a team moving off Triton has one: one instance, the two
   * control inputs ({@code START} as 0/1 INT32, {@code CORRID} as UINT64) and, after them, {@code
   * sequenceBatching}: the rest of the {@code sequence_batching} block (strategy, idle limit,
   * state), in Triton's text format.
   *
   * @param maxBatchSize the rows of a pass, and the slots per instance
   */
  public static String accumulatorPbtxt(String name, int maxBatchSize, String sequenceBatching) {
    return """
        name: "%s"
        platform: "onnxruntime_onnx"
        max_batch_size: %d
        input [ { name: "INPUT" data_type: TYPE_FP32 dims: [ 1 ] } ]
        output [
          { name: "OUTPUT" data_type: TYPE_FP32 dims: [ 1 ] },
          { name: "CORRID_OUT" data_type: TYPE_INT64 dims: [ 1 ] }
        ]
        instance_group [ { count: 1 kind: KIND_CPU } ]
        sequence_batching {
          control_input [
            { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
            { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
          ]
        %s}
        """
        .formatted(name, maxBatchSize, sequenceBatching.indent(2));
  }

  /**
   * Writes {@code <repo>/<name>/1/model.onnx} and its config.pbtxt ({@link #accumulatorPbtxt}).
   *
   * @return the model's folder
   */
  public static Path writeAccumulatorPbtxt(
      Path repo, String name, int maxBatchSize, String sequenceBatching) throws IOException {
    Path folder = repo.resolve(name);
    accumulator().write(folder.resolve(TestModels.VERSION).resolve(TestModels.MODEL_FILENAME));
    Files.writeString(
        folder.resolve("config.pbtxt"), accumulatorPbtxt(name, maxBatchSize, sequenceBatching));
    return folder;
  }

  /**
   * Writes {@code <repo>/<name>/1/model.onnx} and its config.yaml ({@link #accumulatorConfig}).
   *
   * @return the model's folder
   */
  public static Path writeAccumulator(
      Path repo, String name, int maxBatchSize, int instanceCount, long idleMicros, int maxQueue)
      throws IOException {
    Path folder = repo.resolve(name);
    accumulator().write(folder.resolve(TestModels.VERSION).resolve(TestModels.MODEL_FILENAME));
    Files.writeString(
        folder.resolve("config.yaml"),
        accumulatorConfig(maxBatchSize, instanceCount, idleMicros, maxQueue));
    return folder;
  }
}
