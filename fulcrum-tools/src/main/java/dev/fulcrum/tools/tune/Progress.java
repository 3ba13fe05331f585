package dev.fulcrum.tools.tune;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * The sweep's progress on stderr: a bar with the trials done and the time left, redrawn in place on
 * a terminal, else one plain line per trial. Called on the search's thread only.
 */
final class Progress implements Search.Listener {
  private static final int WIDTH = 24;

  private final PrintStream err;
  private final boolean terminal;
  private final LongSupplier nanos;
  private final long start;

  /** Whether the bar's line is still open on the terminal (drawn, not yet ended). */
  private boolean open;

  Progress(PrintStream err, boolean terminal, LongSupplier nanos) {
    this.err = err;
    this.terminal = terminal;
    this.nanos = nanos;
    this.start = nanos.getAsLong();
  }

  @Override
  public void trialDone(Trial trial, int done, int planned) {
    long elapsed = nanos.getAsLong() - start;
    long left = done == 0 ? 0 : elapsed / done * Math.max(0, planned - done);
    String line = line(trial, done, planned, Duration.ofNanos(left));
    if (terminal) {
      err.print("\r" + line + "\u001b[K");
      open = done != planned;
      if (!open) {
        err.println();
      }
    } else {
      err.println(line);
    }
    err.flush();
  }

  /**
   * Ends the bar's line when the search stopped before its plan (quick mode converged); nothing
   * when the last trial of the plan ended it already.
   */
  void finish() {
    if (terminal && open) {
      err.println();
      err.flush();
    }
    open = false;
  }

  static String line(Trial trial, int done, int planned, Duration left) {
    int filled = planned == 0 ? WIDTH : (int) Math.round((double) WIDTH * done / planned);
    String bar = "#".repeat(filled) + "-".repeat(Math.max(0, WIDTH - filled));
    return String.format(
        Locale.ROOT,
        "[%s] %d/%d trials, %s left (at most) | %s: %s",
        bar,
        done,
        planned,
        human(left),
        trial.knobs().label(),
        outcome(trial));
  }

  /**
   * What a trial measured, as its progress line shows it: its throughput and p99, with why it is
   * not feasible when it is not; a configuration that could not be loaded shows the server's reason
   * alone ({@code failed: ...}), not a throughput of 0.
   */
  static String outcome(Trial trial) {
    String problem = trial.problem();
    if (trial.point().loadFailed()) {
      return String.valueOf(problem);
    }
    return String.format(
        Locale.ROOT,
        "%.0f/s p99 %.2f ms%s",
        trial.throughput(),
        trial.p99Ms(),
        problem == null ? "" : " (" + problem + ")");
  }

  static String human(Duration d) {
    long s = d.toSeconds();
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
    return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60);
  }
}
