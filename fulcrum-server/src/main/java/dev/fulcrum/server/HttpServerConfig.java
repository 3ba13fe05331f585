package dev.fulcrum.server;

import dev.fulcrum.server.http.AcceptBacklog;
import dev.fulcrum.server.security.Security;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Settings of the HTTP transport.
 *
 * @param host the address to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
 * @param port the port to bind; 0 picks a free one ({@link HttpServer#port()} tells which)
 * @param maxInputSize the largest request body accepted, in bytes, after any {@code
 *     Content-Encoding} is undone; larger ones are answered 413
 * @param eventLoopThreads I/O threads; 0 lets Netty choose (twice the cores)
 * @param limits the timeouts and resource caps that protect the server from slow or hostile clients
 * @param security the token check and TLS, shared with the gRPC port
 * @param transport Netty's I/O transport for the port ({@link Transport#AUTO}: epoll, else
 *     io_uring, else NIO, whichever loads here)
 * @param invocationsModel the model {@code POST /invocations} runs when the request's headers name
 *     none; null: the repository's only model
 * @param embeddingsModel the text pipeline TEI's routes ({@code POST /embed}, {@code /similarity},
 *     {@code GET /info}) run; "": the only one served
 */
public record HttpServerConfig(
    String host,
    int port,
    int maxInputSize,
    int eventLoopThreads,
    Limits limits,
    Security security,
    Transport transport,
    @Nullable InvocationsModel invocationsModel,
    String embeddingsModel) {
  /** Triton's default {@code --http-max-input-size}: 64 MiB. */
  public static final int DEFAULT_MAX_INPUT_SIZE = 64 * 1024 * 1024;

  /** Triton's default HTTP port. */
  public static final int DEFAULT_PORT = 8000;

  public HttpServerConfig {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(limits, "limits");
    Objects.requireNonNull(security, "security");
    Objects.requireNonNull(transport, "transport");
    Objects.requireNonNull(embeddingsModel, "embeddingsModel");
    SettingBounds.port(port);
    SettingBounds.atLeastOne(maxInputSize, "maxInputSize");
    if (eventLoopThreads < 0) {
      throw new IllegalArgumentException("eventLoopThreads must be >= 0");
    }
    SettingBounds.budgetsHold(
        limits.maxBufferedBytes(),
        limits.maxBufferedBytesPerConnection(),
        maxInputSize,
        "maxInputSize",
        "a body of the largest size could never be accepted");
  }

  /** The settings with no {@link InvocationsModel}. */
  public HttpServerConfig(
      String host,
      int port,
      int maxInputSize,
      int eventLoopThreads,
      Limits limits,
      Security security,
      Transport transport) {
    this(host, port, maxInputSize, eventLoopThreads, limits, security, transport, null, "");
  }

  /** The settings with no embeddings model (TEI's routes run the only text pipeline). */
  public HttpServerConfig(
      String host,
      int port,
      int maxInputSize,
      int eventLoopThreads,
      Limits limits,
      Security security,
      Transport transport,
      @Nullable InvocationsModel invocationsModel) {
    this(
        host,
        port,
        maxInputSize,
        eventLoopThreads,
        limits,
        security,
        transport,
        invocationsModel,
        "");
  }

  /** These settings with TEI's routes on {@code model} ("" for the only text pipeline). */
  public HttpServerConfig withEmbeddingsModel(String model) {
    return new HttpServerConfig(
        host,
        port,
        maxInputSize,
        eventLoopThreads,
        limits,
        security,
        transport,
        invocationsModel,
        model);
  }

  /**
   * The model {@code POST /invocations} (SageMaker's and MLflow's scoring endpoint) runs when the
   * request names none ({@code fulcrum serve --invocations-model <name>[:<version>]}).
   *
   * @param name the model
   * @param version its version, or "" for the one that serves (the newest ready)
   */
  public record InvocationsModel(String name, String version) {
    public InvocationsModel {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(version, "version");
      if (name.isBlank()) {
        throw new IllegalArgumentException("the invocations model's name is empty");
      }
    }

    /**
     * Reads {@code <name>[:<version>]}.
     *
     * @throws IllegalArgumentException for an empty name or version
     */
    public static InvocationsModel parse(String spec) {
      int colon = spec.lastIndexOf(':');
      String name = colon < 0 ? spec : spec.substring(0, colon);
      String version = colon < 0 ? "" : spec.substring(colon + 1);
      if (name.isBlank() || (colon >= 0 && version.isBlank())) {
        throw new IllegalArgumentException(
            "'" + spec + "' is not <model>[:<version>], a model name and optionally its version");
      }
      return new InvocationsModel(name, version);
    }
  }

  /** The settings with the transport of {@link Transport#fromSystemProperties()}. */
  public HttpServerConfig(
      String host,
      int port,
      int maxInputSize,
      int eventLoopThreads,
      Limits limits,
      Security security) {
    this(
        host,
        port,
        maxInputSize,
        eventLoopThreads,
        limits,
        security,
        Transport.fromSystemProperties());
  }

  /** The settings with {@link Security#none()}. */
  public HttpServerConfig(
      String host, int port, int maxInputSize, int eventLoopThreads, Limits limits) {
    this(host, port, maxInputSize, eventLoopThreads, limits, Security.none());
  }

  /** The settings with {@link Limits#defaults()} and {@link Security#none()}. */
  public HttpServerConfig(String host, int port, int maxInputSize, int eventLoopThreads) {
    this(host, port, maxInputSize, eventLoopThreads, Limits.defaults());
  }

  /** All interfaces on Triton's port 8000, 64 MiB bodies, Netty's thread count. */
  public static HttpServerConfig defaults() {
    return new HttpServerConfig("0.0.0.0", DEFAULT_PORT, DEFAULT_MAX_INPUT_SIZE, 0);
  }

  /** The loopback interface on a free port; for tests and embedding. */
  public static HttpServerConfig ephemeral() {
    return new HttpServerConfig("127.0.0.1", 0, DEFAULT_MAX_INPUT_SIZE, 0);
  }

  public HttpServerConfig withMaxInputSize(int bytes) {
    return new HttpServerConfig(
        host,
        port,
        bytes,
        eventLoopThreads,
        limits,
        security,
        transport,
        invocationsModel,
        embeddingsModel);
  }

  public HttpServerConfig withPort(int p) {
    return new HttpServerConfig(
        host,
        p,
        maxInputSize,
        eventLoopThreads,
        limits,
        security,
        transport,
        invocationsModel,
        embeddingsModel);
  }

  public HttpServerConfig withLimits(Limits l) {
    return new HttpServerConfig(
        host,
        port,
        maxInputSize,
        eventLoopThreads,
        l,
        security,
        transport,
        invocationsModel,
        embeddingsModel);
  }

  public HttpServerConfig withSecurity(Security s) {
    return new HttpServerConfig(
        host,
        port,
        maxInputSize,
        eventLoopThreads,
        limits,
        s,
        transport,
        invocationsModel,
        embeddingsModel);
  }

  public HttpServerConfig withTransport(Transport t) {
    return new HttpServerConfig(
        host, port, maxInputSize, eventLoopThreads, limits, security, t, invocationsModel);
  }

  /** These settings with {@code POST /invocations} running {@code m} (null: none named). */
  public HttpServerConfig withInvocationsModel(@Nullable InvocationsModel m) {
    return new HttpServerConfig(
        host, port, maxInputSize, eventLoopThreads, limits, security, transport, m);
  }

  /**
   * What a connection may hold and for how long. A connection that overstays a timeout is closed
   * (an HTTP/2 stream is reset); a request over a byte budget is answered 503 and its bytes are
   * dropped.
   *
   * @param headerTimeout how long a new connection may take to deliver its first request head
   *     (request line and headers), or its HTTP/2 preface
   * @param idleTimeout how long a connection with no request in progress is kept open (HTTP/1.1
   *     keep-alive, or HTTP/2 with no open stream); this also bounds how long the head of a later
   *     request on a keep-alive connection may take
   * @param bodyTimeout the longest a request body may stall: no body bytes for this long closes the
   *     connection (resets the stream); also the longest a client may leave its responses unread
   *     (the outbound buffer full)
   * @param maxConnections open connections beyond which a new one is accepted and closed at once,
   *     which frees its file descriptor
   * @param maxBufferedBytes the server-wide budget, in bytes, for request bodies being received
   *     (HTTP/1.1 and HTTP/2 together); a request that would exceed it is answered 503
   * @param maxBufferedBytesPerConnection the same budget for one connection (all its HTTP/2
   *     streams)
   * @param maxConcurrentStreams concurrent streams a client may open on one HTTP/2 connection
   * @param acceptBacklog the port's accept queue: connections the kernel completes before the
   *     server accepts them (capped by the kernel at {@code net.core.somaxconn}; see {@link
   *     dev.fulcrum.server.http.AcceptBacklog}); with several {@code acceptors}, each listening
   *     socket's
   * @param acceptors listening sockets of the port, each with an accept thread of its own, bound
   *     with {@code SO_REUSEPORT} so that the kernel spreads new connections over them (epoll and
   *     io_uring; NIO keeps one); 1 is the classic single listening socket; 0: one listening socket
   *     per event loop, served by that loop, which registers what it accepts on itself (epoll and
   *     io_uring; NIO keeps one with an accept thread)
   */
  public record Limits(
      Duration headerTimeout,
      Duration idleTimeout,
      Duration bodyTimeout,
      int maxConnections,
      long maxBufferedBytes,
      long maxBufferedBytesPerConnection,
      int maxConcurrentStreams,
      int acceptBacklog,
      int acceptors) {
    /**
     * Two listening sockets: the default of {@link #acceptors()}. Under a burst of connections (a
     * slowloris attack's 20,000) two accept queues drain it faster than one: on the quiet machine a
     * normal request's p99 during the attack 85 / 197 ms against 317 / 345 ms with one, fresh, and
     * 26 / 36 against 60 / 82 ms warm (docs/PERFORMANCE.md, "Hostile clients", session 12).
     */
    public static final int DEFAULT_ACCEPTORS = 2;

    /** The most listening sockets a port may have. */
    public static final int MAX_ACCEPTORS = 64;

    /** As the canonical constructor, with {@link #DEFAULT_ACCEPTORS}. */
    public Limits(
        Duration headerTimeout,
        Duration idleTimeout,
        Duration bodyTimeout,
        int maxConnections,
        long maxBufferedBytes,
        long maxBufferedBytesPerConnection,
        int maxConcurrentStreams,
        int acceptBacklog) {
      this(
          headerTimeout,
          idleTimeout,
          bodyTimeout,
          maxConnections,
          maxBufferedBytes,
          maxBufferedBytesPerConnection,
          maxConcurrentStreams,
          acceptBacklog,
          DEFAULT_ACCEPTORS);
    }

    /** As the canonical constructor, with {@link AcceptBacklog#DEFAULT}. */
    public Limits(
        Duration headerTimeout,
        Duration idleTimeout,
        Duration bodyTimeout,
        int maxConnections,
        long maxBufferedBytes,
        long maxBufferedBytesPerConnection,
        int maxConcurrentStreams) {
      this(
          headerTimeout,
          idleTimeout,
          bodyTimeout,
          maxConnections,
          maxBufferedBytes,
          maxBufferedBytesPerConnection,
          maxConcurrentStreams,
          AcceptBacklog.DEFAULT);
    }

    public Limits {
      SettingBounds.positive(headerTimeout, "headerTimeout");
      SettingBounds.positive(idleTimeout, "idleTimeout");
      SettingBounds.positive(bodyTimeout, "bodyTimeout");
      SettingBounds.atLeastOne(maxConnections, "maxConnections");
      SettingBounds.atLeastOne(maxBufferedBytes, "maxBufferedBytes");
      SettingBounds.atLeastOne(maxBufferedBytesPerConnection, "maxBufferedBytesPerConnection");
      SettingBounds.atLeastOne(maxConcurrentStreams, "maxConcurrentStreams");
      SettingBounds.atLeastOne(acceptBacklog, "acceptBacklog");
      if (acceptors < 0 || acceptors > MAX_ACCEPTORS) {
        throw new IllegalArgumentException(
            "acceptors must be 0 (the event loops accept) to "
                + MAX_ACCEPTORS
                + ", was "
                + acceptors);
      }
    }

    /**
     * 10 s for a request head, 620 s idle (above the idle time of the proxies and load balancers
     * that keep connections to their backends: nginx's and an AWS ALB's 60 s, Traefik's 90 s, a GCP
     * load balancer's 600 s, so that they close first), 30 s of body stall, 4096 connections, 1 GiB
     * of request bodies in flight (256 MiB per connection), 100 HTTP/2 streams per connection, an
     * accept queue of 1024.
     */
    public static Limits defaults() {
      return new Limits(
          Duration.ofSeconds(10),
          Duration.ofSeconds(620),
          Duration.ofSeconds(30),
          4096,
          1L << 30,
          256L << 20,
          100);
    }

    public Limits withTimeouts(Duration header, Duration idle, Duration body) {
      return new Limits(
          header,
          idle,
          body,
          maxConnections,
          maxBufferedBytes,
          maxBufferedBytesPerConnection,
          maxConcurrentStreams,
          acceptBacklog,
          acceptors);
    }

    public Limits withMaxConnections(int n) {
      return new Limits(
          headerTimeout,
          idleTimeout,
          bodyTimeout,
          n,
          maxBufferedBytes,
          maxBufferedBytesPerConnection,
          maxConcurrentStreams,
          acceptBacklog,
          acceptors);
    }

    public Limits withMaxBufferedBytes(long server, long perConnection) {
      return new Limits(
          headerTimeout,
          idleTimeout,
          bodyTimeout,
          maxConnections,
          server,
          perConnection,
          maxConcurrentStreams,
          acceptBacklog,
          acceptors);
    }

    public Limits withMaxConcurrentStreams(int n) {
      return new Limits(
          headerTimeout,
          idleTimeout,
          bodyTimeout,
          maxConnections,
          maxBufferedBytes,
          maxBufferedBytesPerConnection,
          n,
          acceptBacklog,
          acceptors);
    }

    public Limits withAcceptBacklog(int n) {
      return new Limits(
          headerTimeout,
          idleTimeout,
          bodyTimeout,
          maxConnections,
          maxBufferedBytes,
          maxBufferedBytesPerConnection,
          maxConcurrentStreams,
          n,
          acceptors);
    }

    public Limits withAcceptors(int n) {
      return new Limits(
          headerTimeout,
          idleTimeout,
          bodyTimeout,
          maxConnections,
          maxBufferedBytes,
          maxBufferedBytesPerConnection,
          maxConcurrentStreams,
          acceptBacklog,
          n);
    }
  }
}
