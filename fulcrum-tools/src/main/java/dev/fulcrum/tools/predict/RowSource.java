package dev.fulcrum.tools.predict;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * The rows of an input file, read as a stream: CSV records (RFC 4180: a quoted cell may hold
 * commas, line breaks and doubled quotes; the first record is the header) or JSON lines (one row
 * per line), each with the line it starts on, so that an error names it. Blank lines are skipped,
 * as MLflow's CSV reader skips them; a UTF-8 byte order mark before the first line is dropped.
 * Memory: one row and a 64 KiB buffer.
 *
 * <p>Used by one thread.
 */
final class RowSource implements Closeable {
  /** The longest row taken: a file without line breaks is refused rather than held whole. */
  static final int MAX_ROW_BYTES = 16 << 20;

  /** One row's bytes (without its line break) and the 1-based line it starts on. */
  record Row(long line, byte[] bytes) {}

  private final InputStream in;
  private final boolean csv;
  private final String name;
  private final byte[] buf = new byte[1 << 16];
  private int at;
  private int end;
  private boolean eof;
  private long line = 1;
  private byte[] row = new byte[256];
  private boolean started;

  /**
   * @param csv CSV records (quotes honoured across line breaks), else JSON lines
   * @param name the file's name for errors ({@code <stdin>})
   */
  RowSource(InputStream in, boolean csv, String name) {
    this.in = in;
    this.csv = csv;
    this.name = name;
  }

  /** The next row, or null at the end of the input. */
  @Nullable Row next() throws IOException {
    if (!started) {
      started = true;
      if (fill()
          && end - at >= 3
          && buf[at] == (byte) 0xEF
          && buf[at + 1] == (byte) 0xBB
          && buf[at + 2] == (byte) 0xBF) {
        at += 3;
      }
    }
    while (true) {
      long first = line;
      int n = 0;
      boolean quoted = false;
      boolean any = false;
      while (true) {
        if (at == end && !fill()) {
          break;
        }
        any = true;
        byte b = buf[at++];
        if (b == '\n') {
          line++;
          if (!quoted) {
            break;
          }
        } else if (b == '"' && csv) {
          quoted = !quoted;
        }
        if (n == row.length) {
          if (n >= MAX_ROW_BYTES) {
            throw new IOException(
                name + ":" + first + ": a row longer than " + (MAX_ROW_BYTES >> 20) + " MiB");
          }
          row = Arrays.copyOf(row, Math.min(MAX_ROW_BYTES, n * 2));
        }
        row[n++] = b;
      }
      if (!any) {
        return null;
      }
      if (n > 0 && row[n - 1] == '\r') {
        n--;
      }
      if (blank(row, n)) {
        continue;
      }
      return new Row(first, Arrays.copyOf(row, n));
    }
  }

  private static boolean blank(byte[] b, int n) {
    for (int i = 0; i < n; i++) {
      if (b[i] != ' ' && b[i] != '\t' && b[i] != '\r') {
        return false;
      }
    }
    return true;
  }

  private boolean fill() throws IOException {
    if (at < end) {
      return true;
    }
    if (eof) {
      return false;
    }
    int r = in.read(buf, 0, buf.length);
    if (r <= 0) {
      eof = true;
      return false;
    }
    at = 0;
    end = r;
    return true;
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
