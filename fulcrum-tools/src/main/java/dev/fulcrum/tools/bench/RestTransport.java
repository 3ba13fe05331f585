package dev.fulcrum.tools.bench;

import dev.fulcrum.server.codec.Json;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Sends pre-encoded OIP REST requests over a Netty HTTP/1.1 client with a fixed pool of keep-alive
 * connections, one request in flight per connection (no pipelining, like wrk), responses parsed
 * only as far as status and headers (the body is counted and dropped unless the status is an
 * error).
 *
 * <p>Thread-safe: {@link #send} hands each request to one of the event loops, and each loop alone
 * owns its connections, idle list and waiting queue, so all pool state is confined to its thread.
 */
final class RestTransport implements Transport {
  /** The most bytes of an error body kept for its message. */
  private static final int ERROR_BODY_LIMIT = 4096;

  /** Linux's native epoll transport when it loads (fewer syscalls and copies), else Java NIO. */
  private static final boolean EPOLL = Epoll.isAvailable();

  /** Response headers are only looked at, never passed on: skip their validation. */
  private static final HttpDecoderConfig DECODER =
      new HttpDecoderConfig()
          .setHeadersFactory(DefaultHttpHeadersFactory.headersFactory().withValidation(false))
          .setTrailersFactory(DefaultHttpHeadersFactory.trailersFactory().withValidation(false));

  private final EventLoopGroup group;
  private final Pool[] pools;
  private final ByteBuf[] requests;
  private final long timeoutNanos;
  private final AtomicInteger nextPool = new AtomicInteger();
  private volatile @Nullable String lastError;
  private final @Nullable SslContext tls;
  private final String tlsHost;
  private final int tlsPort;

  /**
   * @param binary Triton's binary tensor extension for inputs and outputs, else plain JSON
   * @param timeout the client-side limit per request; hitting it counts as timed out and the
   *     connection is closed and replaced
   * @param threads event loop threads
   * @param maxConnections the most connections, opened on demand (one per outstanding request)
   */
  RestTransport(
      URI base,
      ModelInfo model,
      String version,
      List<Sample> samples,
      boolean binary,
      Duration timeout,
      int threads,
      int maxConnections) {
    this(
        base,
        model,
        version,
        samples,
        binary,
        timeout,
        threads,
        maxConnections,
        ClientSecurity.none());
  }

  /**
   * As above, and {@code security}: the token in every request's head, TLS on every connection
   * (also when {@code base} is {@code https}).
   */
  RestTransport(
      URI base,
      ModelInfo model,
      String version,
      List<Sample> samples,
      boolean binary,
      Duration timeout,
      int threads,
      int maxConnections,
      ClientSecurity security) {
    String path =
        "v2/models/" + model.name() + (version.isEmpty() ? "" : "/versions/" + version) + "/infer";
    URI uri = base.resolve(path);
    boolean tls = security.tls() || "https".equalsIgnoreCase(uri.getScheme());
    int port = uri.getPort() >= 0 ? uri.getPort() : tls ? 443 : 80;
    String host = uri.getHost() + (uri.getPort() >= 0 ? ":" + uri.getPort() : "");
    String target = uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
    this.requests = new ByteBuf[samples.size()];
    for (int i = 0; i < requests.length; i++) {
      RequestEncoder.Body body = RequestEncoder.encode(samples.get(i), model.outputs(), binary);
      requests[i] = request(host, target, body, binary, security.authorization());
    }
    this.timeoutNanos = timeout.toNanos();
    int loops = Math.max(1, threads);
    this.group =
        new MultiThreadIoEventLoopGroup(
            loops,
            Thread.ofPlatform().name("bench-http-", 0).daemon(true).factory(),
            EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    int perLoop = Math.max(1, (maxConnections + loops - 1) / loops);
    InetSocketAddress address = new InetSocketAddress(uri.getHost(), port);
    this.tls = tls ? security.withTls().nettyContext() : null;
    this.tlsHost = uri.getHost();
    this.tlsPort = port;
    List<Pool> list = new ArrayList<>();
    group.forEach(e -> list.add(new Pool((EventLoop) e, address, perLoop)));
    this.pools = list.toArray(Pool[]::new);
  }

  /** The whole request (head and body) in one direct buffer that sends never release. */
  private static ByteBuf request(
      String host,
      String target,
      RequestEncoder.Body body,
      boolean binary,
      Optional<String> authorization) {
    StringBuilder head = new StringBuilder(256);
    head.append("POST ").append(target).append(" HTTP/1.1\r\n");
    head.append("Host: ").append(host).append("\r\n");
    authorization.ifPresent(a -> head.append("Authorization: ").append(a).append("\r\n"));
    head.append("Content-Type: ")
        .append(binary ? "application/octet-stream" : "application/json")
        .append("\r\n");
    if (binary) {
      head.append("Inference-Header-Content-Length: ").append(body.headerLength()).append("\r\n");
    }
    head.append("Content-Length: ").append(body.bytes().length).append("\r\n\r\n");
    byte[] h = head.toString().getBytes(StandardCharsets.US_ASCII);
    ByteBuf buf = Unpooled.directBuffer(h.length + body.bytes().length);
    buf.writeBytes(h).writeBytes(body.bytes());
    return Unpooled.unreleasableBuffer(buf);
  }

  @Override
  public CompletableFuture<Outcome> send(int sample) {
    Pending p = new Pending(requests[sample].duplicate());
    Pool pool =
        pools.length == 1
            ? pools[0]
            : pools[Math.floorMod(nextPool.getAndIncrement(), pools.length)];
    if (pool.loop.inEventLoop()) {
      pool.submit(p);
    } else {
      try {
        pool.loop.execute(() -> pool.submit(p));
      } catch (RejectedExecutionException closed) {
        p.future.complete(Outcome.OTHER);
      }
    }
    return p.future;
  }

  @Override
  public int samples() {
    return requests.length;
  }

  /** The last error the client saw (status and server message, or the I/O failure), if any. */
  Optional<String> lastError() {
    return Optional.ofNullable(lastError);
  }

  @Override
  public void close() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    for (ByteBuf b : requests) {
      // The unreleasable wrapper ignores release; free the direct memory underneath.
      b.unwrap().release();
    }
  }

  /** A request waiting for, or on, a connection. */
  private record Pending(ByteBuf bytes, CompletableFuture<Outcome> future) {
    Pending(ByteBuf bytes) {
      this(bytes, new CompletableFuture<>());
    }
  }

  /**
   * How long a connection may sit unused in a pool before it is closed instead of reused. A server
   * closes connections idle for its own limit (Fulcrum's REST port after 60 s), and a request
   * written as that close is under way is lost ("connection closed with a request in flight"): an
   * open-loop run's burst opens hundreds of connections that the LIFO reuse then leaves parked
   * until the server closes them together, and a later burst met that close (18–131 requests of
   * 0.5–0.8 M in bench/lifecycle.sh's 60 s baseline). Closing them well before the server does
   * leaves no such race.
   */
  private static final long MAX_IDLE_NANOS = TimeUnit.SECONDS.toNanos(30);

  /** One event loop's connections; every method runs on that loop. */
  private final class Pool {
    final EventLoop loop;
    final Bootstrap bootstrap;
    final int max;
    final ArrayDeque<Connection> idle = new ArrayDeque<>();
    final ArrayDeque<Pending> waiting = new ArrayDeque<>();
    final List<Connection> all = new ArrayList<>();
    int open;

    Pool(EventLoop loop, InetSocketAddress address, int max) {
      this.loop = loop;
      this.max = max;
      this.bootstrap =
          new Bootstrap()
              .group(loop)
              .channel(EPOLL ? EpollSocketChannel.class : NioSocketChannel.class)
              .option(ChannelOption.TCP_NODELAY, true)
              .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
              .remoteAddress(address);
      long period = Math.clamp(timeoutNanos / 10, 1_000_000L, 100_000_000L);
      loop.scheduleAtFixedRate(this::expire, period, period, TimeUnit.NANOSECONDS);
    }

    /**
     * The timeout timer: one sweep over the busy connections, instead of a timer per request; and
     * the parked connections idle for {@link #MAX_IDLE_NANOS} are closed, oldest first (the idle
     * deque's head: connections are parked at its tail and reused from there).
     */
    private void expire() {
      long now = System.nanoTime();
      for (Connection c : all.toArray(Connection[]::new)) {
        if (c.current != null && now - c.deadline >= 0) {
          c.timedOut();
        }
      }
      Connection oldest;
      while ((oldest = idle.peekFirst()) != null && now - oldest.idleSince >= MAX_IDLE_NANOS) {
        idle.pollFirst();
        oldest.channel.close();
      }
    }

    void submit(Pending p) {
      Connection c = idle.pollLast();
      if (c != null) {
        c.start(p);
      } else if (open < max) {
        connect(p);
      } else {
        waiting.add(p);
      }
    }

    private void connect(Pending p) {
      open++;
      Connection c = new Connection(this);
      all.add(c);
      ChannelFuture f =
          bootstrap
              .clone()
              .handler(
                  new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                      if (tls != null) {
                        ch.pipeline().addLast(tls.newHandler(ch.alloc(), tlsHost, tlsPort));
                      }
                      ch.pipeline().addLast(new HttpResponseDecoder(DECODER), c);
                    }
                  })
              .connect();
      f.addListener(
          (ChannelFuture done) -> {
            if (done.isSuccess()) {
              c.start(p);
            } else {
              open--;
              all.remove(c);
              lastError = "connect: " + done.cause();
              p.future.complete(Outcome.OTHER);
              next();
            }
          });
    }

    /** A connection is free again: give it the next waiting request, else park it. */
    void release(Connection c) {
      Pending p = waiting.poll();
      if (p != null) {
        c.start(p);
      } else {
        c.idleSince = System.nanoTime();
        idle.add(c);
      }
    }

    /** A connection is gone: forget it, and open a replacement if requests wait. */
    void closed(Connection c) {
      open--;
      idle.remove(c);
      all.remove(c);
      next();
    }

    private void next() {
      Pending p = waiting.poll();
      if (p != null) {
        submit(p);
      }
    }
  }

  /** One keep-alive connection with at most one request on it; confined to its pool's loop. */
  private final class Connection extends ChannelInboundHandlerAdapter {
    private final Pool pool;

    @SuppressWarnings("NullAway.Init") // set by channelActive, before any request is sent
    private Channel channel;

    private @Nullable Pending current;
    private long deadline;

    /** When it was last parked in the idle deque ({@link System#nanoTime}). */
    private long idleSince;

    private int status;
    private boolean keepAlive;
    private @Nullable ByteArrayOutputStream errorBody;

    Connection(Pool pool) {
      this.pool = pool;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      channel = ctx.channel(); // before the connect listener runs start()
    }

    void start(Pending p) {
      current = p;
      status = 0;
      errorBody = null;
      deadline = System.nanoTime() + timeoutNanos;
      channel.writeAndFlush(p.bytes(), channel.voidPromise());
    }

    void timedOut() {
      if (current != null) {
        finish(Outcome.TIMED_OUT);
        channel.close();
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (current == null) {
          return; // after a timeout the channel is closing; drop what is left
        }
        if (msg instanceof HttpResponse r) {
          if (r.decoderResult().isFailure()) {
            lastError = "bad response: " + r.decoderResult().cause();
            finish(Outcome.OTHER);
            ctx.close();
            return;
          }
          status = r.status().code();
          keepAlive = HttpUtil.isKeepAlive(r);
          if (status >= 400) {
            errorBody = new ByteArrayOutputStream();
          }
        }
        if (msg instanceof HttpContent c) {
          ByteBuf content = c.content();
          if (errorBody != null && errorBody.size() < ERROR_BODY_LIMIT) {
            int n = Math.min(content.readableBytes(), ERROR_BODY_LIMIT - errorBody.size());
            errorBody.write(ByteBufUtil.getBytes(content, content.readerIndex(), n), 0, n);
          }
          if (msg instanceof LastHttpContent) {
            complete();
          }
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    private void complete() {
      Outcome o = Outcome.ofHttpStatus(status);
      if (errorBody != null) {
        lastError =
            "HTTP " + status + ": " + errorMessage(errorBody.toString(StandardCharsets.UTF_8));
      }
      Pending p = Objects.requireNonNull(current, "a response answers the request sent");
      current = null;
      if (keepAlive) {
        pool.release(this);
      } else {
        channel.close();
      }
      p.future.complete(o);
    }

    private void finish(Outcome o) {
      Pending p = Objects.requireNonNull(current, "finish() ends the request in progress");
      current = null;
      p.future.complete(o);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      lastError = cause.toString();
      ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (current != null) {
        lastError = "connection closed with a request in flight";
        finish(Outcome.OTHER);
      }
      pool.closed(this);
    }
  }

  /** The {@code error} field of an OIP error body, else the body itself. */
  static String errorMessage(String body) {
    try {
      String m = Json.MAPPER.readTree(body).path("error").asText("");
      return m.isEmpty() ? body.strip() : m;
    } catch (IOException | RuntimeException notJson) {
      return body.strip();
    }
  }
}
