package dev.fulcrum.tools.predict;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * {@code fulcrum predict}'s progress on stderr: on a terminal one line redrawn five times a second,
 * else a line every ten seconds; and the summary at the end (rows, errors, rows/s, wall time). Used
 * by one thread.
 */
final class Progress {
  private final PrintWriter err;
  private final boolean terminal;
  private final boolean quiet;
  private final long start = System.nanoTime();
  private long last = start;

  Progress(PrintWriter err, boolean terminal, boolean quiet) {
    this.err = err;
    this.terminal = terminal;
    this.quiet = quiet;
  }

  /** The rows written and skipped so far. */
  void add(long rows, long errors) {
    if (quiet) {
      return;
    }
    long now = System.nanoTime();
    if (now - last < (terminal ? 200_000_000L : 10_000_000_000L)) {
      return;
    }
    last = now;
    String line = line(rows, errors, now);
    if (terminal) {
      err.print("\r" + line);
    } else {
      err.println(line);
    }
    err.flush();
  }

  /** The summary line: always, unless quiet. */
  void summary(long rows, long errors) {
    if (quiet) {
      return;
    }
    long now = System.nanoTime();
    double seconds = Math.max(1e-9, (now - start) / 1e9);
    err.println(
        (terminal ? "\r" : "")
            + String.format(
                Locale.ROOT,
                "predict: %d rows, %d errors in %.2f s: %.0f rows/s",
                rows + errors,
                errors,
                seconds,
                (rows + errors) / seconds));
    err.flush();
  }

  private String line(long rows, long errors, long now) {
    double seconds = Math.max(1e-9, (now - start) / 1e9);
    return String.format(
        Locale.ROOT,
        "predict: %d rows%s, %.0f rows/s",
        rows + errors,
        errors == 0 ? "" : " (" + errors + " errors)",
        (rows + errors) / seconds);
  }

  /**
   * Whether the process runs on a terminal: {@code System.console()} and, on JDK 22 and newer
   * (where it is never null), its {@code isTerminal()}.
   */
  @SuppressWarnings("SystemConsoleNull") // null on JDK 21; isTerminal() decides on newer ones
  static boolean onATerminal() {
    java.io.Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException e) {
      return true;
    }
  }
}
