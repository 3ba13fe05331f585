package dev.fulcrum.tools.log;

import dev.fulcrum.server.logging.LogControl;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;

/** The CLI's way to its logging back end, for the server's logging extension. Stateless. */
public final class LineLogging {
  private LineLogging() {}

  /**
   * The log settings of this process's loggers, when SLF4J runs with {@link LineLogProvider}; null
   * under another provider (then the server's settings read fixed).
   */
  public static @Nullable LogControl control() {
    return LoggerFactory.getILoggerFactory() instanceof LineLoggerFactory f ? f.levels() : null;
  }
}
