package dev.fulcrum.core.tensor;

import java.util.Arrays;

/** Arithmetic on tensor shapes; -1 in a declared shape means "any size". */
public final class Shapes {
  private Shapes() {}

  /**
   * The element count of a concrete shape; 1 for a scalar.
   *
   * @throws ArithmeticException when the count overflows a long
   * @throws IllegalArgumentException when a dimension is negative
   */
  public static long elementCount(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /** True when a concrete shape fits a declared one (same rank; -1 matches any size). */
  public static boolean matches(long[] declared, long[] actual) {
    return matches(declared, actual, 0);
  }

  /**
   * True when {@code actual} is {@code first} leading dimensions of any size followed by a shape
   * that fits {@code declared} (-1 matching any size): with {@code first} 1, a batching model's
   * request against its dims without the batch dimension.
   */
  public static boolean matches(long[] declared, long[] actual, int first) {
    if (actual.length != declared.length + first) {
      return false;
    }
    for (int i = 0; i < declared.length; i++) {
      if (declared[i] >= 0 && declared[i] != actual[first + i]) {
        return false;
      }
    }
    return true;
  }

  /** The shape without its first (batch) dimension. */
  public static long[] dropFirst(long[] shape) {
    return Arrays.copyOfRange(shape, 1, shape.length);
  }

  /** The shape with {@code first} prepended (the batch dimension). */
  public static long[] prepend(long first, long[] dims) {
    long[] out = new long[dims.length + 1];
    out[0] = first;
    System.arraycopy(dims, 0, out, 1, dims.length);
    return out;
  }

  public static String toString(long[] shape) {
    return Arrays.toString(shape);
  }
}
