package dev.fulcrum.tools.monitor;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.config.MonitoringConfig;
import dev.fulcrum.core.config.ShownPath;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import dev.fulcrum.monitoring.Baseline;
import dev.fulcrum.monitoring.DetectorSettings;
import dev.fulcrum.monitoring.DriftJson;
import dev.fulcrum.monitoring.DriftListener;
import dev.fulcrum.monitoring.LogReplay;
import dev.fulcrum.monitoring.PredictionLog;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fulcrum skew-check}: replays prediction logs offline through the live monitor's detectors
 * ({@link LogReplay}) and prints the verdict: each alert raised or cleared, then every feature's
 * status. Exit status 0 when nothing drifts at the end, 1 when something does, 2 when something
 * could not be checked (no requests of the model in the logs, a version none of whose lines could
 * be compared with the baseline) or on any error (a file, a config.yaml, a defect): never 1, which
 * CI reads as drift. Lines that are not logged requests are skipped and counted, and the first few
 * told with their file and line ({@link LogReplay.Reading}). A text pipeline's log holds text, not
 * what its monitor compares: its requests are run through the pipeline again, in process, with the
 * live monitor watching ({@link PipelineReplay}). One thread, but for a pipeline's replay (its
 * engine and monitor threads; the alerts are printed on the monitor's).
 */
