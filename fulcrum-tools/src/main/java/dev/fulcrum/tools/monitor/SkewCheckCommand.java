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
import dev.fulcrum.monitoring.DriftListener;
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
 * status. Exit status 0 when nothing drifts at the end, 1 when something does, 2 when nothing could
 * be checked (a file error, no requests of the model in the logs). A text pipeline's log holds
 * text, not what its monitor compares: its requests are run through the pipeline again, in process,
 * with the live monitor watching ({@link PipelineReplay}). One thread, but for a pipeline's replay
 * (its engine and monitor threads; the alerts are printed on the monitor's).
 */
@Command(
    name = "skew-check",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description =
        "Replay prediction logs (fulcrum serve --prediction-log) against a baseline, offline,"
            + " through the live monitor's detectors; exit 1 when a feature drifts, 2 when"
            + " nothing could be checked.")
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

  @Option(
      names = "--model-repository",
      paramLabel = "DIR",
      description =
          "For a text pipeline's log: the repository to run the pipeline from (default: the"
              + " folder above the config's model folder).")
  @Nullable Path repository;

  @Option(names = "--json", description = "Print the report as JSON, as GET .../drift does.")
  boolean json;

  @Spec CommandLine.Model.CommandSpec spec;

  /** A text model's token-id input, from the config.yaml {@link #settings()} read. */
  private MonitoringConfig.@Nullable TextInput text;

  /** The config.yaml {@link #settings()} read, when it is a text pipeline's. */
  private @Nullable Path pipelineConfig;

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
    // With --json, stdout holds only the report; the alerts as they come go to stderr.
    PrintWriter events = json ? spec.commandLine().getErr() : out;
    DriftListener printer =
        (model, version, f, output) -> {
          synchronized (events) { // the pipeline's replay tells this on the monitor's thread
            events.printf(
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
                    : "ok again");
          }
        };
    List<DriftReport> reports;
    Path pipeline = pipelineConfig;
    if (pipeline != null) {
      reports = replayPipeline(pipeline, b, files, printer, events);
    } else {
      LogReplay replay = new LogReplay(b, shown(baseline), settings, printer, text);
      replay.replay(files);
      reports = replay.reports();
    }
    boolean drift = false;
    synchronized (events) {
      for (DriftReport r : reports) {
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
      events.flush();
      out.flush();
      if (reports.isEmpty()) {
        // Nothing was compared: not a clean check (a wrong --log folder, another model's log).
        PrintWriter err = spec.commandLine().getErr();
        err.printf(
            Locale.ROOT,
            "fulcrum skew-check: no requests of model %s in the logs; nothing was checked%n",
            b.model());
        err.flush();
        return 2;
      }
    }
    return drift ? 1 : 0;
  }

  /**
   * A text pipeline's log: its requests' text run again through the pipeline in process, watched by
   * the live monitor (its passes hold what the monitor compares; the log does not).
   */
  private List<DriftReport> replayPipeline(
      Path config, Baseline b, List<Path> files, DriftListener printer, PrintWriter out)
      throws Exception {
    Path modelDir =
        java.util.Objects.requireNonNull(config.toAbsolutePath().normalize().getParent());
    Path above = modelDir.getParent();
    Path root = repository != null ? repository : above != null ? above : modelDir;
    String model = String.valueOf(modelDir.getFileName());
    if (!b.model().equals(model)) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          baseline + " is model " + b.model() + "'s baseline, not pipeline " + model + "'s");
    }
    try (PipelineReplay replay = new PipelineReplay(root, model, printer)) {
      MonitoringConfig m = replay.served().config().monitoring();
      Path used = m == null ? null : m.locatedBaselineIn(root.resolve(model));
      if (used == null || !Files.isSameFile(used, baseline)) {
        throw new CommandLine.ParameterException(
            spec.commandLine(),
            "a pipeline's log is replayed through the pipeline, which compares with the baseline"
                + " its config.yaml names ("
                + used
                + "), not "
                + baseline);
      }
      replay.replay(files);
      DriftReport report = replay.report();
      synchronized (out) {
        out.printf(
            Locale.ROOT,
            "replayed %d requests through pipeline %s version %s (%s)%n",
            replay.replayed(),
            model,
            report.version(),
            root.resolve(model));
        for (String f : replay.failures()) {
          out.println("  not replayed: " + f);
        }
      }
      return replay.replayed() == 0 ? List.of() : List.of(report);
    }
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
    if (f.pipeline() != null) {
      // A pipeline's log holds its text requests and its normalized answers, not the token ids and
      // hidden state its monitor compares: they are run through the pipeline again.
      pipelineConfig = file;
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
