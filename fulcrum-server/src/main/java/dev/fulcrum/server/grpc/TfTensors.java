package dev.fulcrum.server.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.grpc.tfserving.TensorProto;
import dev.fulcrum.server.grpc.tfserving.TensorShapeProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * TensorFlow's {@code TensorProto} to and from the core's tensors, in both of its encodings: {@code
 * tensor_content} (the elements' little-endian bytes, as {@code tf.make_tensor_proto} sends numeric
 * arrays) or the one typed field of its dtype ({@code float_val}, {@code int64_val}, {@code
 * string_val}, ...), which TF Serving answers in. Each input is copied once, into a direct buffer
 * the tensor owns. Stateless, thread-safe.
 */
final class TfTensors {
  private TfTensors() {}

  /** The core type of a TensorFlow dtype, or null for one Fulcrum has no type for. */
  static @Nullable DataType type(dev.fulcrum.server.grpc.tfserving.DataType dtype) {
    return switch (dtype) {
      case DT_FLOAT -> DataType.FP32;
      case DT_DOUBLE -> DataType.FP64;
      case DT_HALF -> DataType.FP16;
      case DT_BFLOAT16 -> DataType.BF16;
      case DT_INT8 -> DataType.INT8;
      case DT_INT16 -> DataType.INT16;
      case DT_INT32 -> DataType.INT32;
      case DT_INT64 -> DataType.INT64;
      case DT_UINT8 -> DataType.UINT8;
      case DT_UINT16 -> DataType.UINT16;
      case DT_UINT32 -> DataType.UINT32;
      case DT_UINT64 -> DataType.UINT64;
      case DT_BOOL -> DataType.BOOL;
      case DT_STRING -> DataType.BYTES;
      default -> null;
    };
  }

  /** TensorFlow's dtype of a core type. */
  static dev.fulcrum.server.grpc.tfserving.DataType dtype(DataType type) {
    return switch (type) {
      case FP32 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_FLOAT;
      case FP64 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_DOUBLE;
      case FP16 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_HALF;
      case BF16 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_BFLOAT16;
      case INT8 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_INT8;
      case INT16 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_INT16;
      case INT32 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_INT32;
      case INT64 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_INT64;
      case UINT8 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_UINT8;
      case UINT16 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_UINT16;
      case UINT32 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_UINT32;
      case UINT64 -> dev.fulcrum.server.grpc.tfserving.DataType.DT_UINT64;
      case BOOL -> dev.fulcrum.server.grpc.tfserving.DataType.DT_BOOL;
      case BYTES -> dev.fulcrum.server.grpc.tfserving.DataType.DT_STRING;
    };
  }

  /** The typed field a core type travels in, TensorFlow's choice. */
  static String field(DataType type) {
    return switch (type) {
      case FP32 -> "float_val";
      case FP64 -> "double_val";
      case FP16, BF16 -> "half_val";
      case INT8, INT16, INT32, UINT8, UINT16 -> "int_val";
      case INT64 -> "int64_val";
      case UINT32 -> "uint32_val";
      case UINT64 -> "uint64_val";
      case BOOL -> "bool_val";
      case BYTES -> "string_val";
    };
  }

  /** The largest tensor one typed value may fill (TensorFlow's constant rule): 16 MiB. */
  static final long MAX_FILLED_BYTES = 16L << 20;

  private static final String[] FIELDS = {
    "float_val",
    "double_val",
    "half_val",
    "int_val",
    "int64_val",
    "uint32_val",
    "uint64_val",
    "bool_val",
    "string_val",
    "scomplex_val",
    "dcomplex_val"
  };

  private static int count(TensorProto p, String field) {
    return switch (field) {
      case "float_val" -> p.getFloatValCount();
      case "double_val" -> p.getDoubleValCount();
      case "half_val" -> p.getHalfValCount();
      case "int_val" -> p.getIntValCount();
      case "int64_val" -> p.getInt64ValCount();
      case "uint32_val" -> p.getUint32ValCount();
      case "uint64_val" -> p.getUint64ValCount();
      case "bool_val" -> p.getBoolValCount();
      case "string_val" -> p.getStringValCount();
      case "scomplex_val" -> p.getScomplexValCount();
      case "dcomplex_val" -> p.getDcomplexValCount();
      default -> throw new IllegalArgumentException(field);
    };
  }

