package dev.fulcrum.server;

import java.util.Locale;

/**
 * Which of Netty's I/O transports the REST and gRPC ports' event loops use: {@link #AUTO} picks the
 * first that loads here, in the order epoll, io_uring, NIO ({@link NettyTransport#choose}); the
 * others force one. Immutable.
 */
public enum Transport {
  /** epoll when it loads, else io_uring when the kernel allows it, else NIO; never fails. */
  AUTO("auto"),
  /**
   * Linux io_uring (kernel 5.14+, x86-64 here): completions instead of readiness, fewer syscalls.
   */
  IO_URING("io_uring"),
  /** Linux epoll, edge-triggered (x86-64 here). */
  EPOLL("epoll"),
  /** Java NIO: every platform. */
  NIO("nio");

  /** The system property whose value is the default transport ({@code auto} when unset). */
  public static final String PROPERTY = "fulcrum.transport";

  private final String label;

  Transport(String label) {
    this.label = label;
  }

  /** The name used on the command line and in logs: {@code auto}, {@code io_uring}, ... */
  public String label() {
    return label;
  }

  /**
   * The transport named {@code name}: {@code auto}, {@code io_uring} (also {@code io-uring}, {@code
   * iouring}, {@code uring}), {@code epoll} or {@code nio}, in any case.
   *
   * @throws IllegalArgumentException naming the accepted values
   */
  public static Transport parse(String name) {
    return switch (name.trim().toLowerCase(Locale.ROOT)) {
      case "auto" -> AUTO;
      case "io_uring", "io-uring", "iouring", "uring" -> IO_URING;
      case "epoll" -> EPOLL;
      case "nio" -> NIO;
      default ->
          throw new IllegalArgumentException(
              "unknown transport '" + name + "'; expected auto, io_uring, epoll or nio");
    };
  }

  /**
   * The default: the {@value #PROPERTY} system property, else {@link #NIO} when the older {@code
   * fulcrum.http.nio=true} is set, else {@link #AUTO}.
   */
  public static Transport fromSystemProperties() {
    String named = System.getProperty(PROPERTY);
    if (named != null && !named.isBlank()) {
      return parse(named);
    }
    return Boolean.getBoolean("fulcrum.http.nio") ? NIO : AUTO;
  }
}
