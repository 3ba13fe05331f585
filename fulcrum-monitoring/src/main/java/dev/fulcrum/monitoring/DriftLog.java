package dev.fulcrum.monitoring;

import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The drift monitor's log: the alert changes of one model version that come within {@link
 * #HOLD_NANOS} of its first are one line, naming each feature as the per-feature line did ({@code
 * feature amount_usd: DRIFT (range score 4.000, threshold 4.000) since observation 304}); and at
 * most {@link #MAX_VERSIONS_PER_WINDOW} versions logged so in {@link #WINDOW_NANOS}, the other
 * versions counted and named in one line at the end of the window ({@code drift: 190 more model
 * versions changed in the last 10 s (raised: 190, cleared only: 0): fraud_010 v1, ... and 180 more
 * (see each version's /drift and fulcrum_drift_status)}). A shared upstream change that drifts
 * every model of a server at once so logs a few lines, not one per feature per model. The listeners
 * (the webhook) are still told of each change at once, one by one.
 *
 * <p>Confined to the monitor thread (not thread-safe).
 */
final class DriftLog {
  /** How long a version's first change waits for the others of the same event. */
  static final long HOLD_NANOS = 1_000_000_000L;

  /** The rate limit's window. */
  static final long WINDOW_NANOS = 10_000_000_000L;

  /**
   * Versions logged one by one in a window (each as many lines as it has events); beyond them the
   * versions are counted in one summary line.
   */
  static final int MAX_VERSIONS_PER_WINDOW = 10;

  /** Versions the summary line names; the rest are counted. */
  static final int SUMMARY_NAMES = 10;

  /** Where the lines go: the monitor's logger, or a test's list. */
  interface Sink {
    void warn(String line);

    void info(String line);
  }

  private record Key(String model, String version) {}

  /** A version's changes waiting for their line. */
  private static final class Pending {
    final long firstNanos;
    final List<String> parts = new ArrayList<>();
    boolean raised;

    Pending(long firstNanos) {
      this.firstNanos = firstNanos;
    }
  }

  private final Sink sink;
  private final Map<Key, Pending> pending = new LinkedHashMap<>(); // in the order of first change
  private long windowStart = Long.MIN_VALUE; // the current rate-limit window's start, or none
  private final Set<Key> admitted = new HashSet<>(); // versions logged one by one this window
  private final Set<String> suppressed = new LinkedHashSet<>(); // versions summed up this window
  private final Set<String> raisedNames = new HashSet<>(); // of those, with a raise

  DriftLog(Sink sink) {
    this.sink = sink;
  }

  /** A feature's alert raised or cleared. */
  void changed(String model, String version, FeatureDrift f, boolean output, long nowNanos) {
    String kind = output ? "output" : "feature";
    Pending p = pending.computeIfAbsent(new Key(model, version), k -> new Pending(nowNanos));
    if (f.drift()) {
      p.raised = true;
      p.parts.add(
          kind
              + " "
              + f.name()
              + ": DRIFT ("
              + f.test()
              + " score "
              + String.format(Locale.ROOT, "%.4g", f.score())
              + ", threshold "
              + String.format(Locale.ROOT, "%.4g", f.threshold())
              + ") since observation "
              + f.sinceObservation());
    } else {
      p.parts.add(kind + " " + f.name() + ": ok again");
    }
  }

  /**
   * The alerts a version had raised, ended with it (unloaded, reloaded): one line at once, not held
   * or counted against the rate (a version leaves once).
   */
  void ended(String model, String version, List<String> features, String why) {
    if (!features.isEmpty()) {
      sink.info(
          "drift: model "
              + model
              + " version "
              + version
              + " "
              + String.join(", ", features)
              + ": alert ended ("
              + why
              + ")");
    }
  }

  /** Whether changes wait for their line (the monitor thread then calls {@link #flush} soon). */
  boolean hasPending() {
    return !pending.isEmpty() || !suppressed.isEmpty();
  }

  /**
   * Writes the lines of the versions whose first change is at least {@link #HOLD_NANOS} old (all,
   * with {@code all}), and the summary of the window that ended.
   */
  void flush(long nowNanos, boolean all) {
    if (windowStart != Long.MIN_VALUE && (all || nowNanos - windowStart >= WINDOW_NANOS)) {
      endWindow();
    }
    var it = pending.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<Key, Pending> e = it.next();
      Pending p = e.getValue();
      if (!all && nowNanos - p.firstNanos < HOLD_NANOS) {
        break; // the later ones came later still
      }
      it.remove();
      if (windowStart == Long.MIN_VALUE) {
        windowStart = nowNanos;
      }
      Key k = e.getKey();
      // A version logged in this window goes on being logged in full (its outputs drift a few
      // rows after its inputs); the limit counts versions, not lines.
      boolean logged = admitted.contains(k);
      if (logged || admitted.size() < MAX_VERSIONS_PER_WINDOW) {
        admitted.add(k);
        String line =
            "drift: model "
                + k.model()
                + " version "
                + k.version()
                + " "
                + String.join("; ", p.parts);
        if (p.raised) {
          sink.warn(line);
        } else {
          sink.info(line);
        }
      } else {
        String name = k.model() + " v" + k.version();
        if (p.raised) {
          raisedNames.add(name);
        }
        suppressed.add(name);
      }
    }
    if (all) {
      endWindow();
    }
  }

  /** Ends the rate limit's window: its summary line, then no window until the next line. */
  private void endWindow() {
    summarize();
    windowStart = Long.MIN_VALUE;
    admitted.clear();
  }

  private void summarize() {
    if (suppressed.isEmpty()) {
      return;
    }
    int n = suppressed.size();
    int raised = raisedNames.size();
    String named = String.join(", ", suppressed.stream().limit(SUMMARY_NAMES).toList());
    String line =
        "drift: "
            + n
            + " more model versions changed in the last "
            + WINDOW_NANOS / 1_000_000_000L
            + " s (raised: "
            + raised
            + ", cleared only: "
            + (n - raised)
            + "): "
            + named
            + (n > SUMMARY_NAMES ? ", and " + (n - SUMMARY_NAMES) + " more" : "")
            + " (see each version's /drift and fulcrum_drift_status)";
    if (raised > 0) {
      sink.warn(line);
    } else {
      sink.info(line);
    }
    suppressed.clear();
    raisedNames.clear();
  }
}
