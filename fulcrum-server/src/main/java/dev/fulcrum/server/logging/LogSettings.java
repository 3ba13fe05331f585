package dev.fulcrum.server.logging;

/**
 * The log settings of Triton's logging extension, in its words.
 *
 * @param logFile where the log goes: a file's path, or "" for the console (standard error)
 * @param info whether INFO lines are written
 * @param warning whether WARN lines are written
 * @param error whether ERROR lines are written
 * @param verboseLevel 0: no DEBUG or TRACE lines; 1: DEBUG lines of the server's loggers; 2 and
 *     above: TRACE too, and DEBUG of the libraries whose level is set apart (Netty, DJL)
 * @param format the line format; {@code default}, the one Fulcrum writes
 */
public record LogSettings(
    String logFile, boolean info, boolean warning, boolean error, int verboseLevel, String format) {

  /** The one line format: {@code HH:mm:ss.SSS [thread] LEVEL Logger - message}. */
  public static final String DEFAULT_FORMAT = "default";

  public LogSettings {
    if (verboseLevel < 0) {
      throw new IllegalArgumentException("verboseLevel must be >= 0, was " + verboseLevel);
    }
  }

  LogSettings withInfo(boolean on) {
    return new LogSettings(logFile, on, warning, error, verboseLevel, format);
  }

  LogSettings withWarning(boolean on) {
    return new LogSettings(logFile, info, on, error, verboseLevel, format);
  }

  LogSettings withError(boolean on) {
    return new LogSettings(logFile, info, warning, on, verboseLevel, format);
  }

  LogSettings withVerboseLevel(int level) {
    return new LogSettings(logFile, info, warning, error, level, format);
  }
}
