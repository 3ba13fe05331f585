package dev.fulcrum.server.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.CleartextHttp2ServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes a connection, or resets an HTTP/2 stream, whose client is too slow: a request head (or the
 * HTTP/2 preface) that takes longer than the header timeout, a body that stalls longer than the
 * body timeout, a connection with nothing in progress for longer than the idle timeout, an HTTP/1.1
 * client that takes none of its response bytes for longer than the body timeout. Sits right after
 * the HTTP codec, where it sees each request's head, body chunks and the response written.
 *
 * <p>Phases: a new connection waits for its first request head (header timeout, counted from the
 * kernel's completion of the handshake where the transport tells it, {@link AcceptQueueWait}, so a
 * burst's wait in the accept queue is the client's time; at least 1 s is left after the accept); a
 * head with a body starts the body phase (body timeout, restarted by each chunk); a complete
 * request waits for its response (no timeout: the server is working, not the client); a connection
 * with every response written is idle (idle timeout) until the next head. An HTTP/2 connection is
 * idle while it has no open stream, from its last stream's close; each stream has its own instance
 * for its body. Time spent with reading suspended by backpressure never counts against the client.
 * An idle HTTP/2 connection is closed through its whole pipeline, so that its codec sends GOAWAY
 * first (RFC 9113 6.8): the client learns that nothing of its was dropped and opens a new one.
 *
 * <p>Threads: one instance per connection or stream; everything, the timer included, runs on its
 * event loop. One timer at a time: when it fires it re-reads the phase and either closes or
 * schedules itself for the rest of the phase's time, as Netty's {@code IdleStateHandler} does.
 */
public final class RequestTimeouts extends ChannelDuplexHandler {
  private static final Logger log = LoggerFactory.getLogger(RequestTimeouts.class);

  /**
   * The user event that tells a TLS connection's timeouts that ALPN chose h2 ({@link TlsStart}): a
   * cleartext connection's is Netty's upgrade event, which TLS has none of.
   */
  static final Object HTTP2_BY_ALPN =
      new Object() {
        @Override
        public String toString() {
          return "HTTP2_BY_ALPN";
        }
      };

  private enum Phase {
    HEAD,
    BODY,
    WAITING,
    IDLE,
    HTTP2
  }

  private final long headerNanos;
  private final long idleNanos;
  private final long bodyNanos;

  @SuppressWarnings("NullAway.Init") // set in handlerAdded, before any other call
  private ChannelHandlerContext ctx;

  private Phase phase = Phase.HEAD;

  /** When the phase began, or the last body chunk arrived. */
  private long since;

  /** Requests whose head arrived and whose response is not written yet. */
  private int pending;

  private @Nullable ScheduledFuture<?> timer;
  private long timerDue;

  /** HTTP/1.1 responses handed to the socket whose write has not completed. */
  private int writing;

  /** When a response write last completed or its unwritten bytes last shrank. */
  private long writeProgressAt;

  /** The connection's unwritten bytes at the last check. */
  private long unwrittenBytes;

  /** When the first head's time began, if the caller knows ({@link #hasHeadStart}). */
  private final long headStart;

  private final boolean hasHeadStart;

  /** The HTTP/2 connection, once the connection speaks HTTP/2 and its codec is found. */
  private @Nullable Http2Connection http2;

  /**
   * @param headerTimeout the longest a request head may take, from the connection's start
   * @param idleTimeout the longest a connection may have nothing in progress
   * @param bodyTimeout the longest a request body may stall
   */
  public RequestTimeouts(Duration headerTimeout, Duration idleTimeout, Duration bodyTimeout) {
    this(headerTimeout, idleTimeout, bodyTimeout, 0, false);
  }

  private RequestTimeouts(
      Duration headerTimeout,
      Duration idleTimeout,
      Duration bodyTimeout,
      long headStart,
      boolean hasHeadStart) {
    this.headerNanos = headerTimeout.toNanos();
    this.idleNanos = idleTimeout.toNanos();
    this.bodyNanos = bodyTimeout.toNanos();
    this.headStart = headStart;
    this.hasHeadStart = hasHeadStart;
  }

