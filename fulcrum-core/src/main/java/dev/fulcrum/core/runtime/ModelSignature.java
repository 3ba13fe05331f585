package dev.fulcrum.core.runtime;

import dev.fulcrum.core.tensor.TensorSpec;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

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
   * An integer input whose values index a table (e.g. token ids into a vocabulary): each value must
   * be in {@code minInclusive..maxExclusive-1}, or the engine would fail the whole pass. An ONNX
   * {@code Gather} on a table of {@code n} rows takes {@code -n..n-1} (a negative index counts from
   * the end); {@link #IndexBound(String, long)} is a table indexed from 0 only.
   */
  public record IndexBound(String input, long minInclusive, long maxExclusive) {
    public IndexBound {
      Objects.requireNonNull(input, "input");
      if (maxExclusive <= 0) {
        throw new IllegalArgumentException("maxExclusive must be > 0, was " + maxExclusive);
      }
      if (minInclusive > 0 || minInclusive < -maxExclusive) {
        throw new IllegalArgumentException(
            "minInclusive must be in -maxExclusive..0, was " + minInclusive);
      }
    }

    /** A table of {@code maxExclusive} entries indexed from 0 only. */
    public IndexBound(String input, long maxExclusive) {
      this(input, 0, maxExclusive);
    }

    /** Whether {@code value} is a valid index. */
    public boolean accepts(long value) {
      return value >= minInclusive && value < maxExclusive;
    }
  }

  /** The bound of an input's values, if the graph tells one. */
  public Optional<IndexBound> indexBound(String input) {
    for (IndexBound b : indexBounds) {
      if (b.input().equals(input)) {
        return Optional.of(b);
      }
    }
    return Optional.empty();
  }
}