  /**
   * An input's tensor.
   *
   * <p>Typed values are row-major and number the shape's elements, or are one value that fills them
   * all (TensorFlow's rule for a constant tensor); {@code tensor_content} holds exactly the shape's
   * bytes. A dtype Fulcrum has no type for, an unknown rank or dimension, values in another dtype's
   * field, both encodings at once, or a count or size that is not the shape's is refused.
   *
   * @throws InferenceException INVALID_ARGUMENT naming the input and what is wrong
   */
  static Tensor read(String name, TensorProto p) {
    DataType type = type(p.getDtype());
    if (type == null) {
      throw InferenceException.invalid(
          "input '%s': dtype %s is not served; use one of DT_FLOAT, DT_DOUBLE, DT_HALF,"
              + " DT_BFLOAT16, DT_INT8, DT_INT16, DT_INT32, DT_INT64, DT_UINT8, DT_UINT16,"
              + " DT_UINT32, DT_UINT64, DT_BOOL, DT_STRING",
          name,
          p.getDtype() == dev.fulcrum.server.grpc.tfserving.DataType.UNRECOGNIZED
              ? "#" + p.getDtypeValue()
              : p.getDtype().name());
    }
    long[] shape = shape(name, p);
    long count;
    try {
      count = Shapes.elementCount(shape);
    } catch (ArithmeticException e) {
      throw InferenceException.invalid(
          "input '%s' has a shape %s whose element count overflows", name, Arrays.toString(shape));
    }
    String field = field(type);
    ByteString content = p.getTensorContent();
    if (!content.isEmpty()) {
      if (type == DataType.BYTES) {
        throw InferenceException.invalid(
            "input '%s' is DT_STRING, whose values go in string_val, not tensor_content", name);
      }
      for (String f : FIELDS) {
        if (count(p, f) > 0) {
          throw InferenceException.invalid(
              "input '%s' has both tensor_content and %s; send its values in one of them", name, f);
        }
      }
      long bytes = Tensor.sizeInBytes(name, type, shape, count);
      if (bytes != content.size()) {
        throw InferenceException.invalid(
            "input '%s' (%s, shape %s) needs %d bytes of tensor_content for %d elements but has %d",
            name, p.getDtype().name(), Arrays.toString(shape), bytes, count, content.size());
      }
      ByteBuffer b = ByteBuffer.allocateDirect(content.size()).order(ByteOrder.LITTLE_ENDIAN);
      content.copyTo(b);
      b.flip();
      return Tensor.of(name, type, shape, b);
    }
    for (String f : FIELDS) {
      if (!f.equals(field) && count(p, f) > 0) {
        throw InferenceException.invalid(
            "input '%s' is %s, so its values go in %s (or tensor_content), but %s is set",
            name, p.getDtype().name(), field, f);
      }
    }
    int n = count(p, field);
    if (n != count && !(n == 1 && count > 1)) {
      throw InferenceException.invalid(
          "input '%s' (%s, shape %s) needs %d values in %s (or one, for every element) but has %d",
          name, p.getDtype().name(), Arrays.toString(shape), count, field, n);
    }
    if (n == 1 && count > 1) {
      if (type == DataType.BYTES && count > Tensor.MAX_BYTES_ELEMENTS) {
        throw Tensor.tooManyBytesElements(name, shape, count);
      }
      long filled =
          type == DataType.BYTES
              ? Math.multiplyExact(count, 4L + p.getStringVal(0).size())
              : Tensor.sizeInBytes(name, type, shape, count);
      if (filled > MAX_FILLED_BYTES) {
        // A few bytes on the wire must not make the server allocate gigabytes.
        throw InferenceException.invalid(
            "input '%s' (%s, shape %s): one value filling %d elements would take %d bytes; at most"
                + " %d are filled from one value, send the values (tensor_content or %s)",
            name,
            p.getDtype().name(),
            Arrays.toString(shape),
            count,
            filled,
            MAX_FILLED_BYTES,
            field);
      }
    }
    return type == DataType.BYTES
        ? strings(name, shape, count, p)
        : typed(name, type, shape, (int) count, n, p);
  }

  /** The shape of a request's tensor: every size known and not negative. */
  private static long[] shape(String name, TensorProto p) {
    TensorShapeProto s = p.getTensorShape();
    if (s.getUnknownRank()) {
      throw InferenceException.invalid(
          "input '%s' has unknown_rank set; a request's tensor needs its shape", name);
    }
    long[] shape = new long[s.getDimCount()];
    for (int d = 0; d < shape.length; d++) {
      shape[d] = s.getDim(d).getSize();
      if (shape[d] < 0) {
        throw InferenceException.invalid(
            "input '%s': tensor_shape.dim[%d].size is %d; a request's sizes are 0 or more",
            name, d, shape[d]);
      }
    }
    return shape;
  }

