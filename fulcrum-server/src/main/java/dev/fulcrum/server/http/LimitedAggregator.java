package dev.fulcrum.server.http;

import dev.fulcrum.server.security.AccessPolicy;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.List;

/**
 * Netty's aggregator with a body limit whose 413 carries an OIP error body, and a {@link
 * BufferBudget} for the bytes it holds: instead of writing Netty's empty 413 itself, it passes a
 * {@link RefusedRequest} on to the dispatcher. The aggregator discards the rest of an oversized
 * body, so a keep-alive connection stays usable.
 *
 * <p>Budget: a request reserves its declared {@code Content-Length} when its head arrives (a body
 * of unknown length reserves as it arrives) and gives it back once aggregated or dropped. A request
 * the budget cannot hold is refused with 503 at once, the bytes it had are released and the rest of
 * its body is discarded unread into memory; the connection closes after the 503.
 *
 * <p>Access: a request head is first checked against the {@link AccessPolicy} (the scope of the
 * endpoint its path names, the {@code Authorization} header); a refused one passes a {@link
 * DeniedRequest} on (401 or 403) and its body is discarded, never buffered, so a client without a
 * token cannot make the server hold bodies. (A request that arrives whole, such as an HTTP/2
 * HEADERS frame that ends its stream, passes an aggregator untouched: the dispatcher checks every
 * request again.)
 *
 * <p>Threads: one instance per connection or HTTP/2 stream, on its event loop.
 */
final class LimitedAggregator extends HttpObjectAggregator {
  private final int limit;
  private final BufferBudget budget;
  private final AccessPolicy access;

  /** Bytes reserved for the message being aggregated. */
  private long reserved;

  /** Body bytes of the message being aggregated so far. */
  private long received;

  /** Whether a message is being aggregated (its bytes count against the budget). */
  private boolean tracking;

  /** Whether the rest of a refused message's body is being dropped. */
  private boolean dropping;

  LimitedAggregator(int limit, BufferBudget budget, AccessPolicy access) {
    super(limit);
    this.limit = limit;
    this.budget = budget;
    this.access = access;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, HttpObject msg, List<Object> out)
      throws Exception {
    if (msg instanceof HttpMessage m) {
      giveBack();
      dropping = false;
      DeniedRequest denied = m instanceof HttpRequest r ? DeniedRequest.check(access, r) : null;
      if (denied != null) {
        dropping = !(m instanceof LastHttpContent);
        out.add(denied);
        return;
      }
      long declared = HttpUtil.getContentLength(m, -1L);
      long first = m instanceof ByteBufHolder b ? b.content().readableBytes() : 0;
      long want = declared > limit ? first : Math.max(first, declared);
      if (!budget.tryReserve(want)) {
        refuse(m, out);
        return;
      }
      reserved = want;
      received = first;
      tracking = true;
    } else if (msg instanceof HttpContent c) {
      if (dropping) {
        dropping = !(msg instanceof LastHttpContent);
        return;
      }
      if (tracking) {
        received += c.content().readableBytes();
        if (received > reserved) {
          if (!budget.tryReserve(received - reserved)) {
            releaseCurrentMessage();
            giveBack();
            dropping = !(msg instanceof LastHttpContent);
            out.add(RefusedRequest.overBudget());
            return;
          }
          reserved = received;
        }
      }
    }
    super.decode(ctx, msg, out);
  }

  private void refuse(HttpMessage m, List<Object> out) {
    dropping = !(m instanceof LastHttpContent);
    out.add(RefusedRequest.overBudget());
  }

  private void giveBack() {
    budget.release(reserved);
    reserved = 0;
    received = 0;
    tracking = false;
  }

  @Override
  protected void finishAggregation(FullHttpMessage aggregated) throws Exception {
    giveBack();
    super.finishAggregation(aggregated);
  }

  @Override
  protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
    giveBack();
    // As Netty does: once body bytes of an aggregated message were consumed (a full message, or a
    // chunked body that grew past the limit) the stream cannot be resynchronised cheaply: close.
    boolean close =
        oversized instanceof FullHttpMessage
            || (!HttpUtil.is100ContinueExpected(oversized) && !HttpUtil.isKeepAlive(oversized));
    ctx.fireChannelRead(RefusedRequest.oversized(close, limit));
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    try {
      super.channelInactive(ctx);
    } finally {
      giveBack();
    }
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) throws Exception {
    try {
      super.handlerRemoved(ctx);
    } finally {
      giveBack();
    }
  }
}
