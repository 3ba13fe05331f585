package dev.fulcrum.server.codec;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.FastThreadLocal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Writes JSON text into a {@link ByteBuf} through a small staging array: values are formatted
 * straight into the array ({@link ShortestDecimal} for floating point, digit loops for integers,
 * UTF-8 bytes copied with escapes for strings), and each full array is copied into the buffer in
 * one bulk write, so a tensor's data costs no {@code String} and no object per element. The caller
 * places commas, colons and brackets ({@link #raw}); strings are escaped as Jackson escapes them
 * ({@code "}, {@code \}, and control characters), non-ASCII text passes as UTF-8. Call {@link
 * #flush} at the end. Not thread-safe: one writer per response, on one thread, and one writer at a
 * time per thread (they share the thread's staging array).
 */
final class JsonBufferWriter {
  private static final byte[] HEX = "0123456789ABCDEF".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] NAN = "\"NaN\"".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] INFINITY = "\"Infinity\"".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] MINUS_INFINITY = "\"-Infinity\"".getBytes(StandardCharsets.US_ASCII);

  /** The staging array each thread reuses for its writers: one writer at a time per thread. */
  private static final FastThreadLocal<byte[]> STAGING =
      new FastThreadLocal<>() {
        @Override
        protected byte[] initialValue() {
          return new byte[STAGING_SIZE];
        }
      };

  /**
   * Bytes staged before each bulk copy into the buffer; well over the widest unit written after one
   * room check (a double and its comma, or an escape: 32 bytes).
   */
  static final int STAGING_SIZE = 2048;

  private final ByteBuf out;
  private final byte[] chunk;
  private int n;

  /**
   * A writer into {@code out} that stages through the calling thread's array, so a response costs
   * no staging allocation (one was ~8 % of the bytes a fraud request allocated on the event loop,
   * the young collections' pace). The caller must {@link #flush} before it starts another writer on
   * the same thread.
   */
  JsonBufferWriter(ByteBuf out) {
    this.out = out;
    this.chunk = STAGING.get();
  }

  /** Copies the staged bytes into the buffer. */
  void flush() {
    if (n > 0) {
      out.writeBytes(chunk, 0, n);
      n = 0;
    }
  }

  private void room(int k) {
    if (n + k > chunk.length) {
      flush();
    }
  }

  /** One structural byte ({@code {}[],:}). */
  void raw(char c) {
    room(1);
    chunk[n++] = (byte) c;
  }

  /**
   * Bytes already in JSON form (a constant fragment such as {@code ,"datatype":}), copied as they
   * are: no escaping, no per-character check.
   */
  void raw(byte[] text) {
    int len = text.length;
    if (len > chunk.length) {
      flush();
      out.writeBytes(text);
      return;
    }
    room(len);
    System.arraycopy(text, 0, chunk, n, len);
    n += len;
  }

  /** A field name and its colon. */
  void field(String name) {
    string(name);
    raw(':');
  }

  /** A JSON string. Unpaired surrogates become {@code ?}, as {@link String#getBytes} makes them. */
  void string(String s) {
    boolean ascii = true;
    for (int i = 0; i < s.length() && ascii; i++) {
      ascii = s.charAt(i) < 0x80;
    }
    room(1);
    chunk[n++] = '"';
    if (ascii) {
      for (int i = 0; i < s.length(); i++) {
        escaped(s.charAt(i));
      }
    } else {
      for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
        escaped(b & 0xFF);
      }
    }
    room(1);
    chunk[n++] = '"';
  }

  /** A JSON string from {@code len} UTF-8 bytes of {@code b} at its position (which moves). */
  void string(ByteBuffer b, int len) {
    room(1);
    chunk[n++] = '"';
    for (int i = 0; i < len; i++) {
      escaped(b.get() & 0xFF);
    }
    room(1);
    chunk[n++] = '"';
  }

  private void escaped(int c) {
    room(6);
    if (c >= 0x20 && c != '"' && c != '\\') {
      chunk[n++] = (byte) c;
      return;
    }
    chunk[n++] = '\\';
    switch (c) {
      case '"', '\\' -> chunk[n++] = (byte) c;
      case '\n' -> chunk[n++] = 'n';
      case '\r' -> chunk[n++] = 'r';
      case '\t' -> chunk[n++] = 't';
      case '\b' -> chunk[n++] = 'b';
      case '\f' -> chunk[n++] = 'f';
      default -> {
        chunk[n++] = 'u';
        chunk[n++] = '0';
        chunk[n++] = '0';
        chunk[n++] = HEX[c >> 4];
        chunk[n++] = HEX[c & 0xF];
      }
    }
  }

  void bool(boolean v) {
    room(5);
    if (v) {
      chunk[n++] = 't';
      chunk[n++] = 'r';
      chunk[n++] = 'u';
      chunk[n++] = 'e';
    } else {
      chunk[n++] = 'f';
      chunk[n++] = 'a';
      chunk[n++] = 'l';
      chunk[n++] = 's';
      chunk[n++] = 'e';
    }
  }

  void nullValue() {
    room(4);
    chunk[n++] = 'n';
    chunk[n++] = 'u';
    chunk[n++] = 'l';
    chunk[n++] = 'l';
  }

  void number(long v) {
    room(20);
    if (v < 0) {
      chunk[n++] = '-';
      if (v == Long.MIN_VALUE) {
        // -9223372036854775808: its magnitude is not a long.
        unsigned(Long.MIN_VALUE);
        return;
      }
      unsigned(-v);
      return;
    }
    unsigned(v);
  }

  /** The 64 bits of {@code v} as an unsigned integer (UINT64). */
  void unsignedNumber(long v) {
    room(20);
    unsigned(v);
  }

  private void unsigned(long v) {
    long r = v;
    int len = 1;
    for (long x = Long.divideUnsigned(r, 10); x != 0; x /= 10) {
      len++;
    }
    int end = n + len;
    int i = end - 1;
    if (r < 0) {
      long q = Long.divideUnsigned(r, 10);
      chunk[i--] = (byte) ('0' + (r - q * 10));
      r = q;
    }
    for (; i >= n; i--) {
      long q = r / 10;
      chunk[i] = (byte) ('0' + (r - q * 10));
      r = q;
    }
    n = end;
  }

  /** A float as its shortest decimal; NaN and the infinities as Jackson writes them (strings). */
  void number(float v) {
    if (!Float.isFinite(v)) {
      nonFinite(v);
      return;
    }
    room(ShortestDecimal.MAX_FLOAT_LENGTH);
    n = ShortestDecimal.write(v, chunk, n);
  }

  /** A double as its shortest decimal; NaN and the infinities as strings. */
  void number(double v) {
    if (!Double.isFinite(v)) {
      nonFinite(v);
      return;
    }
    room(ShortestDecimal.MAX_LENGTH);
    n = ShortestDecimal.write(v, chunk, n);
  }

  private void nonFinite(double v) {
    byte[] text = Double.isNaN(v) ? NAN : v > 0 ? INFINITY : MINUS_INFINITY;
    room(text.length);
    System.arraycopy(text, 0, chunk, n, text.length);
    n += text.length;
  }

  /**
   * Writes the elements of a tensor as a flat JSON array, straight from its buffer (bytes from the
   * buffer's position to its limit), in the forms {@link TensorJson#write} writes them.
   */
  void tensor(DataType type, ByteBuffer data) {
    ByteBuffer b = data.slice().order(ByteOrder.LITTLE_ENDIAN);
    raw('[');
    if (type == DataType.BYTES) {
      boolean first = true;
      while (b.hasRemaining()) {
        if (!first) {
          raw(',');
        }
        first = false;
        string(b, b.getInt());
      }
      raw(']');
      return;
    }
    if (type.isBinaryOnly()) {
      throw new IllegalStateException(type + " is binary-only");
    }
    int count = b.remaining() / type.byteSize();
    switch (type) {
      case FP32 -> {
        for (int i = 0; i < count; i++) {
          float v = b.getFloat(i * 4);
          room(ShortestDecimal.MAX_FLOAT_LENGTH + 1);
          if (i > 0) {
            chunk[n++] = ',';
          }
          if (Float.isFinite(v)) {
            n = ShortestDecimal.write(v, chunk, n);
          } else {
            nonFinite(v);
          }
        }
      }
      case FP64 -> {
        for (int i = 0; i < count; i++) {
          double v = b.getDouble(i * 8);
          room(ShortestDecimal.MAX_LENGTH + 1);
          if (i > 0) {
            chunk[n++] = ',';
          }
          if (Double.isFinite(v)) {
            n = ShortestDecimal.write(v, chunk, n);
          } else {
            nonFinite(v);
          }
        }
      }
      case BOOL -> {
        for (int i = 0; i < count; i++) {
          if (i > 0) {
            raw(',');
          }
          bool(b.get(i) != 0);
        }
      }
      case UINT64 -> {
        for (int i = 0; i < count; i++) {
          if (i > 0) {
            raw(',');
          }
          unsignedNumber(b.getLong(i * 8));
        }
      }
      default -> {
        for (int i = 0; i < count; i++) {
          if (i > 0) {
            raw(',');
          }
          number(ElementCodec.getLong(type, b, i));
        }
      }
    }
    raw(']');
  }

  /**
   * An upper bound of the bytes {@link #tensor} writes for {@code count} elements of a fixed-size
   * type (the longest element and a comma each), or for a BYTES tensor of {@code byteSize} bytes
   * (an estimate: quotes and commas in place of the length prefixes; escapes grow the buffer).
   */
  static long maxTensorLength(DataType type, long count, long byteSize) {
    int each =
        switch (type) {
          case BOOL, UINT16 -> 6;
          case INT8 -> 5;
          case UINT8 -> 4;
          case INT16 -> 7;
          case INT32 -> 12;
          case UINT32 -> 11;
          case INT64, UINT64 -> 21;
          case FP32 -> ShortestDecimal.MAX_FLOAT_LENGTH + 1;
          case FP64 -> ShortestDecimal.MAX_LENGTH + 1;
          case BYTES, FP16, BF16 -> 0;
        };
    return type == DataType.BYTES ? byteSize + 2 : 2 + each * count;
  }
}
