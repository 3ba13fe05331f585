package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.config.VersionPolicy;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import java.util.List;

/** The scheduler tests' shared model: {@code m}, FP32 x[2] → y[2], max batch 8, one instance. */
final class SchedulerFixtures {
  private SchedulerFixtures() {}

  static ModelConfig config(SchedulingConfig scheduling) {
    return new ModelConfig(
        "m",
        "onnxruntime_onnx",
        8,
        List.of(new TensorConfig("x", DataType.FP32, new long[] {2})),
        List.of(new TensorConfig("y", DataType.FP32, new long[] {2})),
        new VersionPolicy.Latest(1),
        1,
        SessionOptions.defaults(),
        "model.onnx",
        scheduling);
  }
}
