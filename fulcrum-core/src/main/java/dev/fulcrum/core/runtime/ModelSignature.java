package dev.fulcrum.core.runtime;

import dev.fulcrum.core.tensor.TensorSpec;
import java.util.List;

/** The inputs and outputs a model file declares, in the file's order. */
public record ModelSignature(List<TensorSpec> inputs, List<TensorSpec> outputs) {
  public ModelSignature {
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
  }
}
