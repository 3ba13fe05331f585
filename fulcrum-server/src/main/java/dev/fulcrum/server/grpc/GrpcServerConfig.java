package dev.fulcrum.server.grpc;

import dev.fulcrum.server.SettingBounds;
import dev.fulcrum.server.Transport;
import dev.fulcrum.server.http.HttpPipeline;
import dev.fulcrum.server.security.Security;
import java.time.Duration;
import java.util.Objects;

/**
 * Settings of the gRPC transport.
 *
 * @param host the address to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
 * @param port the port to bind; 0 picks a free one ({@link GrpcServer#port()} tells which)
 * @param maxMessageSize the largest request message accepted, in bytes; gRPC answers a larger one
 *     with RESOURCE_EXHAUSTED before it reaches the server's code
 * @param maxMetadataSize the largest request metadata accepted, in bytes, each entry counted as
 *     HTTP/2 counts it (name + value + 32); a call over it ends with RESOURCE_EXHAUSTED ({@link
 *     InboundMetadataLimit}), from {@value #MIN_MAX_METADATA_SIZE} to {@value
 *     #MAX_MAX_METADATA_SIZE}
 * @param limits the timeouts and caps of every connection
 * @param security the token check and TLS, shared with the REST port
 * @param transport Netty's I/O transport for the port ({@link Transport#AUTO}: epoll, else
 *     io_uring, else NIO; the same choice as the REST port's)
 */
