package dev.fulcrum.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import org.jspecify.annotations.Nullable;

/**
 * The bytes a cleartext connection has sent before the end of its first line (an HTTP/1.1 request
 * line, or the HTTP/2 preface's {@code PRI * HTTP/2.0}), held until that line ends or {@value
 * #MAX_HELD} bytes have come: a slowloris connection trickling its head a byte at a time costs its
 * event loop a copy per read instead of the HTTP codecs, upgrade handlers and timer that the
 * protocol handlers build (docs/PERFORMANCE.md, "Hostile clients", session 16), and a real client,
 * whose first read holds its whole request line, is never held. The bytes are copied to the heap,
 * so a connection closed while held leaves no buffer to release. Loop-confined: one per connection,
 * used on its event loop.
 */
final class FirstLine {
  /**
   * Held bytes beyond which the protocol handlers are built anyway (their decoder then judges the
   * line): far beyond any request line a header timeout's trickle can bring, and a bound on what a
   * held connection keeps.
   */
  static final int MAX_HELD = 256;

  private byte @Nullable [] held;
  private int length;

  /** Whether {@code bytes} end a first line, with what is held: a line feed, or the bound. */
  boolean completes(ByteBuf bytes) {
    return length + bytes.readableBytes() >= MAX_HELD
        || bytes.indexOf(bytes.readerIndex(), bytes.writerIndex(), (byte) '\n') >= 0;
  }

  /** Keeps {@code bytes} (and releases it): the line has not ended. */
  void hold(ByteBuf bytes) {
    try {
      int n = bytes.readableBytes();
      byte[] h = held;
      if (h == null || h.length < length + n) {
        byte[] grown = new byte[Math.min(MAX_HELD, Math.max(16, 2 * (length + n)))];
        if (h != null) {
          System.arraycopy(h, 0, grown, 0, length);
        }
        held = h = grown;
      }
      bytes.readBytes(h, length, n);
      length += n;
    } finally {
      bytes.release();
    }
  }

  /**
   * The held bytes followed by {@code bytes}, as one buffer to pass on (and {@code bytes} itself
   * when nothing is held); releases {@code bytes} when it copies it.
   */
  ByteBuf release(ByteBuf bytes, ByteBufAllocator alloc) {
    byte[] h = held;
    if (h == null) {
      return bytes;
    }
    try {
      ByteBuf whole = alloc.buffer(length + bytes.readableBytes());
      whole.writeBytes(h, 0, length).writeBytes(bytes);
      held = null;
      length = 0;
      return whole;
    } finally {
      bytes.release();
    }
  }
}
