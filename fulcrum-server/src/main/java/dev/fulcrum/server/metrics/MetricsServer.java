package dev.fulcrum.server.metrics;

import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.http.ConnectionLimit;
import dev.fulcrum.server.http.FrameDeflater;
import dev.fulcrum.server.http.RequestTimeouts;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Tls;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.zip.GZIPOutputStream;
import org.jspecify.annotations.Nullable;

/**
 * Serves {@code GET /metrics} on the metrics port (Triton's 8002), apart from the inference port so
 * that scrapes never queue behind inference traffic.
 *
 * <p>Threads: one Netty event loop ({@code fulcrum-metrics}) accepts and serves every connection,
 * so a slow or stalled client never holds up another scrape; the REST port's {@link
 * RequestTimeouts} and {@link ConnectionLimit} close slow clients and cap the connections. With
 * {@link MetricsSecurity}, TLS comes first in each connection's pipeline (its handshake counts
 * against the header timeout) and the token is checked when a request has arrived whole, before
 * anything is rendered. The port speaks HTTP/1.1 only: a client that opens with the HTTP/2 preface
 * (prior knowledge, {@code curl --http2-prior-knowledge}) is sent HTTP/2's GOAWAY with {@code
 * HTTP_1_1_REQUIRED} and a line saying so ({@link HttpOneOnly}); it had been closed without a word.
 *
 * <p>A scrape is gzipped when the scraper accepts it ({@code Accept-Encoding: gzip}, which
 * Prometheus always sends), and {@code name[]} query parameters select families, as the Prometheus
 * Java client's exporters do ({@link ServerMetrics#scrape(List)}).
 */
public final class MetricsServer implements AutoCloseable {
  /** Request heads and bodies larger than this are refused: a scrape has no body. */
  private static final int MAX_REQUEST = 8192;

  private final EventLoopGroup loop;
  private final Channel server;
  private final ConnectionLimit connections;

  /** Binds and starts with {@link HttpServerConfig.Limits#defaults()}; port 0 picks a free port. */
  public MetricsServer(String host, int port, ServerMetrics metrics) throws IOException {
    this(host, port, metrics, HttpServerConfig.Limits.defaults());
  }

  /** Binds and starts, open and cleartext; {@code limits}: timeouts and connections. */
  public MetricsServer(String host, int port, ServerMetrics metrics, HttpServerConfig.Limits limits)
      throws IOException {
    this(host, port, metrics, limits, MetricsSecurity.none());
  }

  /**
   * Binds and starts; port 0 picks a free port; {@code limits}: timeouts and connections; {@code
   * security}: the token asked of every scrape and TLS, each optional.
   */
  public MetricsServer(
      String host,
      int port,
      ServerMetrics metrics,
      HttpServerConfig.Limits limits,
      MetricsSecurity security)
      throws IOException {
    this(host, port, metrics, limits, security, null);
  }

