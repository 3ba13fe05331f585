package dev.fulcrum.tools.serve;

import java.net.BindException;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;

/**
 * A port {@code fulcrum serve} was told to listen on could not be bound: taken by another process,
 * or an address this machine does not have. Its message names the port, the address and the option
 * that sets it; {@code serve} logs only that message (no stack trace) and exits 1: the user's fix
 * is another port or stopping the other process, not a bug report. Immutable.
 */
final class PortUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  PortUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * Runs {@code start}; a failure to bind ({@link BindException} from the JDK's sockets, or the
   * {@code bind(..) failed} of Netty's native transports) anywhere in its causes becomes this
   * exception, naming {@code what}, the address and {@code option}; any other failure passes as is.
   */
  static <T> Callable<T> naming(
      String what, String option, String host, int port, Callable<T> start) {
    return () -> {
      try {
        return start.call();
      } catch (Exception e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
          if (t instanceof BindException || String.valueOf(t.getMessage()).startsWith("bind(")) {
            throw new PortUnavailableException(
                String.format(
                    "cannot listen on %s:%d for %s (%s): %s",
                    ServeCommand.bracketed(host), port, what, option, reason(t.getMessage())),
                e);
          }
        }
        throw e;
      }
    };
  }

  /** The operating system's words without Netty's {@code bind(..) failed with error(-98): }. */
  private static String reason(@Nullable String message) {
    int colon = message == null ? -1 : message.lastIndexOf(": ");
    return message == null ? "bind failed" : colon >= 0 ? message.substring(colon + 2) : message;
  }
}
