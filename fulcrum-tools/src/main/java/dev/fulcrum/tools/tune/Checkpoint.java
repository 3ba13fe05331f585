package dev.fulcrum.tools.tune;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Keeps a running sweep's results.json and report.html up to date, so that a sweep stopped by
 * Ctrl-C (SIGINT) or SIGTERM leaves the trials measured so far, marked partial, instead of nothing
 * (a default sweep is 15 minutes and more); {@link #interrupted}, run by a shutdown hook, says so.
 * Shows each trial on the progress bar it wraps.
 *
 * <p>Threads: the listener methods run on the search's thread, {@link #interrupted} on the JVM's
 * shutdown thread while the search's thread still runs. They exclude each other on one lock: the
 * hook waits for a write in progress (the JVM halts only after its hooks), and once it has run,
 * nothing more is written or shown, so a trial that the shutdown itself broke is not recorded.
 */
final class Checkpoint implements Search.Listener {

  /** The partial sweep of these trials (the sweep's fixed fields filled in by the caller). */
  @FunctionalInterface
  interface PartialSweep {
    Sweep of(List<Trial> trials, int trialsRun);
  }

  private final Progress progress;
  private final Path dir;
  private final PartialSweep partial;
  private final PrintStream out;
  private final Object lock = new Object();

  /** Configurations and trials in the files written so far; guarded by {@link #lock}. */
  private int configurations;

  private int trials;

  /** Whether the hook ran (nothing more is written); guarded by {@link #lock}. */
  private boolean stopped;

  /** Whether the sweep finished and writes its final files itself; guarded by {@link #lock}. */
  private boolean finished;

  /**
   * @param dir the output folder, already prepared ({@link ResultFiles#prepare})
   * @param out where the hook's line goes
   */
  Checkpoint(Progress progress, Path dir, PartialSweep partial, PrintStream out) {
    this.progress = progress;
    this.dir = dir;
    this.partial = partial;
    this.out = out;
  }

  @Override
  public void trialDone(Trial trial, int done, int planned) {
    synchronized (lock) {
      if (!stopped) {
        progress.trialDone(trial, done, planned);
      }
    }
  }

  @Override
  public void measuredSoFar(List<Trial> soFar, int trialsRun) {
    synchronized (lock) {
      if (stopped || finished) {
        return;
      }
      try {
        ResultFiles.write(dir, partial.of(soFar, trialsRun));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      configurations = soFar.size();
      trials = trialsRun;
    }
  }

  /**
   * The search ended: the caller writes the final files. Returns false, claiming nothing, when the
   * hook has already run (the JVM is shutting down, and the partial files stand).
   */
  boolean finish() {
    synchronized (lock) {
      if (stopped) {
        return false;
      }
      finished = true;
      return true;
    }
  }

  /** The shutdown hook's work: stops the writes and says what the folder holds. */
  void interrupted() {
    synchronized (lock) {
      if (finished || stopped) {
        return;
      }
      stopped = true;
      progress.finish();
      out.println(message(configurations, trials, dir));
      out.flush();
    }
  }

  /** The line printed when the sweep is stopped after {@code trials} trials. */
  static String message(int configurations, int trials, Path dir) {
    if (trials == 0) {
      return "interrupted before the first trial finished: nothing written";
    }
    return String.format(
        Locale.ROOT,
        "interrupted after %d trial%s: %s holds the %d configuration%s measured so far (%s and"
            + " %s, marked partial; no recommendation, as the search did not finish)",
        trials,
        trials == 1 ? "" : "s",
        dir.toAbsolutePath().normalize(),
        configurations,
        configurations == 1 ? "" : "s",
        ResultFiles.RESULTS,
        ResultFiles.REPORT);
  }
}
