package dev.fulcrum.server;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.server.dashboard.DashboardFeed;
import dev.fulcrum.server.http.AcceptBacklog;
import dev.fulcrum.server.http.BufferBudget;
import dev.fulcrum.server.http.ConnectionLimit;
import dev.fulcrum.server.http.HttpPipeline;
import dev.fulcrum.server.http.Registrations;
import dev.fulcrum.server.logging.FixedLogControl;
import dev.fulcrum.server.logging.LogControl;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import dev.fulcrum.server.tracing.Tracing;
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
import org.slf4j.event.Level;

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

  /**
   * The port's transports, in the order they took its new connections: the one {@link #start()}
   * bound, then the one {@link #moveToWarmTransport()} added, if any. The last takes the new
   * connections; an earlier one keeps serving the connections it accepted.
   */
  private final List<Generation> generations = new ArrayList<>();

  /**
   * Connections that have sent bytes (TLS: every one), so that close() can end each through its
   * pipeline (GOAWAY on HTTP/2); silent ones are closed by the event loops' shutdown.
   */
  private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

  private @Nullable HttpPipeline pipeline;
  private @Nullable DashboardFeed dashboard;

  private @Nullable Tracing tracing;

  private LogControl logControl = FixedLogControl.INSTANCE;
  private @Nullable BufferBudget sharedBudget;
  private @Nullable SlowRequestLog slowRequests;
  private SharedMemoryRegistry sharedMemory = SharedMemoryRegistry.devShm(false);
  private boolean closed;
  private int port = -1;
  private int acceptQueue = -1;

  /**
   * One transport's share of the port: its accept threads (none where the loops accept), its event
   * loops, its listening sockets (several with {@code SO_REUSEPORT}) and, on epoll with accept
   * threads, its early registrations. Guarded by the server's lock.
   */
  private static final class Generation {
    final NettyTransport io;
    final @Nullable EventLoopGroup boss;
    final EventLoopGroup workers;
    final List<Channel> listening = new ArrayList<>();
    @Nullable Registrations registrations;

    Generation(NettyTransport io, @Nullable EventLoopGroup boss, EventLoopGroup workers) {
      this.io = io;
      this.boss = boss;
      this.workers = workers;
    }

    /** Stops accepting: closes every listening socket. */
    void closeListening() {
      for (Channel ch : listening) {
        ch.close().awaitUninterruptibly();
      }
      listening.clear();
    }

    void shutdownGroups() {
      if (boss != null) {
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
      }
      workers.shutdownGracefully(100, 5_000, TimeUnit.MILLISECONDS).awaitUninterruptibly();
    }
  }

  public HttpServer(InferenceService service, HttpServerConfig config) {
    this.service = service;
    this.config = config;
  }

  /**
   * Serves the dashboard ({@code GET /dashboard}, its files and {@code /dashboard/events}) from
   * {@code feed}; call before {@link #start()}. Without it those paths answer 404.
   */
  public synchronized HttpServer dashboard(DashboardFeed feed) {
    if (!generations.isEmpty()) {
      throw new IllegalStateException("already started");
    }
    this.dashboard = feed;
    return this;
  }

  /**
   * Serves Triton's logging extension ({@code v2/logging}) from {@code control}, the process's
   * logging back end; call before {@link #start()}. Without it the settings read fixed and a change
   * is refused (501).
   */
  public synchronized HttpServer logging(LogControl control) {
    if (!generations.isEmpty()) {
      throw new IllegalStateException("already started");
    }
    this.logControl = control;
    return this;
  }

  /**
   * Traces inference requests with {@code tracing} and serves Triton's trace setting endpoints from
   * it; call before {@link #start()}. Without it no trace header is read.
   */
  public synchronized HttpServer tracing(Tracing tracing) {
    if (!generations.isEmpty()) {
      throw new IllegalStateException("already started");
    }
    this.tracing = tracing;
    return this;
  }

  /**
   * Counts this port's buffered request bodies against {@code serverWide} too (one budget for the
   * REST and gRPC ports); call before {@link #start()}. Without it the port has a budget of its
   * own.
   */
  public synchronized HttpServer bufferBudget(BufferBudget serverWide) {
    if (!generations.isEmpty()) {
      throw new IllegalStateException("already started");
    }
    this.sharedBudget = serverWide;
    return this;
  }

  /**
   * Logs this port's slow and refused inference requests to {@code log} ({@code fulcrum serve
   * --log-slow-requests-ms}); call before {@link #start()}. Without it nothing is timed for it.
   */
  public synchronized HttpServer slowRequests(SlowRequestLog log) {
    if (!generations.isEmpty()) {
      throw new IllegalStateException("already started");
    }
    this.slowRequests = log;
    return this;
  }

  /**
   * Serves Triton's system shared memory extension from {@code registry}, which the gRPC port
   * shares ({@code fulcrum serve --allow-client-shm}); call before {@link #start()}. Without it the
   * port has a registry of its own that refuses registration (Triton's default).
   */
  public synchronized HttpServer sharedMemory(SharedMemoryRegistry registry) {
    if (!generations.isEmpty()) {
      throw new IllegalStateException("already started");
    }
    this.sharedMemory = registry;
    return this;
  }

  /** Binds the port; blocks until bound. */
  public synchronized HttpServer start() throws InterruptedException {
    if (!generations.isEmpty() || closed) {
      throw new IllegalStateException("already started");
    }
    NettyTransport io = NettyTransport.choose(config.transport());
    HttpPipeline p =
        new HttpPipeline(service, config, version(), dashboard, sharedBudget, connections, tracing)
            .slowRequests(slowRequests)
            .sharedMemory(sharedMemory)
            .logging(logControl);
    pipeline = p;
    // AUTO on epoll: SO_REUSEPORT on every listening socket, even a lone one, so that io_uring's
    // can join the port once the server is warm (moveToWarmTransport).
    boolean reusePort = config.transport() == Transport.AUTO && io.kind() == Transport.EPOLL;
    if (io.kind() != Transport.NIO && config.port() != 0) {
      requireFree(config.host(), config.port());
    }
    Generation g = bind(io, p, config.port(), reusePort);
    generations.add(g);
    Channel first = g.listening.get(0);
    port = ((InetSocketAddress) first.localAddress()).getPort();
    int backlog = ((ServerSocketChannelConfig) first.config()).getBacklog();
    OptionalInt somaxconn = AcceptBacklog.somaxconn();
    acceptQueue = AcceptBacklog.effective(backlog, somaxconn);
    log.info(
        "HTTP (Open Inference Protocol) listening on {}:{} ({} transport{}, accept queue {}{})",
        config.host(),
        port,
        io.describe(),
        config.security().tls().isPresent() ? ", TLS with ALPN h2 and http/1.1" : "",
        acceptQueue,
        g.listening.size() > 1
            ? " on each of " + g.listening.size() + " listening sockets (SO_REUSEPORT)"
            : "");
    boolean handoff = g.boss != null;
    if (handoff && g.listening.size() < config.limits().acceptors()) {
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
   * With {@link Transport#AUTO}, once the server is warm: the port's new connections go to io_uring
   * from now on, where it works here; the connections accepted so far stay on epoll until they
   * close. Blocks until the new listening sockets are bound and the kernel steers to them; nothing
   * is refused or reset meanwhile (epoll's sockets stay open, and take every new connection until
   * the steering moves to io_uring's).
   *
   * <p>Why: io_uring serves small requests at saturation with ~0.7x the CPU of epoll (the demo
   * fraud model at c=64: 1.3-1.5x the requests), but setting it up (Netty's feature probes, its
   * rings, cold code) delays a fresh server's first answer ~0.07 s, and that answer is issue #9's.
   * So the start binds epoll, and io_uring joins the port's {@code SO_REUSEPORT} group after the
   * start, a BPF program ({@link ReusePortSteering}) sending it every new connection
   * (docs/PERFORMANCE.md, "Session 29 (lead)").
   *
   * @return the transport that takes new connections from now (io_uring), or empty where nothing
   *     moved: another transport was asked for, the port did not start on epoll, io_uring or the
   *     steering is unavailable here (logged), already moved, or the server is closed
   */
  public synchronized Optional<NettyTransport> moveToWarmTransport() throws InterruptedException {
    if (generations.size() != 1
        || closed
        || service.isDraining() // a SIGTERM in the start's first second: nothing new to bind
        || pipeline == null
        || config.transport() != Transport.AUTO
        || generations.get(0).io.kind() != Transport.EPOLL) {
      return Optional.empty();
    }
    NettyTransport uring;
    try {
      uring = NettyTransport.choose(Transport.IO_URING);
    } catch (IllegalStateException unavailable) {
      log.info("HTTP port {}: staying on epoll ({})", port, unavailable.getMessage());
      return Optional.empty();
    }
    Generation start = generations.get(0);
    // First the program that keeps every new connection on epoll's sockets (as the kernel's hash
    // did): where the kernel or the JVM cannot attach one, nothing has been bound yet. Then
    // io_uring's sockets join the group without taking a connection, and the program moves to them.
    String why = ReusePortSteering.steer(start.listening.get(0), 0, start.listening.size());
    if (why != null) {
      log.info("HTTP port {}: staying on epoll ({})", port, why);
      return Optional.empty();
    }
    Generation warm;
    try {
      warm = bind(uring, pipeline, port, true);
    } catch (RuntimeException bindFailed) {
      log.warn(
          "HTTP port {}: staying on epoll (io_uring's sockets did not bind)", port, bindFailed);
      return Optional.empty();
    }
    generations.add(warm);
    why =
        ReusePortSteering.steer(
            start.listening.get(0), start.listening.size(), warm.listening.size());
    if (why != null) { // the same call just worked: the kernel spreads the connections over both
      log.warn("HTTP port {}: new connections on epoll and io_uring ({})", port, why);
      return Optional.of(uring);
    }
    log.info(
        "HTTP port {}: new connections on io_uring from now ({} listening socket{}); the {}"
            + " connections open now stay on epoll",
        port,
        warm.listening.size(),
        warm.listening.size() == 1 ? "" : "s",
        openConnections());
    return Optional.of(uring);
  }

  /**
   * Fails as a bind fails where a socket listens on {@code host:port} already. The port's own
   * sockets are bound with {@code SO_REUSEPORT} (several acceptors, or io_uring joining later),
   * which would let them join the listening sockets of another process of the same user: a second
   * server started on the port by mistake would take a share of the first one's connections instead
   * of failing. So a plain socket (no {@code SO_REUSEPORT}; {@code SO_REUSEADDR}, so that the
   * closed connections of a server just stopped do not count) is bound first, and closed.
   */
  private static void requireFree(String host, int port) {
    io.netty.channel.unix.Socket probe = io.netty.channel.unix.Socket.newSocketStream();
    try {
      probe.setReuseAddress(true);
      probe.bind(new InetSocketAddress(host, port));
    } catch (IOException taken) { // "bind(..) failed with error(-98): Address already in use"
      throw new UncheckedIOException(taken);
    } finally {
      try {
        probe.close();
      } catch (IOException ignored) {
        // never bound to anything that needs it
      }
    }
  }

  /**
   * A transport's accept threads, event loops and listening sockets on {@code bindPort} (0: a free
   * one), sharing the port's pipeline (one connection cap, one byte budget, one connection group).
   */
  private Generation bind(NettyTransport io, HttpPipeline p, int bindPort, boolean reusePort)
      throws InterruptedException {
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
    EventLoopGroup boss;
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
    Generation g = new Generation(io, boss, loops);
    try {
      ServerBootstrap b =
          new ServerBootstrap()
              .group(boss != null ? boss : loops, loops)
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
      g.registrations = early;
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
      if (acceptors > 1 || reusePort) {
        // Several listening sockets, all on the port (one per loop at least): the kernel hashes
        // each new connection to one of them, each with its own accept queue. They share the
        // pipeline, hence one ConnectionLimit (one count, one eviction queue) and one connection
        // group.
        b.option(UnixChannelOption.SO_REUSEPORT, true);
      }
      Channel first = b.bind(config.host(), bindPort).sync().channel();
      g.listening.add(first);
      int bound = ((InetSocketAddress) first.localAddress()).getPort();
      for (int i = 1; i < acceptors; i++) {
        // Each bind registers its channel with the boss group's next thread.
        g.listening.add(b.bind(config.host(), bound).sync().channel());
      }
    } catch (InterruptedException | RuntimeException e) {
      g.closeListening();
      g.shutdownGroups();
      throw e;
    }
    return g;
  }

  /**
   * The I/O transport that takes the port's new connections (io_uring, epoll or NIO: {@link
   * NettyTransport}), or empty before {@link #start()}.
   */
  public synchronized Optional<NettyTransport> transport() {
    return generations.isEmpty()
        ? Optional.empty()
        : Optional.of(generations.get(generations.size() - 1).io);
  }

  /**
   * How many listening sockets take the port's new connections: where the transport has {@code
   * SO_REUSEPORT} (epoll, io_uring) {@link HttpServerConfig.Limits#acceptors()}, or with 0 one per
   * event loop, else 1; 0 before {@link #start()} and after {@link #close()}.
   */
  public synchronized int listeningSockets() {
    return generations.isEmpty() ? 0 : generations.get(generations.size() - 1).listening.size();
  }

  /**
   * Open connections that have sent bytes, served by the event loops of {@code kind}; for tests.
   */
  @SuppressWarnings(
      "ReferenceEquality") // a connection's loop belongs to that group, not an equal one
  synchronized int openConnections(Transport kind) {
    int n = 0;
    for (Generation g : generations) {
      if (g.io.kind() == kind) {
        for (Channel ch : connections) {
          n += ch.eventLoop().parent() == g.workers ? 1 : 0;
        }
      }
    }
    return n;
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

  /**
   * Stops accepting connections: the port refuses new ones from here on, while the open ones are
   * served as before. A drain's first step: behind a proxy, a connection it opens now is refused
   * before it has sent anything, which nginx and HAProxy retry on another server whatever the
   * method (Envoy with a {@code connect-failure} retry policy), where a 503 on an accepted
   * connection reaches the client unless the proxy was told to retry a POST.
   */
  public synchronized void stopAccepting() {
    generations.forEach(Generation::closeListening);
  }

  /**
   * The port's connection cap ({@code --http-max-connections}: one for all its listening sockets
   * and transports), or empty before {@link #start()}.
   */
  public synchronized Optional<ConnectionLimit> connectionLimit() {
    return pipeline == null ? Optional.empty() : Optional.of(pipeline.connectionLimit());
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
    if (closed) {
      return;
    }
    closed = true;
    if (!generations.isEmpty()) {
      generations.forEach(Generation::closeListening);
      for (Generation g : generations) {
        Registrations r = g.registrations;
        if (r != null) {
          r.close();
          if (r.early() + r.deferred() == 0) {
            continue;
          }
          // A summary of the port's life, written as it closes: INFO only when connections had
          // to queue (a flood), where it says something; otherwise DEBUG.
          log.atLevel(r.deferred() > 0 ? Level.INFO : Level.DEBUG)
              .log(
                  "HTTP port {} closing; since the start, {} connections were handed to their"
                      + " event loop as they were accepted (their first line already read) and {}"
                      + " waited in the registration queue behind them",
                  port,
                  r.early(),
                  r.deferred());
        }
      }
      ConnectionLimit cap = pipeline == null ? null : pipeline.connectionLimit();
      if (cap != null && cap.refused() + cap.evicted() + cap.spared() > 0) {
        log.info(
            "HTTP port {} closing; since the start, at the connection cap, {} connections refused,"
                + " {} evicted, {} spared"
                + " (chosen for eviction, but their head was read before their loop closed them)",
            port,
            cap.refused(),
            cap.evicted(),
            cap.spared());
      }
      DashboardFeed feed = dashboard;
      if (feed != null) {
        // Before the connections close: each stream's last chunk is queued on its event loop
        // ahead of the close, so a page reads an ended stream, not a cut one.
        feed.endStreams();
      }
      if (!connections.close().awaitUninterruptibly(10, TimeUnit.SECONDS)) {
        log.warn("HTTP connections still open after 10 s; closing them with the event loops");
      }
    }
    generations.forEach(Generation::shutdownGroups);
    generations.clear();
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