public record GrpcServerConfig(
    String host,
    int port,
    int maxMessageSize,
    int maxMetadataSize,
    Limits limits,
    Security security,
    Transport transport) {
  /** Triton's default gRPC port. */
  public static final int DEFAULT_PORT = 8001;

  /** 64 MiB, the same limit as the HTTP transport's request body. */
  public static final int DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

  /** 8 KiB, the REST port's header list limit (HTTP/1.1 and h2c). */
  public static final int DEFAULT_MAX_METADATA_SIZE = HttpPipeline.MAX_HEADER_LIST_SIZE;

  /** The least metadata limit: a call's own headers (path, content type, ...) take some 500. */
  public static final int MIN_MAX_METADATA_SIZE = 1024;

  /**
   * The largest metadata limit, 1 MiB: grpc-netty's own limit is 8 times it ({@link
   * InboundMetadataLimit#decoderLimit}), each call's headers are held whole while they arrive.
   */
  public static final int MAX_MAX_METADATA_SIZE = 1 << 20;

  public GrpcServerConfig {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(limits, "limits");
    Objects.requireNonNull(security, "security");
    Objects.requireNonNull(transport, "transport");
    SettingBounds.port(port);
    SettingBounds.atLeastOne(maxMessageSize, "maxMessageSize");
    if (maxMetadataSize < MIN_MAX_METADATA_SIZE || maxMetadataSize > MAX_MAX_METADATA_SIZE) {
      throw new IllegalArgumentException(
          "maxMetadataSize must be "
              + MIN_MAX_METADATA_SIZE
              + " to "
              + MAX_MAX_METADATA_SIZE
              + ", was "
              + maxMetadataSize);
    }
    SettingBounds.budgetsHold(
        limits.maxBufferedBytes(),
        limits.maxBufferedBytesPerConnection(),
        maxMessageSize,
        "maxMessageSize",
        "a message of the largest size could never be received");
  }

  /**
   * The settings with the default metadata limit and the transport of {@link
   * Transport#fromSystemProperties()}.
   */
  public GrpcServerConfig(
      String host, int port, int maxMessageSize, Limits limits, Security security) {
    this(
        host,
        port,
        maxMessageSize,
        DEFAULT_MAX_METADATA_SIZE,
        limits,
        security,
        Transport.fromSystemProperties());
  }

  /** The settings with {@link Security#none()}. */
  public GrpcServerConfig(String host, int port, int maxMessageSize, Limits limits) {
    this(host, port, maxMessageSize, limits, Security.none());
  }

  /** The settings with {@link Limits#defaults()} and {@link Security#none()}. */
  public GrpcServerConfig(String host, int port, int maxMessageSize) {
    this(host, port, maxMessageSize, Limits.defaults());
  }

  /** All interfaces on Triton's port 8001, 64 MiB messages. */
  public static GrpcServerConfig defaults() {
    return new GrpcServerConfig("0.0.0.0", DEFAULT_PORT, DEFAULT_MAX_MESSAGE_SIZE);
  }

  /** The loopback interface on a free port; for tests and embedding. */
  public static GrpcServerConfig ephemeral() {
    return new GrpcServerConfig("127.0.0.1", 0, DEFAULT_MAX_MESSAGE_SIZE);
  }

  public GrpcServerConfig withPort(int p) {
    return new GrpcServerConfig(
        host, p, maxMessageSize, maxMetadataSize, limits, security, transport);
  }

  public GrpcServerConfig withMaxMessageSize(int bytes) {
    return new GrpcServerConfig(host, port, bytes, maxMetadataSize, limits, security, transport);
  }

  public GrpcServerConfig withMaxMetadataSize(int bytes) {
    return new GrpcServerConfig(host, port, maxMessageSize, bytes, limits, security, transport);
  }

  public GrpcServerConfig withLimits(Limits l) {
    return new GrpcServerConfig(
        host, port, maxMessageSize, maxMetadataSize, l, security, transport);
  }

  public GrpcServerConfig withSecurity(Security s) {
    return new GrpcServerConfig(host, port, maxMessageSize, maxMetadataSize, limits, s, transport);
  }

  public GrpcServerConfig withTransport(Transport t) {
    return new GrpcServerConfig(host, port, maxMessageSize, maxMetadataSize, limits, security, t);
  }

  /**
   * What a gRPC connection may hold and for how long, as grpc-netty enforces it.
   *
   * <p>Memory: grpc-netty hands a call's bytes to its message reader as they arrive (the HTTP/2
   * window is refilled before a message is complete), so a partial message could hold up to {@code
   * maxMessageSize} bytes and one connection {@code maxConcurrentCallsPerConnection ×
   * maxMessageSize}; the bytes of messages not yet whole are therefore counted against {@code
   * maxBufferedBytesPerConnection} and {@code maxBufferedBytes}, and the call whose bytes would
   * exceed either is ended with RESOURCE_EXHAUSTED at once ({@link InboundMessageBudget}).
   *
   * @param handshakeTimeout how long a new connection may take to send the HTTP/2 preface and
   *     settings; then it is closed
   * @param maxConnectionIdle how long a connection with no call in progress is kept; then the
   *     server sends GOAWAY (clients reconnect when they next call)
   * @param keepAliveTime how long a connection may be silent before the server pings the client
   * @param keepAliveTimeout how long the server waits for the ping's answer before closing
   * @param permitKeepAliveTime the shortest interval between a client's keepalive pings while the
   *     connection has a call open; a client that pings more often is sent GOAWAY ({@code
   *     ENHANCE_YOUR_CALM}). With no call open one ping per 2 hours is allowed, whatever this is,
   *     unless {@code permitKeepAliveWithoutCalls}
   * @param permitKeepAliveWithoutCalls whether a connection with no call open may ping as often as
   *     {@code permitKeepAliveTime} allows (Triton's {@code --grpc-keepalive-permit-without-calls};
   *     off by default, as there)
   * @param maxConcurrentCallsPerConnection calls one connection may have open at once (the HTTP/2
   *     {@code MAX_CONCURRENT_STREAMS} setting)
   * @param maxConnections open connections beyond which a new one is closed as soon as it is
   *     accepted
   * @param maxBufferedBytes the budget, in bytes, for request messages being received on all
   *     connections together (shared with the REST port's request bodies when the server is given
   *     one budget, as {@code serve} does); a call whose bytes would exceed it ends with
   *     RESOURCE_EXHAUSTED
   * @param maxBufferedBytesPerConnection the same budget for one connection (all its calls)
   */
  public record Limits(
      Duration handshakeTimeout,
      Duration maxConnectionIdle,
      Duration keepAliveTime,
      Duration keepAliveTimeout,
      Duration permitKeepAliveTime,
      boolean permitKeepAliveWithoutCalls,
      int maxConcurrentCallsPerConnection,
      int maxConnections,
      long maxBufferedBytes,
      long maxBufferedBytesPerConnection) {
    /** 1 GiB of request messages in flight on the port, as on the REST port. */
    public static final long DEFAULT_MAX_BUFFERED_BYTES = 1L << 30;

    /** 256 MiB of request messages in flight on one connection, as on the REST port. */
    public static final long DEFAULT_MAX_BUFFERED_BYTES_PER_CONNECTION = 256L << 20;

    public Limits {
      SettingBounds.positive(handshakeTimeout, "handshakeTimeout");
      SettingBounds.positive(maxConnectionIdle, "maxConnectionIdle");
      SettingBounds.positive(keepAliveTime, "keepAliveTime");
      SettingBounds.positive(keepAliveTimeout, "keepAliveTimeout");
      Objects.requireNonNull(permitKeepAliveTime, "permitKeepAliveTime");
      if (permitKeepAliveTime.isNegative()) {
        throw new IllegalArgumentException(
            "permitKeepAliveTime must be >= 0, was " + permitKeepAliveTime);
      }
      SettingBounds.atLeastOne(maxConcurrentCallsPerConnection, "maxConcurrentCallsPerConnection");
      SettingBounds.atLeastOne(maxConnections, "maxConnections");
      SettingBounds.atLeastOne(maxBufferedBytes, "maxBufferedBytes");
      SettingBounds.atLeastOne(maxBufferedBytesPerConnection, "maxBufferedBytesPerConnection");
    }

    /**
     * The limits with the default buffered-bytes budgets (1 GiB, 256 MiB a connection), and no
     * keepalive without calls.
     */
    public Limits(
        Duration handshakeTimeout,
        Duration maxConnectionIdle,
        Duration keepAliveTime,
        Duration keepAliveTimeout,
        Duration permitKeepAliveTime,
        int maxConcurrentCallsPerConnection,
        int maxConnections) {
      this(
          handshakeTimeout,
          maxConnectionIdle,
          keepAliveTime,
          keepAliveTimeout,
          permitKeepAliveTime,
          false,
          maxConcurrentCallsPerConnection,
          maxConnections,
          DEFAULT_MAX_BUFFERED_BYTES,
          DEFAULT_MAX_BUFFERED_BYTES_PER_CONNECTION);
    }

    /**
     * 10 s handshake, 60 s idle, Triton's keepalive defaults (ping after 2 h, 20 s to answer,
     * client pings at most every 5 min), 100 calls per connection, 4096 connections, 1 GiB of
     * request messages in flight (256 MiB per connection).
     */
    public static Limits defaults() {
      return new Limits(
          Duration.ofSeconds(10),
          Duration.ofSeconds(60),
          Duration.ofHours(2),
          Duration.ofSeconds(20),
          Duration.ofMinutes(5),
          100,
          4096);
    }

    public Limits withHandshakeTimeout(Duration d) {
      return new Limits(
          d,
          maxConnectionIdle,
          keepAliveTime,
          keepAliveTimeout,
          permitKeepAliveTime,
          permitKeepAliveWithoutCalls,
          maxConcurrentCallsPerConnection,
          maxConnections,
          maxBufferedBytes,
          maxBufferedBytesPerConnection);
    }

    public Limits withMaxConnectionIdle(Duration d) {
      return new Limits(
          handshakeTimeout,
          d,
          keepAliveTime,
          keepAliveTimeout,
          permitKeepAliveTime,
          permitKeepAliveWithoutCalls,
          maxConcurrentCallsPerConnection,
          maxConnections,
          maxBufferedBytes,
          maxBufferedBytesPerConnection);
    }

    public Limits withMaxConcurrentCallsPerConnection(int n) {
      return new Limits(
          handshakeTimeout,
          maxConnectionIdle,
          keepAliveTime,
          keepAliveTimeout,
          permitKeepAliveTime,
          permitKeepAliveWithoutCalls,
          n,
          maxConnections,
          maxBufferedBytes,
          maxBufferedBytesPerConnection);
    }

    public Limits withMaxConnections(int n) {
      return new Limits(
          handshakeTimeout,
          maxConnectionIdle,
          keepAliveTime,
          keepAliveTimeout,
          permitKeepAliveTime,
          permitKeepAliveWithoutCalls,
          maxConcurrentCallsPerConnection,
          n,
          maxBufferedBytes,
          maxBufferedBytesPerConnection);
    }

    /** These limits with keepalive pings allowed (or not) on a connection with no call open. */
    public Limits withPermitKeepAliveWithoutCalls(boolean permit) {
      return new Limits(
          handshakeTimeout,
          maxConnectionIdle,
          keepAliveTime,
          keepAliveTimeout,
          permitKeepAliveTime,
          permit,
          maxConcurrentCallsPerConnection,
          maxConnections,
          maxBufferedBytes,
          maxBufferedBytesPerConnection);
    }

    public Limits withMaxBufferedBytes(long server, long perConnection) {
      return new Limits(
          handshakeTimeout,
          maxConnectionIdle,
          keepAliveTime,
          keepAliveTimeout,
          permitKeepAliveTime,
          permitKeepAliveWithoutCalls,
          maxConcurrentCallsPerConnection,
          maxConnections,
          server,
          perConnection);
    }
  }
}
