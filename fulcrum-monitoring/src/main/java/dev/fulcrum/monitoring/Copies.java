package dev.fulcrum.monitoring;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Copies a tensor's numeric values into {@code double}s: on the monitor's thread into arrays it
 * reuses ({@link #into}), on the prediction log's into new ones for its line ({@link #of}). The
 * engine thread copies nothing: it hands over references ({@link Completed}). Stateless.
 */
public final class Copies {
  /** Tensors larger than this are not copied (the monitor's inputs are tabular rows). */
  static final int MAX_ELEMENTS = 1 << 16;

  /**
   * BYTES tensors larger than this (elements and their length prefixes) are not logged: a text
   * request's sentences, not documents.
   */
  static final long MAX_TEXT_BYTES = 1 << 16;

  private Copies() {}

  /** A tensor's values as doubles, or null for a BYTES or too large tensor. */
  public static double @Nullable [] values(Tensor t) {
    Observation.Values v = of(t);
    return v == null ? null : v.values();
  }

  /**
   * The tensors' values as the prediction log writes them: numbers, and a BYTES tensor of at most
   * {@link #MAX_TEXT_BYTES} as its text; a too large tensor is left out.
   */
  static List<Observation.Values> logged(List<Tensor> tensors) {
    if (tensors.size() == 1) { // the usual case: one immutable list, not copied again
      Observation.Values v = logged(tensors.get(0));
      return v == null ? List.of() : List.of(v);
    }
    List<Observation.Values> out = new ArrayList<>(tensors.size());
    for (Tensor t : tensors) {
      Observation.Values v = logged(t);
      if (v != null) {
        out.add(v);
      }
    }
    return out;
  }

  private static Observation.@Nullable Values logged(Tensor t) {
    if (t.datatype() != DataType.BYTES) {
      return of(t);
    }
    if (t.byteSize() > MAX_TEXT_BYTES) {
      return null;
    }
    List<byte[]> elements = t.bytesElements();
    List<String> text = new ArrayList<>(elements.size());
    for (byte[] e : elements) {
      text.add(new String(e, StandardCharsets.UTF_8));
    }
    return text.isEmpty() ? null : new Observation.Values(t.name(), t.shape(), new double[0], text);
  }

  /** The values, or null for a BYTES or too large tensor. */
  static Observation.@Nullable Values of(Tensor t) {
    long count = t.elementCount();
    if (count > MAX_ELEMENTS) {
      return null;
    }
    double[] v = new double[(int) count];
    return into(t, v) < 0 ? null : new Observation.Values(t.name(), t.shape(), v);
  }

  /**
   * Writes a tensor's values into {@code v} (at least its element count long, which {@link #fits}
   * checks) and returns how many; -1 for a BYTES tensor.
   */
  static int into(Tensor t, double[] v) {
    return into(t, v, 0);
  }

  /**
   * Writes a tensor's values into {@code v} from index {@code at} (room for its element count) and
   * returns how many; -1 for a BYTES tensor (FP16 and BF16 are widened exactly).
   */
  static int into(Tensor t, double[] v, int at) {
    int n = (int) t.elementCount();
    ByteBuffer b = t.unsafeData();
    int base = b.position();
    switch (t.datatype()) {
      case FP32 -> {
        for (int i = 0; i < n; i++) {
          v[at + i] = b.getFloat(base + 4 * i);
        }
      }
      case FP64 -> {
        for (int i = 0; i < n; i++) {
          v[at + i] = b.getDouble(base + 8 * i);
        }
      }
      case INT64, UINT64 -> {
        for (int i = 0; i < n; i++) {
          v[at + i] = b.getLong(base + 8 * i);
        }
      }
      case INT32 -> {
        for (int i = 0; i < n; i++) {
          v[at + i] = b.getInt(base + 4 * i);
        }
      }
      case UINT32 -> {
        for (int i = 0; i < n; i++) {
          v[at + i] = Integer.toUnsignedLong(b.getInt(base + 4 * i));
        }
      }
      case INT16 -> {
        for (int i = 0; i < n; i++) {
          v[at + i] = b.getShort(base + 2 * i);
        }
      }
      case UINT16 -> {
        for (int i = 0; i < n; i++) {
          v[at + i] = Short.toUnsignedInt(b.getShort(base + 2 * i));
        }
      }
      case INT8 -> {
        for (int i = 0; i < n; i++) {
          v[at + i] = b.get(base + i);
        }
      }
      case UINT8, BOOL -> {
        for (int i = 0; i < n; i++) {
          v[at + i] = Byte.toUnsignedInt(b.get(base + i));
        }
      }
      case FP16 -> {
        for (int i = 0; i < n; i++) {
          v[at + i] = Float.float16ToFloat(b.getShort(base + 2 * i));
        }
      }
      case BF16 -> {
        for (int i = 0; i < n; i++) {
          v[at + i] = Float.intBitsToFloat(b.getShort(base + 2 * i) << 16);
        }
      }
      default -> {
        return -1;
      }
    }
    return n;
  }

  /** Whether the monitor compares this tensor's values at all (not too large). */
  static boolean fits(Tensor t) {
    return t.elementCount() <= MAX_ELEMENTS;
  }
}
