package dev.fulcrum.server.grpc;

import dev.fulcrum.server.RateLimitedLog;
import java.time.Duration;
import java.util.Set;
import java.util.logging.Filter;
import java.util.logging.LogRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * Turns grpc-netty's per-stream WARNINGs (java.util.logging, each with a full stack trace) into one
 * rate-limited INFO line without a trace. grpc-java's {@code NettyServerHandler} logs "Exception in
 * onHeadersRead()" and then "Stream Error" for a request whose headers it cannot take (a malformed
 * {@code grpc-timeout} such as {@code abc} or {@code 999999999H}), twice per request: a client's
 * mistake, already answered by resetting its stream, that a client could flood the log with. It
 * logs "Stream Error" too when it writes an answer to a stream the client has reset already (a
 * C-core client whose {@code grpc.max_receive_message_length} the answer exceeds resets it: "Stream
 * closed before write could take place"), also the client's doing. Its other records pass
 * untouched.
 *
 * <p>A JUL filter is global to the process: the last server started installs its own; the logger is
 * held strongly so that the filter stays (JUL keeps its loggers weakly). Thread-safe: JUL calls the
 * filter on Netty's event loops; the rate-limited log is thread-safe.
 */
final class ClientStreamErrorLog implements Filter {
  private static final Logger log = LoggerFactory.getLogger(GrpcServer.class);

  private static final java.util.logging.Logger HANDLER_LOG =
      java.util.logging.Logger.getLogger("io.grpc.netty.NettyServerHandler");

  private static final Set<String> STREAM_MESSAGES =
      Set.of("Exception in onHeadersRead()", "Stream Error");

  private final RateLimitedLog lines = new RateLimitedLog(log, Duration.ofSeconds(10));

  ClientStreamErrorLog() {}

  /** Filters grpc-netty's server handler's records from now on. */
  static void install() {
    HANDLER_LOG.setFilter(new ClientStreamErrorLog());
  }

  @Override
  public boolean isLoggable(LogRecord record) {
    if (record.getMessage() == null || !STREAM_MESSAGES.contains(record.getMessage())) {
      return true;
    }
    Throwable root = record.getThrown();
    for (int depth = 0; root != null && root.getCause() != null && depth < 16; depth++) {
      root = root.getCause();
    }
    lines.log(
        Level.INFO,
        "grpc-stream-error",
        "gRPC stream reset (a request grpc-java could not take, or an answer to a stream the"
            + " client had reset): "
            + (root == null ? record.getMessage() : root.toString()),
        null);
    return false;
  }
}
