package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.server.dashboard.DashboardFeed;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.CRC32;
import org.jspecify.annotations.Nullable;

/**
 * One open dashboard page: a {@code text/event-stream} response that never ends by itself, one
 * {@code data:} event per frame of the {@link DashboardFeed}. The frame's bytes are shared with
 * every other stream (wrapped, not copied).
 *
 * <p>Bounded: a frame is written only when the connection is writable (its outbound buffer below
 * Netty's high water mark, 64 KiB); a page still behind when the next frame is due is dropped, so a
 * slow reader holds at most one frame and never slows the other pages. The stream ends when the
 * server drains (it is not counted as a response in flight, so it never holds the drain), and
 * closes with its connection.
 *
 * <p>Compressed (session 36) when the page accepts gzip ({@code Accept-Encoding}, which browsers
 * send by themselves and undo for {@code fetch()}): the response is {@code Content-Encoding: gzip},
 * one gzip member whose deflate stream is each frame compressed on its own ({@link FrameDeflater}:
 * the same compressed bytes for every page, made once per frame on the feed's thread), ended with
 * its trailer when the stream ends. The first frame of a server of 200 monitored models, its five
 * minutes of history, went from 5.58 MB to 78 KB on the wire.
 *
 * <p>Threads: {@link #send} and {@link #end} are called on the feed's thread; Netty runs the writes
 * on the channel's event loop.
 */
final class DashboardStream implements DashboardFeed.Subscriber {
  private static final byte[] HELLO =
      ": fulcrum dashboard\nretry: 3000\n\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] PREFIX = "data: ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] SUFFIX = "\n\n".getBytes(StandardCharsets.US_ASCII);

  private final ChannelHandlerContext ctx;
  private final DashboardFeed feed;
  private final InferenceService service;
  private final AtomicBoolean ended = new AtomicBoolean();

  /** Compresses the frames for gzip pages; null for a page that did not ask for gzip. */
  private final @Nullable FrameDeflater deflater;

  /** The gzip member's CRC-32 and length of what was sent; the feed's thread only. */
  private final CRC32 crc = new CRC32();

  private long length;

  DashboardStream(
      ChannelHandlerContext ctx,
      DashboardFeed feed,
      InferenceService service,
      @Nullable FrameDeflater deflater) {
    this.ctx = ctx;
    this.feed = feed;
    this.service = service;
    this.deflater = deflater;
  }

  /** Writes the response head; on the channel's event loop. */
  void open() {
    HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    head.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
        .set("X-Accel-Buffering", "no");
    HttpUtil.setTransferEncodingChunked(head, true);
    FrameDeflater d = deflater;
    if (d != null) {
      head.headers()
          .set(HttpHeaderNames.CONTENT_ENCODING, "gzip")
          .set(HttpHeaderNames.VARY, HttpHeaderNames.ACCEPT_ENCODING);
      ctx.write(head);
      byte[] hello = d.deflate(HELLO);
      crc.update(HELLO);
      length += HELLO.length;
      ctx.writeAndFlush(
          new DefaultHttpContent(Unpooled.wrappedBuffer(FrameDeflater.GZIP_HEADER, hello)));
    } else {
      ctx.write(head);
      ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(HELLO)));
    }
    ctx.channel().closeFuture().addListener(f -> feed.unsubscribe(this));
  }

  @Override
  public boolean send(byte[] frame) {
    if (ended.get() || !ctx.channel().isActive() || service.isDraining()) {
      return false;
    }
    if (!ctx.channel().isWritable()) {
      return false; // the last frame is still unread a second later: a slow page
    }
    FrameDeflater d = deflater;
    if (d != null) {
      crc.update(PREFIX);
      crc.update(frame);
      crc.update(SUFFIX);
      length += PREFIX.length + frame.length + SUFFIX.length;
      ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(d.event(frame))));
    } else {
      ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(PREFIX, frame, SUFFIX)));
    }
    return true;
  }

  @Override
  public void end() {
    if (!ended.compareAndSet(false, true)) {
      return;
    }
    // The gzip member's end (the final deflate block, CRC-32, length), so that the page reads a
    // whole gzip stream; computed here, on the feed's thread, which sent the frames.
    byte[] trailer = deflater != null ? FrameDeflater.trailer(crc.getValue(), length) : null;
    try {
      ctx.executor()
          .execute(
              () -> {
                if (!ctx.channel().isActive()) {
                  return;
                }
                if (ctx.channel().isWritable()) {
                  if (trailer != null) {
                    ctx.write(new DefaultHttpContent(Unpooled.wrappedBuffer(trailer)));
                  }
                  ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT)
                      .addListener(ChannelFutureListener.CLOSE);
                } else {
                  ctx.close(); // a page that stopped reading: its unread frame goes with it
                }
              });
    } catch (RejectedExecutionException e) {
      // the event loop is gone, and the connection with it
    }
  }
}
