package dev.fulcrum.tools.text;

import dev.fulcrum.core.tensor.StrictUtf8;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * The lines of a UTF-8 input, each decoded on its own and strictly, so that one that is not UTF-8
 * is named by its number and byte offset (a {@code BufferedReader} says only "Input length = 1",
 * and reads ahead past the line it returns). Lines end as {@code BufferedReader}'s do: at LF, CRLF
 * or a lone CR, the terminator not included. Used by one thread.
 */
public final class Utf8Lines implements Closeable {
  private final InputStream in;
  private final String source;
  private final byte[] buffer = new byte[1 << 16];
  private int position;
  private int limit;
  private byte[] line = new byte[256];
  private long number;

  /**
   * @param in the bytes, closed with this
   * @param source the input as messages name it (a file, or "stdin")
   */
  public Utf8Lines(InputStream in, String source) {
    this.in = in;
    this.source = source;
  }

  /** Whether a byte is left to read, filling the buffer when it is empty. */
  private boolean fill() throws IOException {
    if (position < limit) {
      return true;
    }
    int n = in.read(buffer);
    while (n == 0) {
      n = in.read(buffer);
    }
    position = 0;
    limit = Math.max(n, 0);
    return n > 0;
  }

  /**
   * The next line, or null at the end of the input.
   *
   * @throws IOException naming the source, the line and the byte offset in it when the line is not
   *     UTF-8
   */
  public @Nullable String next() throws IOException {
    if (!fill()) {
      return null;
    }
    int length = 0;
    boolean cr = false;
    while (fill()) {
      byte b = buffer[position++];
      if (b == '\n') {
        break;
      }
      if (b == '\r') {
        cr = true;
        break;
      }
      if (length == line.length) {
        line = Arrays.copyOf(line, length * 2);
      }
      line[length++] = b;
    }
    if (cr && fill() && buffer[position] == '\n') {
      position++;
    }
    number++;
    try {
      return StrictUtf8.decode(line, 0, length);
    } catch (StrictUtf8.MalformedException e) {
      throw new IOException(source + ": line " + number + " is " + e.getMessage(), e);
    }
  }

  /** The lines read so far. */
  public long count() {
    return number;
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
