package dev.fulcrum.monitoring;

import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * Copies a tensor's numeric values into a {@code double[]}: the one copy the monitor makes, on the
 * completing engine thread (a fraud request: 8 floats in, 3 values out). Stateless.
 */
public final class Copies {
  /** Tensors larger than this are not copied (the monitor's inputs are tabular rows). */
  static final int MAX_ELEMENTS = 1 << 16;

  private Copies() {}

  /** A tensor's values as doubles, or null for a BYTES, half-precision or too large tensor. */
  public static double @Nullable [] values(Tensor t) {
    Observation.Values v = of(t);
    return v == null ? null : v.values();
  }

  /** The values, or null for a BYTES, half-precision or too large tensor. */
  static Observation.@Nullable Values of(Tensor t) {
    long count = t.elementCount();
    if (count > MAX_ELEMENTS) {
      return null;
    }
    int n = (int) count;
    ByteBuffer b = t.unsafeData();
    int base = b.position();
    double[] v = new double[n];
    switch (t.datatype()) {
      case FP32 -> {
        for (int i = 0; i < n; i++) {
          v[i] = b.getFloat(base + 4 * i);
        }
      }
      case FP64 -> {
        for (int i = 0; i < n; i++) {
          v[i] = b.getDouble(base + 8 * i);
        }
      }
      case INT64, UINT64 -> {
        for (int i = 0; i < n; i++) {
          v[i] = b.getLong(base + 8 * i);
        }
      }
      case INT32 -> {
        for (int i = 0; i < n; i++) {
          v[i] = b.getInt(base + 4 * i);
        }
      }
      case UINT32 -> {
        for (int i = 0; i < n; i++) {
          v[i] = Integer.toUnsignedLong(b.getInt(base + 4 * i));
        }
      }
      case INT16 -> {
        for (int i = 0; i < n; i++) {
          v[i] = b.getShort(base + 2 * i);
        }
      }
      case UINT16 -> {
        for (int i = 0; i < n; i++) {
          v[i] = Short.toUnsignedInt(b.getShort(base + 2 * i));
        }
      }
      case INT8 -> {
        for (int i = 0; i < n; i++) {
          v[i] = b.get(base + i);
        }
      }
      case UINT8, BOOL -> {
        for (int i = 0; i < n; i++) {
          v[i] = Byte.toUnsignedInt(b.get(base + i));
        }
      }
      default -> {
        return null;
      }
    }
    return new Observation.Values(t.name(), t.shape(), v);
  }
}