  private static Tensor strings(String name, long[] shape, long count, TensorProto p) {
    if (count > Tensor.MAX_BYTES_ELEMENTS) {
      throw Tensor.tooManyBytesElements(name, shape, count);
    }
    int n = p.getStringValCount();
    long size = 0;
    for (int i = 0; i < n; i++) {
      size += 4 + p.getStringVal(i).size();
    }
    size = n == 0 ? 0 : size * (count / n);
    if (size > Integer.MAX_VALUE - 8) {
      throw InferenceException.invalid("input '%s' is larger than 2 GiB", name);
    }
    ByteBuffer b = ByteBuffer.allocateDirect((int) size).order(ByteOrder.LITTLE_ENDIAN);
    for (long i = 0; i < count; i++) {
      ByteString s = p.getStringVal(n == 1 ? 0 : (int) i);
      b.putInt(s.size());
      s.copyTo(b);
    }
    b.flip();
    return Tensor.of(name, DataType.BYTES, shape, b);
  }

  private static Tensor typed(
      String name, DataType type, long[] shape, int count, int n, TensorProto p) {
    long bytes = Tensor.sizeInBytes(name, type, shape, count);
    if (bytes > Integer.MAX_VALUE - 8) {
      throw InferenceException.invalid("input '%s' is larger than 2 GiB", name);
    }
    ByteBuffer b = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < count; i++) {
      int v = n == 1 ? 0 : i;
      switch (type) {
        case FP32 -> b.putFloat(i * 4, p.getFloatVal(v));
        case FP64 -> b.putDouble(i * 8, p.getDoubleVal(v));
        case FP16, BF16 -> {
          int bits = p.getHalfVal(v);
          if (bits < 0 || bits > 0xFFFF) {
            throw InferenceException.invalid(
                "input '%s': half_val[%d] = %d is not 16 bits (0 to 65535)", name, v, bits);
          }
          b.putShort(i * 2, (short) bits);
        }
        case INT64 -> b.putLong(i * 8, p.getInt64Val(v));
        case UINT64 -> b.putLong(i * 8, p.getUint64Val(v));
        case UINT32 -> b.putInt(i * 4, p.getUint32Val(v));
        case BOOL -> b.put(i, (byte) (p.getBoolVal(v) ? 1 : 0));
        default -> { // INT8, INT16, INT32, UINT8, UINT16: int_val
          long x = p.getIntVal(v);
          if (!ElementCodec.inRange(type, x)) {
            throw InferenceException.invalid(
                "input '%s': int_val[%d] = %d is out of range for %s", name, v, x, type);
          }
          ElementCodec.putLong(type, b, i, x);
        }
      }
    }
    return Tensor.of(name, type, shape, b);
  }

  /**
   * An output as TF Serving answers it: dtype, shape and the values in the dtype's typed field
   * (TensorFlow's {@code Tensor::AsProtoField}, TF Serving's default).
   */
  static TensorProto write(Tensor t) {
    DataType type = t.datatype();
    TensorProto.Builder p = TensorProto.newBuilder().setDtype(dtype(type));
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long d : t.shape()) {
      s.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    }
    p.setTensorShape(s);
    if (type == DataType.BYTES) {
      for (byte[] e : t.bytesElements()) {
        p.addStringVal(UnsafeByteOperations.unsafeWrap(e));
      }
      return p.build();
    }
    ByteBuffer d = t.unsafeData();
    int n = d.remaining() / type.byteSize();
    for (int i = 0; i < n; i++) {
      switch (type) {
        case FP32 -> p.addFloatVal(d.getFloat(i * 4));
        case FP64 -> p.addDoubleVal(d.getDouble(i * 8));
        case FP16, BF16 -> p.addHalfVal(Short.toUnsignedInt(d.getShort(i * 2)));
        case INT64 -> p.addInt64Val(d.getLong(i * 8));
        case UINT64 -> p.addUint64Val(d.getLong(i * 8));
        case UINT32 -> p.addUint32Val(d.getInt(i * 4));
        case BOOL -> p.addBoolVal(d.get(i) != 0);
        default -> p.addIntVal((int) ElementCodec.getLong(type, d, i));
      }
    }
    return p.build();
  }
}
