package dev.fulcrum.core.config;

import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import java.util.List;

/**
 * The completed configuration of the stateful test model {@code acc} (one FP32 {@code INPUT} and
 * {@code OUTPUT} of one element a row, one instance), which core's sequence batcher tests and
 * fulcrum-server's {@code /config} round trip both build (this module's test-jar). Stateless.
 */
public final class StatefulConfigs {
  private StatefulConfigs() {}

  /** {@code acc} with {@code sequences}, batching up to {@code maxBatchSize} (0: none). */
  public static ModelConfig accumulator(
      int maxBatchSize, SchedulingConfig scheduling, SequenceBatchingConfig sequences) {
    return new ModelConfig(
        "acc",
        "onnxruntime_onnx",
        maxBatchSize,
        List.of(new TensorConfig("INPUT", DataType.FP32, new long[] {1})),
        List.of(new TensorConfig("OUTPUT", DataType.FP32, new long[] {1})),
        new VersionPolicy.Latest(1),
        1,
        SessionOptions.defaults(),
        "model.onnx",
        scheduling,
        false,
        SloConfig.NONE,
        null,
        null,
        ResponseCacheConfig.DISABLED,
        List.of(),
        List.of(),
        0,
        sequences,
        null,
        null);
  }
}
