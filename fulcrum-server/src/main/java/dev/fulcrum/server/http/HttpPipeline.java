package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.tensor.TensorBuffers;
import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.RequestFailureLog;
import dev.fulcrum.server.SlowRequestLog;
import dev.fulcrum.server.dashboard.DashboardFeed;
import dev.fulcrum.server.logging.FixedLogControl;
import dev.fulcrum.server.logging.LogControl;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import dev.fulcrum.server.tracing.Tracing;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http2.CleartextHttp2ServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.ssl.SslContext;
import io.netty.util.AsciiString;
import io.netty.util.AttributeKey;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;

/**
 * The handlers of one connection on the REST port, which speaks HTTP/1.1 and HTTP/2 cleartext
 * (h2c), all on the connection's event loop.
 *
 * <p>Until its first line ends a cleartext connection has only the cap's byte counter and one
 * shared handler ({@code ConnectionStart}), which holds the line's bytes ({@link FirstLine}); its
 * header timeout is kept by its event loop's sweep ({@link SilentConnections}), not a timer of its
 * own. The read that ends its first line adds the protocol handlers and {@link RequestTimeouts}, so
 * a connection evicted or timed out silent, or trickling its request line, never builds them. They
 * start with {@code CleartextHttp2ServerUpgradeHandler}: a client that opens with the HTTP/2
 * preface (prior knowledge) gets the HTTP/2 handlers at once; otherwise the bytes go to {@code
 * HttpServerCodec} and {@code HttpServerUpgradeHandler}, which switches to HTTP/2 on an {@code
 * Upgrade: h2c} request (answered on stream 1). The first request that is not an upgrade commits
 * the connection to HTTP/1.1 ({@link Http1Start}): {@code HttpServerCodec} (bytes to HTTP objects
 * and back; {@link OneBufferResponses} ahead of it joins each response's buffers into one), {@code
 * KnownCodings} (undoes {@code Content-Encoding: gzip/deflate}, refuses other codings), {@link
 * LimitedAggregator} (one {@code FullHttpRequest} per request, at most {@code maxInputSize} bytes
 * decompressed, 413 beyond), and {@link HttpDispatcher} (routing, ordering, keep-alive). On HTTP/2,
 * {@code Http2FrameCodec} and {@code Http2MultiplexHandler} give each stream a child channel with
 * the same handlers behind {@code Http2StreamFrameToHttpObjectCodec} ({@link Http2StreamPipeline}).
 *
 * <p>With TLS ({@link dev.fulcrum.server.security.Tls}) the connection starts with Netty's {@code
 * SslHandler} instead, and ALPN picks the protocol ({@link TlsStart}): h2 gets the HTTP/2 handlers
 * as above, http/1.1 (or a client that offers no ALPN) gets {@code HttpServerCodec}; there is no
 * h2c upgrade over TLS.
 *
 * <p>Limits ({@link HttpServerConfig.Limits}): at the cap, a connection that has not sent its first
 * request head and is slowest about it (fewest bytes a second, never one younger than 100 ms) is
 * closed to make room, else the new one is closed as soon as it is accepted ({@link
 * ConnectionLimit}), with a reset, as is a connection past its header timeout ({@link
 * ConnectionLimit#reset}); {@link RequestTimeouts} follows the connection (and each HTTP/2 stream)
 * right after the HTTP codec; every aggregator draws on one server-wide {@link BufferBudget}
 * through its connection's share of it.
 *
 * <p>Threads: one instance for the port; its handlers run on each connection's event loop, and the
 * connection count, sweeps and budget it shares are thread-safe.
 */
public final class HttpPipeline {
  /**
   * The HTTP/2 header list limit: the 8 KiB that {@code HttpServerCodec} allows HTTP/1.1; the gRPC
   * port's request metadata limit too.
   */
  public static final int MAX_HEADER_LIST_SIZE = 8192;

  /**
   * Requests the HTTP/1.1 decoder may have decoded and not yet answered. The dispatcher stops
   * reading beyond 16 queued, but the bytes of one read already taken (up to 64 KiB, thousands of
   * minimal requests) are still decoded: Netty's default of 128 would reset such a connection.
   */
  static final int MAX_PIPELINE_DEPTH = 8192;

