package dev.fulcrum.server;

import java.util.Objects;

/**
 * Settings of the HTTP transport.
 *
 * @param host the address to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
 * @param port the port to bind; 0 picks a free one ({@link HttpServer#port()} tells which)
 * @param maxInputSize the largest request body accepted, in bytes, after any {@code
 *     Content-Encoding} is undone; larger ones are answered 413
 * @param eventLoopThreads I/O threads; 0 lets Netty choose (twice the cores)
 */
public record HttpServerConfig(String host, int port, int maxInputSize, int eventLoopThreads) {
  /** Triton's default {@code --http-max-input-size}: 64 MiB. */
  public static final int DEFAULT_MAX_INPUT_SIZE = 64 * 1024 * 1024;

  /** Triton's default HTTP port. */
  public static final int DEFAULT_PORT = 8000;

  public HttpServerConfig {
    Objects.requireNonNull(host, "host");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be 0..65535, was " + port);
    }
    if (maxInputSize < 1) {
      throw new IllegalArgumentException("maxInputSize must be >= 1, was " + maxInputSize);
    }
    if (eventLoopThreads < 0) {
      throw new IllegalArgumentException("eventLoopThreads must be >= 0");
    }
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
    return new HttpServerConfig(host, port, bytes, eventLoopThreads);
  }

  public HttpServerConfig withPort(int p) {
    return new HttpServerConfig(host, p, maxInputSize, eventLoopThreads);
  }
}
