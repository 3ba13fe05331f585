package dev.fulcrum.server.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * A tensor in the protocol's typed {@code InferTensorContents}: the one field each datatype travels
 * in, read into and written from the core's layout through {@link ElementCodec}. Used by the gRPC
 * codec both ways and by {@code fulcrum bench}'s gRPC encoder. Stateless, thread-safe.
 */
public final class TypedContents {
  private TypedContents() {}

  /** The typed field each datatype travels in, or null for FP16/BF16, which have none. */
  static @Nullable String field(DataType t) {
    return switch (t) {
      case BOOL -> "bool_contents";
      case INT8, INT16, INT32 -> "int_contents";
      case INT64 -> "int64_contents";
      case UINT8, UINT16, UINT32 -> "uint_contents";
      case UINT64 -> "uint64_contents";
      case FP32 -> "fp32_contents";
      case FP64 -> "fp64_contents";
      case BYTES -> "bytes_contents";
      case FP16, BF16 -> null;
    };
  }

  private static int count(InferTensorContents c, String field) {
    return switch (field) {
      case "bool_contents" -> c.getBoolContentsCount();
      case "int_contents" -> c.getIntContentsCount();
      case "int64_contents" -> c.getInt64ContentsCount();
      case "uint_contents" -> c.getUintContentsCount();
      case "uint64_contents" -> c.getUint64ContentsCount();
      case "fp32_contents" -> c.getFp32ContentsCount();
      case "fp64_contents" -> c.getFp64ContentsCount();
      case "bytes_contents" -> c.getBytesContentsCount();
      default -> throw new IllegalArgumentException(field);
    };
  }

  private static final String[] FIELDS = {
    "bool_contents",
    "int_contents",
    "int64_contents",
    "uint_contents",
    "uint64_contents",
    "fp32_contents",
    "fp64_contents",
    "bytes_contents"
  };

  /**
   * Reads an input's typed contents into a tensor with its own direct buffer (one copy).
   *
   * @throws InferenceException INVALID_ARGUMENT for the wrong field, count or range
   */
  static Tensor read(String name, DataType type, long[] shape, InferTensorContents c) {
    String field = field(type);
    if (field == null) {
      throw InferenceException.invalid(
          "input '%s' is %s, which has no typed contents field; send it in raw_input_contents",
          name, type);
    }
    for (String other : FIELDS) {
      if (!other.equals(field) && count(c, other) > 0) {
        throw InferenceException.invalid(
            "input '%s' is %s, so its values go in contents.%s, but contents.%s is set",
            name, type, field, other);
      }
    }
    long count;
    try {
      count = Shapes.elementCount(shape);
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw InferenceException.invalid(
          "input '%s' has an invalid shape %s", name, Arrays.toString(shape));
    }
    int n = count(c, field);
    if (n != count) {
      throw InferenceException.invalid(
          "input '%s' (%s, shape %s) needs %d values in contents.%s but has %d",
          name, type, Arrays.toString(shape), count, field, n);
    }
    ByteBuffer b;
    if (type == DataType.BYTES) {
      if (n > Tensor.MAX_BYTES_ELEMENTS) {
        throw Tensor.tooManyBytesElements(name, shape, n);
      }
      long size = 0;
      for (ByteString s : c.getBytesContentsList()) {
        size += 4 + s.size();
      }
      if (size > Integer.MAX_VALUE - 8) {
        throw InferenceException.invalid("input '%s' is larger than 2 GiB", name);
      }
      b = ByteBuffer.allocateDirect((int) size).order(ByteOrder.LITTLE_ENDIAN);
      for (ByteString s : c.getBytesContentsList()) {
        b.putInt(s.size());
        s.copyTo(b);
      }
      b.flip();
    } else {
      long bytes = Tensor.sizeInBytes(name, type, shape, n);
      if (bytes > Integer.MAX_VALUE - 8) {
        throw InferenceException.invalid("input '%s' is larger than 2 GiB", name);
      }
      b = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
      switch (type) {
        case FP32 -> {
          for (int i = 0; i < n; i++) {
            ElementCodec.putDouble(type, b, i, c.getFp32Contents(i));
          }
        }
        case FP64 -> {
          for (int i = 0; i < n; i++) {
            ElementCodec.putDouble(type, b, i, c.getFp64Contents(i));
          }
        }
        default -> {
          for (int i = 0; i < n; i++) {
            ElementCodec.putLong(type, b, i, checked(name, field, i, value(type, c, i), type));
          }
        }
      }
    }
    return Tensor.of(name, type, shape, b);
  }

  /** Integral value {@code i} in the {@code long} carrier of {@link ElementCodec}. */
  private static long value(DataType type, InferTensorContents c, int i) {
    return switch (type) {
      case BOOL -> c.getBoolContents(i) ? 1 : 0;
      case INT8, INT16, INT32 -> c.getIntContents(i);
      case INT64 -> c.getInt64Contents(i);
      case UINT8, UINT16, UINT32 -> Integer.toUnsignedLong(c.getUintContents(i));
      case UINT64 -> c.getUint64Contents(i);
      default -> throw new IllegalStateException("unexpected " + type);
    };
  }

  private static long checked(String name, String field, int i, long v, DataType type) {
    // INT32 and UINT32 fill their field's whole range; the narrower types are checked.
    if (!ElementCodec.inRange(type, v)) {
      throw InferenceException.invalid(
          "input '%s': contents.%s[%d] = %d is out of range for %s", name, field, i, v, type);
    }
    return v;
  }

  /**
   * The typed contents of a tensor, straight from its buffer.
   *
   * @throws IllegalArgumentException for FP16 and BF16, which have no typed field
   */
  public static InferTensorContents of(Tensor t) {
    InferTensorContents.Builder c = InferTensorContents.newBuilder();
    DataType type = t.datatype();
    if (type == DataType.BYTES) {
      for (byte[] e : t.bytesElements()) {
        c.addBytesContents(UnsafeByteOperations.unsafeWrap(e));
      }
      return c.build();
    }
    if (type.isBinaryOnly()) {
      throw new IllegalArgumentException(
          t.name() + " is " + type + ", which has no typed contents field");
    }
    ByteBuffer d = t.data();
    int n = d.remaining() / type.byteSize();
    for (int i = 0; i < n; i++) {
      switch (type) {
        case BOOL -> c.addBoolContents(ElementCodec.getLong(type, d, i) != 0);
        case INT8, INT16, INT32 -> c.addIntContents((int) ElementCodec.getLong(type, d, i));
        case INT64 -> c.addInt64Contents(ElementCodec.getLong(type, d, i));
        case UINT8, UINT16, UINT32 -> c.addUintContents((int) ElementCodec.getLong(type, d, i));
        case UINT64 -> c.addUint64Contents(ElementCodec.getLong(type, d, i));
        case FP32 -> c.addFp32Contents(ElementCodec.getFloat(d, i));
        case FP64 -> c.addFp64Contents(ElementCodec.getDouble(type, d, i));
        default -> throw new IllegalStateException("unexpected " + type);
      }
    }
    return c.build();
  }
}