  private static final String HTTP1_START = "http1-start";

  /** Debug: where a real connection's time went (accept queue, registration, first read). */
  private static final org.slf4j.Logger SPLIT =
      LoggerFactory.getLogger("dev.fulcrum.server.http.ConnectionSplit");

  private static final AttributeKey<SilentConnections.Silent> SILENT =
      AttributeKey.valueOf(HttpPipeline.class, "silent");

  private final InferenceService service;
  private final int maxInputSize;
  private final HttpServerConfig.Limits limits;
  private final String version;
  private final RequestFailureLog failures =
      new RequestFailureLog(LoggerFactory.getLogger(HttpDispatcher.class));
  private final ConnectionLimit connections;
  private final BufferBudget budget;
  private final AccessPolicy access;
  private final @Nullable SslContext tls;
  private final @Nullable DashboardHandler dashboard;

  /** The model {@code POST /invocations} runs, chosen per request (stateless, shared). */
  private final InvocationsTarget invocations;

  /** The text pipeline TEI's routes run ({@code --embeddings-model}); "" for the only one. */
  private final String embeddingsModel;

  private final @Nullable Tracing tracing;

  /** The port's JSON input buffers: small tensors of every connection share slabs. */
  private final TensorBuffers tensorBuffers = TensorBuffers.shared();

  private final AnswerLoops answerLoops = new AnswerLoops();

  /**
   * The slow-request log, or null: set before the port is bound ({@link #slowRequests}), read by
   * the event loops after (the bind publishes it).
   */
  private @Nullable SlowRequestLog slowRequests;

  /**
   * The server's shared memory regions: set before the port is bound ({@link #sharedMemory}), read
   * by the event loops after; by default a registry that refuses registration (Triton's default).
   */
  private SharedMemoryRegistry sharedMemory = SharedMemoryRegistry.devShm(false);

  /** The log settings {@code v2/logging} reads and changes ({@link #logging}). */
  private LogControl logControl = FixedLogControl.INSTANCE;

  private final ConnectionStart start = new ConnectionStart();
  private final SilentConnections silent;
  private final @Nullable ChannelGroup tracked;
  private final ChannelInitializer<SocketChannel> tlsStart =
      new ChannelInitializer<>() {
        @Override
        protected void initChannel(SocketChannel ch) {
          initTls(ch);
        }
      };

  /**
   * @param service the core every request goes to
   * @param config the body size limit and {@link HttpServerConfig.Limits} of every connection
   * @param version the server version reported by {@code GET v2}
   */
  public HttpPipeline(InferenceService service, HttpServerConfig config, String version) {
    this(service, config, version, null);
  }

  /**
   * @param dashboard serves {@code /dashboard} and its event stream from this feed; null: off (404)
   */
  public HttpPipeline(
      InferenceService service,
      HttpServerConfig config,
      String version,
      @Nullable DashboardFeed dashboard) {
    this(service, config, version, dashboard, null);
  }

  /**
   * @param serverWide the budget this port shares with the server's other ports (the gRPC port);
   *     null: the port's own, of {@link HttpServerConfig.Limits#maxBufferedBytes()}
   */
  public HttpPipeline(
      InferenceService service,
      HttpServerConfig config,
      String version,
      @Nullable DashboardFeed dashboard,
      @Nullable BufferBudget serverWide) {
    this(service, config, version, dashboard, serverWide, null);
  }

  /**
   * @param tracked where each connection is added once it has sent its first bytes (a TLS
   *     connection at once), so that the server's close can end it through its pipeline; a
   *     connection closed silent never joins it (the event loops' shutdown closes those); null:
   *     none
   */
  public HttpPipeline(
      InferenceService service,
      HttpServerConfig config,
      String version,
      @Nullable DashboardFeed dashboard,
      @Nullable BufferBudget serverWide,
      @Nullable ChannelGroup tracked) {
    this(service, config, version, dashboard, serverWide, tracked, null);
  }

