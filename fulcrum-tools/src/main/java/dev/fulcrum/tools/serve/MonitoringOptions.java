package dev.fulcrum.tools.serve;

import dev.fulcrum.monitoring.DriftListener;
import dev.fulcrum.monitoring.DriftMonitor;
import dev.fulcrum.monitoring.DriftWebhook;
import dev.fulcrum.monitoring.PredictionLog;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * {@code fulcrum serve}'s skew and drift flags (docs/MONITORING.md): whether the monitor runs, its
 * queue, the webhook, and the prediction log. Read once, on the main thread.
 */
final class MonitoringOptions {

  @Option(
      names = "--monitoring",
      defaultValue = "true",
      arity = "1",
      paramLabel = "BOOL",
      description =
          "Run the skew and drift monitor for models whose config.yaml enables 'monitoring:'"
              + " (default: ${DEFAULT-VALUE}).")
  boolean monitoring;

  @Option(
      names = "--monitor-queue",
      defaultValue = "8192",
      paramLabel = "N",
      description =
          "Requests that may wait for the monitor thread; more are dropped and counted (default:"
              + " ${DEFAULT-VALUE}).")
  int monitorQueue;

  @Option(
      names = "--monitor-max-rate",
      defaultValue = "10000",
      paramLabel = "ROWS",
      description =
          "Rows a second the drift monitor compares at most, all models together; above it a"
              + " uniform sample of passes is compared and the rest counted as shed"
              + " (fulcrum_drift_shed_total); 0 compares every pass (default: ${DEFAULT-VALUE}: every pass of"
              + " a server below 10,000 rows a second).")
  long monitorMaxRate;

  @Option(
      names = "--drift-webhook",
      paramLabel = "URL",
      description = "POST each drift alert raised or cleared to this URL as JSON.")
  @Nullable URI driftWebhook;

  @Option(
      names = "--prediction-log",
      paramLabel = "DIR",
      description =
          "Write sampled requests (inputs, outputs, model, version, id, latency) as JSON lines to"
              + " rotating files in DIR (fulcrum skew-check replays them).")
  @Nullable Path predictionLog;

  @Option(
      names = "--prediction-log-max-file-mb",
      defaultValue = "64",
      paramLabel = "MB",
      description = "Rotate a prediction log file at this size (default: ${DEFAULT-VALUE}).")
  int predictionLogMaxFileMb;

  @Option(
      names = "--prediction-log-max-files",
      defaultValue = "10",
      paramLabel = "N",
      description = "Prediction log files kept, the newest (default: ${DEFAULT-VALUE}).")
  int predictionLogMaxFiles;

  @Option(
      names = "--prediction-log-sample-rate",
      defaultValue = "1.0",
      paramLabel = "RATE",
      description = "Share of successful requests logged, in (0, 1] (default: ${DEFAULT-VALUE}).")
  double predictionLogSampleRate;

  /** The monitor, or null with {@code --monitoring false} and no prediction log. */
  @Nullable DriftMonitor start() throws IOException {
    if (!monitoring && predictionLog == null) {
      return null;
    }
    if (monitorQueue < 1) {
      throw new IllegalArgumentException("--monitor-queue must be >= 1");
    }
    if (monitorMaxRate < 0) {
      throw new IllegalArgumentException("--monitor-max-rate must be >= 0 (0: no limit)");
    }
    PredictionLog log = null;
    if (predictionLog != null) {
      log =
          new PredictionLog(
              new PredictionLog.Settings(
                  predictionLog,
                  predictionLogMaxFileMb * 1024L * 1024L,
                  predictionLogMaxFiles,
                  predictionLogSampleRate,
                  8192));
    }
    List<DriftListener> listeners = new ArrayList<>();
    if (driftWebhook != null) {
      listeners.add(new DriftWebhook(driftWebhook));
    }
    return new DriftMonitor(
        monitoring ? monitorQueue : 1, log, listeners, monitoring, monitorMaxRate);
  }
}
