package dev.fulcrum.tools.log;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * slf4j-simple's settings, read as slf4j-simple reads them: each {@code org.slf4j.simpleLogger.*}
 * key from the system properties first, then from {@code simplelogger.properties} on the class
 * path; the same defaults. A logger's level ({@code org.slf4j.simpleLogger.log.<name>}, then each
 * shorter dotted prefix of the name, then the {@code default} level key) is looked up when the
 * logger is made, so a system property set before then (the CLI's {@code FULCRUM_LOG_LEVEL}, {@code
 * fulcrum tune}'s quieter server) applies.
 *
 * @param defaultLevel the level of a logger no {@code log.} key names (an SLF4J level number)
 * @param showDateTime whether a line starts with the time
 * @param dateTimeFormat the time's {@code SimpleDateFormat} pattern; null: milliseconds since the
 *     start (as slf4j-simple)
 * @param showThreadName {@code [thread]} after the time
 * @param showThreadId {@code tid=N} after the thread
 * @param showLogName the logger's full name
 * @param showShortLogName the logger's name after its last dot (wins over {@code showLogName})
 * @param levelInBrackets {@code [INFO]} instead of {@code INFO}
 * @param warnLevelString how the WARN level is written
 * @param logFile {@code System.err}, {@code System.out} or a file's path
 * @param lookup a key's value (system property, then the file), or null
 */
record LineLogConfig(
    int defaultLevel,
    boolean showDateTime,
    @Nullable String dateTimeFormat,
    boolean showThreadName,
    boolean showThreadId,
    boolean showLogName,
    boolean showShortLogName,
    boolean levelInBrackets,
    String warnLevelString,
    String logFile,
    UnaryOperator<@Nullable String> lookup) {

  static final String PREFIX = "org.slf4j.simpleLogger.";
  static final String LOG_PREFIX = PREFIX + "log.";

  /**
   * A logger's own destination, Fulcrum's extension of slf4j-simple's {@code logFile}: {@code
   * org.slf4j.simpleLogger.logFile.<name>} (e.g. {@code logFile.fulcrum.slow}, the slow-request
   * log) sends the lines of that logger and the loggers under it there, appended to the file.
   */
  static final String LOG_FILE_PREFIX = PREFIX + "logFile.";

  static final int TRACE = 0;
  static final int DEBUG = 10;
  static final int INFO = 20;
  static final int WARN = 30;
  static final int ERROR = 40;
  static final int OFF = 50;

  LineLogConfig {
    if (warnLevelString.isEmpty() || logFile.isEmpty()) {
      throw new IllegalArgumentException("warnLevelString and logFile must not be empty");
    }
  }

  /** The settings of this JVM: system properties, then {@code simplelogger.properties}. */
  static LineLogConfig read() {
    Properties file = new Properties();
    ClassLoader loader = LineLogConfig.class.getClassLoader();
    try (InputStream in =
        loader == null
            ? ClassLoader.getSystemResourceAsStream("simplelogger.properties")
            : loader.getResourceAsStream("simplelogger.properties")) {
      if (in != null) {
        file.load(in);
      }
    } catch (IOException | IllegalArgumentException e) {
      // as slf4j-simple: an unreadable file leaves the defaults
    }
    Map<String, String> fileValues = new HashMap<>();
    file.stringPropertyNames().forEach(k -> fileValues.put(k, file.getProperty(k)));
    return of(
        key -> {
          String value = System.getProperty(key);
          return value != null ? value : fileValues.get(key);
        });
  }

  /** The settings a lookup gives (a key's value or null), with slf4j-simple's defaults. */
  static LineLogConfig of(UnaryOperator<@Nullable String> lookup) {
    String level = lookup.apply(PREFIX + "defaultLogLevel");
    return new LineLogConfig(
        level == null ? INFO : level(level),
        flag(lookup, "showDateTime", false),
        lookup.apply(PREFIX + "dateTimeFormat"),
        flag(lookup, "showThreadName", true),
        flag(lookup, "showThreadId", false),
        flag(lookup, "showLogName", true),
        flag(lookup, "showShortLogName", false),
        flag(lookup, "levelInBrackets", false),
        orDefault(lookup.apply(PREFIX + "warnLevelString"), "WARN"),
        orDefault(lookup.apply(PREFIX + "logFile"), "System.err"),
        lookup);
  }

  /**
   * The level a key names for the logger {@code name} or one of its dotted prefixes, or {@link
   * LineLevels#NONE} when only the default level applies.
   */
  int ownLevelOf(String name) {
    String key = name;
    while (true) {
      String value = lookup.apply(LOG_PREFIX + key);
      if (value != null) {
        return level(value);
      }
      int dot = key.lastIndexOf('.');
      if (dot < 0) {
        return LineLevels.NONE;
      }
      key = key.substring(0, dot);
    }
  }

  /** The level of the logger {@code name}: its own key, then its dotted prefixes', then default. */
  int levelOf(String name) {
    int own = ownLevelOf(name);
    return own == LineLevels.NONE ? defaultLevel : own;
  }

  /**
   * The destination of the logger {@code name}'s own lines ({@link #LOG_FILE_PREFIX}: its name's,
   * then its dotted prefixes'), or null: the shared {@link #logFile}.
   */
  @Nullable String logFileOf(String name) {
    String key = name;
    while (true) {
      String value = lookup.apply(LOG_FILE_PREFIX + key);
      if (value != null && !value.isBlank()) {
        return value.trim();
      }
      int dot = key.lastIndexOf('.');
      if (dot < 0) {
        return null;
      }
      key = key.substring(0, dot);
    }
  }

  /** slf4j-simple's level names, any case; anything else is INFO (as slf4j-simple). */
  static int level(String name) {
    return switch (name.trim().toLowerCase(Locale.ROOT)) {
      case "trace" -> TRACE;
      case "debug" -> DEBUG;
      case "warn" -> WARN;
      case "error" -> ERROR;
      case "off" -> OFF;
      default -> INFO;
    };
  }

  private static boolean flag(UnaryOperator<@Nullable String> lookup, String key, boolean dflt) {
    String value = lookup.apply(PREFIX + key);
    return value == null ? dflt : "true".equalsIgnoreCase(value.trim());
  }

  private static String orDefault(@Nullable String value, String dflt) {
    return value == null || value.isEmpty() ? dflt : value;
  }
}
