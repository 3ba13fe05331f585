package dev.fulcrum.tools.log;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.text.DateFormat;
import java.text.SimpleDateFormat;
import java.util.Date;
import java.util.TimeZone;
import org.jspecify.annotations.Nullable;

/**
 * Where the lines go and how their time is written. The configured {@code HH:mm:ss.SSS} (the CLI's
 * {@code simplelogger.properties}) is formatted here from the clock and the default time zone's
 * offset at that instant: no {@code SimpleDateFormat}, so no locale data (calendar, date and number
 * symbols) is loaded to write a log line. Any other pattern goes to a {@code SimpleDateFormat}, as
 * slf4j-simple; a pattern it refuses, or none, writes milliseconds since the start.
 *
 * <p>Concurrency: any thread; {@link #write} holds this object's lock for one line and its stack
 * trace, so lines of different threads do not interleave (as slf4j-simple).
 */
final class LineWriter {
  static final String CLOCK_PATTERN = "HH:mm:ss.SSS";

  private final long startMillis = System.currentTimeMillis();
  private final @Nullable TimeZone clockZone;
  private final @Nullable DateFormat otherFormat;
  private final String logFile;
  private final @Nullable PrintStream fileStream;

  LineWriter(LineLogConfig config) {
    this(config, config.logFile(), false);
  }

  /**
   * @param logFile where the lines go: {@code System.err}, {@code System.out} or a file's path
   * @param append a file is appended to (a logger's own file, {@link
   *     LineLogConfig#LOG_FILE_PREFIX}), not truncated (the shared {@code logFile}, as
   *     slf4j-simple)
   */
  LineWriter(LineLogConfig config, String logFile, boolean append) {
    String pattern = config.showDateTime() ? config.dateTimeFormat() : null;
    this.clockZone = CLOCK_PATTERN.equals(pattern) ? TimeZone.getDefault() : null;
    this.otherFormat = pattern == null || clockZone != null ? null : dateFormat(pattern);
    this.logFile = logFile;
    this.fileStream = fileStream(logFile, append);
  }

  /** Appends the line's time (as configured) and a space. */
  @SuppressWarnings("JavaUtilDate") // a pattern other than the clock's goes to SimpleDateFormat
  void appendTime(StringBuilder line, long epochMillis) {
    if (clockZone != null) {
      appendClock(line, epochMillis + clockZone.getOffset(epochMillis));
    } else if (otherFormat != null) {
      synchronized (otherFormat) {
        line.append(otherFormat.format(new Date(epochMillis)));
      }
    } else {
      line.append(epochMillis - startMillis);
    }
    line.append(' ');
  }

  /** {@code HH:mm:ss.SSS} of a local time in milliseconds since the local epoch. */
  static void appendClock(StringBuilder line, long localMillis) {
    int millisOfDay = (int) Math.floorMod(localMillis, 86_400_000L);
    twoDigits(line, millisOfDay / 3_600_000);
    line.append(':');
    twoDigits(line, millisOfDay / 60_000 % 60);
    line.append(':');
    twoDigits(line, millisOfDay / 1000 % 60);
    line.append('.');
    int millis = millisOfDay % 1000;
    line.append((char) ('0' + millis / 100)).append((char) ('0' + millis / 10 % 10));
    line.append((char) ('0' + millis % 10));
  }

  /** Writes one line and the throwable's stack trace, if any, then flushes. */
  synchronized void write(String line, @Nullable Throwable t) {
    PrintStream out =
        fileStream != null
            ? fileStream
            : "System.out".equalsIgnoreCase(logFile) ? System.out : System.err;
    out.println(line);
    if (t != null) {
      t.printStackTrace(out);
    }
    out.flush();
  }

  private static void twoDigits(StringBuilder line, int value) {
    line.append((char) ('0' + value / 10)).append((char) ('0' + value % 10));
  }

  private static @Nullable DateFormat dateFormat(String pattern) {
    try {
      return new SimpleDateFormat(pattern);
    } catch (IllegalArgumentException e) {
      System.err.println(
          "SLF4J(LineLogProvider): bad dateTimeFormat '"
              + pattern
              + "'; writing"
              + " milliseconds since the start");
      return null;
    }
  }

  private static @Nullable PrintStream fileStream(String logFile, boolean append) {
    if ("System.err".equalsIgnoreCase(logFile) || "System.out".equalsIgnoreCase(logFile)) {
      return null;
    }
    try {
      return new PrintStream(
          new FileOutputStream(logFile, append), false, java.nio.charset.Charset.defaultCharset());
    } catch (IOException e) {
      System.err.println(
          "SLF4J(LineLogProvider): cannot open logFile '"
              + logFile
              + "' ("
              + e
              + "); writing to System.err");
      return null;
    }
  }
}
