package dev.fulcrum.server.dashboard;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Per-model-version extras that other features give the dashboard: SLO attainment and cost, and
 * drift per feature. The feed asks once per tick, on its own thread, for every served version; an
 * implementation must be thread-safe, cheap and must not block. A panel whose part is null says
 * "not configured".
 */
@FunctionalInterface
public interface DashboardSource {

  /** The extras of one served model version; {@link Extras#NONE} when there are none. */
  Extras extras(String model, long version);

  /** A source with nothing to add: every extra panel says "not configured". */
  static DashboardSource none() {
    return (model, version) -> Extras.NONE;
  }

  /**
   * What a version's extra panels show.
   *
   * @param slo the SLO and cost panel, or null when no SLO is configured
   * @param drift the drift panel, or null when no monitoring is configured
   */
  record Extras(@Nullable Slo slo, @Nullable Drift drift) {
    public static final Extras NONE = new Extras(null, null);
  }

  /**
   * The SLO and cost panel of a version.
   *
   * @param latencyMs the SLO's latency bound (drawn as a line on the latency chart)
   * @param percentile the percentile it bounds, e.g. 99
   * @param attainment the share of requests within the bound over the SLO's window, 0..1 (NaN when
   *     no request finished yet)
   * @param utilization the share of the instances' time spent computing, 0..1 (NaN if unknown)
   * @param costPerMillion the cost of one million predictions in dollars (NaN when no price is
   *     configured, or no prediction was made in the window)
   * @param costPerHour the price in dollars per hour (0: none configured)
   * @param capacity the capacity at the objective and the load against it, or null (no objective)
   */
  record Slo(
      double latencyMs,
      double percentile,
      double attainment,
      double utilization,
      double costPerMillion,
      double costPerHour,
      @Nullable Capacity capacity) {

    /** A panel without a capacity. */
    public Slo(
        double latencyMs,
        double percentile,
        double attainment,
        double utilization,
        double costPerMillion,
        double costPerHour) {
      this(latencyMs, percentile, attainment, utilization, costPerMillion, costPerHour, null);
    }
  }

  /**
   * The capacity at the objective, as {@code /slo}'s {@code capacity} states it: what the panel's
   * number block shows.
   *
   * @param state {@code learning}, {@code known} or {@code too tight}
   * @param requestsPerSecond the capacity stated (NaN unless known or too tight)
   * @param bound {@code passes} or {@code cpu} (null unless stated)
   * @param loadRatio offered over the capacity (NaN unless known)
   * @param offeredPerSecond the requests offered a second over the last 10 s
   * @param cpuState {@code unknown}, {@code idle} or {@code known}
   * @param budgetCores the CPU the process may use now (NaN: unknown)
   * @param allowedCores its limit, or its CPUs
   * @param othersCores what other processes use of its CPUs (NaN: not known)
   * @param ownCores what it uses itself (NaN: not known)
   * @param pressureSomeRatio the share of the time its tasks waited for a CPU (Linux PSI; NaN: not
   *     read)
   */
  record Capacity(
      String state,
      double requestsPerSecond,
      @Nullable String bound,
      double loadRatio,
      double offeredPerSecond,
      String cpuState,
      double budgetCores,
      double allowedCores,
      double othersCores,
      double ownCores,
      double pressureSomeRatio) {
    public Capacity {
      Objects.requireNonNull(state, "state");
      Objects.requireNonNull(cpuState, "cpuState");
    }
  }

  /**
   * The drift panel of a version.
   *
   * @param features one row per monitored feature
   * @param problem why the version is not monitored although its config asks for it (e.g. its
   *     baseline cannot be read), or null
   */
  record Drift(List<FeatureDrift> features, @Nullable String problem) {
    public Drift {
      features = List.copyOf(features);
    }

    /** A monitored version's rows. */
    public Drift(List<FeatureDrift> features) {
      this(features, null);
    }
  }

  /**
   * One feature's drift.
   *
   * @param feature the feature's name
   * @param status e.g. "ok", "drift", "warming up" (shown as given)
   * @param score the feature's drift score now
   * @param threshold the score at which it drifts
   * @param drifting whether the monitor calls it drift (its own test decides: the range test at a
   *     score equal to its threshold too), so that the page counts what {@code /drift} reports
   * @param output whether it is one of the model's outputs (ranked after the drifting inputs, which
   *     are what moves them)
   */
  record FeatureDrift(
      String feature,
      String status,
      double score,
      double threshold,
      boolean drifting,
      boolean output) {
    public FeatureDrift {
      Objects.requireNonNull(feature, "feature");
      Objects.requireNonNull(status, "status");
    }

    /** An input feature's drift. */
    public FeatureDrift(
        String feature, String status, double score, double threshold, boolean drifting) {
      this(feature, status, score, threshold, drifting, false);
    }
  }
}