  /**
   * @param tracing traces inference requests and serves {@code v2[/models/<m>]/trace/setting};
   *     null: tracing off (no trace header is read; the settings report OFF)
   */
  public HttpPipeline(
      InferenceService service,
      HttpServerConfig config,
      String version,
      @Nullable DashboardFeed dashboard,
      @Nullable BufferBudget serverWide,
      @Nullable ChannelGroup tracked,
      @Nullable Tracing tracing) {
    this.tracing = tracing;
    this.tracked = tracked;
    this.silent = new SilentConnections(config.limits().headerTimeout());
    this.dashboard = dashboard == null ? null : new DashboardHandler(dashboard, service);
    this.service = service;
    this.maxInputSize = config.maxInputSize();
    this.limits = config.limits();
    this.version = version;
    this.tls = config.security().tls().map(t -> t.httpContext()).orElse(null);
    this.connections =
        tls == null
            ? ConnectionLimit.evictingSlowStartsCountedFromFirstRead(
                limits.maxConnections(), ConnectionLimit.EVICTION_GRACE)
            : ConnectionLimit.evictingSlowStarts(
                limits.maxConnections(), ConnectionLimit.EVICTION_GRACE);
    this.budget =
        serverWide == null
            ? new BufferBudget(limits.maxBufferedBytes())
            : serverWide.child(limits.maxBufferedBytes());
    this.access = config.security().access();
    this.invocations = new InvocationsTarget(service, config.invocationsModel());
    this.embeddingsModel = config.embeddingsModel();
  }

  /**
   * The port's connection cap, for the server channel: admits each connection before it is
   * registered (see {@link ConnectionLimit#acceptor()}); {@link #childHandler} sees admitted ones
   * only.
   */
  public ChannelHandler acceptor() {
    return connections.acceptor();
  }

  /**
   * The handler for each new connection (the bootstrap's {@code childHandler}): cleartext, the
   * shared {@code ConnectionStart}, which is the connection's whole pipeline (with the cap's byte
   * counter) until its first bytes; TLS, an initializer that adds the TLS handlers.
   */
  public ChannelHandler childHandler() {
    return tls != null ? tlsStart : start;
  }

  private void initTls(SocketChannel ch) {
    SslContext context = java.util.Objects.requireNonNull(tls);
    if (tracked != null) {
      tracked.add(ch);
    }
    BufferBudget perConnection = budget.child(limits.maxBufferedBytesPerConnection());
    ch.pipeline()
        .addLast("tls", context.newHandler(ch.alloc()))
        .addLast("alpn", new TlsStart(this, perConnection))
        .addLast("timeouts", timeouts())
        .addLast(HTTP1_START, new Http1Start(this, perConnection));
  }

  /**
   * The cleartext protocol handlers, added on a connection's first bytes ({@link ConnectionStart})
   * after the handler {@code name}: {@code CleartextHttp2ServerUpgradeHandler} (which adds the HTTP
   * codec after itself), the timeouts (the head's time counted from {@code headStart}), {@link
   * Http1Start}.
   */
  private void addCleartextHandlers(ChannelPipeline p, String name, long headStart) {
    BufferBudget perConnection = budget.child(limits.maxBufferedBytesPerConnection());
    HttpServerCodec http1 = http1Codec();
    HttpServerUpgradeHandler upgrade =
        new BodilessUpgrade(
            http1,
            protocol ->
                AsciiString.contentEquals(Http2CodecUtil.HTTP_UPGRADE_PROTOCOL_NAME, protocol)
                    ? new Http2ServerUpgradeCodec(http2Codec(), streams(perConnection))
                    : null);
    // In this order: the h2c handler adds the HTTP codec right after itself, ahead of the timeouts.
    p.addAfter(name, HTTP1_START, new Http1Start(this, perConnection))
        .addBefore(
            HTTP1_START,
            "timeouts",
            RequestTimeouts.headStartedAt(
                headStart, limits.headerTimeout(), limits.idleTimeout(), limits.bodyTimeout()))
        .addBefore(
            "timeouts",
            "h2c",
            new CleartextHttp2ServerUpgradeHandler(http1, upgrade, priorKnowledge(perConnection)));
  }

