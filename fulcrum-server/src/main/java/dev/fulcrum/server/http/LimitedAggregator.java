package dev.fulcrum.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpUtil;

/**
 * Netty's aggregator with a body limit whose 413 carries an OIP error body: instead of writing
 * Netty's empty 413 itself, it passes an {@link OversizedRequest} on to the dispatcher. The
 * aggregator discards the rest of the oversized body, so a keep-alive connection stays usable.
 */
final class LimitedAggregator extends HttpObjectAggregator {
  private final int limit;

  LimitedAggregator(int limit) {
    super(limit);
    this.limit = limit;
  }

  @Override
  protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
    // As Netty does: once body bytes of an aggregated message were consumed (a full message, or a
    // chunked body that grew past the limit) the stream cannot be resynchronised cheaply: close.
    boolean close =
        oversized instanceof FullHttpMessage
            || (!HttpUtil.is100ContinueExpected(oversized) && !HttpUtil.isKeepAlive(oversized));
    ctx.fireChannelRead(new OversizedRequest(close, limit));
  }
}
