package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.StrictUtf8;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Writes the JSON {@code data} of an OIP tensor from the tensor's binary layout (see {@link
 * dev.fulcrum.core.tensor.Tensor}), and the JSON forms of parameters; the reading side is {@link
 * JsonTensorReader}. BOOL is {@code true}/{@code false}, integers are JSON integers (UINT64 up to
 * 2^64-1), FP32 in its shortest decimal form, BYTES as JSON strings (UTF-8). FP16 and BF16 cannot
 * travel as JSON. Stateless and thread-safe.
 */
public final class TensorJson {
  private TensorJson() {}

  /** A JSON value as error messages quote it: its text, cut at 40 characters. */
  static String describe(JsonNode n) {
    String s = n.toString();
    return s.length() > 40 ? s.substring(0, 40) + "..." : s;
  }

  /**
   * Writes the elements of a tensor as a flat JSON array, straight from its buffer (bytes from the
   * buffer's position to its limit).
   */
  public static void write(DataType type, ByteBuffer data, JsonGenerator g) throws IOException {
    ByteBuffer b = data.slice().order(ByteOrder.LITTLE_ENDIAN);
    g.writeStartArray();
    if (type == DataType.BYTES) {
      while (b.hasRemaining()) {
        byte[] e = new byte[b.getInt()];
        b.get(e);
        g.writeString(utf8(e));
      }
      g.writeEndArray();
      return;
    }
    if (type.isBinaryOnly()) {
      throw new IllegalStateException(type + " is binary-only");
    }
    int n = b.remaining() / type.byteSize();
    switch (type) {
      case BOOL -> {
        for (int i = 0; i < n; i++) {
          g.writeBoolean(ElementCodec.getLong(type, b, i) != 0);
        }
      }
      case UINT64 -> {
        for (int i = 0; i < n; i++) {
          g.writeNumber(Long.toUnsignedString(ElementCodec.getLong(type, b, i)));
        }
      }
      case FP32 -> {
        for (int i = 0; i < n; i++) {
          g.writeNumber(ElementCodec.getFloat(b, i));
        }
      }
      case FP64 -> {
        for (int i = 0; i < n; i++) {
          g.writeNumber(ElementCodec.getDouble(type, b, i));
        }
      }
      default -> {
        for (int i = 0; i < n; i++) {
          g.writeNumber(ElementCodec.getLong(type, b, i));
        }
      }
    }
    g.writeEndArray();
  }

  /** True when every BYTES element is valid UTF-8, so that it can travel as a JSON string. */
  static boolean isUtf8(ByteBuffer data) {
    ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    while (b.hasRemaining()) {
      int len = b.getInt();
      if (!StrictUtf8.isValid(b.slice(b.position(), len))) {
        return false;
      }
      b.position(b.position() + len);
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