  /**
   * Netty's {@code Upgrade: h2c}, taken only by a request without a body. Netty's handler reads an
   * upgrade request's whole body before anything else sees it, ahead of {@link LimitedAggregator}:
   * a client without a token could have the server hold up to the input limit per connection
   * outside the buffered-bytes budget, and be refused only after it (curl {@code --http2} sends its
   * first request so). A request with a body is served as HTTP/1.1 instead (RFC 9110 7.8: a server
   * may ignore Upgrade), through the head's token check and the budget; a client keeps HTTP/2 by
   * prior knowledge, or by upgrading on a request without one. Nothing is aggregated here.
   */
  static final class BodilessUpgrade extends HttpServerUpgradeHandler {
    BodilessUpgrade(SourceCodec http1, UpgradeCodecFactory codecs) {
      super(http1, codecs, 0);
    }

    @Override
    protected boolean shouldHandleUpgradeRequest(HttpRequest request) {
      if (!super.shouldHandleUpgradeRequest(request)) {
        return false;
      }
      String length = request.headers().get(HttpHeaderNames.CONTENT_LENGTH);
      return !request.headers().contains(HttpHeaderNames.TRANSFER_ENCODING)
          && (length == null || length.trim().equals("0"));
    }
  }

  /**
   * A cleartext connection's only handler (after the cap's byte counter) until its first bytes,
   * added by the acceptor: most connections of a connection flood are evicted or time out without
   * sending a byte, and each would otherwise build, and on close tear down, the HTTP codecs and
   * upgrade handlers on the event loop that answers real requests, and have a timer of its own
   * scheduled and cancelled there. Once active, the connection's header timeout is kept by its
   * loop's sweep ({@link SilentConnections}). Its first read adds the cap's byte counter; the read
   * that ends its first line (a real client's first read does) adds the protocol handlers ({@link
   * #addCleartextHandlers}, the timeouts taking the head over with the same start), steps out and
   * passes the line's bytes on; until then the bytes are held ({@link FirstLine}): at the first
   * tick of a slowloris flood thousands of connections send their first byte at once, and building
   * the handlers for each cost a fresh JVM's loops ~0.5 ms a connection (session 16). Sharable: a
   * connection's state is its {@code Silent} entry, an attribute.
   */
  @ChannelHandler.Sharable
  private final class ConnectionStart extends ChannelInboundHandlerAdapter {
    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      Channel ch = ctx.channel();
      long now = System.nanoTime();
      long headStart =
          now
              - RequestTimeouts.queuedCounted(
                  AcceptQueueWait.nanos(ch), limits.headerTimeout().toNanos());
      SilentConnections.Silent w = silent.watch(ch, headStart);
      if (SPLIT.isDebugEnabled()) {
        w.activeAt = now;
        w.queueWait = now - headStart;
        w.tasksAtActive =
            ch.eventLoop() instanceof io.netty.util.concurrent.SingleThreadEventExecutor e
                ? e.pendingTasks()
                : -1;
      }
      ch.attr(SILENT).set(w);
      ctx.fireChannelActive();
      ByteBuf first = Registrations.takeFirstBytes(ch);
      if (first != null) { // read on the accept thread (Registrations): the connection's first read
        w.prefetched = true;
        channelRead(ctx, first);
        ctx.fireChannelReadComplete();
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      SilentConnections.Silent s = ctx.channel().attr(SILENT).get();
      if (s != null) {
        s.closed(); // out of the sweep now, not when its slot comes up
      }
      ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      Channel ch = ctx.channel();
      SilentConnections.Silent s = ch.attr(SILENT).get();
      long headStart;
      if (s != null) {
        if (!s.read) {
          s.read = true;
          ConnectionLimit.firstRead(ch, msg); // the cap's byte counter from here on
        }
        if (msg instanceof ByteBuf bytes) {
          if (!s.firstLine.completes(bytes)) {
            s.firstLine.hold(bytes); // still silent: the sweep keeps its header timeout
            return;
          }
          msg = s.firstLine.release(bytes, ctx.alloc());
        }
        s.spoke();
        headStart = s.headStart;
        if (SPLIT.isDebugEnabled()) {
          long now = System.nanoTime();
          long admitted = ConnectionLimit.admittedAt(ch);
          long active = s.activeAt;
          long queueWait = s.queueWait;
          int tasks = s.tasksAtActive;
          boolean prefetched = s.prefetched;
          ch.closeFuture()
              .addListener(
                  f ->
                      SPLIT.debug(
                          "split {} queue {} us admit->active {} us (tasks {}) active->line {} us"
                              + " line->close {} us{}",
                          ((java.net.InetSocketAddress) ch.remoteAddress()).getPort(),
                          queueWait / 1000,
                          admitted < 0 ? -1 : (active - admitted) / 1000,
                          tasks,
                          (now - active) / 1000,
                          (System.nanoTime() - now) / 1000,
                          prefetched ? " prefetched" : ""));
        }
      } else { // read before active: not on a socket
        headStart =
            System.nanoTime()
                - RequestTimeouts.queuedCounted(
                    AcceptQueueWait.nanos(ch), limits.headerTimeout().toNanos());
        ConnectionLimit.firstRead(ch, msg); // the cap's byte counter from here on
      }
      if (tracked != null) {
        tracked.add(ch);
      }
      ChannelPipeline p = ctx.pipeline();
      addCleartextHandlers(p, ctx.name(), headStart);
      p.remove(this);
      ctx.fireChannelRead(msg); // to the handlers just added: a removed context keeps its next
    }
  }