  /**
   * As the constructor, for a connection whose first head's time began at {@code headStart} (a
   * {@link System#nanoTime}): one that {@link SilentConnections} watched until its first bytes.
   */
  static RequestTimeouts headStartedAt(
      long headStart, Duration headerTimeout, Duration idleTimeout, Duration bodyTimeout) {
    return new RequestTimeouts(headerTimeout, idleTimeout, bodyTimeout, headStart, true);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    if (ctx.channel().isActive()) {
      start();
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    start();
    super.channelActive(ctx);
  }

  private void start() {
    if (timer == null) {
      phase = Phase.HEAD;
      long now = System.nanoTime();
      // The head's time counts from the kernel's completion of the handshake, not from the accept:
      // in a burst a connection waits in the full accept queue, on the client's clock. At least
      // the floor is left after the accept, so a head already in the socket's buffer is read. One
      // timer, scheduled once: a fresh JVM's loops pay for each in a connection flood.
      since =
          hasHeadStart
              ? headStart
              : now - queuedCounted(AcceptQueueWait.nanos(ctx.channel()), headerNanos);
      schedule(headerNanos - (now - since));
    }
  }

  /**
   * The part of a connection's wait in the accept queue that counts against its header timeout: all
   * of it, except that at least 1 s (or half a shorter timeout) is left after the accept.
   */
  static long queuedCounted(long queuedNanos, long headerNanos) {
    long floor = Math.min(TimeUnit.SECONDS.toNanos(1), headerNanos / 2);
    return Math.max(0, Math.min(queuedNanos, headerNanos - floor));
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    cancel();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    cancel();
    super.channelInactive(ctx);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    if (phase != Phase.HTTP2) {
      if (msg instanceof HttpMessage) {
        if (phase == Phase.HEAD) {
          Channel c = ctx.channel();
          ConnectionLimit.started(c instanceof Http2StreamChannel s ? s.parent() : c);
        }
        pending++;
        enter(msg instanceof LastHttpContent ? Phase.WAITING : Phase.BODY);
      } else if (msg instanceof HttpContent && phase == Phase.BODY) {
        if (msg instanceof LastHttpContent) {
          enter(Phase.WAITING);
        } else {
          since = System.nanoTime();
        }
      }
    }
    super.channelRead(ctx, msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise)
      throws Exception {
    boolean informational =
        msg instanceof HttpResponse r && r.status().codeClass() == HttpStatusClass.INFORMATIONAL;
    if (msg instanceof LastHttpContent && !informational && phase != Phase.HTTP2) {
      if (writing++ == 0) {
        writeProgressAt = System.nanoTime();
      }
      promise = promise.unvoid();
      promise.addListener(f -> responseWritten());
    }
    super.write(ctx, msg, promise);
  }

  private void responseWritten() {
    writing--;
    writeProgressAt = System.nanoTime();
    pending = Math.max(0, pending - 1);
    if (pending == 0 && phase == Phase.WAITING) {
      enter(Phase.IDLE);
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt == HTTP2_BY_ALPN) {
      http2Started();
      return; // this handler's own event
    }
    if (evt instanceof CleartextHttp2ServerUpgradeHandler.PriorKnowledgeUpgradeEvent
        || evt instanceof HttpServerUpgradeHandler.UpgradeEvent) {
      http2Started();
    }
    super.userEventTriggered(ctx, evt);
  }

  /**
   * From here the connection is HTTP/2: idle while no stream is open, counted from the close of the
   * last one. Each close restarts the count (the codec's listener, on this event loop); a check
   * that finds a stream open restarts it too. Before, only the check's look saw activity, so a
   * client sending a request every half second was closed as idle one idle timeout after its
   * connection's start, its next request failing on the closed socket.
   */
  private void http2Started() {
    ConnectionLimit.started(ctx.channel());
    Http2FrameCodec codec = ctx.pipeline().get(Http2FrameCodec.class);
    if (codec != null && http2 == null) {
      http2 = codec.connection();
      http2.addListener(
          new Http2ConnectionAdapter() {
            @Override
            public void onStreamClosed(Http2Stream stream) {
              since = System.nanoTime();
            }
          });
    }
    enter(Phase.HTTP2);
  }

  private void enter(Phase next) {
    phase = next;
    since = System.nanoTime();
    long limit = limitOf(next);
    if (limit > 0 && (timer == null || since + limit < timerDue)) {
      schedule(limit);
    } else if (timer == null) {
      schedule(headerNanos);
    }
  }

  private long limitOf(Phase p) {
    return switch (p) {
      case HEAD -> headerNanos;
      case BODY -> bodyNanos;
      case IDLE, HTTP2 -> idleNanos;
      case WAITING -> -1;
    };
  }

  private void schedule(long delayNanos) {
    cancel();
    delayNanos = Math.max(0, delayNanos);
    timerDue = System.nanoTime() + delayNanos;
    timer = ctx.executor().schedule(this::check, delayNanos, TimeUnit.NANOSECONDS);
  }

  private void cancel() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  private void check() {
    timer = null;
    if (!ctx.channel().isActive()) {
      return;
    }
    long now = System.nanoTime();
    if (writeStalled(now)) {
      log.debug(
          "closing {}: the client stopped reading responses for {} ms",
          ctx.channel(),
          TimeUnit.NANOSECONDS.toMillis(bodyNanos));
      ctx.close();
      return;
    }
    if (!ctx.channel().config().isAutoRead()
        || (phase == Phase.HTTP2 && hasOpenStreams())
        || phase == Phase.WAITING) {
      since = now; // not the client's time: reading is suspended, or the server is working
    }
    long limit = limitOf(phase);
    if (limit < 0) {
      schedule(headerNanos);
    } else if (now - since >= limit) {
      log.debug(
          "closing {}: {} timeout after {} ms ({} ms after it was due)",
          ctx.channel(),
          phase.name().toLowerCase(Locale.ROOT),
          TimeUnit.NANOSECONDS.toMillis(limit),
          TimeUnit.NANOSECONDS.toMillis(now - since - limit));
      if (phase == Phase.HEAD) {
        ConnectionLimit.reset(ctx.channel()); // no head, nothing to answer: RST, no TIME_WAIT
      } else if (phase == Phase.HTTP2) {
        // From the pipeline's tail, through the HTTP/2 codec (after this handler on a cleartext
        // connection with prior knowledge and on TLS): GOAWAY (NO_ERROR), then the close.
        // ctx.close() went around it, and the client's next request met a closed socket.
        ctx.channel().close();
      } else {
        ctx.close();
      }
    } else {
      schedule(limit - (now - since));
    }
  }

  /**
   * Whether response bytes have waited for the client to read them, with none taken, for the body
   * timeout. HTTP/1.1 only: an HTTP/2 stream's writes wait on the client's flow-control window.
   */
  private boolean writeStalled(long now) {
    if (writing == 0 || ctx.channel() instanceof Http2StreamChannel) {
      return false;
    }
    ChannelOutboundBuffer out = ctx.channel().unsafe().outboundBuffer();
    long unwritten = out == null ? 0 : out.totalPendingWriteBytes();
    if (unwritten < unwrittenBytes) {
      writeProgressAt = now;
    }
    unwrittenBytes = unwritten;
    return now - writeProgressAt >= bodyNanos;
  }

  private boolean hasOpenStreams() {
    Http2Connection c = http2;
    if (c == null) { // the codec was not in the pipeline yet when the switch was announced
      Http2FrameCodec codec = ctx.pipeline().get(Http2FrameCodec.class);
      c = codec == null ? null : codec.connection();
    }
    return c != null && c.numActiveStreams() > 0;
  }
}
