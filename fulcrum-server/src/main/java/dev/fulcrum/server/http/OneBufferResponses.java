package dev.fulcrum.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.util.concurrent.PromiseNotifier;
import org.jspecify.annotations.Nullable;

/**
 * Joins the buffers that the HTTP/1.1 encoder writes for one response into one buffer, so that the
 * socket is given one buffer (a {@code write}) rather than two (a {@code writev}). Netty's {@code
 * HttpObjectEncoder} copies a body into its header buffer only up to 128 bytes (or while the header
 * buffer's estimate has room): every JSON answer above that, fraud's included, left as a header
 * buffer and a body buffer, two entries in the channel's outbound buffer and a gathering write of
 * two (docs/PERFORMANCE.md, "Session 17: the response as one buffer").
 *
 * <p>Sits just ahead of {@code HttpServerCodec} toward the socket, on a cleartext HTTP/1.1
 * connection (TLS's {@code SslHandler} joins small writes itself; HTTP/2 frames never pass here). A
 * buffer written is held until the next write or flush: a following buffer, while both together are
 * at most {@link #MAX_JOINED} bytes, is copied with it into one new buffer, and the flush (the
 * dispatcher writes each answer with {@code writeAndFlush}) passes the joined buffer on. Anything
 * else written, a larger buffer, a close or the handler's removal passes the held buffer on first,
 * so the order of bytes never changes. Each write's promise completes when the joined buffer's
 * does.
 *
 * <p>Threads: the connection's event loop only.
 */
final class OneBufferResponses extends ChannelOutboundHandlerAdapter {
  /** Joined buffers stay at most this size: above it the copy costs more than the writev. */
  static final int MAX_JOINED = 4096;

  private @Nullable ByteBuf held;
  private @Nullable ChannelPromise heldPromise;

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof ByteBuf b && b.readableBytes() <= MAX_JOINED) {
      ByteBuf first = held;
      if (first == null) {
        held = b;
        heldPromise = promise;
        return;
      }
      if (first.readableBytes() + b.readableBytes() <= MAX_JOINED) {
        ChannelPromise earlier = heldPromise;
        held = null;
        heldPromise = null;
        ByteBuf joined;
        try {
          joined = join(ctx, first, b);
        } catch (RuntimeException | Error e) { // no memory for the joined buffer: both writes fail
          if (earlier != null) {
            earlier.tryFailure(e);
          }
          promise.tryFailure(e);
          return;
        }
        held = joined;
        heldPromise = both(earlier, promise);
        return;
      }
    }
    passHeld(ctx);
    ctx.write(msg, promise);
  }

  @Override
  public void flush(ChannelHandlerContext ctx) {
    passHeld(ctx);
    ctx.flush();
  }

  @Override
  public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
    passHeld(ctx);
    ctx.close(promise);
  }

  @Override
  public void disconnect(ChannelHandlerContext ctx, ChannelPromise promise) {
    passHeld(ctx);
    ctx.disconnect(promise);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    passHeld(ctx);
  }

  private void passHeld(ChannelHandlerContext ctx) {
    ByteBuf b = held;
    if (b != null) {
      ChannelPromise p = heldPromise;
      held = null;
      heldPromise = null;
      ctx.write(b, p == null ? ctx.voidPromise() : p);
    }
  }

  /**
   * A new buffer with {@code first}'s bytes then {@code second}'s; both are released. Never written
   * into {@code first} in place: the encoder merges into its header buffer itself whenever that has
   * the room, and a held buffer may be a body whose spare room is not this handler's to write.
   *
   * <p>Each source copies itself into the new buffer ({@code getBytes}), rather than the new buffer
   * reading it ({@code writeBytes}): the pooled buffer's {@code setBytes} asks its source for one
   * NIO buffer, and a composite (a binary response's JSON header and tensors) answers that with a
   * heap copy of all its bytes, an array as large as the body per response (~12 % of a binary fraud
   * request's bytes); a composite's {@code getBytes} copies component by component.
   */
  static ByteBuf join(ChannelHandlerContext ctx, ByteBuf first, ByteBuf second) {
    try {
      int a = first.readableBytes();
      int n = second.readableBytes();
      ByteBuf joined = ctx.alloc().ioBuffer(a + n);
      try {
        first.getBytes(first.readerIndex(), joined, a);
        second.getBytes(second.readerIndex(), joined, n);
      } catch (RuntimeException e) {
        joined.release(); // a source that cannot be read: the new buffer is nobody's
        throw e;
      }
      return joined;
    } finally {
      first.release();
      second.release();
    }
  }

  /** One promise for the joined write that completes both writers' promises. */
  private static ChannelPromise both(@Nullable ChannelPromise earlier, ChannelPromise later) {
    if (earlier == null || earlier.isVoid()) {
      return later;
    }
    if (later.isVoid()) {
      return earlier;
    }
    // one way: the joined write completes the earlier writer's promise, never the reverse
    later.addListener(new PromiseNotifier<>(false, earlier));
    return later;
  }
}
