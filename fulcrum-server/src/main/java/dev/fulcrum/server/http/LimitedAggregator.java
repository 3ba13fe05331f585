package dev.fulcrum.server.http;

import dev.fulcrum.server.security.AccessPolicy;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Netty's aggregator with a body limit whose 413 carries an OIP error body, and a {@link
 * BufferBudget} for the bytes it holds: instead of writing Netty's empty 413 itself, it passes a
 * {@link RefusedRequest} on to the dispatcher. The aggregator discards the rest of an oversized
 * body, so a keep-alive connection stays usable.
 *
 * <p>Memory: each body is copied, as it arrives, into buffers of its own sized to hold exactly what
 * it declared (blocks of at most {@value #BLOCK} bytes; a body of unknown length in blocks that
 * grow from 64 KiB, each as large as what came before, up to {@value #BLOCK}), and each read's
 * bytes are released at once. Netty's aggregator would instead keep every read's buffer (a slice
 * pins the whole read buffer and the pool chunk it was cut from, however few bytes it holds) and,
 * past 1024 of them, copy the body so far into one new buffer while still holding the old. So the
 * body's memory is the blocks' capacity, and that is what the budget counts.
 *
 * <p>Budget: a request reserves its declared {@code Content-Length} when its head arrives (a body
 * of unknown length reserves each block as it is allocated) and gives it back once aggregated or
 * dropped. A request the budget cannot hold is refused with 503 at once, the bytes it had are
 * released and the rest of its body is discarded unread into memory; the connection closes after
 * the 503.
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

  /** The largest buffer a body is copied into. */
  static final int BLOCK = 4 << 20;

  /** The first block of a body of unknown length. */
  private static final int FIRST_UNKNOWN_BLOCK = 64 << 10;

  /** Bytes reserved for the message being aggregated. */
  private long reserved;

  /** The declared length of the message being aggregated, -1 if unknown. */
  private long declared;

  /** Capacity of the blocks allocated for the message being aggregated (with its start's bytes). */
  private long allocated;

  /** The block being filled; null when none is (none yet, or the last one was passed on). */
  private @Nullable ByteBuf block;

  /** Whether a message is being aggregated (its bytes count against the budget). */
  private boolean tracking;

  /** Whether the rest of a refused message's body is being dropped. */
  private boolean dropping;

  /**
   * Whether the message being aggregated is on the OpenAI API's paths: a refusal of it is answered
   * in OpenAI's error shape.
   */
  private boolean openAi;

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
      openAi = m instanceof HttpRequest r && OpenAiHandler.isPath(r.uri());
      if (m.decoderResult().isFailure()) {
        // A head the codec refused (a Content-Length that is no number, say): Netty's aggregation
        // passes it on whole, at once, for the dispatcher's 400; its headers are not to be read.
        super.decode(ctx, msg, out);
        return;
      }
      DeniedRequest denied =
          m instanceof HttpRequest r ? DeniedRequest.check(access, r, limit) : null;
      if (denied != null) {
        dropping = !(m instanceof LastHttpContent);
        out.add(denied);
        return;
      }
      if (unknownExpectation(m)) {
        dropping = !(m instanceof LastHttpContent);
        out.add(RefusedRequest.expectationFailed(openAi));
        return;
      }
      long length = HttpUtil.getContentLength(m, -1L);
      long first = m instanceof ByteBufHolder b ? b.content().readableBytes() : 0;
      long want = length > limit ? first : Math.max(first, length);
      if (!budget.tryReserve(want)) {
        refuse(m, out);
        return;
      }
      reserved = want;
      declared = length > limit ? -1 : length;
      allocated = first;
      tracking = true;
    } else if (msg instanceof HttpContent c) {
      if (dropping) {
        dropping = !(msg instanceof LastHttpContent);
        return;
      }
      if (tracking && c.decoderResult().isSuccess()) {
        copy(ctx, c, out);
        return; // the decoder releases c
      }
      passBlock(ctx, out);
    }
    super.decode(ctx, msg, out);
  }

  /**
   * Whether the head carries an {@code Expect} other than {@code 100-continue}: refused with 417
   * here, in order and with {@code Connection: close}, rather than by Netty's aggregator, which
   * answered it at once, kept the connection and reset the HTTP decoder as if no body would follow:
   * a client that sent its body anyway had the body parsed as its next request (a 400, then a close
   * that lost the request after it).
   */
  private static boolean unknownExpectation(HttpMessage m) {
    String expect = m.headers().get(HttpHeaderNames.EXPECT);
    return expect != null
        && !HttpHeaderValues.CONTINUE.contentEqualsIgnoreCase(expect.strip())
        && m.protocolVersion().compareTo(HttpVersion.HTTP_1_1) >= 0;
  }

  /** Copies a chunk of the body into blocks, passing each full one on to the aggregation. */
  private void copy(ChannelHandlerContext ctx, HttpContent c, List<Object> out) throws Exception {
    ByteBuf in = c.content();
    while (in.isReadable()) {
      ByteBuf b = block;
      if (b == null) {
        int size = nextBlockSize();
        if (allocated + size > reserved) {
          if (!budget.tryReserve(allocated + size - reserved)) {
            releaseCurrentMessage();
            giveBack();
            dropping = !(c instanceof LastHttpContent);
            out.add(RefusedRequest.overBudget(openAi));
            return;
          }
          reserved = allocated + size;
        }
        b = ctx.alloc().directBuffer(size, size);
        block = b;
        allocated += size;
      }
      b.writeBytes(in, Math.min(in.readableBytes(), b.writableBytes()));
      if (!b.isWritable()) {
        passBlock(ctx, out);
        if (!tracking) {
          return; // the aggregation ended: the body grew past the limit
        }
      }
    }
    if (c instanceof LastHttpContent last) {
      ByteBuf rest = block;
      block = null;
      // The decoder's trailer table is taken over, not copied into a new one (which cost a header
      // table per request: 2 % of a fraud request's allocation).
      LastHttpContent end =
          new DefaultLastHttpContent(
              rest == null ? Unpooled.EMPTY_BUFFER : rest, last.trailingHeaders());
      offer(ctx, end, out);
    }
  }

  private int nextBlockSize() {
    if (declared > allocated) {
      return (int) Math.min(BLOCK, declared - allocated);
    }
    return (int) Math.min(BLOCK, Math.max(FIRST_UNKNOWN_BLOCK, allocated));
  }

  /** Passes the block being filled, if any, on to the aggregation (which keeps it). */
  private void passBlock(ChannelHandlerContext ctx, List<Object> out) throws Exception {
    ByteBuf b = block;
    if (b == null) {
      return;
    }
    block = null;
    offer(ctx, new DefaultHttpContent(b), out);
  }

  /**
   * Hands a block to Netty's aggregation, which keeps (retains) it, or ignores it when it is not
   * aggregating (a body it refused: over the limit, or after a failed {@code Expect}); then this
   * message's copying stops too, so an ignored body reserves nothing more.
   */
  private void offer(ChannelHandlerContext ctx, HttpContent part, List<Object> out)
      throws Exception {
    ByteBuf b = part.content();
    boolean copied = b.isReadable();
    try {
      super.decode(ctx, part, out);
      if (copied && b.refCnt() == 1 && tracking) {
        giveBack();
      }
    } finally {
      part.release();
    }
  }

  private void refuse(HttpMessage m, List<Object> out) {
    dropping = !(m instanceof LastHttpContent);
    out.add(RefusedRequest.overBudget(openAi));
  }

  private void giveBack() {
    budget.release(reserved);
    reserved = 0;
    allocated = 0;
    tracking = false;
    ByteBuf b = block;
    if (b != null) {
      block = null;
      b.release();
    }
  }

  @Override
  protected void finishAggregation(FullHttpMessage aggregated) throws Exception {
    giveBack();
    super.finishAggregation(aggregated);
  }

  /**
   * Netty's answer to an {@code Expect} header, with an OIP error body when it refuses: its own 413
   * (a declared body over the limit) and 417 (an expectation other than 100-continue) are empty.
   * Same status and headers (Connection: close included), so Netty's handling after it is as
   * before.
   */
  @Override
  protected @Nullable Object newContinueResponse(
      HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
    if (start.decoderResult().isFailure()) {
      return null; // no answer to its Expect: the dispatcher refuses it (Netty's read its length)
    }
    Object answer = super.newContinueResponse(start, maxContentLength, pipeline);
    if (!(answer instanceof FullHttpResponse netty)
        || netty.status().codeClass() != HttpStatusClass.CLIENT_ERROR) {
      return answer; // 100 Continue, or none
    }
    String message =
        netty.status().code() == HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE.code()
            ? RefusedRequest.oversizedMessage(limit)
            : RefusedRequest.EXPECTATION_FAILED; // refused at the head already (decode)
    Reply error = Responses.error(netty.status(), message);
    // Written by Netty, not the dispatcher: on the OpenAI API's paths, in its error shape here.
    boolean onOpenAi = start instanceof HttpRequest r && OpenAiHandler.isPath(r.uri());
    FullHttpResponse ours =
        (onOpenAi ? OpenAiHandler.shaped(error) : error).render(pipeline.channel().alloc());
    ours.headers().add(netty.headers()); // Connection: close where Netty closes after it
    HttpUtil.setContentLength(ours, ours.content().readableBytes());
    netty.release();
    return ours;
  }

  @Override
  protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
    giveBack();
    // As Netty does: once body bytes of an aggregated message were consumed (a full message, or a
    // chunked body that grew past the limit) the stream cannot be resynchronised cheaply: close.
    boolean close =
        oversized instanceof FullHttpMessage
            || (!HttpUtil.is100ContinueExpected(oversized) && !HttpUtil.isKeepAlive(oversized));
    ctx.fireChannelRead(
        RefusedRequest.oversized(
            close, limit, oversized instanceof HttpRequest r && OpenAiHandler.isPath(r.uri())));
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
