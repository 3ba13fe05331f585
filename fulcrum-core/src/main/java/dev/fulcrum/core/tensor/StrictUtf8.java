package dev.fulcrum.core.tensor;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;

/**
 * Strict UTF-8 decoding of text elements: malformed bytes are an error naming their offset, never
 * replaced with U+FFFD as {@code new String(bytes, UTF_8)} does (a model would embed, and a client
 * get back, text it never sent). Shared by the text pipelines, the JSON codec and the CLI's line
 * reader so that all three refuse the same bytes. Stateless; thread-safe.
 */
public final class StrictUtf8 {
  private StrictUtf8() {}

  /** Bytes that are not UTF-8: where the first malformed sequence starts, and its first byte. */
  public static final class MalformedException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int offset;
    private final int value;

    MalformedException(int offset, int value) {
      // No stack trace: a client's bytes, reported by offset, not a fault to trace.
      super(
          String.format(
              java.util.Locale.ROOT, "not valid UTF-8 at byte offset %d (0x%02X)", offset, value),
          null,
          false,
          false);
      this.offset = offset;
      this.value = value;
    }

    /** The offset of the first malformed byte, from the start of the decoded bytes. */
    public int offset() {
      return offset;
    }

    /** That byte, 0..255. */
    public int value() {
      return value;
    }
  }

  /** The text of {@code bytes}' remaining bytes (their position is left as it was). */
  public static String decode(ByteBuffer bytes) throws MalformedException {
    return chars(bytes).toString();
  }

  /** The decoded characters, flipped for reading. */
  private static CharBuffer chars(ByteBuffer bytes) throws MalformedException {
    ByteBuffer in = bytes.duplicate();
    int start = in.position();
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder(); // reports malformed input
    CharBuffer out = CharBuffer.allocate(in.remaining());
    CoderResult r = decoder.decode(in, out, true);
    if (!r.isError()) {
      r = decoder.flush(out);
    }
    if (r.isError()) {
      throw new MalformedException(in.position() - start, in.get(in.position()) & 0xFF);
    }
    return out.flip();
  }

  /** The text of {@code length} bytes of {@code bytes} from {@code offset}. */
  public static String decode(byte[] bytes, int offset, int length) throws MalformedException {
    return decode(ByteBuffer.wrap(bytes, offset, length));
  }

  /** Whether {@code bytes}' remaining bytes are UTF-8. */
  public static boolean isValid(ByteBuffer bytes) {
    try {
      chars(bytes); // no String made: only whether it decodes
      return true;
    } catch (MalformedException e) {
      return false;
    }
  }
}
