package dev.fulcrum.core.tensor;

import java.util.Arrays;
import java.util.Objects;

/**
 * A named, typed tensor shape as a model declares it; -1 marks a dimension of any size.
 *
 * @param name the tensor's name in the model
 * @param datatype the element type
 * @param shape the declared shape (a defensive copy is kept)
 */
public record TensorSpec(String name, DataType datatype, long[] shape) {
  public TensorSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(datatype, "datatype");
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorSpec t
        && name.equals(t.name)
        && datatype == t.datatype
        && Arrays.equals(shape, t.shape);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, datatype, Arrays.hashCode(shape));
  }

  @Override
  public String toString() {
    return name + ":" + datatype + Arrays.toString(shape);
  }
}
