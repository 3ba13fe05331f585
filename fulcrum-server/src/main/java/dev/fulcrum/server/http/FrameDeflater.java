package dev.fulcrum.server.http;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.Deflater;

/**
 * Compresses the dashboard's server-sent events for pages that accept gzip: each frame's event
 * ({@code data: <json>\n\n}) is deflated on its own (a fresh dictionary, ended by a sync flush,
 * never the final block), so the compressed bytes of one frame are the same for every page and can
 * follow any other such bytes in a deflate stream; a page's gzip member is {@link #GZIP_HEADER},
 * its events as they come, then {@link #trailer}. The feed hands the same frame array to every
 * page, so the last two frames compressed (the tick's and a history frame) are kept by identity and
 * compressed once per tick, whatever the number of pages.
 *
 * <p>Thread-confined to the dashboard feed's thread ({@code fulcrum-dashboard}), which calls every
 * stream's {@code send}; synchronized all the same, uncontended. {@link #acceptsGzip} is stateless
 * and also reads the metrics port's scrapes.
 */
public final class FrameDeflater {
  /** A gzip member's header: deflate, no name, no time, unknown OS. */
  static final byte[] GZIP_HEADER = {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 0xff};

  private static final byte[] PREFIX = "data: ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] SUFFIX = "\n\n".getBytes(StandardCharsets.US_ASCII);

  private final Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
  private byte @org.jspecify.annotations.Nullable [] lastFrame;
  private byte[] lastEvent = new byte[0];
  private byte @org.jspecify.annotations.Nullable [] otherFrame;
  private byte[] otherEvent = new byte[0];

  /**
   * The compressed event of a frame (its {@code data:} line and blank line). Frames are told apart
   * by identity on purpose: the feed hands the same array to every page, and comparing contents
   * would cost as much as compressing them.
   */
  @SuppressWarnings("ReferenceEquality")
  synchronized byte[] event(byte[] frame) {
    if (frame == lastFrame) {
      return lastEvent;
    }
    if (frame == otherFrame) {
      return otherEvent;
    }
    byte[] event = new byte[PREFIX.length + frame.length + SUFFIX.length];
    System.arraycopy(PREFIX, 0, event, 0, PREFIX.length);
    System.arraycopy(frame, 0, event, PREFIX.length, frame.length);
    System.arraycopy(SUFFIX, 0, event, PREFIX.length + frame.length, SUFFIX.length);
    byte[] out = deflate(event);
    otherFrame = lastFrame;
    otherEvent = lastEvent;
    lastFrame = frame;
    lastEvent = out;
    return out;
  }

  /** Bytes deflated on their own: a fresh dictionary, sync-flushed, not final. */
  synchronized byte[] deflate(byte[] bytes) {
    deflater.reset();
    deflater.setInput(bytes);
    ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(64, bytes.length / 8));
    byte[] buffer = new byte[16384];
    int n;
    do {
      n = deflater.deflate(buffer, 0, buffer.length, Deflater.SYNC_FLUSH);
      out.write(buffer, 0, n);
    } while (n == buffer.length || !deflater.needsInput());
    return out.toByteArray();
  }

  /**
   * The end of a gzip member after such bytes: an empty final block (fixed Huffman codes), then the
   * CRC-32 and the length (mod 2^32) of everything compressed, little-endian.
   */
  static byte[] trailer(long crc, long length) {
    return new byte[] {
      3,
      0,
      (byte) crc,
      (byte) (crc >>> 8),
      (byte) (crc >>> 16),
      (byte) (crc >>> 24),
      (byte) length,
      (byte) (length >>> 8),
      (byte) (length >>> 16),
      (byte) (length >>> 24)
    };
  }

  /**
   * Whether an {@code Accept-Encoding} header value accepts gzip: a {@code gzip} (or {@code
   * x-gzip}) coding, or {@code *}, whose {@code q} is not 0.
   */
  public static boolean acceptsGzip(@org.jspecify.annotations.Nullable String acceptEncoding) {
    if (acceptEncoding == null) {
      return false;
    }
    for (String part : acceptEncoding.split(",")) {
      String[] fields = part.split(";");
      String coding = fields[0].trim().toLowerCase(java.util.Locale.ROOT);
      if (!coding.equals("gzip") && !coding.equals("x-gzip") && !coding.equals("*")) {
        continue;
      }
      boolean refused = false;
      for (int i = 1; i < fields.length; i++) {
        String f = fields[i].trim().toLowerCase(java.util.Locale.ROOT);
        if (f.startsWith("q=")) {
          try {
            refused = Double.parseDouble(f.substring(2).trim()) <= 0;
          } catch (NumberFormatException e) {
            refused = true;
          }
        }
      }
      if (!refused) {
        return true;
      }
    }
    return false;
  }
}
