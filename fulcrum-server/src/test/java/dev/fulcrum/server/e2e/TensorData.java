package dev.fulcrum.server.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.tensor.DataType;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.StringJoiner;

/**
 * Test tensors in the wire layout of the binary tensor data extension (little-endian elements;
 * BYTES as a 4-byte length and the bytes of each element), and their JSON form, written and read as
 * a client would.
 */
final class TensorData {
  private TensorData() {}

  private static final int FP32_NAN = 0x7fc0_0000;
  private static final long FP64_NAN = 0x7ff8_0000_0000_0000L;

  /** Edge values of each fixed-size type, as the bits of one element. */
  private static long[] edges(DataType type) {
    return switch (type) {
      case BOOL -> new long[] {0, 1};
      case INT8 -> new long[] {Byte.MIN_VALUE, Byte.MAX_VALUE, 0, -1};
      case UINT8 -> new long[] {0, 0xff, 0x80};
      case INT16 -> new long[] {Short.MIN_VALUE, Short.MAX_VALUE, 0, -1};
      case UINT16 -> new long[] {0, 0xffff, 0x8000};
      case INT32 -> new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE, 0, -1};
      case UINT32 -> new long[] {0, 0xffff_ffffL, 0x8000_0000L};
      case INT64 -> new long[] {Long.MIN_VALUE, Long.MAX_VALUE, 0, -1};
      case UINT64 -> new long[] {0, -1L /* 2^64-1 */, Long.MIN_VALUE /* 2^63 */};
      case FP16 ->
          // 0, -0, smallest subnormal, max, -max, +inf, -inf, NaN, 1.0
          new long[] {0, 0x8000, 0x0001, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x3c00};
      case BF16 -> new long[] {0, 0x8000, 0x0001, 0x7f7f, 0xff7f, 0x7f80, 0xff80, 0x7fc0, 0x3f80};
      case FP32 ->
          floats(
              0f,
              -0f,
              Float.MIN_VALUE,
              -Float.MIN_VALUE,
              Float.MIN_NORMAL,
              Float.MAX_VALUE,
              -Float.MAX_VALUE,
              Float.POSITIVE_INFINITY,
              Float.NEGATIVE_INFINITY,
              Float.NaN,
              1f / 3);
      case FP64 ->
          doubles(
              0d,
              -0d,
              Double.MIN_VALUE,
              -Double.MIN_VALUE,
              Double.MIN_NORMAL,
              Double.MAX_VALUE,
              -Double.MAX_VALUE,
              Double.POSITIVE_INFINITY,
              Double.NEGATIVE_INFINITY,
              Double.NaN,
              1d / 3);
      case BYTES -> throw new IllegalArgumentException("BYTES has no fixed-size elements");
    };
  }

  private static long[] floats(float... v) {
    long[] bits = new long[v.length];
    for (int i = 0; i < v.length; i++) {
      bits[i] = Float.floatToIntBits(v[i]);
    }
    return bits;
  }

  private static long[] doubles(double... v) {
    long[] bits = new long[v.length];
    for (int i = 0; i < v.length; i++) {
      bits[i] = Double.doubleToLongBits(v[i]);
    }
    return bits;
  }

  /** Edge BYTES elements: empty, escapes, multi-byte and supplementary characters, NUL. */
  private static final List<String> STRING_EDGES =
      List.of(
          "", "a", "quote\" backslash\\ tab\t newline\n", "héllo wörld", "日本語", "😀 🚀", "nul\0in");

  /**
   * {@code count} elements of a type: its edge values first, then random ones.
   *
   * @param canonicalNaN when true every NaN is the canonical one (JSON has no NaN payloads); when
   *     false random bits are left as they are, NaN payloads included
   */
  static byte[] sample(DataType type, int count, Random random, boolean canonicalNaN) {
    if (type == DataType.BYTES) {
      List<String> elements = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        elements.add(i < STRING_EDGES.size() ? STRING_EDGES.get(i) : randomString(random));
      }
      return strings(elements);
    }
    long[] edges = edges(type);
    ByteBuffer b = ByteBuffer.allocate(count * type.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < count; i++) {
      long bits = i < edges.length ? edges[i] : random.nextLong();
      if (type == DataType.BOOL) {
        bits &= 1;
      } else if (canonicalNaN
          && type == DataType.FP32
          && Float.isNaN(Float.intBitsToFloat((int) bits))) {
        bits = FP32_NAN;
      } else if (canonicalNaN
          && type == DataType.FP64
          && Double.isNaN(Double.longBitsToDouble(bits))) {
        bits = FP64_NAN;
      }
      put(b, type.byteSize(), bits);
    }
    return b.array();
  }

  private static void put(ByteBuffer b, int size, long bits) {
    switch (size) {
      case 1 -> b.put((byte) bits);
      case 2 -> b.putShort((short) bits);
      case 4 -> b.putInt((int) bits);
      case 8 -> b.putLong(bits);
      default -> throw new IllegalArgumentException("element size " + size);
    }
  }

  private static String randomString(Random random) {
    StringBuilder s = new StringBuilder();
    int n = random.nextInt(12);
    for (int i = 0; i < n; i++) {
      int cp =
          switch (random.nextInt(4)) {
            case 0 -> random.nextInt(0x20, 0x7f);
            case 1 -> random.nextInt(0xa0, 0x800);
            case 2 -> random.nextInt(0x800, 0xd800);
            default -> random.nextInt(0x1_0000, 0x11_0000);
          };
      s.appendCodePoint(cp);
    }
    return s.toString();
  }

  /** BYTES elements in the binary layout. */
  static byte[] strings(List<String> elements) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (String e : elements) {
      byte[] utf8 = e.getBytes(StandardCharsets.UTF_8);
      out.writeBytes(
          ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(utf8.length).array());
      out.writeBytes(utf8);
    }
    return out.toByteArray();
  }

  static byte[] ints(int... v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asIntBuffer().put(v);
    return b.array();
  }

  static byte[] longs(long... v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(v);
    return b.array();
  }

  static byte[] floats32(float... v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(v);
    return b.array();
  }

  /** The elements as a flat JSON array, in the notation of the OIP (NaN etc. as strings). */
  static String toJson(DataType type, byte[] data) {
    ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    StringJoiner j = new StringJoiner(",", "[", "]");
    while (b.hasRemaining()) {
      j.add(
          switch (type) {
            case BOOL -> Boolean.toString(b.get() != 0);
            case INT8 -> Byte.toString(b.get());
            case UINT8 -> Integer.toString(Byte.toUnsignedInt(b.get()));
            case INT16 -> Short.toString(b.getShort());
            case UINT16 -> Integer.toString(Short.toUnsignedInt(b.getShort()));
            case INT32 -> Integer.toString(b.getInt());
            case UINT32 -> Integer.toUnsignedString(b.getInt());
            case INT64 -> Long.toString(b.getLong());
            case UINT64 -> Long.toUnsignedString(b.getLong());
            case FP32 -> number(b.getFloat());
            case FP64 -> number(b.getDouble());
            case BYTES -> {
              byte[] e = new byte[b.getInt()];
              b.get(e);
              yield E2eServer.quote(new String(e, StandardCharsets.UTF_8));
            }
            case FP16, BF16 -> throw new IllegalArgumentException(type + " has no JSON form");
          });
    }
    return j.toString();
  }

  private static String number(double v) {
    if (Double.isNaN(v)) {
      return "\"NaN\"";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    }
    return Double.toString(v);
  }

  private static String number(float v) {
    return Float.isFinite(v) ? Float.toString(v) : number((double) v);
  }

  /** Reads a flat JSON {@code data} array of a response back into the binary layout. */
  static byte[] fromJson(DataType type, JsonNode data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (JsonNode n : data) {
      ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      switch (type) {
        case BOOL -> b.put((byte) (n.asBoolean() ? 1 : 0));
        case INT8, UINT8 -> b.put((byte) n.longValue());
        case INT16, UINT16 -> b.putShort((short) n.longValue());
        case INT32, UINT32 -> b.putInt((int) n.longValue());
        case INT64 -> b.putLong(n.longValue());
        case UINT64 -> b.putLong(n.bigIntegerValue().longValue());
        case FP32 -> b.putFloat((float) floating(n));
        case FP64 -> b.putDouble(floating(n));
        case BYTES -> {
          out.writeBytes(strings(List.of(n.textValue())));
          continue;
        }
        case FP16, BF16 -> throw new IllegalArgumentException(type + " has no JSON form");
      }
      out.write(b.array(), 0, b.position());
    }
    return out.toByteArray();
  }

  private static double floating(JsonNode n) {
    if (n.isNumber()) {
      return n.doubleValue();
    }
    return switch (n.asText()) {
      case "NaN" -> Double.NaN;
      case "Infinity" -> Double.POSITIVE_INFINITY;
      case "-Infinity" -> Double.NEGATIVE_INFINITY;
      default -> throw new AssertionError("not a number: " + n);
    };
  }
}
