package dev.fulcrum.tools.monitor;

import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.config.MonitoringConfig;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import dev.fulcrum.monitoring.Baseline;
import dev.fulcrum.monitoring.DetectorSettings;
import dev.fulcrum.monitoring.DriftJson;
import dev.fulcrum.monitoring.LogReplay;
import dev.fulcrum.monitoring.PredictionLog;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fulcrum skew-check}: replays prediction logs offline through the live monitor's detectors
 * ({@link LogReplay}) and prints the verdict: each alert raised or cleared, then every feature's
 * status. Exit status 0 when nothing drifts at the end, 1 when something does. One thread.
 */
@Command(
    name = "skew-check",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description =
        "Replay prediction logs (fulcrum serve --prediction-log) against a baseline, offline,"
            + " through the live monitor's detectors; exit 1 when a feature drifts.")
public final class SkewCheckCommand implements Callable<Integer> {

  @Option(
      names = "--log",
      required = true,
      arity = "1..*",
      paramLabel = "FILE",
      description = "Prediction log files, or folders of them (read in name order).")
  List<Path> logs = new ArrayList<>();

  @Option(
      names = "--baseline",
      required = true,
      paramLabel = "FILE",
      description = "The baseline (fulcrum profile's output).")
  Path baseline = Path.of("");

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "config.yaml whose monitoring settings to use (default: the one beside the baseline,"
              + " else the defaults).")
  @Nullable Path config;

  @Option(names = "--json", description = "Print the report as JSON, as GET .../drift does.")
  boolean json;

  @Spec CommandLine.Model.CommandSpec spec;

  /** A text model's token-id input, from the config.yaml {@link #settings()} read. */
  private MonitoringConfig.@Nullable TextInput text;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Baseline b = Baseline.read(baseline);
    DetectorSettings settings = settings();
    List<Path> files = new ArrayList<>();
    for (Path p : logs) {
      if (Files.isDirectory(p)) {
        files.addAll(PredictionLog.files(p));
      } else {
        files.add(p);
      }
    }
    LogReplay replay =
        new LogReplay(
            b,
            shown(baseline),
            settings,
            (model, version, f, output) ->
                out.printf(
                    Locale.ROOT,
                    "%s version %s %s %s: %s%n",
                    model,
                    version,
                    output ? "output" : "feature",
                    f.name(),
                    f.drift()
                        ? String.format(
                            Locale.ROOT,
                            "DRIFT (%s score %.4g, threshold %.4g) at observation %d",
                            f.test(),
                            f.score(),
                            f.threshold(),
                            f.sinceObservation())
                        : "ok again"),
            text);
    replay.replay(files);
    boolean drift = false;
    for (DriftReport r : replay.reports()) {
      drift |= r.drifting();
      if (json) {
        out.println(DriftJson.report(r).toPrettyString());
        continue;
      }
      out.printf(
          Locale.ROOT,
          "%s version %s: %s after %d observations%n",
          r.model(),
          r.version(),
          DriftJson.status(r),
          r.observations());
      for (FeatureDrift f : r.features()) {
        out.println(line("feature", f));
      }
      for (FeatureDrift f : r.outputs()) {
        out.println(line("output ", f));
      }
    }
    if (replay.reports().isEmpty()) {
      out.printf(Locale.ROOT, "no requests of model %s in the logs%n", b.model());
    }
    out.flush();
    return drift ? 1 : 0;
  }

  private static String line(String kind, FeatureDrift f) {
    return String.format(
        Locale.ROOT,
        "  %s %-24s %-5s %-7s score %-10.4g threshold %-10.4g%s",
        kind,
        f.name(),
        f.drift() ? "DRIFT" : "ok",
        f.test(),
        f.score(),
        f.threshold(),
        f.drift() ? " since observation " + f.sinceObservation() : "");
  }

  private DetectorSettings settings() throws Exception {
    Path file = config;
    if (file == null) {
      Path parent = baseline.toAbsolutePath().getParent();
      Path beside = parent == null ? null : parent.resolve("config.yaml");
      if (beside == null || !Files.isRegularFile(beside)) {
        return DetectorSettings.defaults();
      }
      file = beside;
    }
    ModelConfigFile f = new ModelConfigLoader().parse(Files.readString(file), file);
    ModelConfigFile.PipelineFile pipeline = f.pipeline();
    if (pipeline != null) {
      // A pipeline's log holds its text requests and its normalized answers, not the token ids and
      // hidden state its monitor compares: a replay of it would skip every row and say "ok".
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          file
              + " is a pipeline's config (pipeline.model "
              + pipeline.model()
              + "): its prediction log holds text and the normalized vector, not the token ids and"
              + " hidden state its monitor compares, so skew-check cannot replay its verdict yet"
              + " (docs/MONITORING.md, \"Text models\", \"Not yet done\"); read GET"
              + " /v2/models/<m>/drift instead");
    }
    MonitoringConfig m = ModelConfigResolver.monitoring(f.monitoring(), file, null);
    text = m == null ? null : m.text();
    return m == null ? DetectorSettings.defaults() : DetectorSettings.of(m);
  }

  private static String shown(Path file) {
    Path f = file.getFileName();
    return f == null ? file.toString() : f.toString();
  }
}
