package dev.fulcrum.server.grpc;

import dev.fulcrum.server.RateLimitedLog;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
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
 * closed before write could take place"), also the client's doing. Likewise grpc-netty's transport
 * logs "Transport failed" at INFO with a stack trace for each connection it closes for an HTTP/2
 * protocol error of the client's (a header block over the metadata limit by a quarter, which Netty
 * answers with GOAWAY before grpc sees the call; a broken frame): one rate-limited line too. Their
 * other records pass untouched, an HTTP/2 INTERNAL_ERROR (the server's own) among them.
 *
 * <p>A JUL filter is global to the process: the last server started installs its own; the logger is
 * held strongly so that the filter stays (JUL keeps its loggers weakly). Thread-safe: JUL calls the
 * filter on Netty's event loops; the rate-limited log is thread-safe.
 */
final class ClientStreamErrorLog implements Filter {
  private static final Logger log = LoggerFactory.getLogger(GrpcServer.class);

  private static final java.util.logging.Logger HANDLER_LOG =
      java.util.logging.Logger.getLogger("io.grpc.netty.NettyServerHandler");

  private static final java.util.logging.Logger TRANSPORT_LOG =
      java.util.logging.Logger.getLogger("io.grpc.netty.NettyServerTransport.connections");

  private static final String TRANSPORT_FAILED = "Transport failed";

  private static final Set<String> STREAM_MESSAGES =
      Set.of("Exception in onHeadersRead()", "Stream Error");

  private final RateLimitedLog lines = new RateLimitedLog(log, Duration.ofSeconds(10));

  ClientStreamErrorLog() {}

  /** Filters grpc-netty's server handler's records from now on. */
  static void install() {
    ClientStreamErrorLog filter = new ClientStreamErrorLog();
    HANDLER_LOG.setFilter(filter);
    TRANSPORT_LOG.setFilter(filter);
  }

  @Override
  public boolean isLoggable(LogRecord record) {
    if (TRANSPORT_FAILED.equals(record.getMessage())
        && record.getThrown() instanceof Http2Exception e
        && e.error() != Http2Error.INTERNAL_ERROR) {
      lines.log(
          Level.INFO,
          "grpc-connection-error",
          "gRPC connection closed for the client's HTTP/2 error ("
              + e.error()
              + "): "
              + e.getMessage(),
          null);
      return false;
    }
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
