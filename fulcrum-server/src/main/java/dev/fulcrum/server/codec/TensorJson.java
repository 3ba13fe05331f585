package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Converts the JSON {@code data} of an OIP tensor to and from the tensor's binary layout (see
 * {@link dev.fulcrum.core.tensor.Tensor}). BOOL is {@code true}/{@code false}; integers must be
 * integral JSON numbers within the type's range (UINT64 up to 2^64-1); FP32/FP64 accept numbers and
 * the strings {@code "NaN"}, {@code "Infinity"}, {@code "-Infinity"} (a number too large for the
 * type becomes ±Infinity; the core's RequestValidator refuses non-finite values unless the input
 * allows them); BYTES elements are JSON strings, sent as UTF-8. FP16 and BF16 cannot travel as
 * JSON. Stateless.
 */
final class TensorJson {
  private TensorJson() {}

  private static final BigInteger UINT64_MAX =
      BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

  /**
   * Reads {@code data} (flat, or nested to exactly the shape) into a new little-endian buffer.
   *
   * @throws InferenceException INVALID_ARGUMENT naming the tensor and the problem
   */
  static ByteBuffer read(String tensor, DataType type, long[] shape, JsonNode data) {
    if (type.isBinaryOnly()) {
      throw InferenceException.invalid(
          "input '%s': %s data cannot be sent as JSON; send it with the binary tensor data"
              + " extension (parameter binary_data_size)",
          tensor, type);
    }
    if (!data.isArray()) {
      throw InferenceException.invalid(
          "input '%s': 'data' must be a JSON array, not %s", tensor, data.getNodeType());
    }
    long expected;
    try {
      expected = Shapes.elementCount(shape);
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw InferenceException.invalid(
          "input '%s' has an invalid shape %s", tensor, Arrays.toString(shape));
    }
    if (type == DataType.BYTES && expected > Tensor.MAX_BYTES_ELEMENTS) {
      throw Tensor.tooManyBytesElements(tensor, shape, expected);
    }
    List<JsonNode> leaves = new ArrayList<>((int) Math.min(expected, 1 << 16));
    if (!data.isEmpty() && data.get(0).isArray()) {
      flattenNested(tensor, shape, data, 0, leaves);
    } else {
      if (data.size() != expected) {
        throw InferenceException.invalid(
            "input '%s' (%s, shape %s) has %d data elements but the shape needs %d",
            tensor, type, Arrays.toString(shape), data.size(), expected);
      }
      for (JsonNode n : data) {
        if (n.isArray()) {
          throw InferenceException.invalid(
              "input '%s': 'data' mixes nested arrays and values", tensor);
        }
        leaves.add(n);
      }
    }
    if (type == DataType.BYTES) {
      if (leaves.size() > Tensor.MAX_BYTES_ELEMENTS) {
        throw Tensor.tooManyBytesElements(tensor, shape, leaves.size());
      }
      return readBytes(tensor, leaves);
    }
    // leaves.size() <= Integer.MAX_VALUE / 8 here: a JSON value takes at least 2 bytes of a body
    // that is at most 2 GiB, and byteSize is at most 8.
    ByteBuffer b =
        ByteBuffer.allocateDirect(
                Math.toIntExact(Tensor.sizeInBytes(tensor, type, shape, leaves.size())))
            .order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < leaves.size(); i++) {
      put(tensor, type, b, i, leaves.get(i));
    }
    return b.flip();
  }

  private static void flattenNested(
      String tensor, long[] shape, JsonNode node, int depth, List<JsonNode> out) {
    if (depth >= shape.length) {
      throw InferenceException.invalid(
          "input '%s': nested 'data' is deeper than the shape %s", tensor, Arrays.toString(shape));
    }
    if (node.size() != shape[depth]) {
      throw InferenceException.invalid(
          "input '%s': nested 'data' has %d elements in dimension %d but the shape %s says %d",
          tensor, node.size(), depth, Arrays.toString(shape), shape[depth]);
    }
    boolean last = depth == shape.length - 1;
    for (JsonNode child : node) {
      if (last) {
        if (child.isArray()) {
          throw InferenceException.invalid(
              "input '%s': nested 'data' is deeper than the shape %s",
              tensor, Arrays.toString(shape));
        }
        out.add(child);
      } else {
        if (!child.isArray()) {
          throw InferenceException.invalid(
              "input '%s': nested 'data' has a value where dimension %d of shape %s needs an"
                  + " array",
              tensor, depth + 1, Arrays.toString(shape));
        }
        flattenNested(tensor, shape, child, depth + 1, out);
      }
    }
  }

  private static ByteBuffer readBytes(String tensor, List<JsonNode> leaves) {
    List<byte[]> elements = new ArrayList<>(leaves.size());
    int size = 0;
    for (int i = 0; i < leaves.size(); i++) {
      JsonNode n = leaves.get(i);
      if (!n.isTextual()) {
        throw InferenceException.invalid(
            "input '%s' (BYTES): element %d is %s; BYTES elements must be JSON strings",
            tensor, i, describe(n));
      }
      byte[] e = n.textValue().getBytes(StandardCharsets.UTF_8);
      elements.add(e);
      size = Math.addExact(size, 4 + e.length);
    }
    ByteBuffer b = ByteBuffer.allocateDirect(size).order(ByteOrder.LITTLE_ENDIAN);
    for (byte[] e : elements) {
      b.putInt(e.length).put(e);
    }
    return b.flip();
  }

  private static void put(String tensor, DataType type, ByteBuffer b, int i, JsonNode n) {
    switch (type) {
      case BOOL -> {
        if (!n.isBoolean()) {
          throw InferenceException.invalid(
              "input '%s' (BOOL): element %d is %s, not true or false", tensor, i, describe(n));
        }
        b.put((byte) (n.booleanValue() ? 1 : 0));
      }
      case INT8 -> b.put((byte) integral(tensor, type, i, n, -128, 127));
      case UINT8 -> b.put((byte) integral(tensor, type, i, n, 0, 255));
      case INT16 ->
          b.putShort((short) integral(tensor, type, i, n, Short.MIN_VALUE, Short.MAX_VALUE));
      case UINT16 -> b.putShort((short) integral(tensor, type, i, n, 0, 65535));
      case INT32 ->
          b.putInt((int) integral(tensor, type, i, n, Integer.MIN_VALUE, Integer.MAX_VALUE));
      case UINT32 -> b.putInt((int) integral(tensor, type, i, n, 0, 0xFFFF_FFFFL));
      case INT64 -> b.putLong(integral(tensor, type, i, n, Long.MIN_VALUE, Long.MAX_VALUE));
      case UINT64 -> b.putLong(uint64(tensor, i, n));
      case FP32 -> b.putFloat((float) floating(tensor, type, i, n));
      case FP64 -> b.putDouble(floating(tensor, type, i, n));
      default -> throw new IllegalStateException("unexpected " + type);
    }
  }

  private static long integral(
      String tensor, DataType type, int i, JsonNode n, long min, long max) {
    if (!n.isIntegralNumber() || !n.canConvertToLong()) {
      throw InferenceException.invalid(
          "input '%s' (%s): element %d is %s, not an integer in %d..%d",
          tensor, type, i, describe(n), min, max);
    }
    long v = n.longValue();
    if (v < min || v > max) {
      throw InferenceException.invalid(
          "input '%s' (%s): element %d is %d, outside %d..%d", tensor, type, i, v, min, max);
    }
    return v;
  }

  private static long uint64(String tensor, int i, JsonNode n) {
    if (n.isIntegralNumber()) {
      BigInteger v = n.bigIntegerValue();
      if (v.signum() >= 0 && v.compareTo(UINT64_MAX) <= 0) {
        return v.longValue();
      }
    }
    throw InferenceException.invalid(
        "input '%s' (UINT64): element %d is %s, not an integer in 0..%s",
        tensor, i, describe(n), UINT64_MAX);
  }

  private static double floating(String tensor, DataType type, int i, JsonNode n) {
    if (n.isNumber()) {
      return n.doubleValue();
    }
    if (n.isTextual()) {
      switch (n.textValue()) {
        case "NaN", "nan" -> {
          return Double.NaN;
        }
        case "Infinity", "inf" -> {
          return Double.POSITIVE_INFINITY;
        }
        case "-Infinity", "-inf" -> {
          return Double.NEGATIVE_INFINITY;
        }
        default -> {}
      }
    }
    throw InferenceException.invalid(
        "input '%s' (%s): element %d is %s, not a number", tensor, type, i, describe(n));
  }

  private static String describe(JsonNode n) {
    String s = n.toString();
    return s.length() > 40 ? s.substring(0, 40) + "..." : s;
  }

  /** Writes the elements of a tensor as a flat JSON array. */
  static void write(DataType type, ByteBuffer data, JsonGenerator g) throws IOException {
    ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    g.writeStartArray();
    switch (type) {
      case BOOL -> {
        while (b.hasRemaining()) {
          g.writeBoolean(b.get() != 0);
        }
      }
      case INT8 -> {
        while (b.hasRemaining()) {
          g.writeNumber(b.get());
        }
      }
      case UINT8 -> {
        while (b.hasRemaining()) {
          g.writeNumber(Byte.toUnsignedInt(b.get()));
        }
      }
      case INT16 -> {
        while (b.hasRemaining()) {
          g.writeNumber(b.getShort());
        }
      }
      case UINT16 -> {
        while (b.hasRemaining()) {
          g.writeNumber(Short.toUnsignedInt(b.getShort()));
        }
      }
      case INT32 -> {
        while (b.hasRemaining()) {
          g.writeNumber(b.getInt());
        }
      }
      case UINT32 -> {
        while (b.hasRemaining()) {
          g.writeNumber(Integer.toUnsignedLong(b.getInt()));
        }
      }
      case INT64 -> {
        while (b.hasRemaining()) {
          g.writeNumber(b.getLong());
        }
      }
      case UINT64 -> {
        while (b.hasRemaining()) {
          g.writeNumber(Long.toUnsignedString(b.getLong()));
        }
      }
      case FP32 -> {
        while (b.hasRemaining()) {
          g.writeNumber(b.getFloat());
        }
      }
      case FP64 -> {
        while (b.hasRemaining()) {
          g.writeNumber(b.getDouble());
        }
      }
      case BYTES -> {
        while (b.hasRemaining()) {
          byte[] e = new byte[b.getInt()];
          b.get(e);
          g.writeString(utf8(e));
        }
      }
      default -> throw new IllegalStateException(type + " is binary-only");
    }
    g.writeEndArray();
  }

  /** True when every BYTES element is valid UTF-8, so that it can travel as a JSON string. */
  static boolean isUtf8(ByteBuffer data) {
    ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    var decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    while (b.hasRemaining()) {
      int len = b.getInt();
      ByteBuffer e = b.slice(b.position(), len);
      b.position(b.position() + len);
      try {
        decoder.reset().decode(e);
      } catch (CharacterCodingException ex) {
        return false;
      }
    }
    return true;
  }

  private static String utf8(byte[] e) {
    return new String(e, StandardCharsets.UTF_8);
  }

  /** A JSON parameter value as the core wants it: String, Long, Double or Boolean. */
  static Object parameterValue(String where, String key, JsonNode v) {
    if (v.isTextual()) {
      return v.textValue();
    }
    if (v.isBoolean()) {
      return v.booleanValue();
    }
    if (v.isIntegralNumber() && v.canConvertToLong()) {
      return v.longValue();
    }
    if (v.isNumber()) {
      BigDecimal d = v.decimalValue();
      return d.doubleValue();
    }
    throw InferenceException.invalid(
        "%s parameter '%s' is %s; parameters must be strings, numbers or booleans",
        where, key, describe(v));
  }
}
