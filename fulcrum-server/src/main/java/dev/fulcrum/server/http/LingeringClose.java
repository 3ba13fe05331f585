package dev.fulcrum.server.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends an HTTP/1.1 connection after its last answer the way RFC 9112 §9.6 asks of a server that
 * closes while the client may still be sending: it half-closes (the client reads the answer and
 * then the end of the stream), reads and discards what still arrives, and closes when the client
 * closes its side, after {@link #QUIET} without a byte, or after {@link #LIMIT} in all.
 *
 * <p>Why: a socket closed with unread bytes in its receive buffer, or receiving bytes after the
 * close, answers with a TCP reset, and a reset that reaches the client before it has read the
 * answer destroys the answer in the client's kernel. That is the common case for an answer given at
 * the request's head (413 for a declared body over the limit, 400 for a framing the server refuses,
 * a 503 when the buffer budget is spent) while the client is still writing the body: the client saw
 * "connection reset" instead of the reason. Apache httpd and nginx close the same way ("lingering
 * close").
 *
 * <p>Cleartext only: on TLS the connection is closed at once, as before (a half-close below TLS
 * would skip its close_notify). Threads: everything runs on the channel's event loop.
 */
public final class LingeringClose extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(LingeringClose.class);

  /** How long the client may go without sending before the connection is closed. */
  static final Duration QUIET = Duration.ofSeconds(1);

  /** How long a connection lingers at most, however steadily the client sends. */
  static final Duration LIMIT = Duration.ofSeconds(5);

  private final long started = System.nanoTime();
  private long lastRead = started;
  private long discarded;
  private @Nullable ScheduledFuture<?> timer;

  private LingeringClose() {}

  /**
   * Ends {@code channel}, whose last answer has been written: lingering where it is a cleartext
   * socket still open for reading, closing it at once otherwise.
   */
  public static void close(Channel channel) {
    if (!(channel instanceof DuplexChannel socket)
        || !channel.isActive()
        || socket.isInputShutdown()
        || channel.pipeline().get(SslHandler.class) != null) {
      channel.close();
      return;
    }
    channel.pipeline().addFirst("lingering-close", new LingeringClose());
    socket
        .shutdownOutput()
        .addListener(
            f -> {
              if (!f.isSuccess()) {
                channel.close();
              }
            });
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    // Reading may have been suspended (backpressure, a refused body): the bytes must be taken now.
    ctx.channel().config().setAutoRead(true);
    ctx.read();
    schedule(ctx, QUIET.toNanos());
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    discarded += msg instanceof io.netty.buffer.ByteBuf b ? b.readableBytes() : 0;
    ReferenceCountUtil.release(msg); // nothing after the answer is read: not the handlers' to see
    lastRead = System.nanoTime();
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    // Swallowed: the handlers behind this one are done with the connection.
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    ReferenceCountUtil.release(evt); // the client's half-close closes the channel by itself
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("closing lingering connection {}: {}", ctx.channel(), cause.toString());
    ctx.close();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (timer != null) {
      timer.cancel(false);
    }
    ctx.fireChannelInactive();
  }

  private void schedule(ChannelHandlerContext ctx, long delayNanos) {
    timer = ctx.executor().schedule(() -> check(ctx), delayNanos, TimeUnit.NANOSECONDS);
  }

  private void check(ChannelHandlerContext ctx) {
    long now = System.nanoTime();
    long quietLeft = QUIET.toNanos() - (now - lastRead);
    long limitLeft = LIMIT.toNanos() - (now - started);
    if (quietLeft <= 0 || limitLeft <= 0) {
      log.debug(
          "closing {} after lingering {} ms ({} bytes discarded)",
          ctx.channel(),
          TimeUnit.NANOSECONDS.toMillis(now - started),
          discarded);
      ctx.close();
    } else {
      schedule(ctx, Math.min(quietLeft, limitLeft));
    }
  }
}
