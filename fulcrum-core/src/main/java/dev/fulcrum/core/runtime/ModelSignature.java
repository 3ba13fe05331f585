package dev.fulcrum.core.runtime;

import dev.fulcrum.core.tensor.TensorSpec;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The inputs and outputs a model file declares, in the file's order, the index bounds the runtime
 * found in its graph (see {@link IndexBound}), the dimensions its inputs share by name (see {@link
 * SharedDimension}), and the largest sizes its graph takes in its inputs' variable dimensions (see
 * {@link DimensionBound}).
 */
public record ModelSignature(
    List<TensorSpec> inputs,
    List<TensorSpec> outputs,
    List<IndexBound> indexBounds,
    List<SharedDimension> sharedDimensions,
    List<DimensionBound> dimensionBounds) {
  public ModelSignature {
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
    indexBounds = List.copyOf(indexBounds);
    sharedDimensions = List.copyOf(sharedDimensions);
    dimensionBounds = List.copyOf(dimensionBounds);
  }

  /** A signature whose graph bounds no dimension. */
  public ModelSignature(
      List<TensorSpec> inputs,
      List<TensorSpec> outputs,
      List<IndexBound> indexBounds,
      List<SharedDimension> sharedDimensions) {
    this(inputs, outputs, indexBounds, sharedDimensions, List.of());
  }

  /** A signature whose graph tells no index bounds and no shared dimensions. */
  public ModelSignature(List<TensorSpec> inputs, List<TensorSpec> outputs) {
    this(inputs, outputs, List.of(), List.of());
  }

  /** A signature whose inputs share no named dimension. */
  public ModelSignature(
      List<TensorSpec> inputs, List<TensorSpec> outputs, List<IndexBound> indexBounds) {
    this(inputs, outputs, indexBounds, List.of());
  }

  /**
   * A variable dimension that several inputs declare under one name (an ONNX {@code dim_param},
   * e.g. MiniLM's {@code sequence_length} on {@code input_ids}, {@code attention_mask} and {@code
   * token_type_ids}): a request must give it one size on all of them, or the engine fails the pass
   * on the first node that combines them. ONNX names a dimension to say it is the same size
   * wherever the name appears; TensorRT checks such dimensions at run time for the same reason.
   *
   * @param name the dimension's name in the model file
   * @param uses where it appears: at least two, in the inputs' order
   */
  public record SharedDimension(String name, List<DimensionUse> uses) {
    public SharedDimension {
      Objects.requireNonNull(name, "name");
      uses = List.copyOf(uses);
      if (uses.size() < 2) {
        throw new IllegalArgumentException("a shared dimension has at least two uses: " + uses);
      }
    }
  }

  /** Axis {@code axis} (0 first, counting a batch dimension) of input {@code input}. */
  public record DimensionUse(String input, int axis) {
    public DimensionUse {
      Objects.requireNonNull(input, "input");
      if (axis < 0) {
        throw new IllegalArgumentException("axis must be >= 0, was " + axis);
      }
    }
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

  /**
   * The largest size axis {@code axis} (0 first, counting a batch dimension) of input {@code input}
   * may have: the graph turns that size into indices of a table of {@code max} rows (a BERT
   * export's position ids, {@code 0..sequence_length-1}, index a position-embedding table of 512
   * rows), so a larger one fails the pass in the engine.
   */
  public record DimensionBound(String input, int axis, long max) {
    public DimensionBound {
      Objects.requireNonNull(input, "input");
      if (axis < 0) {
        throw new IllegalArgumentException("axis must be >= 0, was " + axis);
      }
      if (max <= 0) {
        throw new IllegalArgumentException("max must be > 0, was " + max);
      }
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
