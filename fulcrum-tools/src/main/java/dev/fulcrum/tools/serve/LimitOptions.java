package dev.fulcrum.tools.serve;

import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * The {@code serve} flags that bound what slow or hostile clients can hold: timeouts, connection
 * counts and buffered bytes, for the REST (and metrics) port and the gRPC port. Defaults are {@link
 * HttpServerConfig.Limits#defaults()} and {@link GrpcServerConfig.Limits#defaults()}.
 *
 * <p>Not thread-safe: picocli fills the fields once, before {@code serve} starts.
 */
final class LimitOptions {
  @Option(
      names = "--http-header-timeout-secs",
      defaultValue = "10",
      paramLabel = "SECS",
      description =
          "A new REST or metrics connection that has not sent a complete request head (or the"
              + " HTTP/2 preface) after this long is closed (default: ${DEFAULT-VALUE}).")
  int httpHeaderTimeoutSecs;

  @Option(
      names = "--http-idle-timeout-secs",
      defaultValue = "620",
      paramLabel = "SECS",
      description =
          "A REST or metrics connection with no request in progress for this long is closed"
              + " (default: ${DEFAULT-VALUE}); behind a load balancer that keeps connections"
              + " open, set it above the balancer's idle timeout.")
  int httpIdleTimeoutSecs;

  @Option(
      names = "--http-body-timeout-secs",
      defaultValue = "30",
      paramLabel = "SECS",
      description =
          "A request body that sends no bytes for this long is dropped and its connection closed"
              + " (HTTP/2: its stream reset); so is a client that reads none of its responses for"
              + " this long (default: ${DEFAULT-VALUE}).")
  int httpBodyTimeoutSecs;

  @Option(
      names = "--http-max-connections",
      defaultValue = "4096",
      paramLabel = "N",
      description =
          "Open REST connections at most, and as many metrics connections, counted apart. At"
              + " the cap, of the connections that have sent no request head 100 ms after their"
              + " connect, the slowest (fewest bytes a second) among the oldest is closed to make"
              + " room for the new one; if there is none, the new one is closed at once (default:"
              + " ${DEFAULT-VALUE}).")
  int httpMaxConnections;

  @Option(
      names = "--http-accept-backlog",
      defaultValue = "1024",
      paramLabel = "N",
      description =
          "The REST port's accept queue: connections the kernel completes before the server"
              + " accepts them; a SYN that finds it full is dropped and resent by the client"
              + " after 1 s. Linux caps it at the sysctl net.core.somaxconn (the server logs what"
              + " the port got) (default: ${DEFAULT-VALUE}).")
  int httpAcceptBacklog;

  @Option(
      names = "--http-acceptors",
      defaultValue = "2",
      paramLabel = "N",
      description =
          "Listening sockets of the REST port, each with an accept thread of its own, bound with"
              + " SO_REUSEPORT: the kernel spreads new connections over them, each with an accept"
              + " queue of --http-accept-backlog; one connection cap for all. epoll and io_uring;"
              + " NIO keeps one. 0: one listening socket per event loop, accepted and registered by"
              + " that loop (no hand-off: under a connection flood kept-alive clients wait less,"
              + " new ones no less; see docs/PERFORMANCE.md, Hostile clients) (default:"
              + " ${DEFAULT-VALUE}).")
  int httpAcceptors;

  @Option(
      names = "--http-max-buffered-bytes",
      defaultValue = "1073741824",
      paramLabel = "BYTES",
      description =
          "Request bytes the server holds at once: REST bodies and unfinished gRPC messages,"
              + " all connections of both ports together; a REST request beyond it gets 503, a"
              + " gRPC call RESOURCE_EXHAUSTED (default: ${DEFAULT-VALUE}, 1 GiB; at most half the"
              + " JVM's direct-memory limit, logged at start).")
  long httpMaxBufferedBytes;

  @Option(
      names = "--http-max-buffered-bytes-per-connection",
      defaultValue = "268435456",
      paramLabel = "BYTES",
      description =
          "The same budget for one connection, all its HTTP/2 streams together (default:"
              + " ${DEFAULT-VALUE}, 256 MiB).")
  long httpMaxBufferedBytesPerConnection;

  @Option(
      names = "--http2-max-concurrent-streams",
      defaultValue = "100",
      paramLabel = "N",
      description =
          "Concurrent streams per h2c connection on the REST port (default: ${DEFAULT-VALUE}).")
  int http2MaxConcurrentStreams;

  @Option(
      names = "--grpc-handshake-timeout-secs",
      defaultValue = "10",
      paramLabel = "SECS",
      description =
          "A gRPC connection that has not sent the HTTP/2 preface after this long is closed"
              + " (default: ${DEFAULT-VALUE}).")
  int grpcHandshakeTimeoutSecs;

  @Option(
      names = "--grpc-max-connection-idle-secs",
      defaultValue = "60",
      paramLabel = "SECS",
      description =
          "A gRPC connection with no call for this long is sent GOAWAY and closed (default:"
              + " ${DEFAULT-VALUE}).")
  int grpcMaxConnectionIdleSecs;

  @Option(
      names = "--grpc-keepalive-time",
      defaultValue = "7200000",
      paramLabel = "MS",
      description =
          "The server pings a gRPC connection silent for this long (default: ${DEFAULT-VALUE}).")
  long grpcKeepAliveTimeMs;

  @Option(
      names = "--grpc-keepalive-timeout",
      defaultValue = "20000",
      paramLabel = "MS",
      description =
          "A gRPC connection that does not answer the ping within this is closed (default:"
              + " ${DEFAULT-VALUE}).")
  long grpcKeepAliveTimeoutMs;

  @Option(
      names = "--grpc-http2-min-recv-ping-interval-without-data",
      defaultValue = "300000",
      paramLabel = "MS",
      description =
          "The shortest interval allowed between a client's keepalive pings while it has a call"
              + " open; a client pinging faster is sent GOAWAY. With no call open, one ping per 2"
              + " hours is allowed, as in Triton's default, unless"
              + " --grpc-keepalive-permit-without-calls (default: ${DEFAULT-VALUE}).")
  long grpcPermitKeepAliveTimeMs;

  @Option(
      names = "--grpc-keepalive-permit-without-calls",
      defaultValue = "false",
      arity = "1",
      paramLabel = "BOOL",
      description =
          "Let a gRPC client ping as often as --grpc-http2-min-recv-ping-interval-without-data"
              + " allows with no call open (clients set to keepalive_permit_without_calls); off, such"
              + " a client is sent GOAWAY too_many_pings (default: ${DEFAULT-VALUE}).")
  boolean grpcPermitKeepAliveWithoutCalls;

  @Option(
      names = "--grpc-max-concurrent-calls-per-connection",
      defaultValue = "100",
      paramLabel = "N",
      description =
          "Calls one gRPC connection may have open at once; their unfinished messages together"
              + " hold at most --grpc-max-buffered-bytes-per-connection (default:"
              + " ${DEFAULT-VALUE}).")
  int grpcMaxConcurrentCalls;

  @Option(
      names = "--grpc-max-buffered-bytes-per-connection",
      defaultValue = "268435456",
      paramLabel = "BYTES",
      description =
          "Bytes of unfinished request messages one gRPC connection may hold, all its calls"
              + " together; the call that would exceed it (or --http-max-buffered-bytes) ends with"
              + " RESOURCE_EXHAUSTED (default: ${DEFAULT-VALUE}, 256 MiB).")
  long grpcMaxBufferedBytesPerConnection;

  @Option(
      names = "--grpc-max-connections",
      defaultValue = "4096",
      paramLabel = "N",
      description =
          "Open gRPC connections beyond which a new one is closed at once (default:"
              + " ${DEFAULT-VALUE}).")
  int grpcMaxConnections;

  HttpServerConfig.Limits http() {
    return new HttpServerConfig.Limits(
        Duration.ofSeconds(httpHeaderTimeoutSecs),
        Duration.ofSeconds(httpIdleTimeoutSecs),
        Duration.ofSeconds(httpBodyTimeoutSecs),
        httpMaxConnections,
        httpMaxBufferedBytes,
        httpMaxBufferedBytesPerConnection,
        http2MaxConcurrentStreams,
        httpAcceptBacklog,
        httpAcceptors);
  }

  GrpcServerConfig.Limits grpc() {
    return new GrpcServerConfig.Limits(
        Duration.ofSeconds(grpcHandshakeTimeoutSecs),
        Duration.ofSeconds(grpcMaxConnectionIdleSecs),
        Duration.ofMillis(grpcKeepAliveTimeMs),
        Duration.ofMillis(grpcKeepAliveTimeoutMs),
        Duration.ofMillis(grpcPermitKeepAliveTimeMs),
        grpcPermitKeepAliveWithoutCalls,
        grpcMaxConcurrentCalls,
        grpcMaxConnections,
        httpMaxBufferedBytes,
        grpcMaxBufferedBytesPerConnection);
  }
}
