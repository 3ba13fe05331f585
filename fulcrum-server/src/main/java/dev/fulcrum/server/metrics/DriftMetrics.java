package dev.fulcrum.server.metrics;

import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * The drift monitor's families, written at scrape time from its published reports: per version the
 * count of raised alerts, its observations and whether it is monitored; per feature (and output
 * column) its status and each test's score and threshold, or, without the detail ({@code fulcrum
 * serve --metrics-drift-detail false}, for servers of many models), the status of the raised alerts
 * only. Labels are bounded by the baselines' feature lists. Stateless.
 */
final class DriftMetrics {
  private DriftMetrics() {}

  /**
   * Writes the families.
   *
   * @param detail true: every feature's status, scores and thresholds (~100 series per demo model);
   *     false: a feature's {@code fulcrum_drift_status} only while its alert is raised, and no
   *     scores or thresholds (3 series per demo model while nothing drifts)
   */
  static void write(
      StringBuilder sb, Predicate<String> names, List<DriftReport> reports, boolean detail) {
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_drift_drifting",
        "gauge",
        "Features and output columns of a version whose drift alert is raised")) {
      for (DriftReport r : reports) {
        long raised =
            r.features().stream().filter(FeatureDrift::drift).count()
                + r.outputs().stream().filter(FeatureDrift::drift).count();
        sb.append("fulcrum_drift_drifting")
            .append(versionLabels(r))
            .append("} ")
            .append(raised)
            .append('\n');
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_drift_status",
        "gauge",
        "1 while a feature's drift alert is raised, else 0"
            + (detail ? "" : " (only raised alerts are exported: --metrics-drift-detail false)"))) {
      for (DriftReport r : reports) {
        each(
            r,
            (f, kind) -> {
              if ((detail && r.observations() > 0) || f.drift()) {
                line(sb, "fulcrum_drift_status", r, f, kind, null, f.drift() ? 1 : 0);
              }
            });
      }
    }
    if (detail) {
      writeScores(sb, names, reports);
    }
    writeVersionFamilies(sb, names, reports);
  }

  private static void writeScores(
      StringBuilder sb, Predicate<String> names, List<DriftReport> reports) {
    if (TextFamily.open(
        sb, names, "fulcrum_drift_score", "gauge", "A drift test's latest score for a feature")) {
      for (DriftReport r : compared(reports)) {
        each(
            r,
            (f, kind) -> {
              for (DriftReport.TestScore t : f.tests()) {
                line(sb, "fulcrum_drift_score", r, f, kind, t.test(), t.score());
              }
            });
      }
    }
    if (TextFamily.open(
        sb, names, "fulcrum_drift_threshold", "gauge", "A drift test's threshold for a feature")) {
      for (DriftReport r : compared(reports)) {
        each(
            r,
            (f, kind) -> {
              for (DriftReport.TestScore t : f.tests()) {
                line(sb, "fulcrum_drift_threshold", r, f, kind, t.test(), t.threshold());
              }
            });
      }
    }
  }

  /**
   * The versions whose monitor has compared rows: a version that compared none has no score to tell
   * (its scores read 0, its statuses 0) and, on a server of many mostly idle monitored models, its
   * 99 feature series were most of a scrape (300 demo models: 3.3 of 5.5 MB). Its features' series
   * appear with its first compared row and stay while it serves (the count never goes back, a
   * reload keeps it), so they do not vanish and come back; its per-version series stay from the
   * start.
   */
  private static List<DriftReport> compared(List<DriftReport> reports) {
    return reports.stream().filter(r -> r.observations() > 0).toList();
  }

  private static void writeVersionFamilies(
      StringBuilder sb, Predicate<String> names, List<DriftReport> reports) {
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_drift_monitored",
        "gauge",
        "1 while a version's monitoring: compares requests with its baseline; 0 when it is turned"
            + " off or cannot run (no readable baseline: see the version's /drift)")) {
      for (DriftReport r : reports) {
        sb.append("fulcrum_drift_monitored")
            .append(versionLabels(r))
            .append("} ")
            .append(r.enabled() && r.problem() == null ? 1 : 0)
            .append('\n');
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_drift_observations_total",
        "counter",
        "Rows compared with the baseline")) {
      for (DriftReport r : reports) {
        sb.append("fulcrum_drift_observations_total")
            .append(versionLabels(r))
            .append('}')
            .append(' ')
            .append(r.observations())
            .append('\n');
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_drift_dropped_total",
        "counter",
        "Requests not monitored because the monitor's queue was full")) {
      long dropped = reports.stream().mapToLong(DriftReport::dropped).max().orElse(0);
      sb.append("fulcrum_drift_dropped_total ").append(dropped).append('\n');
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_drift_shed_total",
        "counter",
        "Rows not compared because the monitor was over its rate (--monitor-max-rate): it"
            + " compared a uniform sample of passes")) {
      long shed = reports.stream().mapToLong(DriftReport::shed).max().orElse(0);
      sb.append("fulcrum_drift_shed_total ").append(shed).append('\n');
    }
  }

  /** The prediction log's lines written and dropped; nothing when the server keeps none. */
  static void writePredictionLog(
      StringBuilder sb,
      Predicate<String> names,
      dev.fulcrum.core.monitor.@Nullable PredictionLogCounts counts) {
    if (counts == null) {
      return;
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_prediction_log_written_total",
        "counter",
        "Lines written to the prediction log")) {
      sb.append("fulcrum_prediction_log_written_total ").append(counts.written()).append('\n');
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_prediction_log_dropped_total",
        "counter",
        "Sampled requests not logged because the prediction log's writer fell behind (its queue"
            + " was full) or failed")) {
      sb.append("fulcrum_prediction_log_dropped_total ").append(counts.dropped()).append('\n');
    }
  }

  private interface FeatureVisitor {
    void visit(FeatureDrift f, String kind);
  }

  private static void each(DriftReport r, FeatureVisitor v) {
    r.features().forEach(f -> v.visit(f, "feature"));
    r.outputs().forEach(f -> v.visit(f, "output"));
  }

  private static void line(
      StringBuilder sb,
      String name,
      DriftReport r,
      FeatureDrift f,
      String kind,
      @Nullable String test,
      double value) {
    sb.append(name).append(versionLabels(r));
    sb.append(",feature=\"").append(TextFamily.escape(f.name())).append("\",kind=\"").append(kind);
    if (test != null) {
      sb.append("\",test=\"").append(test);
    }
    sb.append("\"} ").append(number(value)).append('\n');
  }

  private static String versionLabels(DriftReport r) {
    return "{model=\""
        + TextFamily.escape(r.model())
        + "\",version=\""
        + TextFamily.escape(r.version())
        + "\"";
  }

  private static String number(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+Inf" : "-Inf";
    }
    return v == Math.rint(v) && Math.abs(v) < 1e15
        ? Long.toString((long) v)
        : String.format(Locale.ROOT, "%.6g", v);
  }
}
