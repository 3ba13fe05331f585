package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorBuffers;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Reads the JSON {@code data} of one OIP input from a streaming {@link JsonParser} straight into
 * the tensor's new direct buffer: no tree, no list of leaves. Flat or nested to exactly the shape;
 * BOOL is {@code true}/{@code false}; integers must be integral JSON numbers within the type's
 * range (UINT64 up to 2^64-1); FP32/FP64 accept numbers and the strings {@code "NaN"}, {@code
 * "Infinity"}, {@code "-Infinity"} (a number too large for the type becomes ±Infinity; the core's
 * RequestValidator refuses non-finite values unless the input allows them); BYTES elements are JSON
 * strings, stored as UTF-8. FP16 and BF16 cannot travel as JSON.
 *
 * <p>Errors are those of a reader that first checks the structure (the element count, or each
 * nested level's size, outermost first) and then the elements in order: a streaming reader learns a
 * count only at the end of its array, so it keeps the first problem of each kind and goes on to the
 * end of {@code data} before it throws the one that ranks first. Nothing is written once a problem
 * is known, and the buffer is only allocated when the body is large enough to hold the elements the
 * shape asks for.
 *
 * <p>One instance reads one input's data on the calling thread and is then dropped.
 */
final class JsonTensorReader {
  private static final BigInteger UINT64_MAX =
      BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

  private final String tensor;
  private final DataType type;
  private final long[] shape;
  private final JsonParser p;
  private final long expected;

  /** The fixed-size tensor's buffer, or null when the count cannot be right (or for BYTES). */
  private @Nullable ByteBuffer fixed;

  /** BYTES: the elements so far, each a u32 LE length then its UTF-8 bytes. */
  private byte @Nullable [] bytes;

  private int bytesLength;

  /** Leaves seen so far, in order: the flat index of the next one. */
  private long leaves;

  /** A position in the data, for ranking structural problems (outermost and earliest first). */
  private long seq;

  private @Nullable InferenceException structural;
  private long structuralAt;
  private @Nullable InferenceException element;

  private final TensorBuffers buffers;

  private JsonTensorReader(
      String tensor,
      DataType type,
      long[] shape,
      JsonParser p,
      long expected,
      long bodyLength,
      TensorBuffers buffers) {
    this.buffers = buffers;
    this.tensor = tensor;
    this.type = type;
    this.shape = shape;
    this.p = p;
    this.expected = expected;
    // n JSON values take at least 2n-1 bytes, so a shape that asks for more than the body can hold
    // has the wrong count whatever follows: count without allocating.
    if (type.isFixedSize() && expected <= (bodyLength + 1) / 2) {
      this.fixed =
          buffers.allocate(Math.toIntExact(Tensor.sizeInBytes(tensor, type, shape, expected)));
    }
  }

  /**
   * Reads one input's {@code data}.
   *
   * @param p positioned at the first token of the {@code data} value; left at its last token
   * @param bodyLength the size of the JSON the parser reads, which bounds the element count
   * @return the elements in the tensor's layout, positioned at 0
   * @throws InferenceException INVALID_ARGUMENT naming the tensor and the problem
   */
  static ByteBuffer read(String tensor, DataType type, long[] shape, JsonParser p, long bodyLength)
      throws IOException {
    return read(tensor, type, shape, p, bodyLength, TensorBuffers.UNSHARED);
  }

  /** As above, the buffer taken from {@code buffers}. */
  static ByteBuffer read(
      String tensor,
      DataType type,
      long[] shape,
      JsonParser p,
      long bodyLength,
      TensorBuffers buffers)
      throws IOException {
    if (type.isBinaryOnly()) {
      throw InferenceException.invalid(
          "input '%s': %s data cannot be sent as JSON; send it with the binary tensor data"
              + " extension (parameter binary_data_size)",
          tensor, type);
    }
    if (p.currentToken() != JsonToken.START_ARRAY) {
      JsonNode n = Json.tree(p);
      throw InferenceException.invalid(
          "input '%s': 'data' must be a JSON array, not %s", tensor, n.getNodeType());
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
    return new JsonTensorReader(tensor, type, shape, p, expected, bodyLength, buffers).read();
  }

  private ByteBuffer read() throws IOException {
    JsonToken first = next();
    if (first == JsonToken.START_ARRAY) {
      nested(0, first);
    } else {
      flat(first);
    }
    InferenceException problem = structural != null ? structural : element;
    if (problem != null) {
      throw problem;
    }
    if (type == DataType.BYTES) {
      ByteBuffer b = buffers.allocate(bytesLength);
      if (bytes != null) {
        b.put(bytes, 0, bytesLength).flip();
      }
      return b;
    }
    ByteBuffer b = fixed;
    if (b == null) {
      // Unreachable: without a buffer the count was wrong, which is a structural problem.
      throw new IllegalStateException("no buffer for a well-formed input");
    }
    return b;
  }

  /** A flat array: the count first, then arrays among values, then the elements. */
  private void flat(JsonToken first) throws IOException {
    long count = 0;
    boolean mixed = false;
    for (JsonToken t = first; t != JsonToken.END_ARRAY; t = next()) {
      count++;
      if (t == JsonToken.START_ARRAY) {
        mixed = true;
        p.skipChildren();
      } else {
        leaf(t);
      }
    }
    if (count != expected) {
      structural =
          InferenceException.invalid(
              "input '%s' (%s, shape %s) has %d data elements but the shape needs %d",
              tensor, type, Arrays.toString(shape), count, expected);
    } else if (mixed) {
      structural =
          InferenceException.invalid("input '%s': 'data' mixes nested arrays and values", tensor);
    }
  }

  /**
   * A nested array at {@code depth}, whose first child token is {@code first} (or read here when
   * null); the parser is just inside the array.
   */
  private void nested(int depth, @Nullable JsonToken first) throws IOException {
    long openAt = seq++;
    if (depth >= shape.length) {
      deeper(openAt);
      if (first == null) {
        p.skipChildren(); // the current token is this array's START_ARRAY
      } else if (first != JsonToken.END_ARRAY) {
        p.skipChildren(); // the current token is the first child
        skipRest();
      }
      return;
    }
    boolean last = depth == shape.length - 1;
    long size = 0;
    for (JsonToken t = first != null ? first : next(); t != JsonToken.END_ARRAY; t = next()) {
      size++;
      long at = seq++;
      if (last) {
        if (t == JsonToken.START_ARRAY) {
          deeper(at);
          p.skipChildren();
        } else {
          leaf(t);
        }
      } else if (t == JsonToken.START_ARRAY) {
        nested(depth + 1, null);
      } else {
        if (ranksFirst(at)) {
          structural(
              at,
              InferenceException.invalid(
                  "input '%s': nested 'data' has a value where dimension %d of shape %s needs an"
                      + " array",
                  tensor, depth + 1, Arrays.toString(shape)));
        }
        p.skipChildren();
      }
    }
    if (size != shape[depth] && ranksFirst(openAt)) {
      structural(
          openAt,
          InferenceException.invalid(
              "input '%s': nested 'data' has %d elements in dimension %d but the shape %s says %d",
              tensor, size, depth, Arrays.toString(shape), shape[depth]));
    }
  }

  /** Skips to the END_ARRAY of the array whose children are being read. */
  private void skipRest() throws IOException {
    for (JsonToken t = next(); t != JsonToken.END_ARRAY; t = next()) {
      p.skipChildren();
    }
  }

  /** True when a structural problem at {@code at} ranks before the one kept so far. */
  private boolean ranksFirst(long at) {
    return structural == null || at < structuralAt;
  }

  private void structural(long at, InferenceException e) {
    structural = e;
    structuralAt = at;
  }

  private void deeper(long at) {
    if (ranksFirst(at)) {
      structural(
          at,
          InferenceException.invalid(
              "input '%s': nested 'data' is deeper than the shape %s",
              tensor, Arrays.toString(shape)));
    }
  }

  private JsonToken next() throws IOException {
    JsonToken t = p.nextToken();
    if (t == null) {
      // The parser throws at the end of input inside an array; this is for a parser over a tree.
      throw InferenceException.invalid("input '%s': 'data' ends early", tensor);
    }
    return t;
  }

  /** One value at the next flat index: written, or its problem kept (the first one only). */
  private void leaf(JsonToken t) throws IOException {
    long i = leaves++;
    if (element != null || structural != null || i >= expected) {
      p.skipChildren();
      return;
    }
    switch (type) {
      case BYTES -> {
        if (t != JsonToken.VALUE_STRING) {
          element =
              InferenceException.invalid(
                  "input '%s' (BYTES): element %d is %s; BYTES elements must be JSON strings",
                  tensor, i, describe());
          return;
        }
        appendBytes(p.getText().getBytes(StandardCharsets.UTF_8));
      }
      case BOOL -> {
        if (t != JsonToken.VALUE_TRUE && t != JsonToken.VALUE_FALSE) {
          element =
              InferenceException.invalid(
                  "input '%s' (BOOL): element %d is %s, not true or false", tensor, i, describe());
          return;
        }
        put(i, t == JsonToken.VALUE_TRUE ? 1 : 0);
      }
      case FP32, FP64 -> {
        double v;
        if (t == JsonToken.VALUE_NUMBER_FLOAT || t == JsonToken.VALUE_NUMBER_INT) {
          v = p.getDoubleValue();
        } else if (t == JsonToken.VALUE_STRING) {
          v = nonFinite(p.getText());
          if (v == 0) {
            element = notANumber(i);
            return;
          }
        } else {
          element = notANumber(i);
          return;
        }
        ByteBuffer b = fixed;
        if (b != null) {
          ElementCodec.putDouble(type, b, (int) i, v);
        }
      }
      case UINT64 -> {
        if (t == JsonToken.VALUE_NUMBER_INT) {
          if (p.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
            long v = p.getLongValue();
            if (v >= 0) {
              put(i, v);
              return;
            }
          } else {
            BigInteger v = p.getBigIntegerValue();
            if (v.signum() >= 0 && v.compareTo(UINT64_MAX) <= 0) {
              put(i, v.longValue());
              return;
            }
          }
        }
        element =
            InferenceException.invalid(
                "input '%s' (UINT64): element %d is %s, not an integer in 0..%s",
                tensor, i, describe(), UINT64_MAX);
      }
      default -> {
        long min = ElementCodec.min(type);
        long max = ElementCodec.max(type);
        if (t != JsonToken.VALUE_NUMBER_INT
            || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
          element =
              InferenceException.invalid(
                  "input '%s' (%s): element %d is %s, not an integer in %d..%d",
                  tensor, type, i, describe(), min, max);
          return;
        }
        long v = p.getLongValue();
        if (v < min || v > max) {
          element =
              InferenceException.invalid(
                  "input '%s' (%s): element %d is %d, outside %d..%d",
                  tensor, type, i, v, min, max);
          return;
        }
        put(i, v);
      }
    }
  }

  private void put(long i, long v) {
    ByteBuffer b = fixed;
    if (b != null) {
      ElementCodec.putLong(type, b, (int) i, v);
    }
  }

  /**
   * The value of a non-finite string ({@code "NaN"}, {@code "Infinity"}, ...: how JSON writers
   * spell them), or 0 for any other string; TF Serving's predict reads the same spellings.
   */
  static double nonFinite(String s) {
    return switch (s) {
      case "NaN", "nan" -> Double.NaN;
      case "Infinity", "inf" -> Double.POSITIVE_INFINITY;
      case "-Infinity", "-inf" -> Double.NEGATIVE_INFINITY;
      default -> 0;
    };
  }

  private InferenceException notANumber(long i) throws IOException {
    return InferenceException.invalid(
        "input '%s' (%s): element %d is %s, not a number", tensor, type, i, describe());
  }

  /** The current value as the error messages quote it (reads it whole: an object or array too). */
  private String describe() throws IOException {
    JsonNode n = Json.tree(p);
    return TensorJson.describe(n);
  }

  private void appendBytes(byte[] e) {
    byte[] b = bytes;
    int need = Math.addExact(bytesLength, 4 + e.length);
    if (b == null || need > b.length) {
      b = Arrays.copyOf(b == null ? new byte[0] : b, Math.max(need, Math.max(64, bytesLength * 2)));
      bytes = b;
    }
    int n = e.length;
    b[bytesLength] = (byte) n;
    b[bytesLength + 1] = (byte) (n >>> 8);
    b[bytesLength + 2] = (byte) (n >>> 16);
    b[bytesLength + 3] = (byte) (n >>> 24);
    System.arraycopy(e, 0, b, bytesLength + 4, n);
    bytesLength = need;
  }
}
