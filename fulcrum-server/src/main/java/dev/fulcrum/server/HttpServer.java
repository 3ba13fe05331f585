package dev.fulcrum.server;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.server.dashboard.DashboardFeed;
import dev.fulcrum.server.http.AcceptBacklog;
import dev.fulcrum.server.http.BufferBudget;
import dev.fulcrum.server.http.ConnectionLimit;
import dev.fulcrum.server.http.HttpPipeline;
import dev.fulcrum.server.http.Registrations;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.ServerSocketChannelConfig;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Open Inference Protocol REST transport (with Triton's extensions) on Netty: HTTP/1.1 with
 * keep-alive, and HTTP/2 cleartext (h2c, by prior knowledge or {@code Upgrade}) on the same port.
 *
 * <p>Lifecycle: {@link #start()} binds and returns once the port is open; {@link #port()} is the
 * bound port; {@link #close()} stops accepting, then closes the connections (GOAWAY on HTTP/2). For
 * a graceful shutdown, call {@link InferenceService#beginDrain()} (answers then carry {@code
 * Connection: close}) and wait for {@link InferenceService#responses()} to be idle (every response
 * written), then {@code close()}.
 */
public final class HttpServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HttpServer.class);

  private final InferenceService service;
  private final HttpServerConfig config;
  private @Nullable EventLoopGroup boss;
  private @Nullable EventLoopGroup workers;
  private @Nullable Channel serverChannel;

  /** Every listening socket, {@link #serverChannel} first (several with {@code SO_REUSEPORT}). */
  private final List<Channel> listening = new ArrayList<>();

  private @Nullable NettyTransport transport;

  /**
   * Connections that have sent bytes (TLS: every one), so that close() can end each through its
   * pipeline (GOAWAY on HTTP/2); silent ones are closed by the event loops' shutdown.
   */
  private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

  private @Nullable HttpPipeline pipeline;
  private @Nullable Registrations registrations;
  private @Nullable DashboardFeed dashboard;
  private @Nullable BufferBudget sharedBudget;
  private int port = -1;
  private int acceptQueue = -1;

  public HttpServer(InferenceService service, HttpServerConfig config) {
    this.service = service;
    this.config = config;
  }

  /**
   * Serves the dashboard ({@code GET /dashboard}, its files and {@code /dashboard/events}) from
   * {@code feed}; call before {@link #start()}. Without it those paths answer 404.
   */
  public synchronized HttpServer dashboard(DashboardFeed feed) {
    if (serverChannel != null) {
      throw new IllegalStateException("already started");
    }
    this.dashboard = feed;
    return this;
  }

  /**
   * Counts this port's buffered request bodies against {@code serverWide} too (one budget for the
   * REST and gRPC ports); call before {@link #start()}. Without it the port has a budget of its
   * own.
   */
  public synchronized HttpServer bufferBudget(BufferBudget serverWide) {
    if (serverChannel != null) {
      throw new IllegalStateException("already started");
    }
    this.sharedBudget = serverWide;
    return this;
  }

  /** Binds the port; blocks until bound. */
  public synchronized HttpServer start() throws InterruptedException {
    if (serverChannel != null) {
      throw new IllegalStateException("already started");
    }
    NettyTransport io = NettyTransport.choose(config.transport());
    transport = io;
    int acceptors = listeningSockets(config.limits().acceptors(), io);
    // By default (and always on NIO, which has one listening socket, no SO_REUSEPORT) accept
    // threads of their own hand each connection to the loops in turn. With acceptors 0 (epoll,
    // io_uring) the loops accept: see below.
    boolean handoff = io.kind() == Transport.NIO || config.limits().acceptors() > 0;
    // A poll of the sockets at least every 10 ms of tasks, not Netty's 1 s: under a connection
    // flood the accept threads queue registrations faster than a fresh JVM's loops run them. A
    // poll still takes every ready socket (Netty's up to 4,096): the cap's spare of an evicted
    // connection whose head arrived counts on one poll reading every ready socket (session 12).
    TaskQuantumEventLoopGroup loops =
        new TaskQuantumEventLoopGroup(
            config.eventLoopThreads(),
            new DefaultThreadFactory("fulcrum-http"),
            io.ioHandlers(),
            TaskQuantumEventLoopGroup.HTTP_QUANTUM);
    workers = loops;
    if (handoff) {
      boss =
          new MultiThreadIoEventLoopGroup(
              acceptors, new DefaultThreadFactory("fulcrum-http-accept"), io.ioHandlers());
    } else {
      // The listening sockets on the event loops themselves, one per loop: a loop that accepts a
      // connection registers it on itself, inline (TaskQuantumEventLoopGroup.next), not as a task
      // queued behind a flood's registrations. Under 20,000 slowloris connections this cut a
      // keep-alive client's p99 ~5x, but the flood is accepted slower (SYNs resent, partial heads
      // closed later), and a new client's p99 did not move (docs/PERFORMANCE.md, "Hostile
      // clients", session 19): opt-in.
      acceptors = loops.executorCount();
      boss = null;
    }
    HttpPipeline p =
        new HttpPipeline(service, config, version(), dashboard, sharedBudget, connections);
    pipeline = p;
    registrations = null;
    try {
      ServerBootstrap b =
          new ServerBootstrap()
              .group(boss != null ? boss : workers, workers)
              .channelFactory(io.serverChannels())
              .option(ChannelOption.SO_BACKLOG, config.limits().acceptBacklog())
              // No childOption(TCP_NODELAY): Netty's socket configs (epoll, io_uring, NIO) set it
              // on every accepted connection already, and the bootstrap's child options are set
              // again on the accept thread, one setsockopt per connection in a burst.
              .childHandler(p.childHandler());
      // With accept threads, epoll and cleartext: a connection that has sent its first line when
      // it is accepted is registered ahead of a flood's silent ones, which wait in a queue of
      // their own (Registrations; docs/PERFORMANCE.md, "Hostile clients", session 20). Built from
      // the bootstrap as it is now: its child handler, options and attributes, as Netty's
      // acceptor (which never sees these connections) would have set them.
      Registrations early =
          handoff && io.kind() == Transport.EPOLL && config.security().tls().isEmpty()
              ? new Registrations(loops, b.config())
              : null;
      registrations = early;
      b.handler(
          new ChannelInitializer<ServerChannel>() {
            @Override
            protected void initChannel(ServerChannel ch) {
              // The cap: a refused connection is closed before it is registered. A connection
              // joins the group for close() at its first bytes (HttpPipeline).
              ch.pipeline().addLast(p.acceptor());
              if (early != null) {
                ch.pipeline().addLast(early); // registers what the cap admitted
              }
            }
          });
      if (acceptors > 1) {
        // Several listening sockets, all on the port (one per loop at least): the kernel hashes
        // each new
        // connection to one of them, each with its own accept queue. They share the pipeline,
        // hence one ConnectionLimit (one count, one eviction queue) and one connection group.
        b.option(UnixChannelOption.SO_REUSEPORT, true);
      }
      Channel first = b.bind(config.host(), config.port()).sync().channel();
      serverChannel = first;
      listening.add(first);
      int bound = ((InetSocketAddress) first.localAddress()).getPort();
      for (int i = 1; i < acceptors; i++) {
        // Each bind registers its channel with the boss group's next thread.
        listening.add(b.bind(config.host(), bound).sync().channel());
      }
    } catch (InterruptedException | RuntimeException e) {
      closeListening();
      serverChannel = null;
      shutdownGroups();
      throw e;
    }
    port = ((InetSocketAddress) serverChannel.localAddress()).getPort();
    int backlog = ((ServerSocketChannelConfig) serverChannel.config()).getBacklog();
    OptionalInt somaxconn = AcceptBacklog.somaxconn();
    acceptQueue = AcceptBacklog.effective(backlog, somaxconn);
    log.info(
        "HTTP (Open Inference Protocol) listening on {}:{} ({} transport{}, accept queue {}{})",
        config.host(),
        port,
        io.describe(),
        config.security().tls().isPresent() ? ", TLS with ALPN h2 and http/1.1" : "",
        acceptQueue,
        acceptors > 1 ? " on each of " + acceptors + " listening sockets (SO_REUSEPORT)" : "");
    if (handoff && acceptors < config.limits().acceptors()) {
      log.warn(
          "HTTP port {}: {} acceptors asked for, 1 listening socket used: the {} transport has no"
              + " SO_REUSEPORT",
          port,
          config.limits().acceptors(),
          io.kind().label());
    }
    AcceptBacklog.shortfall(backlog, somaxconn)
        .ifPresent(why -> log.warn("HTTP port {}: {}", port, why));
    return this;
  }

  /**
   * The I/O transport the port runs on (io_uring, epoll or NIO: {@link NettyTransport}), or empty
   * before {@link #start()}.
   */
  public synchronized Optional<NettyTransport> transport() {
    return Optional.ofNullable(transport);
  }

  /**
   * How many listening sockets the port has: where the transport has {@code SO_REUSEPORT} (epoll,
   * io_uring) {@link HttpServerConfig.Limits#acceptors()}, or with 0 one per event loop, else 1; 0
   * before {@link #start()} and after {@link #close()}.
   */
  public synchronized int listeningSockets() {
    return listening.size();
  }

  /**
   * The listening sockets a port gets for {@code asked} acceptors on {@code transport}: NIO has no
   * {@code SO_REUSEPORT} and keeps one.
   */
  static int listeningSockets(int asked, NettyTransport transport) {
    return transport.kind() == Transport.NIO ? 1 : Math.max(1, asked);
  }

  /** The bound port, or -1 before {@link #start()}. */
  public synchronized int port() {
    return port;
  }

  /**
   * The listening socket's accept queue: the backlog asked for ({@link
   * HttpServerConfig.Limits#acceptBacklog()}) as the kernel caps it; -1 before {@link #start()}.
   */
  public synchronized int acceptQueue() {
    return acceptQueue;
  }

  /**
   * Request-body bytes held now by connections receiving them (counted against {@link
   * HttpServerConfig.Limits#maxBufferedBytes()}); 0 before {@link #start()}.
   */
  public synchronized long bufferedBytes() {
    return pipeline == null ? 0 : pipeline.bufferedBytes();
  }

  /** Connections open now; 0 before {@link #start()}. */
  public synchronized int openConnections() {
    return pipeline == null ? 0 : pipeline.openConnections();
  }

  /**
   * Stops accepting connections (the port refuses new ones from here on), closes each open
   * connection through its pipeline — an HTTP/2 connection sends GOAWAY and lets its open streams
   * finish, bounded by Netty's graceful shutdown timeout — then shuts the event loops down. For a
   * graceful shutdown, drain first (see the class comment).
   */
  @Override
  public synchronized void close() {
    if (serverChannel != null) {
      closeListening();
      serverChannel = null;
      if (registrations != null) {
        registrations.close();
        log.info(
            "HTTP port {}: {} connections registered at once (their first line read when"
                + " accepted), {} queued for registration behind them",
            port,
            registrations.early(),
            registrations.deferred());
      }
      if (pipeline != null) {
        ConnectionLimit cap = pipeline.connectionLimit();
        log.info(
            "HTTP port {}: at the connection cap, {} connections refused, {} evicted, {} spared"
                + " (chosen for eviction, but their head was read before their loop closed them)",
            port,
            cap.refused(),
            cap.evicted(),
            cap.spared());
      }
      if (!connections.close().awaitUninterruptibly(10, TimeUnit.SECONDS)) {
        log.warn("HTTP connections still open after 10 s; closing them with the event loops");
      }
    }
    shutdownGroups();
  }

  /** Stops accepting: closes every listening socket. */
  private void closeListening() {
    for (Channel ch : listening) {
      ch.close().awaitUninterruptibly();
    }
    listening.clear();
  }

  private void shutdownGroups() {
    if (boss != null) {
      boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
      boss = null;
    }
    if (workers != null) {
      workers.shutdownGracefully(100, 5_000, TimeUnit.MILLISECONDS).awaitUninterruptibly();
      workers = null;
    }
  }

  /** The Fulcrum version, from the build. */
  public static String version() {
    try (InputStream in = HttpServer.class.getResourceAsStream("version.properties")) {
      if (in == null) {
        return "unknown";
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
