package dev.fulcrum.core.runtime;

import dev.fulcrum.core.tensor.TensorSpec;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * The inputs and outputs a model file declares, in the file's order, and the index bounds the
 * runtime found in its graph (see {@link IndexBound}).
 */
public record ModelSignature(
    List<TensorSpec> inputs, List<TensorSpec> outputs, List<IndexBound> indexBounds) {
  public ModelSignature {
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
    indexBounds = List.copyOf(indexBounds);
  }

  /** A signature whose graph tells no index bounds. */
  public ModelSignature(List<TensorSpec> inputs, List<TensorSpec> outputs) {
    this(inputs, outputs, List.of());
  }

  /**
   * An integer input whose values index a table of {@code maxExclusive} entries (e.g. token ids
   * into a vocabulary): each value must be in {@code 0..maxExclusive-1}, or the engine would fail
   * the whole pass.
   */
  public record IndexBound(String input, long maxExclusive) {
    public IndexBound {
      Objects.requireNonNull(input, "input");
      if (maxExclusive <= 0) {
        throw new IllegalArgumentException("maxExclusive must be > 0, was " + maxExclusive);
      }
    }
  }

  /** The bound of an input's values, if the graph tells one. */
  public OptionalLong maxExclusive(String input) {
    for (IndexBound b : indexBounds) {
      if (b.input().equals(input)) {
        return OptionalLong.of(b.maxExclusive());
      }
    }
    return OptionalLong.empty();
  }
}
