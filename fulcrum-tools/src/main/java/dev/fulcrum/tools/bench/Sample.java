package dev.fulcrum.tools.bench;

import dev.fulcrum.core.tensor.Tensor;
import java.util.List;

/**
 * One request's inputs, built before the run so that generating data never slows the load;
 * immutable (tensors are read-only once built).
 *
 * @param batch the inferences this request carries (its batch dimension, or 1)
 */
record Sample(List<Tensor> inputs, int batch) {
  Sample {
    inputs = List.copyOf(inputs);
  }
}
