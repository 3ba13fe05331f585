package dev.fulcrum.server.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.concurrent.RejectedExecutionException;

/**
 * Decides when the socket is read again after a read loop, for two reasons:
 *
 * <ul>
 *   <li><b>Backpressure.</b> While the dispatcher has turned {@code autoRead} off (too many
 *       pipelined requests queued) the socket stays unread: Netty's aggregator asks for one more
 *       read whenever it holds part of a message, which would otherwise let a client keep pushing
 *       pipelined requests into memory past the backpressure. Turning {@code autoRead} back on
 *       reads again by itself.
 *   <li><b>Fairness to the loop's tasks.</b> While a request's body is still arriving, the next
 *       read is asked for from a task on the loop rather than at once, so the loop runs its queued
 *       tasks (other connections' answers, timeouts) before it reads more of a large body. With
 *       io_uring this is what bounds a loop flooded with bodies: Netty's {@code
 *       IoUringIoHandler.run} reaps and re-arms reads for as long as completions keep coming (up to
 *       128 rounds, each with a read loop per connection) before it returns to its tasks; with
 *       epoll, whose read interest stays armed while {@code autoRead} is on, it changes nothing but
 *       one task per read loop of a body. A request whose body came in one read is never deferred.
 * </ul>
 *
 * <p>Threads: one instance per connection, on its event loop.
 */
final class PausedReads extends ChannelDuplexHandler {
  /** Inside a request whose last content has not arrived yet. */
  private boolean inBody;

  /** A read is waiting in the loop's task queue. */
  private boolean readQueued;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof LastHttpContent) {
      inBody = false;
    } else if (msg instanceof HttpRequest || msg instanceof HttpContent) {
      inBody = true;
    }
    ctx.fireChannelRead(msg);
  }

  @Override
  public void read(ChannelHandlerContext ctx) {
    if (!ctx.channel().config().isAutoRead()) {
      return;
    }
    if (!inBody) {
      ctx.read();
      return;
    }
    if (!readQueued) {
      readQueued = true;
      try {
        ctx.executor()
            .execute(
                () -> {
                  readQueued = false;
                  if (ctx.channel().isActive() && ctx.channel().config().isAutoRead()) {
                    ctx.read();
                  }
                });
      } catch (RejectedExecutionException e) {
        readQueued = false; // the loop is shutting down: nothing more is read
      }
    }
  }
}
