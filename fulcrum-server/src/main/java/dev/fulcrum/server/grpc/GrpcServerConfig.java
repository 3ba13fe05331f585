package dev.fulcrum.server.grpc;

import java.util.Objects;

/**
 * Settings of the gRPC transport.
 *
 * @param host the address to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
 * @param port the port to bind; 0 picks a free one ({@link GrpcServer#port()} tells which)
 * @param maxMessageSize the largest request message accepted, in bytes; gRPC answers a larger one
 *     with RESOURCE_EXHAUSTED before it reaches the server's code
 */
public record GrpcServerConfig(String host, int port, int maxMessageSize) {
  /** Triton's default gRPC port. */
  public static final int DEFAULT_PORT = 8001;

  /** 64 MiB, the same limit as the HTTP transport's request body. */
  public static final int DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

  public GrpcServerConfig {
    Objects.requireNonNull(host, "host");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be 0..65535, was " + port);
    }
    if (maxMessageSize < 1) {
      throw new IllegalArgumentException("maxMessageSize must be >= 1, was " + maxMessageSize);
    }
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
    return new GrpcServerConfig(host, p, maxMessageSize);
  }

  public GrpcServerConfig withMaxMessageSize(int bytes) {
    return new GrpcServerConfig(host, port, bytes);
  }
}
