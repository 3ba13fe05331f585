package dev.fulcrum.server.dashboard;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.ModelMonitor;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.stats.ProcessCpu;
import dev.fulcrum.core.stats.SloAccounting;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The dashboard's SLO/cost and drift panels, read from what serves: each version's {@link
 * SloAccounting} (its 60 s window, and its capacity and load as {@code /slo} states them) and, when
 * the server runs one, the drift monitor's report. Stateless; called on the feed's thread.
 */
public final class RepositoryExtras implements DashboardSource {
  /** The accounting window the panel shows: long enough to be steady, short enough to be live. */
  static final String WINDOW = "60s";

  private final ModelRepository repository;
  private final @Nullable ModelMonitor monitor;

  public RepositoryExtras(ModelRepository repository, @Nullable ModelMonitor monitor) {
    this.repository = repository;
    this.monitor = monitor;
  }

  @Override
  public Extras extras(String model, long version) {
    ModelVersion mv;
    try {
      mv = repository.resolve(model, Long.toString(version));
    } catch (InferenceException e) {
      return Extras.NONE; // not serving (loading, unloading): the panels say so
    }
    return new Extras(slo(mv), drift(mv));
  }

  private static @Nullable Slo slo(ModelVersion mv) {
    SloAccounting.Snapshot s = mv.sloSnapshot();
    if (s.latencyMs() <= 0 && s.costPerHour() <= 0) {
      return null;
    }
    SloAccounting.Window w = s.window(WINDOW);
    return new Slo(
        s.latencyMs() > 0 ? s.latencyMs() : Double.NaN,
        s.percentile(),
        w.attainment(),
        w.utilization(),
        w.costPerMillionUsd(),
        s.costPerHour(),
        s.latencyMs() > 0 ? capacity(s.load()) : null);
  }

  /** The capacity block, as {@code /slo}'s {@code capacity} states it. */
  static Capacity capacity(SloAccounting.Load load) {
    ProcessCpu.Usage cpu = load.cpu();
    return new Capacity(
        load.capacity().state().label(),
        load.capacityPerSecond(),
        load.capacity().stated() ? load.bound().label() : null,
        load.ratio(),
        load.offeredPerSecond(),
        load.cpuState().label(),
        Double.isNaN(cpu.ownCores()) ? Double.NaN : cpu.budgetCores(),
        cpu.allowedCores(),
        cpu.othersCores(),
        cpu.ownCores(),
        cpu.pressureSomeRatio());
  }

  private @Nullable Drift drift(ModelVersion mv) {
    ModelMonitor m = monitor;
    if (m == null) {
      return null;
    }
    DriftReport report = m.drift(mv).orElse(null);
    if (report == null) {
      return null;
    }
    List<FeatureDrift> rows = new ArrayList<>();
    String idle = report.problem() != null ? "unmonitored" : report.enabled() ? "ok" : "off";
    for (DriftReport.FeatureDrift f : report.features()) {
      rows.add(row(f, idle, false));
    }
    for (DriftReport.FeatureDrift f : report.outputs()) {
      rows.add(row(f, idle, true));
    }
    return new Drift(rows, report.problem());
  }

  private static FeatureDrift row(DriftReport.FeatureDrift f, String idle, boolean output) {
    String status = f.drift() ? "drift (" + f.test() + ")" : idle;
    return new FeatureDrift(
        (output ? "output " : "") + f.name(), status, f.score(), f.threshold(), f.drift(), output);
  }
}
