package dev.fulcrum.core.tensor;

import dev.fulcrum.core.error.InferenceException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A named tensor: datatype, concrete shape and the element bytes in the wire layout of Triton's
 * binary tensor extension (row-major, little-endian, unpadded; BOOL one byte per element; each
 * BYTES element a u32 little-endian length followed by its bytes).
 *
 * <p>The tensor owns its buffer; {@link #data()} hands out independent read views of it, so a
 * tensor may be read from several threads but its buffer must never be written after construction.
 * Codecs build tensors without copying when their input is already in this layout.
 */
public final class Tensor {
  private final String name;
  private final DataType datatype;
  private final long[] shape;
  private final ByteBuffer data;

  /**
   * The most elements a BYTES tensor may have. Each element costs the engine an object however
   * short it is, so a body of millions of empty strings (4 bytes each in binary, 3 in JSON) is
   * refused here rather than expanded.
   */
  public static final long MAX_BYTES_ELEMENTS = 1 << 20;

  private Tensor(String name, DataType datatype, long[] shape, ByteBuffer data) {
    this.name = name;
    this.datatype = datatype;
    this.shape = shape;
    this.data = data;
  }

  /**
   * Wraps element bytes, checking that their size agrees with the shape.
   *
   * @param data the bytes from its position to its limit; the buffer is taken over, not copied
   * @throws InferenceException (INVALID_ARGUMENT) naming the tensor when the sizes disagree
   */
  public static Tensor of(String name, DataType datatype, long[] shape, ByteBuffer data) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(datatype, "datatype");
    long[] s = shape.clone();
    long count;
    try {
      count = Shapes.elementCount(s);
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw InferenceException.invalid(
          "tensor '%s' has an invalid shape %s", name, Arrays.toString(shape));
    }
    ByteBuffer b = data.slice().order(ByteOrder.LITTLE_ENDIAN);
    if (datatype.isFixedSize()) {
      long expected = sizeInBytes(name, datatype, s, count);
      if (expected != b.remaining()) {
        throw InferenceException.invalid(
            "tensor '%s' (%s, shape %s) needs %d bytes for %d elements but has %d",
            name, datatype, Arrays.toString(s), expected, count, b.remaining());
      }
    } else {
      if (count > MAX_BYTES_ELEMENTS) {
        throw tooManyBytesElements(name, s, count);
      }
      long found = countBytesElements(name, b);
      if (found != count) {
        throw InferenceException.invalid(
            "tensor '%s' (BYTES, shape %s) needs %d elements but has %d",
            name, Arrays.toString(s), count, found);
      }
    }
    return new Tensor(name, datatype, s, b);
  }

  /**
   * The bytes a fixed-size tensor of {@code count} elements needs.
   *
   * @throws InferenceException (INVALID_ARGUMENT) naming the tensor when the size overflows a long
   */
  public static long sizeInBytes(String name, DataType datatype, long[] shape, long count) {
    try {
      return Math.multiplyExact(count, (long) datatype.byteSize());
    } catch (ArithmeticException e) {
      throw InferenceException.invalid(
          "tensor '%s' (%s, shape %s) is too large: its size in bytes overflows",
          name, datatype, Arrays.toString(shape));
    }
  }

  /** The error for a BYTES tensor of more than {@link #MAX_BYTES_ELEMENTS} elements. */
  public static InferenceException tooManyBytesElements(String name, long[] shape, long count) {
    return InferenceException.invalid(
        "tensor '%s' (BYTES, shape %s) has %d elements; the limit is %d",
        name, Arrays.toString(shape), count, MAX_BYTES_ELEMENTS);
  }

  /** Builds a BYTES tensor from its elements. */
  public static Tensor ofBytes(String name, long[] shape, List<byte[]> elements) {
    int size = 0;
    for (byte[] e : elements) {
      size = Math.addExact(size, 4 + e.length);
    }
    ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    for (byte[] e : elements) {
      b.putInt(e.length).put(e);
    }
    b.flip();
    return of(name, DataType.BYTES, shape, b);
  }

  private static long countBytesElements(String name, ByteBuffer b) {
    long n = 0;
    int pos = b.position();
    int limit = b.limit();
    while (pos < limit) {
      if (limit - pos < 4) {
        throw InferenceException.invalid(
            "tensor '%s' (BYTES) has a truncated element length at byte %d", name, pos);
      }
      long len = Integer.toUnsignedLong(b.getInt(pos));
      pos += 4;
      if (len > limit - pos) {
        throw InferenceException.invalid(
            "tensor '%s' (BYTES) element %d claims %d bytes but only %d remain",
            name, n, len, limit - pos);
      }
      pos += (int) len;
      if (++n > MAX_BYTES_ELEMENTS) {
        throw InferenceException.invalid(
            "tensor '%s' (BYTES) has more than %d elements", name, MAX_BYTES_ELEMENTS);
      }
    }
    return n;
  }

  /**
   * The index of the first NaN or ±Infinity element of a floating-point tensor, in one pass over
   * its bytes; -1 when there is none or the tensor is not FP16, BF16, FP32 or FP64.
   */
  public long firstNonFinite() {
    ByteBuffer b = data;
    int base = b.position();
    int n = b.remaining();
    switch (datatype) {
      case FP32 -> {
        // Two elements per read: a pair is only looked at element by element when one is bad.
        int i = 0;
        for (; i + 8 <= n; i += 8) {
          long v = b.getLong(base + i);
          if ((v & 0x7F80_0000L) == 0x7F80_0000L) {
            return i / 4;
          }
          if ((v & 0x7F80_0000_0000_0000L) == 0x7F80_0000_0000_0000L) {
            return i / 4 + 1L;
          }
        }
        if (i < n && (b.getInt(base + i) & 0x7F80_0000) == 0x7F80_0000) {
          return i / 4;
        }
      }
      case FP64 -> {
        for (int i = 0; i < n; i += 8) {
          if ((b.getLong(base + i) & 0x7FF0_0000_0000_0000L) == 0x7FF0_0000_0000_0000L) {
            return i / 8;
          }
        }
      }
      case FP16 -> {
        for (int i = 0; i < n; i += 2) {
          if ((b.getShort(base + i) & 0x7C00) == 0x7C00) {
            return i / 2;
          }
        }
      }
      case BF16 -> {
        for (int i = 0; i < n; i += 2) {
          if ((b.getShort(base + i) & 0x7F80) == 0x7F80) {
            return i / 2;
          }
        }
      }
      default -> {}
    }
    return -1;
  }

  /**
   * Returns the same data (no copy) under another shape of as many elements, as Triton's {@code
   * reshape} relabels a tensor between the shape clients use and the model's.
   *
   * @throws IllegalArgumentException when the element counts differ
   */
  public Tensor reshaped(long[] newShape) {
    long[] s = newShape.clone();
    if (Shapes.elementCount(s) != Shapes.elementCount(shape)) {
      throw new IllegalArgumentException(
          "tensor '"
              + name
              + "' of shape "
              + Arrays.toString(shape)
              + " cannot take shape "
              + Arrays.toString(s));
    }
    return new Tensor(name, datatype, s, data);
  }

  /** Returns the same data under another name (no copy). */
  public Tensor renamed(String newName) {
    return new Tensor(newName, datatype, shape, data);
  }

  public String name() {
    return name;
  }

  public DataType datatype() {
    return datatype;
  }

  /** A copy of the shape. */
  public long[] shape() {
    return shape.clone();
  }

  public int rank() {
    return shape.length;
  }

  public long dim(int i) {
    return shape[i];
  }

  public long elementCount() {
    return Shapes.elementCount(shape);
  }

  /** Size of the element bytes (for BYTES, including the length prefixes). */
  public int byteSize() {
    return data.remaining();
  }

  /** An independent little-endian read view of the element bytes, positioned at 0. */
  public ByteBuffer data() {
    return data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * The element bytes without a read-only wrapper, for engines that must hand a buffer to native
   * code without copying. The caller must not write to it.
   */
  public ByteBuffer unsafeData() {
    return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** The elements of a BYTES tensor. */
  public List<byte[]> bytesElements() {
    if (datatype != DataType.BYTES) {
      throw new IllegalStateException("tensor '" + name + "' is " + datatype + ", not BYTES");
    }
    ByteBuffer b = data();
    List<byte[]> out = new ArrayList<>();
    while (b.hasRemaining()) {
      byte[] e = new byte[b.getInt()];
      b.get(e);
      out.add(e);
    }
    return out;
  }

  @Override
  public String toString() {
    return name + ":" + datatype + Arrays.toString(shape);
  }
}
