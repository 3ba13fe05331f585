package dev.fulcrum.server.dashboard;

import dev.fulcrum.server.dashboard.VersionTrack.Column;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The one-line answer to "is this model slow, and why?" that heads a model's row, from the last few
 * seconds of its history: rejecting, timing out, failing, drifting, missing its SLO, queueing
 * (saturated instances or too-small batches) or computing.
 *
 * @param level {@code ok}, {@code warn} or {@code bad} (the page's colour)
 * @param text the verdict, one line
 */
record Verdict(String level, String text) {

  /** Seconds of history a verdict looks at. */
  static final int WINDOW = 5;

  /** The machine's CPU busy (percent of all cores) at which queueing is put down to it. */
  static final double STARVED_CPU = 90;

  /** The share of quota periods throttled (percent) at which queueing is put down to the quota. */
  static final double THROTTLED_PERIODS = 20;

  /**
   * What the CPU the server runs on did over the last seconds.
   *
   * @param busy the machine's CPU busy, percent of all cores ({@code /proc/stat}; NaN: unknown)
   * @param throttled percent of the cgroup's quota periods in which its CPU quota stopped it (NaN:
   *     unknown, or no quota)
   */
  record MachineCpu(double busy, double throttled) {
    static final MachineCpu UNKNOWN = new MachineCpu(Double.NaN, Double.NaN);

    static MachineCpu busy(double percent) {
      return new MachineCpu(percent, Double.NaN);
    }
  }

  /** Drifting features a verdict names; the rest are counted. */
  static final int NAMED_FEATURES = 3;

  static Verdict idle() {
    return new Verdict("ok", "idle: no requests in the last " + WINDOW + " s");
  }

  /**
   * @param h the version's history
   * @param maxBatchSize the version's max-batch-size (0: does not batch)
   * @param dynamicBatching whether the batcher joins requests
   * @param slo the SLO panel, or null
   * @param drift the drift panel, or null
   * @param cpu the machine's CPU over the last seconds
   */
  static Verdict of(
      History h,
      int maxBatchSize,
      boolean dynamicBatching,
      DashboardSource.@Nullable Slo slo,
      DashboardSource.@Nullable Drift drift,
      MachineCpu cpu) {
    double rps = mean(h, Column.RPS);
    double rejected = mean(h, Column.REJECTED);
    double sloRefused = mean(h, Column.SLO_REFUSED);
    double timedOut = mean(h, Column.TIMED_OUT);
    double failed = mean(h, Column.FAILED);
    double invalid = mean(h, Column.INVALID);
    if (rejected > 0) {
      return new Verdict("bad", "rejecting: queue full, " + rate(rejected) + " refused");
    }
    if (sloRefused > 0) {
      // Not the queue's size: more load than the objective lets it serve (or an objective
      // shorter than a pass); refusing early is how the SLO policy keeps it for the rest.
      return new Verdict(
          "bad", "refusing for the SLO: " + rate(sloRefused) + " could not meet the objective");
    }
    if (timedOut > 0) {
      return new Verdict("bad", "timing out: " + rate(timedOut) + " expired in the queue");
    }
    if (rps > 0 && failed > 0.01 * rps) {
      return new Verdict("bad", "failing: " + rate(failed) + " errors");
    }
    if (rps > 0 && invalid > 0.01 * rps) {
      // The server is fine; some client sends inputs the model cannot take.
      return new Verdict("warn", "bad input: " + rate(invalid) + " refused with 400");
    }
    String drifting = drifting(drift);
    if (!(rps > 0)) {
      return drifting == null ? idle() : new Verdict("warn", drifting);
    }
    double queue = mean(h, Column.QUEUE_MS);
    double compute = mean(h, Column.COMPUTE_MS);
    double util = mean(h, Column.UTILIZATION);
    double batch = mean(h, Column.BATCH_MEAN);
    double total = nz(queue) + nz(compute);
    double queueShare = total > 0 ? nz(queue) / total : 0;
    String why;
    // Waiting that costs under a millisecond is not a finding, whatever its share.
    boolean queueing = queueShare > 0.5 && nz(queue) >= 1.0;
    if (queueing) {
      boolean smallBatches =
          dynamicBatching && maxBatchSize > 1 && batch < Math.max(2, maxBatchSize / 4.0);
      if (util > 0.8 && smallBatches) {
        why =
            String.format(
                Locale.ROOT,
                "queueing: small batches (mean %.1f of %d) on busy instances",
                batch,
                maxBatchSize);
      } else if (util > 0.8) {
        why = String.format(Locale.ROOT, "queueing: instances %.0f%% busy", util * 100);
      } else if (cpu.throttled() >= THROTTLED_PERIODS && nz(util) <= 0.5) {
        // The container's CPU limit: the cgroup ran out of quota in that share of the scheduler's
        // periods, and its threads waited for the next one, whatever the host's cores did.
        why =
            String.format(
                Locale.ROOT,
                "queueing: CPU quota throttled the server in %.0f%% of periods, instances %.0f%%"
                    + " busy — short of CPU (raise the container's CPU limit), not of instances",
                cpu.throttled(),
                nz(util) * 100);
      } else if (cpu.busy() >= STARVED_CPU && nz(util) <= 0.5) {
        // Requests wait while the instances are mostly idle and every core is taken: the worker
        // threads wait for a core (other models' instances, other processes, a noisy neighbour's
        // steal). More instances would only add threads to wait.
        why =
            String.format(
                Locale.ROOT,
                "queueing: machine CPU %.0f%% busy, instances %.0f%% busy — short of CPU, not of"
                    + " instances",
                cpu.busy(),
                nz(util) * 100);
      } else {
        why =
            String.format(
                Locale.ROOT,
                "queueing: %.0f%% of latency waiting, instances %.0f%% busy",
                queueShare * 100,
                nz(util) * 100);
      }
    } else {
      why =
          String.format(
              Locale.ROOT, "computing: %.0f%% of latency in the model", (1 - queueShare) * 100);
    }
    if (slo != null) {
      double observed = observedAt(h, slo.percentile());
      if (observed > slo.latencyMs()) {
        return new Verdict(
            "bad",
            String.format(
                Locale.ROOT,
                "missing SLO (p%s %.1f ms > %.1f ms) — %s",
                trim(slo.percentile()),
                observed,
                slo.latencyMs(),
                why));
      }
    }
    if (drifting != null) {
      return new Verdict("warn", drifting + " — " + why);
    }
    return new Verdict(queueing ? "warn" : "ok", why);
  }

  private static @Nullable String drifting(DashboardSource.@Nullable Drift drift) {
    if (drift == null) {
      return null;
    }
    if (drift.problem() != null) {
      return "not monitored: " + drift.problem();
    }
    // The inputs first: a drifting input is the cause, the outputs it moves follow.
    List<String> names =
        drift.features().stream()
            .filter(DashboardSource.FeatureDrift::drifting)
            .sorted(Comparator.comparing(DashboardSource.FeatureDrift::output))
            .map(DashboardSource.FeatureDrift::feature)
            .toList();
    if (names.isEmpty()) {
      return null;
    }
    if (names.size() <= NAMED_FEATURES + 1) {
      return "drift in " + String.join(", ", names);
    }
    return "drift in "
        + String.join(", ", names.subList(0, NAMED_FEATURES))
        + " and "
        + (names.size() - NAMED_FEATURES)
        + " more";
  }

  /** The recent latency at the SLO's percentile, from the p50/p95/p99 columns (nearest above). */
  private static double observedAt(History h, double percentile) {
    Column c = percentile <= 50 ? Column.P50 : percentile <= 95 ? Column.P95 : Column.P99;
    return h.recentMax(c.index, WINDOW);
  }

  private static double mean(History h, Column c) {
    return h.recentMean(c.index, WINDOW);
  }

  private static double nz(double x) {
    return Double.isNaN(x) ? 0 : x;
  }

  private static String rate(double perSecond) {
    return String.format(Locale.ROOT, perSecond >= 10 ? "%.0f/s" : "%.1f/s", perSecond);
  }

  private static String trim(double p) {
    return p == Math.rint(p) ? Long.toString((long) p) : Double.toString(p);
  }
}
