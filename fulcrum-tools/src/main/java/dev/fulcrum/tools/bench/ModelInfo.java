package dev.fulcrum.tools.bench;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.tensor.TensorSpec;
import java.util.List;

/**
 * What the load generator needs to know about a model: its inputs (full shapes, -1 dynamic), its
 * outputs and whether dimension 0 is a batch dimension; immutable.
 *
 * @param maxBatchSize 0 when the model does not batch, else Triton's {@code max_batch_size}
 */
record ModelInfo(String name, int maxBatchSize, List<TensorSpec> inputs, List<String> outputs) {
  ModelInfo {
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
  }

  boolean batching() {
    return maxBatchSize > 0;
  }

  static ModelInfo of(ModelConfig c) {
    return new ModelInfo(
        c.name(),
        c.maxBatchSize(),
        c.inputs().stream()
            .map(t -> new TensorSpec(t.name(), t.datatype(), c.fullShape(t)))
            .toList(),
        c.outputs().stream().map(TensorConfig::name).toList());
  }
}
