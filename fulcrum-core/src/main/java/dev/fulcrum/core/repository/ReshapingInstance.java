package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Triton's {@code reshape}: an instance whose inputs and outputs are relabelled (no copy) between
 * the shapes clients use (the configuration's {@code dims}) and the shapes the model's graph has
 * (its {@code reshape}). The batch dimension, when the model batches, stays in front of both; each
 * -1 of the target takes the size of the source's -1 of the same rank order (the configuration
 * gives both as many -1s).
 *
 * <p>Its signature leaves out the graph's index and dimension bounds of reshaped inputs: they are
 * axes of the graph's shape, which the request validator does not see.
 */
final class ReshapingInstance implements ModelInstance {
  private final ModelInstance delegate;
  private final boolean batching;
  private final Map<String, TensorConfig> inputs = new HashMap<>();
  private final Map<String, TensorConfig> outputs = new HashMap<>();
  private final ModelSignature signature;

  private ReshapingInstance(ModelInstance delegate, ModelConfig config) {
    this.delegate = delegate;
    this.batching = config.maxBatchSize() > 0;
    for (TensorConfig t : config.inputs()) {
      if (t.reshape() != null) {
        inputs.put(t.name(), t);
      }
    }
    for (TensorConfig t : config.outputs()) {
      if (t.reshape() != null) {
        outputs.put(t.name(), t);
      }
    }
    ModelSignature s = delegate.signature();
    Set<String> reshaped = new HashSet<>(inputs.keySet());
    this.signature =
        new ModelSignature(
            s.inputs(),
            s.outputs(),
            s.indexBounds().stream().filter(b -> !reshaped.contains(b.input())).toList(),
            s.sharedDimensions().stream()
                .filter(d -> d.uses().stream().noneMatch(u -> reshaped.contains(u.input())))
                .toList(),
            s.dimensionBounds().stream().filter(b -> !reshaped.contains(b.input())).toList());
  }

  /** The instance itself when no input or output of {@code config} has a reshape. */
  static ModelInstance wrap(ModelInstance instance, ModelConfig config) {
    boolean any =
        config.inputs().stream().anyMatch(t -> t.reshape() != null)
            || config.outputs().stream().anyMatch(t -> t.reshape() != null);
    return any ? new ReshapingInstance(instance, config) : instance;
  }

  @Override
  public ModelSignature signature() {
    return signature;
  }

  @Override
  public List<Tensor> execute(List<Tensor> in, List<String> outputNames) {
    List<Tensor> feeds = new ArrayList<>(in.size());
    for (Tensor t : in) {
      TensorConfig c = inputs.get(t.name());
      feeds.add(c == null ? t : relabel(t, c.dims(), reshapeOf(c)));
    }
    List<Tensor> out = delegate.execute(feeds, outputNames);
    List<Tensor> answers = new ArrayList<>(out.size());
    for (Tensor t : out) {
      TensorConfig c = outputs.get(t.name());
      answers.add(c == null ? t : relabel(t, reshapeOf(c), c.dims()));
    }
    return answers;
  }

  private static long[] reshapeOf(TensorConfig c) {
    long[] r = c.reshape();
    return r == null ? c.dims() : r;
  }

  /**
   * {@code t}, whose shape fits {@code from} (after the batch dimension, when the model batches),
   * under {@code to}: the batch dimension kept, each -1 of {@code to} the size of the next -1 of
   * {@code from}.
   */
  private Tensor relabel(Tensor t, long[] from, long[] to) {
    long[] shape = t.shape();
    int first = batching ? 1 : 0;
    if (!Shapes.matches(from, shape, first)) {
      throw InferenceException.internal(
          "tensor '"
              + t.name()
              + "' has shape "
              + Shapes.toString(shape)
              + ", which does not fit "
              + Shapes.toString(from)
              + " to be reshaped to "
              + Shapes.toString(to),
          null);
    }
    long[] target = new long[first + to.length];
    if (batching) {
      target[0] = shape[0];
    }
    int next = 0;
    for (int i = 0; i < to.length; i++) {
      if (to[i] >= 0) {
        target[first + i] = to[i];
        continue;
      }
      while (from[next] >= 0) {
        next++;
      }
      target[first + i] = shape[first + next];
      next++;
    }
    return t.reshaped(target);
  }

  @Override
  public void close() {
    delegate.close();
  }
}
