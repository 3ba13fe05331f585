package dev.fulcrum.server;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.event.Level;

/**
 * How a transport logs the requests it answers with an error, one policy for REST and gRPC: a
 * client mistake (any {@link ErrorCode} but INTERNAL) is one INFO line without a stack trace; an
 * engine failure (INTERNAL) a WARN line with its cause's stack trace; any other exception, which is
 * a server bug, an ERROR line with its stack trace. All are rate-limited per kind ({@link
 * RateLimitedLog}, one line per 10 s), so a client repeating a bad request cannot flood the log.
 * Cancellations are not logged. With DEBUG on (FULCRUM_LOG_LEVEL=debug, or {@code
 * log_verbose_level} 1 through Triton's logging extension) every client mistake is a DEBUG line of
 * its own instead, not rate-limited, for the engineer who turned it on to see each one.
 * Thread-safe; each server owns one.
 */
public final class RequestFailureLog {
  /** At most one line per kind of failure in this interval. */
  public static final Duration INTERVAL = Duration.ofSeconds(10);

  private final RateLimitedLog log;

  public RequestFailureLog(Logger logger) {
    this(new RateLimitedLog(logger, INTERVAL));
  }

  RequestFailureLog(RateLimitedLog log) {
    this.log = log;
  }

  /**
   * Logs a connection ended by something unexpected on its event loop (an {@link OutOfMemoryError}
   * while buffering a body, a bug): one WARN line per kind without a stack trace, so a burst of
   * them (every connection running out of direct memory at once) is a line every 10 s, not a trace
   * each. A peer's reset is not logged here (the caller filters it).
   *
   * @param peer the connection's remote address
   * @param what how the connection ended ("answered 503", "closed")
   */
  public void connectionFailed(String peer, Throwable cause, String what) {
    String hint =
        cause instanceof OutOfMemoryError
            ? "; the JVM ran out of memory: give it more (README, 'Running without the launcher"
                + " (containers)') or lower --http-max-buffered-bytes"
            : "";
    log.log(
        Level.WARN,
        "connection " + cause.getClass().getName(),
        "connection "
            + peer
            + " "
            + what
            + " after "
            + ClientText.printable(String.valueOf(cause), 500)
            + hint,
        null);
  }

  /** Logs the failure of one request (the exception it was answered with, wrapped or not). */
  public void failed(Throwable t) {
    Throwable cause = t;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    if (cause instanceof CancellationException) {
      return;
    }
    if (cause instanceof InferenceException ie) {
      if (ie.code() == ErrorCode.INTERNAL) {
        Throwable root = ie.getCause();
        log.log(
            Level.WARN,
            "INTERNAL " + (root == null ? "" : root.getClass().getName()),
            "request failed: " + ClientText.printable(String.valueOf(ie.getMessage()), 2000),
            root);
      } else if (ie.code() != ErrorCode.CANCELLED && log.logger().isDebugEnabled()) {
        log.logger()
            .debug(
                "request refused ({}): {}",
                ie.code(),
                ClientText.printable(String.valueOf(ie.getMessage()), 2000));
      } else if (ie.code() != ErrorCode.CANCELLED) {
        log.log(
            Level.INFO,
            ie.code().name(),
            "request refused ("
                + ie.code()
                + "): "
                + ClientText.printable(String.valueOf(ie.getMessage()), 2000),
            null);
      }
      return;
    }
    log.log(
        Level.ERROR,
        "unexpected " + cause.getClass().getName(),
        "unexpected failure while serving a request: "
            + ClientText.printable(String.valueOf(cause), 2000),
        cause);
  }
}
