package dev.fulcrum.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;

/**
 * Keeps the socket unread while the dispatcher has turned {@code autoRead} off (too many pipelined
 * requests queued): Netty's aggregator asks for one more read whenever it holds part of a message,
 * which would otherwise let a client keep pushing pipelined requests into memory past the
 * backpressure. Turning {@code autoRead} back on reads again by itself.
 *
 * <p>Threads: one instance per connection, on its event loop.
 */
final class PausedReads extends ChannelOutboundHandlerAdapter {
  @Override
  public void read(ChannelHandlerContext ctx) {
    if (ctx.channel().config().isAutoRead()) {
      ctx.read();
    }
  }
}