@Command(
    name = "skew-check",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description =
        "Replay prediction logs (fulcrum serve --prediction-log) against a baseline, offline,"
            + " through the live monitor's detectors; exit 1 when a feature drifts, 2 when"
            + " something could not be checked or on an error.")
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

  @Option(
      names = "--json",
      description =
          "Print the report as JSON, as GET .../drift does (an array of such reports when the"
              + " logs hold another number of versions than one).")
  boolean json;

  @Spec CommandLine.Model.CommandSpec spec;

  /** A text model's token-id input, from the config.yaml {@link #settings()} read. */
  private MonitoringConfig.@Nullable TextInput text;

  /** The config.yaml {@link #settings()} read, when it is a text pipeline's. */
  private @Nullable Path pipelineConfig;

  @Override
  public Integer call() throws IOException {
    try {
      return check();
    } catch (CommandLine.ParameterException e) {
      throw e; // a usage error: picocli prints it with the usage, exit 2
    } catch (IOException | UncheckedIOException e) {
      throw e; // a file error: the CLI's handler says which file and what is wrong with it, exit 2
    } catch (ConfigException e) {
      return error(e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return error("interrupted");
    } catch (Exception | Error e) {
      // A defect, told with its trace; still 2: 1 is the verdict "drift", which CI acts on.
      PrintWriter err = spec.commandLine().getErr();
      err.println("fulcrum skew-check: failed, nothing was checked: " + e);
      e.printStackTrace(err);
      err.flush();
      return 2;
    }
  }

  /** Prints {@code fulcrum skew-check: <message>} on stderr; 2. */
  private int error(String message) {
    PrintWriter err = spec.commandLine().getErr();
    err.println("fulcrum skew-check: " + message);
    err.flush();
    return 2;
  }

  private int check() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Baseline b = readBaseline();
    Used used = settings();
    List<Path> files = new ArrayList<>();
    List<Path> empty = new ArrayList<>();
    for (Path p : logs) {
      if (Files.isDirectory(p)) {
        List<Path> in = PredictionLog.files(p);
        if (in.isEmpty()) {
          empty.add(p);
        }
        files.addAll(in);
      } else if (Files.exists(p)) {
        files.add(p);
      } else {
        throw new NoSuchFileException(p.toString());
      }
    }
    if (files.isEmpty()) {
      return error(
          "no prediction log files (predictions-<n>.jsonl) in "
              + join(empty)
              + "; nothing was checked");
    }
    for (Path p : empty) {
      err.println(
          "fulcrum skew-check: warning: "
              + p
              + " holds no prediction log files (predictions-<n>.jsonl)");
    }
    // With --json, stdout holds only the report; the alerts as they come go to stderr.
    PrintWriter events = json ? err : out;
    events.printf(
        Locale.ROOT,
        "baseline %s: model %s, %d training rows (%s)%n%s%n",
        shown(baseline),
        b.model(),
        b.rows(),
        b.source(),
        used.describe());
    events.flush();
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
    List<LogReplay.VersionReplay> versions;
    LogReplay.Reading reading;
    Map<String, Long> others;
    Path pipeline = pipelineConfig;
    if (pipeline != null) {
      Piped piped = replayPipeline(pipeline, b, files, printer, events);
      versions = piped.versions();
      reading = piped.reading();
      others = Map.of();
    } else {
      LogReplay replay = new LogReplay(b, shown(baseline), used.settings(), printer, text);
      reading = replay.replay(files);
      versions = replay.versions();
      others = replay.otherModels();
    }
    boolean drift = false;
    synchronized (events) {
      warn(reading, err);
      events.println(read(reading, b.model(), versions, others));
      List<DriftReport> reports = new ArrayList<>();
      for (LogReplay.VersionReplay v : versions) {
        DriftReport r = v.report();
        reports.add(r);
        drift |= r.drifting();
        if (json) {
          continue;
        }
        if (v.unchecked()) {
          out.printf(
              Locale.ROOT,
              "%s version %s: not checked (%d lines, 0 observations)%n",
              r.model(),
              r.version(),
              v.lines());
          if (v.notCompared().isEmpty()) {
            out.println("  " + r.problem());
          }
        } else {
          out.printf(
              Locale.ROOT,
              "%s version %s: %s after %d observations%n",
              r.model(),
              r.version(),
              DriftJson.status(r),
              r.observations());
        }
        for (String why : v.notCompared()) {
          out.println("  not compared: " + why);
        }
        for (FeatureDrift f : r.features()) {
          out.println(line("feature", f));
        }
        for (FeatureDrift f : r.outputs()) {
          out.println(line("output ", f));
        }
      }
      if (json) {
        // One JSON document: a version's report as GET .../versions/<v>/drift gives it, or, for
        // any other number of versions, an array of them (in the order first seen).
        if (reports.size() == 1) {
          out.println(DriftJson.report(reports.get(0)).toPrettyString());
        } else {
          ArrayNode all = JsonNodeFactory.instance.arrayNode();
          reports.forEach(r -> all.add(DriftJson.report(r)));
          out.println(all.toPrettyString());
        }
      }
      events.flush();
      out.flush();
      if (reports.isEmpty()) {
        // Nothing was compared: not a clean check (a wrong --log folder, another model's log).
        return error(
            "no "
                + (reading.bad() + reading.torn().size() > 0 ? "readable " : "")
                + "requests of model "
                + b.model()
                + " in the logs; nothing was checked"
                + (others.isEmpty() ? "" : " (they hold " + counts(others) + ")"));
      }
    }
    boolean unchecked = false;
    for (LogReplay.VersionReplay v : versions) {
      if (v.unchecked()) {
        // Not a clean check either: no row of it was compared (an input renamed, another model's
        // baseline, a model with other columns).
        DriftReport r = v.report();
        error(r.model() + " version " + r.version() + " was " + r.problem());
        unchecked = true;
      }
    }
    // Drift found is the verdict even where another version could not be checked (said above).
    return drift ? 1 : unchecked ? 2 : 0;
  }

  /** The baseline; an error names the file. */
  private Baseline readBaseline() throws IOException {
    try {
      return Baseline.read(baseline);
    } catch (NoSuchFileException e) {
      throw e;
    } catch (IOException e) {
      String m = String.valueOf(e.getMessage());
      int cut = m.indexOf('\n'); // Jackson's location, on a line of its own
      String named = baseline + " (";
      if (m.startsWith(named) && m.endsWith(")")) {
        // FileInputStream's "<path> (No such file or directory)": the path is said once.
        m = m.substring(named.length(), m.length() - 1);
        cut = -1;
      }
      throw new IOException(
          "cannot read the baseline " + baseline + ": " + (cut < 0 ? m : m.substring(0, cut)), e);
    }
  }

  private static String join(List<Path> paths) {
    List<String> s = new ArrayList<>();
    paths.forEach(p -> s.add(p.toString()));
    return String.join(", ", s);
  }

  /** The settings used and where they came from. */
  private record Used(DetectorSettings settings, String from) {
    String describe() {
      return String.format(
          Locale.ROOT,
          "%s: window %d, clear-after %d, range-window %d, false-alarm-rate %s, cusum-k %s,"
              + " psi-floor %s",
          from,
          settings.window(),
          settings.clearAfter(),
          settings.rangeWindow(),
          settings.falseAlarmRate(),
          settings.cusumK(),
          settings.psiFloor());
    }
  }

  /** A text pipeline's replay: its version, if any was run, and the lines read. */
  private record Piped(List<LogReplay.VersionReplay> versions, LogReplay.Reading reading) {}

  /** Tells the lines skipped on stderr: each file's cut last line, the first bad lines, a count. */
  private static void warn(LogReplay.Reading reading, PrintWriter err) {
    for (String t : reading.torn()) {
      err.println(
          "fulcrum skew-check: warning: "
              + t
              + " is cut short (the file's last line, without a newline: a crash or a copy in"
              + " progress); skipped");
    }
    for (String b : reading.badShown()) {
      err.println("fulcrum skew-check: warning: skipped " + b);
    }
    if (reading.bad() > 0) {
      err.println(
          "fulcrum skew-check: warning: "
              + reading.bad()
              + (reading.bad() == 1 ? " line" : " lines")
              + " skipped in all: not requests as fulcrum serve logs them (the live monitor may"
              + " have compared them: its observation numbers after the first may be ahead)");
    }
    err.flush();
  }

  /** What was read: files, requests of the model and of others, lines skipped. */
  private static String read(
      LogReplay.Reading reading,
      String model,
      List<LogReplay.VersionReplay> versions,
      Map<String, Long> others) {
    long mine = versions.stream().mapToLong(LogReplay.VersionReplay::lines).sum();
    long other = others.values().stream().mapToLong(Long::longValue).sum();
    return String.format(
        Locale.ROOT,
        "read %d %s: %d requests of model %s%s%s%s",
        reading.files(),
        reading.files() == 1 ? "file" : "files",
        mine,
        model,
        other == 0 ? "" : ", " + other + " of other models (" + counts(others) + ")",
        reading.bad() == 0
            ? ""
            : ", " + reading.bad() + (reading.bad() == 1 ? " bad line" : " bad lines") + " skipped",
        reading.torn().isEmpty()
            ? ""
            : ", "
                + reading.torn().size()
                + (reading.torn().size() == 1 ? " last line" : " last lines")
                + " cut short");
  }

  private static String counts(Map<String, Long> byModel) {
    List<String> parts = new ArrayList<>();
    byModel.forEach((m, n) -> parts.add(m + ": " + n + (n == 1 ? " line" : " lines")));
    return String.join(", ", parts);
  }

  /**
   * A text pipeline's log: its requests' text run again through the pipeline in process, watched by
   * the live monitor (its passes hold what the monitor compares; the log does not).
   */
  private Piped replayPipeline(
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
      LogReplay.Reading reading = replay.replay(files);
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
      return new Piped(
          replay.replayed() == 0
              ? List.of()
              : List.of(new LogReplay.VersionReplay(report, replay.replayed(), List.of())),
          reading);
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

  /**
   * The detector settings: of {@code --config}, else of the config.yaml beside the baseline, else
   * the defaults; and where they came from, in words (the replay's verdict depends on them: the
   * live monitor's are its config.yaml's).
   */
  private Used settings() throws IOException, ConfigException {
    Path file = config;
    String how = "--config";
    if (file == null) {
      Path parent = baseline.toAbsolutePath().getParent();
      Path beside = parent == null ? null : parent.resolve("config.yaml");
      if (beside == null || !Files.isRegularFile(beside)) {
        return new Used(
            DetectorSettings.defaults(),
            "default settings (no config.yaml beside the baseline; --config FILE names the"
                + " served model's)");
      }
      file = beside;
      how = "beside the baseline";
    }
    ModelConfigFile f = new ModelConfigLoader().parse(Files.readString(file), file);
    if (f.pipeline() != null) {
      // A pipeline's log holds its text requests and its normalized answers, not the token ids and
      // hidden state its monitor compares: they are run through the pipeline again.
      pipelineConfig = file;
    }
    MonitoringConfig m = ModelConfigResolver.monitoring(f.monitoring(), file, null);
    text = m == null ? null : m.text();
    if (m == null) {
      return new Used(
          DetectorSettings.defaults(),
          "default settings (" + shown(file) + " has no monitoring: section)");
    }
    return new Used(DetectorSettings.of(m), "settings of " + shown(file) + " (" + how + ")");
  }

  /**
   * A file as the live monitor shows its baseline ({@code GET .../drift}'s {@code baseline}): the
   * last three names of its absolute path, {@code <repository>/<model>/baseline.json}.
   */
  private static String shown(Path file) {
    return ShownPath.of(file.toAbsolutePath().normalize());
  }
}
