package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.config.VersionPolicy;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Triton's reshape between the clients' shapes (dims) and the graph's, -1s carried in order. */
class ReshapingInstanceTest {
  /** Records the shapes the graph is given and answers each input back as the output. */
  private static final class Echo implements ModelInstance {
    final List<long[]> seen = new ArrayList<>();

    @Override
    public ModelSignature signature() {
      return new ModelSignature(
          List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, -1, 3})),
          List.of(new TensorSpec("y", DataType.FP32, new long[] {-1, -1, 3})));
    }

    @Override
    public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
      seen.add(inputs.get(0).shape());
      return List.of(inputs.get(0).renamed("y"));
    }

    @Override
    public void close() {}
  }

  private static ModelConfig config(int maxBatchSize, long[] dims, long[] reshape) {
    return new ModelConfig(
        "m",
        "onnxruntime_onnx",
        maxBatchSize,
        List.of(new TensorConfig("x", DataType.FP32, dims, false, null, reshape)),
        List.of(new TensorConfig("y", DataType.FP32, dims, false, null, reshape)),
        new VersionPolicy.Latest(1),
        1,
        SessionOptions.defaults(),
        "model.onnx",
        SchedulingConfig.defaults());
  }

  private static Tensor fp32(long... shape) {
    int n = 1;
    for (long d : shape) {
      n *= (int) d;
    }
    return Tensor.of("x", DataType.FP32, shape, ByteBuffer.allocate(4 * n));
  }

  @Test
  void variableDimensionsKeepTheirSizesInOrderAndTheBatchStaysInFront() {
    Echo echo = new Echo();
    // The clients' [N, 2, -1] is the graph's [N, -1, 2]: the -1 carries its size across.
    ModelInstance i =
        ReshapingInstance.wrap(echo, config(4, new long[] {2, -1}, new long[] {-1, 2}));
    List<Tensor> out = i.execute(List.of(fp32(3, 2, 5)), List.of("y"));
    assertThat(echo.seen.get(0)).containsExactly(3, 5, 2);
    assertThat(out.get(0).shape()).containsExactly(3, 2, 5);
  }

  @Test
  void withoutBatchingTheWholeShapeIsRelabelled() {
    Echo echo = new Echo();
    ModelInstance i = ReshapingInstance.wrap(echo, config(0, new long[] {6}, new long[] {1, 2, 3}));
    List<Tensor> out = i.execute(List.of(fp32(6)), List.of("y"));
    assertThat(echo.seen.get(0)).containsExactly(1, 2, 3);
    assertThat(out.get(0).shape()).containsExactly(6);
  }

  @Test
  void anInstanceWithoutReshapeIsNotWrapped() {
    Echo echo = new Echo();
    ModelConfig plain =
        new ModelConfig(
            "m",
            "onnxruntime_onnx",
            0,
            List.of(new TensorConfig("x", DataType.FP32, new long[] {6})),
            List.of(new TensorConfig("y", DataType.FP32, new long[] {6})),
            new VersionPolicy.Latest(1),
            1,
            SessionOptions.defaults(),
            "model.onnx",
            SchedulingConfig.defaults());
    assertThat(ReshapingInstance.wrap(echo, plain)).isSameAs(echo);
  }
}