  /** Request-body bytes held now by this port's aggregators, against the budget. */
  public long bufferedBytes() {
    return budget.held();
  }

  /** Connections open now. */
  public int openConnections() {
    return connections.open();
  }

  /** The port's connection cap: its counts of refused, evicted and spared connections. */
  public ConnectionLimit connectionLimit() {
    return connections;
  }

  static HttpServerCodec http1Codec() {
    return new HttpServerCodec(new HttpDecoderConfig(), MAX_PIPELINE_DEPTH);
  }

  /** After ALPN chose h2: the HTTP/2 handlers, as for a cleartext client with prior knowledge. */
  void addHttp2(ChannelPipeline p, BufferBudget perConnection) {
    p.addBefore(HTTP1_START, "h2", http2Codec())
        .addBefore(HTTP1_START, "h2-streams", streams(perConnection));
  }

  RequestTimeouts timeouts() {
    return new RequestTimeouts(limits.headerTimeout(), limits.idleTimeout(), limits.bodyTimeout());
  }

  /** Logs this port's slow inference requests to {@code log}; call before the port is bound. */
  public HttpPipeline slowRequests(@Nullable SlowRequestLog log) {
    this.slowRequests = log;
    return this;
  }

  /** Serves Triton's system shared memory extension from {@code registry} (server-wide). */
  public HttpPipeline sharedMemory(SharedMemoryRegistry registry) {
    this.sharedMemory = registry;
    return this;
  }

  /** Serves Triton's logging extension from {@code control}; call before the port is bound. */
  public HttpPipeline logging(LogControl control) {
    this.logControl = control;
    return this;
  }

  /**
   * Adds the handlers that turn HTTP objects into answered requests, after the handler {@code
   * name}: decompression, aggregation and dispatch, the same for HTTP/1.1 and each HTTP/2 stream.
   */
  void addRequestHandlers(ChannelPipeline p, String name, BufferBudget perConnection) {
    p.addAfter(name, "paused-reads", new PausedReads())
        .addAfter("paused-reads", "decompress", new KnownCodings(maxInputSize))
        .addAfter(
            "decompress",
            "aggregate",
            new LimitedAggregator(maxInputSize, perConnection, access, service, invocations))
        .addAfter(
            "aggregate",
            "dispatch",
            new HttpDispatcher(
                service,
                version,
                failures,
                access,
                dashboard,
                tensorBuffers,
                answerLoops,
                slowRequests,
                tracing,
                sharedMemory,
                logControl,
                invocations,
                embeddingsModel));
  }

  private ChannelHandler priorKnowledge(BufferBudget perConnection) {
    return new ChannelInitializer<Channel>() {
      @Override
      protected void initChannel(Channel ch) {
        addHttp2(ch.pipeline(), perConnection);
      }
    };
  }

  private Http2FrameCodec http2Codec() {
    return Http2StreamErrors.forServer(
        Http2Settings.defaultSettings()
            .maxConcurrentStreams(limits.maxConcurrentStreams())
            .maxHeaderListSize(MAX_HEADER_LIST_SIZE));
  }

  private Http2MultiplexHandler streams(BufferBudget perConnection) {
    return new Http2MultiplexHandler(new Http2StreamPipeline(this, perConnection));
  }
}
