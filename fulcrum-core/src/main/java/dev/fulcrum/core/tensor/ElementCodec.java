package dev.fulcrum.core.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads and writes one element of a fixed-size tensor in the core's layout (little-endian, Triton's
 * binary layout, see {@link Tensor}), by element index, for every datatype.
 *
 * <p>Design: every codec (JSON in and out, gRPC typed contents in and out, the bench encoders)
 * carries element values in one of three Java carriers, and this class is the one place that knows
 * how each datatype maps to bytes:
 *
 * <ul>
 *   <li>{@code long} for BOOL (0 or 1) and the integer types: signed types sign-extended, UINT8,
 *       UINT16 and UINT32 zero-extended, UINT64 as its 64 bits (read it with {@link
 *       Long#toUnsignedString(long)});
 *   <li>{@code double} for the floating-point types (FP16 and BF16 widened exactly; FP32 through
 *       {@code float});
 *   <li>{@code float} for FP32, so that a codec can print its shortest decimal form.
 * </ul>
 *
 * Range checks are the caller's, against {@link #min} and {@link #max} (so that each codec's error
 * names the element its own way); {@link #putLong} truncates. The buffer's byte order is ignored:
 * every access is little-endian at byte {@code index * byteSize} from the buffer's start (absolute,
 * not from its position), so the buffer's position never moves. Stateless and thread-safe.
 */
public final class ElementCodec {
  private ElementCodec() {}

  /**
   * The smallest value of an integer type (or BOOL: 0). UINT64's range does not fit a signed long:
   * its min is 0 and its max is -1 (all bits set); check UINT64 values as unsigned.
   */
  public static long min(DataType t) {
    return switch (t) {
      case BOOL, UINT8, UINT16, UINT32, UINT64 -> 0;
      case INT8 -> Byte.MIN_VALUE;
      case INT16 -> Short.MIN_VALUE;
      case INT32 -> Integer.MIN_VALUE;
      case INT64 -> Long.MIN_VALUE;
      default -> throw notInteger(t);
    };
  }

  /** The largest value of an integer type (or BOOL: 1); for UINT64, -1 (2^64-1 unsigned). */
  public static long max(DataType t) {
    return switch (t) {
      case BOOL -> 1;
      case UINT8 -> 0xFF;
      case UINT16 -> 0xFFFF;
      case UINT32 -> 0xFFFF_FFFFL;
      case UINT64 -> -1L;
      case INT8 -> Byte.MAX_VALUE;
      case INT16 -> Short.MAX_VALUE;
      case INT32 -> Integer.MAX_VALUE;
      case INT64 -> Long.MAX_VALUE;
      default -> throw notInteger(t);
    };
  }

  /** True when {@code v} is a value of the integer type {@code t} (UINT64: any bits). */
  public static boolean inRange(DataType t, long v) {
    return t == DataType.UINT64 || (v >= min(t) && v <= max(t));
  }

  /** True for BOOL and the eight integer types: those whose carrier is {@code long}. */
  public static boolean isIntegral(DataType t) {
    return switch (t) {
      case BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64 -> true;
      default -> false;
    };
  }

  /** Element {@code index} of an integral tensor (see the class comment for the carrier). */
  public static long getLong(DataType t, ByteBuffer b, int index) {
    return switch (t) {
      case BOOL -> b.get(index) != 0 ? 1 : 0;
      case INT8 -> b.get(index);
      case UINT8 -> Byte.toUnsignedInt(b.get(index));
      case INT16 -> le16(b, index);
      case UINT16 -> Short.toUnsignedInt(le16(b, index));
      case INT32 -> le32(b, index);
      case UINT32 -> Integer.toUnsignedLong(le32(b, index));
      case INT64, UINT64 -> le64(b, index);
      default -> throw notInteger(t);
    };
  }

  /**
   * Writes element {@code index} of an integral tensor, keeping the type's low bits (BOOL: any
   * non-zero value is 1).
   */
  public static void putLong(DataType t, ByteBuffer b, int index, long v) {
    switch (t) {
      case BOOL -> b.put(index, (byte) (v != 0 ? 1 : 0));
      case INT8, UINT8 -> b.put(index, (byte) v);
      case INT16, UINT16 -> b.putShort(index * 2, swap16(b, (short) v));
      case INT32, UINT32 -> b.putInt(index * 4, swap32(b, (int) v));
      case INT64, UINT64 -> b.putLong(index * 8, swap64(b, v));
      default -> throw notInteger(t);
    }
  }

  /** Element {@code index} of an FP32 tensor. */
  public static float getFloat(ByteBuffer b, int index) {
    return Float.intBitsToFloat(le32(b, index));
  }

  /** Element {@code index} of a floating-point tensor (FP16, BF16, FP32, FP64), widened. */
  public static double getDouble(DataType t, ByteBuffer b, int index) {
    return switch (t) {
      case FP32 -> getFloat(b, index);
      case FP64 -> Double.longBitsToDouble(le64(b, index));
      case FP16 -> Float.float16ToFloat(le16(b, index));
      case BF16 -> Float.intBitsToFloat(le16(b, index) << 16);
      default -> throw notFloating(t);
    };
  }

  /**
   * Writes element {@code index} of a floating-point tensor, narrowed to the type by rounding to
   * nearest (a value too large for the type becomes ±Infinity; NaN stays NaN).
   */
  public static void putDouble(DataType t, ByteBuffer b, int index, double v) {
    switch (t) {
      case FP32 -> b.putInt(index * 4, swap32(b, Float.floatToRawIntBits((float) v)));
      case FP64 -> b.putLong(index * 8, swap64(b, Double.doubleToRawLongBits(v)));
      case FP16 -> b.putShort(index * 2, swap16(b, Float.floatToFloat16((float) v)));
      case BF16 -> b.putShort(index * 2, swap16(b, bf16((float) v)));
      default -> throw notFloating(t);
    }
  }

  /** FP32 to BF16, rounding to nearest even; a NaN stays a (quiet) NaN. */
  static short bf16(float f) {
    int bits = Float.floatToRawIntBits(f);
    if (Float.isNaN(f)) {
      return (short) ((bits >>> 16) | 0x0040);
    }
    int rounding = 0x7FFF + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }

  private static short le16(ByteBuffer b, int index) {
    return swap16(b, b.getShort(index * 2));
  }

  private static int le32(ByteBuffer b, int index) {
    return swap32(b, b.getInt(index * 4));
  }

  private static long le64(ByteBuffer b, int index) {
    return swap64(b, b.getLong(index * 8));
  }

  // The same swap turns a little-endian value into the buffer's order and back.
  private static short swap16(ByteBuffer b, short v) {
    return b.order() == ByteOrder.LITTLE_ENDIAN ? v : Short.reverseBytes(v);
  }

  private static int swap32(ByteBuffer b, int v) {
    return b.order() == ByteOrder.LITTLE_ENDIAN ? v : Integer.reverseBytes(v);
  }

  private static long swap64(ByteBuffer b, long v) {
    return b.order() == ByteOrder.LITTLE_ENDIAN ? v : Long.reverseBytes(v);
  }

  private static IllegalArgumentException notInteger(DataType t) {
    return new IllegalArgumentException(t + " is not BOOL or an integer type");
  }

  private static IllegalArgumentException notFloating(DataType t) {
    return new IllegalArgumentException(t + " is not a floating-point type");
  }
}
