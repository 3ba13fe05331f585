package dev.fulcrum.server.logging;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.ClientText;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A change of the log settings as Triton's logging extension asks for it, read alike from REST's
 * JSON and gRPC's typed values, checked whole before any of it applies: {@code log_info}, {@code
 * log_warning}, {@code log_error} (booleans) and {@code log_verbose_level} (an integer >= 0) change
 * what is written; {@code log_file} and {@code log_format} can only be given their current values
 * (so that a client may send back what it read), since the log's destination and line format are
 * fixed when the process starts; any other name is refused rather than ignored, so that a misspelt
 * setting ({@code log_warnings}) is not mistaken for a change. A setting without a value (JSON
 * null) is left as it is, as Triton. A change is logged (WARN, so that it is written even with
 * {@code log_info} off), so that the log itself says from when its DEBUG lines come.
 *
 * <p>Stateless; {@link #apply} runs on the caller's thread.
 */
public final class LogSettingsUpdate {
  public static final String LOG_FILE = "log_file";
  public static final String LOG_INFO = "log_info";
  public static final String LOG_WARNING = "log_warning";
  public static final String LOG_ERROR = "log_error";
  public static final String LOG_VERBOSE_LEVEL = "log_verbose_level";
  public static final String LOG_FORMAT = "log_format";

  private static final String NAMES =
      String.join(", ", LOG_FILE, LOG_INFO, LOG_WARNING, LOG_ERROR, LOG_VERBOSE_LEVEL, LOG_FORMAT);

  private static final Logger log = LoggerFactory.getLogger(LogSettingsUpdate.class);

  private LogSettingsUpdate() {}

  /**
   * Applies a change.
   *
   * @param values setting name → its value: a Boolean, a Long, a String, or null (no value)
   * @return the settings then in force
   * @throws InferenceException INVALID_ARGUMENT naming the first setting refused; nothing changes
   */
  public static LogSettings apply(LogControl control, Map<String, @Nullable Object> values) {
    // Read, change, put back as one step: two changes at once (an event loop of each port) would
    // otherwise each start from the same settings, and the second would undo the first's.
    synchronized (control) {
      return applyLocked(control, values);
    }
  }

  private static LogSettings applyLocked(LogControl control, Map<String, @Nullable Object> values) {
    LogSettings now = control.settings();
    LogSettings next = now;
    for (Map.Entry<String, @Nullable Object> e : values.entrySet()) {
      String name = e.getKey();
      Object value = e.getValue();
      if (value == null) {
        if (!isKnown(name)) {
          throw unknown(name);
        }
        continue;
      }
      next =
          switch (name) {
            case LOG_INFO -> next.withInfo(bool(name, value));
            case LOG_WARNING -> next.withWarning(bool(name, value));
            case LOG_ERROR -> next.withError(bool(name, value));
            case LOG_VERBOSE_LEVEL -> next.withVerboseLevel(level(value));
            case LOG_FILE -> {
              String file = text(name, value);
              if (!file.equals(now.logFile())) {
                throw InferenceException.invalid(
                    "log_file cannot be changed on a running server: the log goes to %s, set when"
                        + " the server starts (org.slf4j.simpleLogger.logFile); send %s or leave"
                        + " log_file out",
                    now.logFile().isEmpty() ? "standard error" : now.logFile(),
                    now.logFile().isEmpty() ? "\"\"" : "\"" + now.logFile() + "\"");
              }
              yield next;
            }
            case LOG_FORMAT -> {
              String format = text(name, value);
              if (!format.equals(now.format())) {
                throw InferenceException.invalid(
                    "log_format '%s' is not available: Fulcrum writes one line format, '%s'"
                        + " (HH:mm:ss.SSS [thread] LEVEL Logger - message)",
                    ClientText.printable(format, 100), now.format());
              }
              yield next;
            }
            default -> throw unknown(name);
          };
    }
    if (next.equals(now)) {
      return now;
    }
    LogSettings applied = control.apply(next);
    // WARN: the line an operator needs to find later is written whatever log_info now says
    log.warn(
        "log settings changed through the logging extension: {} -> {}",
        levels(now),
        levels(applied));
    return applied;
  }

  private static String levels(LogSettings s) {
    return "info="
        + s.info()
        + " warning="
        + s.warning()
        + " error="
        + s.error()
        + " verbose="
        + s.verboseLevel();
  }

  /** The settings as REST's answer and gRPC's response name them, in Triton's order. */
  public static Map<String, Object> json(LogSettings s) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put(LOG_FILE, s.logFile());
    out.put(LOG_INFO, s.info());
    out.put(LOG_WARNING, s.warning());
    out.put(LOG_ERROR, s.error());
    out.put(LOG_VERBOSE_LEVEL, s.verboseLevel());
    out.put(LOG_FORMAT, s.format());
    return out;
  }

  private static boolean isKnown(String name) {
    return switch (name) {
      case LOG_FILE, LOG_INFO, LOG_WARNING, LOG_ERROR, LOG_VERBOSE_LEVEL, LOG_FORMAT -> true;
      default -> false;
    };
  }

  private static InferenceException unknown(String name) {
    return InferenceException.invalid(
        "unknown log setting '%s': the settings are %s", ClientText.printable(name, 100), NAMES);
  }

  private static boolean bool(String name, Object value) {
    if (value instanceof Boolean b) {
      return b;
    }
    throw InferenceException.invalid("%s must be true or false, was %s", name, shown(value));
  }

  private static String text(String name, Object value) {
    if (value instanceof String s) {
      return s;
    }
    throw InferenceException.invalid("%s must be a string, was %s", name, shown(value));
  }

  private static int level(Object value) {
    if (value instanceof Long n && n >= 0 && n <= Integer.MAX_VALUE) {
      return (int) (long) n;
    }
    throw InferenceException.invalid(
        "%s must be an integer >= 0 (0: no DEBUG lines, 1: DEBUG, 2: TRACE too), was %s",
        LOG_VERBOSE_LEVEL, shown(value));
  }

  private static String shown(Object value) {
    return value instanceof String s
        ? "\"" + ClientText.printable(s, 100) + "\""
        : ClientText.printable(String.valueOf(value), 100);
  }
}