  /**
   * As {@link #MetricsServer(String, int, ServerMetrics, HttpServerConfig.Limits,
   * MetricsSecurity)}, and with {@code readiness} also the health endpoints {@code /v2/health/live}
   * and {@code /v2/health/ready} (the server's readiness), open without a token as on the REST
   * port: where the REST port asks clients for a certificate (mutual TLS), which a kubelet's HTTPS
   * probe does not have, the probes can ask here.
   */
  public MetricsServer(
      String host,
      int port,
      ServerMetrics metrics,
      HttpServerConfig.Limits limits,
      MetricsSecurity security,
      @Nullable BooleanSupplier readiness)
      throws IOException {
    @Nullable SslContext tls = security.tls().map(Tls::metricsContext).orElse(null);
    @Nullable AccessPolicy tokens = security.tokens().orElse(null);
    loop =
        new MultiThreadIoEventLoopGroup(
            1, new DefaultThreadFactory("fulcrum-metrics", true), NioIoHandler.newFactory());
    connections =
        ConnectionLimit.evictingSlowStarts(limits.maxConnections(), ConnectionLimit.EVICTION_GRACE);
    try {
      server =
          new ServerBootstrap()
              .group(loop)
              .channel(NioServerSocketChannel.class)
              .handler(connections.acceptor())
              .childHandler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                      if (tls != null) {
                        ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                      }
                      ch.pipeline()
                          .addLast(new HttpOneOnly())
                          .addLast(new HttpServerCodec(4096, MAX_REQUEST, MAX_REQUEST))
                          .addLast(
                              new RequestTimeouts(
                                  limits.headerTimeout(),
                                  limits.idleTimeout(),
                                  limits.bodyTimeout()))
                          .addLast(new HttpObjectAggregator(MAX_REQUEST))
                          .addLast(new Scrape(metrics, tokens, readiness));
                    }
                  })
              .bind(host, port)
              .syncUninterruptibly()
              .channel();
    } catch (RuntimeException e) {
      loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
      throw new IOException("cannot bind the metrics port " + host + ":" + port, e);
    }
  }

  /**
   * The first handler of a connection (after TLS): at its first bytes it steps out, unless they
   * begin HTTP/2's connection preface ({@code PRI * HTTP/2.0}), which the HTTP/1.1 codec took for a
   * malformed request and closed on without an answer. Such a client is answered in HTTP/2 instead:
   * the server's SETTINGS (its half of the preface), then GOAWAY with {@code HTTP_1_1_REQUIRED}
   * (RFC 9113 7: "use HTTP/1.1 instead") and a debug line a person can read (curl shows it with
   * {@code -v}), and the connection ends lingering, so the client reads them before the close. One
   * instance per connection, on its event loop.
   */
  static final class HttpOneOnly extends ChannelInboundHandlerAdapter {
    private static final byte[] PREFACE = "PRI * HTTP/2.0".getBytes(StandardCharsets.US_ASCII);

    static final String DEBUG =
        "Fulcrum's metrics port speaks HTTP/1.1 only (GET /metrics); the REST port speaks h2c";

    /** Whether the client was refused: what it sends after is dropped. */
    private boolean refused;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (refused) {
        io.netty.util.ReferenceCountUtil.release(msg);
        return;
      }
      if (!(msg instanceof ByteBuf bytes) || !opensHttp2(bytes)) {
        ctx.pipeline().remove(this);
        ctx.fireChannelRead(msg);
        return;
      }
      bytes.release();
      refused = true;
      ctx.channel().config().setAutoRead(false); // LingeringClose reads (and drops) what follows
      // Netty's frame writer, without the HTTP/2 codec: two frames need no connection state.
      DefaultHttp2FrameWriter frames = new DefaultHttp2FrameWriter();
      frames.writeSettings(ctx, new Http2Settings(), ctx.newPromise()); // no parameters
      ChannelFuture goAway =
          frames.writeGoAway(
              ctx,
              0, // no stream was processed
              Http2Error.HTTP_1_1_REQUIRED.code(),
              Unpooled.copiedBuffer(DEBUG, StandardCharsets.US_ASCII),
              ctx.newPromise());
      ctx.flush();
      goAway.addListener(f -> dev.fulcrum.server.http.LingeringClose.close(ctx.channel()));
    }

    /** Whether {@code bytes} begin the preface (as far as they go, at least its method). */
    private static boolean opensHttp2(ByteBuf bytes) {
      int n = Math.min(bytes.readableBytes(), PREFACE.length);
      if (n < 3) {
        return false;
      }
      for (int i = 0; i < n; i++) {
        if (bytes.getByte(bytes.readerIndex() + i) != PREFACE[i]) {
          return false;
        }
      }
      return true;
    }
  }

  /** Answers one aggregated request on the connection's event loop. */
  private static final String LIVE = "/v2/health/live";

  private static final String READY = "/v2/health/ready";

  private static final class Scrape extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final ServerMetrics metrics;
    private final @Nullable AccessPolicy tokens;
    private final @Nullable BooleanSupplier readiness;

    Scrape(
        ServerMetrics metrics, @Nullable AccessPolicy tokens, @Nullable BooleanSupplier readiness) {
      this.metrics = metrics;
      this.tokens = tokens;
      this.readiness = readiness;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      if (request.decoderResult().isFailure()) {
        reply(ctx, request, HttpResponseStatus.BAD_REQUEST, "text/plain", "malformed request\n");
        return;
      }
      QueryStringDecoder uri = new QueryStringDecoder(request.uri());
      String path = uri.path();
      if (readiness != null
          && (path.equals(LIVE) || path.equals(READY))
          && (request.method().equals(HttpMethod.GET)
              || request.method().equals(HttpMethod.HEAD))) {
        // Open, as on the REST port: a probe has no token.
        boolean up = path.equals(LIVE) || readiness.getAsBoolean();
        send(
            ctx,
            request,
            response(
                up ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
                "text/plain",
                ""));
        return;
      }
      if (tokens != null) {
        AccessPolicy.Decision d =
            tokens.checkAnyToken(request.headers().get(HttpHeaderNames.AUTHORIZATION));
        if (!d.allowed()) {
          FullHttpResponse refused =
              response(HttpResponseStatus.UNAUTHORIZED, "text/plain", d.message() + "\n");
          refused
              .headers()
              .set(
                  HttpHeaderNames.WWW_AUTHENTICATE,
                  d.tokenPresented()
                      ? "Bearer realm=\"fulcrum-metrics\", error=\"invalid_token\""
                      : "Bearer realm=\"fulcrum-metrics\"");
          send(ctx, request, refused);
          return;
        }
      }
      if (!path.equals("/metrics")) {
        reply(
            ctx,
            request,
            HttpResponseStatus.NOT_FOUND,
            "text/plain",
            "no endpoint " + path + "; metrics are at /metrics\n");
      } else if (!request.method().equals(HttpMethod.GET)
          && !request.method().equals(HttpMethod.HEAD)) {
        reply(
            ctx,
            request,
            HttpResponseStatus.METHOD_NOT_ALLOWED,
            "text/plain",
            "GET /metrics only\n");
      } else {
        byte[] text =
            metrics
                .scrape(uri.parameters().getOrDefault("name[]", List.of()))
                .getBytes(StandardCharsets.UTF_8);
        boolean gzip =
            FrameDeflater.acceptsGzip(request.headers().get(HttpHeaderNames.ACCEPT_ENCODING));
        FullHttpResponse ok =
            response(
                HttpResponseStatus.OK,
                ServerMetrics.contentType(),
                Unpooled.wrappedBuffer(gzip ? gzip(text) : text));
        ok.headers().set(HttpHeaderNames.VARY, HttpHeaderNames.ACCEPT_ENCODING);
        if (gzip) {
          ok.headers().set(HttpHeaderNames.CONTENT_ENCODING, HttpHeaderValues.GZIP);
        }
        send(ctx, request, ok);
      }
    }

    /**
     * The scrape gzipped: Prometheus always asks for it ({@code Accept-Encoding: gzip}), and the
     * text of a server of many models is mostly the same label sets and zeros (300 demo models: 5.5
     * MB of text, ~0.2 MB gzipped).
     */
    private static byte[] gzip(byte[] text) {
      ByteArrayOutputStream out = new ByteArrayOutputStream(text.length / 8 + 64);
      try (GZIPOutputStream z = new GZIPOutputStream(out, 8192)) {
        z.write(text);
      } catch (IOException e) {
        throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
      }
      return out.toByteArray();
    }

    private static void reply(
        ChannelHandlerContext ctx,
        FullHttpRequest request,
        HttpResponseStatus status,
        String type,
        String body) {
      send(ctx, request, response(status, type, body));
    }

    private static FullHttpResponse response(HttpResponseStatus status, String type, String body) {
      return response(status, type, Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.UTF_8)));
    }

    private static FullHttpResponse response(HttpResponseStatus status, String type, ByteBuf body) {
      FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
      response.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
      HttpUtil.setContentLength(response, response.content().readableBytes());
      return response;
    }

    private static void send(
        ChannelHandlerContext ctx, FullHttpRequest request, FullHttpResponse response) {
      boolean keepAlive = HttpUtil.isKeepAlive(request) && request.decoderResult().isSuccess();
      HttpUtil.setKeepAlive(response, keepAlive);
      ctx.writeAndFlush(response)
          .addListener(
              keepAlive ? ChannelFutureListener.CLOSE_ON_FAILURE : ChannelFutureListener.CLOSE);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  public int port() {
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  /** The port's connection cap: its open connections and those refused ({@link ServerMetrics}). */
  public ConnectionLimit connectionLimit() {
    return connections;
  }

  @Override
  public void close() {
    server.close().awaitUninterruptibly();
    loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
  }
}
