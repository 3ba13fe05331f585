package dev.fulcrum.core.config;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Shapes;
import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * An input or output as the configuration declares it, Triton-style: when the model batches, {@code
 * dims} leaves out the batch dimension; -1 marks a dimension of any size.
 *
 * @param allowNonFinite for a floating-point input, whether NaN and ±Infinity are accepted (false
 *     by default: a request carrying one is refused with INVALID_ARGUMENT)
 * @param labels for an output, its labels file in the model's folder (Triton's {@code
 *     label_filename}: line i names class i, appended to the classification extension's strings),
 *     or null
 * @param reshape Triton's {@code reshape}: the shape the model's graph has (without the batch
 *     dimension, as {@code dims}) where it differs from the shape clients send and receive ({@code
 *     dims}), with as many elements; null when they are the same
 */
public record TensorConfig(
    String name,
    DataType datatype,
    long[] dims,
    boolean allowNonFinite,
    @Nullable String labels,
    long @Nullable [] reshape) {
  public TensorConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(datatype, "datatype");
    dims = dims.clone();
    reshape = reshape == null ? null : reshape.clone();
  }

  /** A tensor whose graph shape is its {@code dims}. */
  public TensorConfig(
      String name,
      DataType datatype,
      long[] dims,
      boolean allowNonFinite,
      @Nullable String labels) {
    this(name, datatype, dims, allowNonFinite, labels, null);
  }

  /** A tensor that refuses non-finite values, without labels. */
  public TensorConfig(String name, DataType datatype, long[] dims) {
    this(name, datatype, dims, false, null, null);
  }

  @Override
  public long[] dims() {
    return dims.clone();
  }

  @Override
  public long @Nullable [] reshape() {
    return reshape == null ? null : reshape.clone();
  }

  /**
   * Whether {@code shape} has these dims (-1 matching any size) from its index {@code first} on,
   * and no other dimensions besides the {@code first} before them: {@code first} 1 for a model that
   * batches (its batch dimension is checked apart), else 0. Reads the dims without a copy.
   */
  public boolean acceptsShape(long[] shape, int first) {
    return Shapes.matches(dims, shape, first);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorConfig t
        && name.equals(t.name)
        && datatype == t.datatype
        && Arrays.equals(dims, t.dims)
        && allowNonFinite == t.allowNonFinite
        && Objects.equals(labels, t.labels)
        && Arrays.equals(reshape, t.reshape);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        name, datatype, Arrays.hashCode(dims), allowNonFinite, labels, Arrays.hashCode(reshape));
  }

  @Override
  public String toString() {
    return name
        + ":"
        + datatype
        + Arrays.toString(dims)
        + (reshape == null ? "" : "->" + Arrays.toString(reshape));
  }

  /**
   * The refusal of this input given as {@code given} where it is declared another datatype, or null
   * where they agree: one message for the core's validator and for a codec that meets the mismatch
   * first (the JSON decoder, when the data does not parse as the datatype given).
   */
  public @Nullable InferenceException datatypeMismatch(String model, DataType given) {
    return given == datatype
        ? null
        : InferenceException.invalid(
            "model '%s': input '%s' must be %s, got %s", model, name, datatype, given);
  }
}
