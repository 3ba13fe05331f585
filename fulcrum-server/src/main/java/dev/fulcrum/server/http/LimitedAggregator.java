package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tenant.Admission;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.server.HttpServerConfig.InvocationsModel;
import dev.fulcrum.server.security.AccessPolicy;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpRequest;
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
import java.util.concurrent.CancellationException;
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
 * <p>Tenants: an allowed inference request ({@code POST /v2/models/<m>[/versions/<v>]/infer},
 * {@code POST /v1/embeddings}) of a tenant with limits is admitted against its rate and concurrency
 * at its head too ({@link InferenceService#admitEarly}): one over them passes a {@link
 * RefusedRequest} on (429 with the limiter's retry hint) and its body is discarded, never buffered
 * or decoded; an admitted one reaches the dispatcher as an {@link AdmittedRequest}, its {@link
 * Admission} handed on with it, and ended here, once, where the request ends before it is
 * aggregated (its body over the limit or the budget, one that does not decode, the connection
 * closed).
 *
 * <p>Threads: one instance per connection or HTTP/2 stream, on its event loop.
 */
final class LimitedAggregator extends HttpObjectAggregator implements DeniedRequest.Allowed {
  private final int limit;
  private final BufferBudget budget;
  private final AccessPolicy access;

  /** Admits tenants' requests at their heads; null: nothing is (no tenant has limits). */
  private final @Nullable InferenceService tenants;

  /** The allowed head's route and tenant, told by the access check of the head being read. */
  private @Nullable Route headRoute;

  private @Nullable Tenant headTenant;

  /** The admission of the message being aggregated, until it is handed on or ended here. */
  private @Nullable Admission admission;

  /**
   * The model the {@code POST /invocations} being aggregated runs, as its head chose it for its
   * admission; carried on with the admission so that it is chosen once.
   */
  private @Nullable InvocationsModel headInvocations;

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
   * The target of the request being aggregated (null: none, or not a request): a refusal of it is
   * answered in its API's error shape ({@link #shape}, told from it only for a refusal).
   */
  private @Nullable String headUri;

  /** The error shape of the request being aggregated's API ({@link ErrorShape#of}). */
  private ErrorShape shape() {
    String uri = headUri;
    return uri == null ? ErrorShape.OIP : ErrorShape.of(uri);
  }

  private final @Nullable InvocationsTarget invocations;

  LimitedAggregator(int limit, BufferBudget budget, AccessPolicy access) {
    this(limit, budget, access, null);
  }

  /**
   * @param service admits tenants' requests at their heads when some tenant has limits (else it is
   *     not asked)
   */
  LimitedAggregator(
      int limit, BufferBudget budget, AccessPolicy access, @Nullable InferenceService service) {
    this(limit, budget, access, service, null);
  }

  /**
   * @param invocations picks the model of {@code POST /invocations}, which its path does not name,
   *     for a tenant's admission at the head (null: such a request is admitted under the model "")
   */
  LimitedAggregator(
      int limit,
      BufferBudget budget,
      AccessPolicy access,
      @Nullable InferenceService service,
      @Nullable InvocationsTarget invocations) {
    super(limit);
    this.invocations = invocations;
    this.limit = limit;
    this.budget = budget;
    this.access = access;
    this.tenants =
        service != null && access.tenants().stream().anyMatch(t -> t.limits().limited())
            ? service
            : null;
  }

  @Override
  public void allowed(Route route, Tenant tenant) {
    headRoute = route;
    headTenant = tenant;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, HttpObject msg, List<Object> out)
      throws Exception {
    aggregate(ctx, msg, out);
    Admission a = admission;
    if (a == null) {
      return;
    }
    // The aggregated request (this message's: one in, at most one out) carries its admission on,
    // and an /invocations its model as chosen at its head.
    for (int i = 0; i < out.size(); i++) {
      if (out.get(i) instanceof FullHttpRequest r) {
        admission = null;
        InvocationsModel chosen = headInvocations;
        headInvocations = null;
        out.set(i, new AdmittedRequest(r, a, chosen));
        return;
      }
    }
  }

  /**
   * Ends the admission of the message being aggregated, if it holds one, with {@code why}: the
   * request ended before it was aggregated.
   */
  private void abandon(Abandoned why) {
    if (admission != null) {
      endAdmission(why.failure());
    }
  }

  /**
   * Ends the admission of the message being aggregated, if it holds one, as failed with {@code
   * why}: the request ended (refused here, or abandoned) before it was aggregated.
   */
  private void endAdmission(Throwable why) {
    Admission a = admission;
    if (a != null) {
      admission = null;
      a.failed(why);
    }
  }

  /**
   * Admits the head of an allowed request against its tenant's limits where it is an inference
   * request of a tenant with limits ({@link #headRoute}, {@link #headTenant}).
   *
   * @return whether it was refused (its 429 passed on, its body to be dropped)
   */
  private boolean refusedByTenant(HttpMessage m, List<Object> out) {
    Route route = headRoute;
    Tenant tenant = headTenant;
    headRoute = null;
    headTenant = null;
    InferenceService service = tenants;
    if (service == null
        || route == null
        || tenant == null
        || !tenant.limits().limited()
        || !(m instanceof HttpRequest r)
        || !r.method().equals(route.endpoint().method)) {
      return false;
    }
    String model =
        switch (route.endpoint()) {
          case MODEL_INFER, TFS_PREDICT, SAGEMAKER_INVOKE -> route.model();
          // the model is in the body (OpenAI's, Ollama's) or chosen by the server (TEI's)
          case OPENAI_EMBEDDINGS, TEI_EMBED, TEI_SIMILARITY, OLLAMA_EMBED, OLLAMA_EMBEDDINGS -> "";
          case INVOCATIONS -> invocationsModel(r);
          default -> null;
        };
    if (model == null) {
      return false;
    }
    try {
      admission = service.admitEarly(tenant, model);
      return false;
    } catch (InferenceException over) {
      dropping = !(m instanceof LastHttpContent);
      out.add(
          RefusedRequest.overTenantLimit(over, !RefusedRequest.keepsConnection(r, limit), shape()));
      return true;
    }
  }

  /** The model an {@code /invocations} request runs, or "" where none can be told yet. */
  private String invocationsModel(HttpRequest r) {
    InvocationsTarget target = invocations;
    if (target == null) {
      return "";
    }
    try {
      InvocationsModel chosen = target.of(r.headers());
      headInvocations = chosen; // carried on: the dispatcher runs this one
      return chosen.name();
    } catch (InferenceException e) {
      return ""; // answered by the dispatcher
    }
  }

  private void aggregate(ChannelHandlerContext ctx, HttpObject msg, List<Object> out)
      throws Exception {
    if (msg instanceof HttpMessage m) {
      giveBack();
      abandon(Abandoned.NOT_READ);
      dropping = false;
      headRoute = null; // told again by this head's access check, if it names a tenant
      headTenant = null;
      headInvocations = null;
      headUri = m instanceof HttpRequest r ? r.uri() : null;
      if (m.decoderResult().isFailure()) {
        // A head the codec refused (a Content-Length that is no number, say): Netty's aggregation
        // passes it on whole, at once, for the dispatcher's 400; its headers are not to be read.
        super.decode(ctx, msg, out);
        return;
      }
      DeniedRequest denied =
          m instanceof HttpRequest r
              ? DeniedRequest.check(access, r, limit, tenants == null ? null : this)
              : null;
      if (denied != null) {
        dropping = !(m instanceof LastHttpContent);
        out.add(denied);
        return;
      }
      if (unknownExpectation(m)) {
        dropping = !(m instanceof LastHttpContent);
        out.add(RefusedRequest.expectationFailed(shape()));
        return;
      }
      if (headTenant != null && refusedByTenant(m, out)) {
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
            abandon(Abandoned.OVER_BUDGET);
            dropping = !(c instanceof LastHttpContent);
            out.add(RefusedRequest.overBudget(shape()));
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
    abandon(Abandoned.OVER_BUDGET);
    dropping = !(m instanceof LastHttpContent);
    out.add(RefusedRequest.overBudget(shape()));
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
    // Netty refuses the body here and passes nothing on (no handleOversizedMessage): a tenant's
    // place taken at this head is given back now, not when the connection's next head arrives.
    endAdmission(new InferenceException(ErrorCode.TOO_LARGE, message));
    Reply error = Responses.error(netty.status(), message);
    // Written by Netty, not the dispatcher: on the OpenAI API's and MLflow's paths, in their error
    // shape here.
    ErrorShape of = start instanceof HttpRequest r ? ErrorShape.of(r.uri()) : ErrorShape.OIP;
    FullHttpResponse ours = of.shaped(error).render(pipeline.channel().alloc());
    ours.headers().add(netty.headers()); // Connection: close where Netty closes after it
    HttpUtil.setContentLength(ours, ours.content().readableBytes());
    netty.release();
    return ours;
  }

  @Override
  protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
    giveBack();
    endAdmission(
        new InferenceException(ErrorCode.TOO_LARGE, RefusedRequest.oversizedMessage(limit)));
    // As Netty does: once body bytes of an aggregated message were consumed (a full message, or a
    // chunked body that grew past the limit) the stream cannot be resynchronised cheaply: close.
    boolean close =
        oversized instanceof FullHttpMessage
            || (!HttpUtil.is100ContinueExpected(oversized) && !HttpUtil.isKeepAlive(oversized));
    ctx.fireChannelRead(
        RefusedRequest.oversized(
            close,
            limit,
            oversized instanceof HttpRequest r ? ErrorShape.of(r.uri()) : ErrorShape.OIP));
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    try {
      super.channelInactive(ctx);
    } finally {
      giveBack();
      abandon(Abandoned.CLIENT_GONE);
    }
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) throws Exception {
    try {
      super.handlerRemoved(ctx);
    } finally {
      giveBack();
      abandon(Abandoned.CLIENT_GONE);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
    if (cause instanceof DecoderException) {
      // A body that does not decompress: the dispatcher answers 400 and closes.
      endAdmission(InferenceException.invalid("the request body cannot be decoded"));
    }
    super.exceptionCaught(ctx, cause);
  }

  /**
   * Why an admitted request that was never aggregated ended (the failures are made only on these
   * rare paths): the connection closed, or its body was not read (CLIENT_ERROR); the buffered-bytes
   * budget was spent (REFUSED).
   */
  private enum Abandoned {
    CLIENT_GONE,
    NOT_READ,
    OVER_BUDGET;

    Throwable failure() {
      return switch (this) {
        case CLIENT_GONE ->
            new CancellationException("the connection closed before the request's body arrived");
        case NOT_READ -> new CancellationException("the request's body was not read");
        case OVER_BUDGET ->
            InferenceException.unavailable("the server is holding too many request bodies");
      };
    }
  }
}
