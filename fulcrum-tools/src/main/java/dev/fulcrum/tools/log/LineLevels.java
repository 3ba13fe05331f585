package dev.fulcrum.tools.log;

import dev.fulcrum.server.logging.LogControl;
import dev.fulcrum.server.logging.LogSettings;

/**
 * The levels every {@link LineLogger} of one factory asks at each call, changeable while the
 * process runs (Triton's logging extension, {@code v2/logging}): whether INFO, WARN and ERROR lines
 * are written, and the verbose level (1: DEBUG, 2: TRACE). They start as the configured default
 * level says. A logger whose name has a level of its own ({@code
 * org.slf4j.simpleLogger.log.<name>}, e.g. {@code io.netty=warn}) keeps it as a floor for INFO to
 * ERROR, and for DEBUG and TRACE needs one verbose level more (so that verbose 1 shows Fulcrum's
 * DEBUG lines, not Netty's).
 *
 * <p>Concurrency: any thread; the settings are one immutable record in a volatile field, replaced
 * whole.
 */
final class LineLevels implements LogControl {
  /** "No level of its own" for {@link #enabled}. */
  static final int NONE = -1;

  private volatile LogSettings settings;

  LineLevels(LineLogConfig config) {
    int d = config.defaultLevel();
    this.settings =
        new LogSettings(
            destination(config.logFile()),
            d <= LineLogConfig.INFO,
            d <= LineLogConfig.WARN,
            d <= LineLogConfig.ERROR,
            d <= LineLogConfig.TRACE ? 2 : d <= LineLogConfig.DEBUG ? 1 : 0,
            LogSettings.DEFAULT_FORMAT);
  }

  /** Triton's {@code log_file}: "" for the console. */
  private static String destination(String logFile) {
    return "System.err".equalsIgnoreCase(logFile) || "System.out".equalsIgnoreCase(logFile)
        ? ""
        : logFile;
  }

  /**
   * Whether a logger writes lines of {@code level}.
   *
   * @param own the logger's own configured level, or {@link #NONE}
   */
  boolean enabled(int level, int own) {
    LogSettings s = settings;
    return switch (level) {
      case LineLogConfig.ERROR -> s.error() && own <= LineLogConfig.ERROR;
      case LineLogConfig.WARN -> s.warning() && own <= LineLogConfig.WARN;
      case LineLogConfig.INFO -> s.info() && own <= LineLogConfig.INFO;
      case LineLogConfig.DEBUG ->
          (own != NONE && own <= LineLogConfig.DEBUG) || s.verboseLevel() >= (own == NONE ? 1 : 2);
      default ->
          (own != NONE && own <= LineLogConfig.TRACE) || s.verboseLevel() >= (own == NONE ? 2 : 3);
    };
  }

  @Override
  public LogSettings settings() {
    return settings;
  }

  @Override
  public synchronized LogSettings apply(LogSettings next) {
    LogSettings now = settings;
    settings =
        new LogSettings(
            now.logFile(),
            next.info(),
            next.warning(),
            next.error(),
            next.verboseLevel(),
            now.format());
    return settings;
  }
}
