package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.config.VersionPolicy;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.CompletableFuture;

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

  /** A request of one row, x = [v, v], for the model of {@link #config}. */
  static InferenceRequest request(String id, float v) {
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).putFloat(v);
    Tensor x = Tensor.of("x", DataType.FP32, new long[] {1, 2}, b.flip());
    return new InferenceRequest("m", "", id, null, List.of(x), null);
  }

  /** Submits {@link #request} {@code ("r", v)} to {@code s}, validated against the defaults. */
  static CompletableFuture<InferenceResponse> submit(ModelScheduler s, float v) {
    InferenceRequest r = request("r", v);
    return s.submit(r, RequestValidator.validate(config(SchedulingConfig.defaults()), r));
  }
}
