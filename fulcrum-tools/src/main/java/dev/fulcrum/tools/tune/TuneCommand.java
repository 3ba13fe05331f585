package dev.fulcrum.tools.tune;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.io.AtomicFile;
import dev.fulcrum.tools.bench.LoadProbe;
import dev.fulcrum.tools.bench.ShapeOptions;
import dev.fulcrum.tools.serve.ServeCommand;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fulcrum tune}: sweeps one model's batching, instance and thread knobs on a server it
 * starts in this process, measures each configuration with bench's closed loop at several
 * concurrencies, re-measures the best few in turns, and writes the recommendation, every trial and
 * a report; with {@code --compare}, measures given configuration files in turns instead. Confined
 * to the picocli thread; the server and the load run on their own threads.
 */
@Command(
    name = "tune",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Find a model's best configuration on this machine.",
      "It sweeps max-batch-size, queue delay, instance-count and intra-op threads",
      "(and the SLO batching policy where the server has it), each measured closed",
      "loop at several concurrencies, finds the Pareto frontier over throughput, p99",
      "and $ per 1M predictions, and writes a recommended config.yaml, results.json",
      "and report.html. The best few are measured again, in turns, and chosen on the",
      "median.",
      ""
    },
    footer = {
      "",
      "Examples:",
      "  fulcrum tune --model fraud_classifier --slo-p99-ms 10 --cost-per-hour 0.20",
      "  fulcrum tune --model-repository models --model resnet --exhaustive \\",
      "      --trial-seconds 20",
      "  fulcrum tune --model fraud_classifier --slo-p99-ms 10 \\",
      "      --compare a.yaml --compare b.yaml",
      "  fulcrum tune --model all_minilm_l6_v2 --shape input_ids:16 \\",
      "      --shape attention_mask:16 --shape token_type_ids:16 --slo-p99-ms 100"
    })
public final class TuneCommand implements Callable<Integer> {
  @Spec CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--model-repository",
      paramLabel = "DIR",
      description = "Model repository (default: the bundled demo repository).")
  @Nullable Path modelRepository;

  @Option(
      names = {"-m", "--model"},
      paramLabel = "NAME",
      required = true,
      description = "Model to tune.")
  String model;

  @Option(
      names = "--protocol",
      paramLabel = "rest|grpc",
      defaultValue = "rest",
      description = "rest (Triton binary tensors) or grpc (default: ${DEFAULT-VALUE}).")
  String protocol;

  @Option(
      names = "--slo-p99-ms",
      paramLabel = "MS",
      description =
          "Latency SLO: a load level counts only when 99 %% of its requests were answered within"
              + " MS (rejections count as misses). Also enables the SLO policy as a knob.")
  @Nullable Double sloP99Ms;

  @Option(
      names = "--max-cost-per-million",
      paramLabel = "USD",
      description = "Most USD per million predictions (needs --cost-per-hour).")
  @Nullable Double maxCostPerMillion;

  @Option(
      names = "--cost-per-hour",
      defaultValue = "0",
      paramLabel = "USD",
      description = "What this machine costs per hour (default: ${DEFAULT-VALUE}: not reported).")
  double costPerHour;

  @Option(
      names = "--exhaustive",
      description = "Measure every configuration of the grid (default: the quick search).")
  boolean exhaustive;

  @Option(
      names = "--max-trials",
      paramLabel = "N",
      description = "Quick search: at most N trials (default: 15 %% of the grid).")
  @Nullable Integer maxTrials;

  @Option(
      names = "--remeasure",
      paramLabel = "N",
      description =
          "Before choosing, measure the best N configurations (within 15 %% of the best) again,"
              + " in turns, and judge them on the median (default: 2 quick, 3 exhaustive; 0:"
              + " off). Quick mode counts these trials in its budget.")
  @Nullable Integer remeasure;

  @Option(
      names = "--remeasure-rounds",
      defaultValue = "2",
      paramLabel = "R",
      description = "How many more times each of them is measured (default: ${DEFAULT-VALUE}).")
  int remeasureRounds;

  @Option(
      names = "--trial-seconds",
      defaultValue = "8",
      paramLabel = "S",
      description =
          "Load time of one configuration, split over its concurrencies (default:"
              + " ${DEFAULT-VALUE}).")
  double trialSeconds;

  @Option(
      names = "--concurrency",
      defaultValue = "1:64:x2",
      paramLabel = "S:E[:STEP|:xF]",
      description = "Closed-loop levels of each trial, as bench's (default: ${DEFAULT-VALUE}).")
  String concurrency;

  @Mixin ShapeOptions shapes = new ShapeOptions();

  @Option(
      names = "--max-batch-sizes",
      split = ",",
      splitSynopsisLabel = ",",
      paramLabel = "N",
      description = "max-batch-size values (default: powers of two up to the model's).")
  List<Integer> maxBatchSizes = new ArrayList<>();

  @Option(
      names = "--queue-delays-us",
      split = ",",
      splitSynopsisLabel = ",",
      paramLabel = "US",
      description = "max-queue-delay-microseconds values (default: 0,100,500,2000).")
  List<Long> queueDelays = new ArrayList<>();

  @Option(
      names = "--instance-counts",
      split = ",",
      splitSynopsisLabel = ",",
      paramLabel = "N",
      description = "instance-count values (default: powers of two up to the cores, at least 1,2).")
  List<Integer> instanceCounts = new ArrayList<>();

  @Option(
      names = "--intra-op-threads",
      split = ",",
      splitSynopsisLabel = ",",
      paramLabel = "N",
      description = "onnxruntime intra-op-threads values (default: powers of two up to the cores).")
  List<Integer> intraOpThreads = new ArrayList<>();

  @Option(
      names = "--compare",
      paramLabel = "CONFIG.yaml",
      description =
          "Instead of a sweep: measure these whole configurations of the model (repeatable; e.g."
              + " two recommended.yaml), in turns, --rounds times each, trials as a sweep's;"
              + " writes compare.json with every measurement, the medians and their ratios.")
  List<Path> compare = new ArrayList<>();

  @Option(
      names = "--rounds",
      defaultValue = "3",
      paramLabel = "N",
      description = "--compare: measurements of each configuration (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(
      names = "--output",
      defaultValue = "tune-output",
      paramLabel = "DIR",
      description =
          "Folder for recommended.yaml, results.json and report.html (default: ${DEFAULT-VALUE}).")
  Path output;

  PrintStream out = System.out;
  PrintStream err = System.err;

  /** Whether stderr is a terminal (the progress bar redraws in place); tests set false. */
  boolean terminal = LoadProbe.interactive();

  private static final String LOG_LEVEL = "org.slf4j.simpleLogger.defaultLogLevel";
  private static final String LOG_PREFIX = "org.slf4j.simpleLogger.log.";

  @Override
  public Integer call() throws Exception {
    quietServerLogs();
    Objective objective;
    try {
      objective = new Objective(sloP99Ms, maxCostPerMillion, costPerHour);
    } catch (IllegalArgumentException e) {
      throw usage(e.getMessage());
    }
    String proto = protocol.toLowerCase(Locale.ROOT);
    if (!proto.equals("rest") && !proto.equals("grpc")) {
      throw usage("--protocol must be rest or grpc");
    }
    checkModeOptions();
    Search.Remeasure byMode = exhaustive ? Search.Remeasure.EXHAUSTIVE : Search.Remeasure.QUICK;
    int candidates = remeasure != null ? remeasure : byMode.candidates();
    if (candidates < 0 || remeasureRounds < 0) {
      throw usage("--remeasure and --remeasure-rounds must be >= 0");
    }
    Search.Remeasure again =
        new Search.Remeasure(candidates, remeasureRounds, Search.Remeasure.MARGIN);
    if (!(trialSeconds > 0)) {
      throw usage("--trial-seconds must be > 0");
    }
    checkGridValues();
    List<Integer> levels;
    try {
      levels = LoadProbe.parseConcurrencies(concurrency);
    } catch (IllegalArgumentException e) {
      throw usage("--concurrency: " + e.getMessage());
    }
    Path repo = modelRepository != null ? modelRepository : ServeCommand.demoRepository();
    if (!Files.isDirectory(repo)) {
      throw usage("--model-repository " + repo + " is not a folder");
    }
    Path modelDir = repo.resolve(model);
    if (!Files.isDirectory(modelDir)) {
      throw usage("model '" + model + "' is not a folder of " + repo);
    }
    List<Compare.Entry> entries = compareEntries();
    // Before any measurement: a sweep of many minutes should not end on a bad path.
    String badOutput = ResultFiles.prepare(output);
    if (badOutput != null) {
      throw usage("--output " + badOutput);
    }
    TrialConfig config;
    try {
      config = TrialConfig.read(modelDir);
    } catch (ConfigException e) {
      return fail(oneLine(e.getMessage()));
    }
    long started = System.nanoTime();
    try (TuneServer server = TuneServer.start(repo, proto.equals("grpc"))) {
      ServerTrialRunner runner =
          new ServerTrialRunner(
              server.restBase(),
              model,
              config,
              levels,
              ServerTrialRunner.Timing.of(
                  Duration.ofMillis((long) (trialSeconds * 1000)), levels.size()),
              sloP99Ms);
      // Whether the server has the SLO policy first: the model's own configuration is then the
      // last one loaded, the one the warm-up runs on.
      boolean sloPolicy = compare.isEmpty() && sloP99Ms != null && runner.acceptsSlo(sloP99Ms);
      try {
        runner.load(null); // the model as its files configure it
      } catch (TrialRunner.TrialException e) {
        return fail(oneLine(e.getMessage()));
      }
      // Loaded with batching inferred, the server checks that the first dimension is a batch; a
      // written max-batch-size (every trial's) skips that check, so tune has to carry it over.
      String notABatch = server.notABatch(model);
      int maxLevel = levels.stream().mapToInt(Integer::intValue).max().orElse(1);
      LoadProbe probe;
      try {
        probe =
            proto.equals("grpc")
                ? LoadProbe.grpc(server.grpcTarget(), model, shapes.specs())
                : LoadProbe.rest(server.restBase(), model, maxLevel, shapes.specs());
      } catch (IllegalArgumentException e) {
        throw usage(e.getMessage()); // --shape missing or wrong
      }
      try (probe) {
        runner.probe(probe);
        if (!compare.isEmpty()) {
          return compare(runner, entries, levels, objective);
        }
        int modelMaxBatch = notABatch != null ? 0 : probe.maxBatchSize();
        if (!maxBatchSizes.isEmpty() && modelMaxBatch <= 0) {
          throw usage(
              "--max-batch-sizes: "
                  + model
                  + (notABatch != null
                      ? "'s first dimension is not a batch (" + notABatch + ")"
                      : " does not batch (max_batch_size 0)")
                  + ", so it has no batch size to tune");
        }
        if (notABatch != null) {
          err.printf(
              Locale.ROOT,
              "%s: the server found that its first dimension is not a batch (%s), so it never"
                  + " joins the requests of different clients: max-batch-size is not swept, and"
                  + " recommended.yaml says max-batch-size: 0 (a max-batch-size above 0 written in"
                  + " config.yaml skips that check and would join them)%n",
              model,
              notABatch);
        }
        Grid grid = grid(modelMaxBatch, sloPolicy);
        int size = grid.size();
        int budget = maxTrials != null ? maxTrials : Search.defaultBudget(size);
        int planned = exhaustive ? size : Math.min(budget, size);
        err.printf(
            Locale.ROOT,
            "tuning %s: %d configurations, %s (%s), %.1f s each at %s%s%n",
            model,
            size,
            exhaustive ? "exhaustive" : "quick search",
            exhaustive ? size + " trials" : "at most " + planned + " trials",
            trialSeconds,
            levels.stream().map(c -> "c=" + c).toList(),
            remeasureNote(again, exhaustive, planned));
        if (sloP99Ms != null && !sloPolicy) {
          err.println("the server has no SLO policy (slo: in config); it is not a knob here");
        }
        // Unmeasured passes over the levels on the model's own configuration first, until the
        // server stops getting faster (WarmUp): a trial measured while the JIT still compiles
        // client and server reads several times slower than the rest and misleads the search.
        // Ctrl-C in it: nothing measured yet, and a line says so (the earlier run's files are
        // gone).
        ResultFiles.clear(output);
        Thread warming =
            new Thread(() -> out.println(Checkpoint.message(0, 0, output)), "fulcrum-tune-warm-up");
        Runtime.getRuntime().addShutdownHook(warming);
        try {
          warmUp(probe, levels, runner.timing());
        } finally {
          removeShutdownHook(warming);
        }
        String mode = exhaustive ? "exhaustive" : "quick";
        Progress progress = new Progress(err, terminal, System::nanoTime);
        Checkpoint checkpoint =
            new Checkpoint(
                progress,
                output,
                (soFar, run) ->
                    Sweep.of(model, mode, size, run, objective, sloPolicy, soFar, true, notABatch),
                out);
        Search search = new Search(grid, objective, runner, checkpoint, again);
        // Ctrl-C (or SIGTERM): the files written after each trial stand, and the hook says so.
        Thread hook = new Thread(checkpoint::interrupted, "fulcrum-tune-partial");
        Runtime.getRuntime().addShutdownHook(hook);
        List<Trial> trials;
        try {
          trials = exhaustive ? search.exhaustive() : search.quick(budget);
          if (!checkpoint.finish()) {
            return 130; // the JVM is shutting down; the hook has said what is written
          }
        } finally {
          removeShutdownHook(hook);
        }
        progress.finish();
        Sweep sweep =
            Sweep.of(
                model,
                mode,
                size,
                search.trialsRun(),
                objective,
                sloPolicy,
                trials,
                false,
                notABatch);
        write(sweep, config, Duration.ofNanos(System.nanoTime() - started));
        if (sweep.trials().stream().anyMatch(t -> !t.answered() && !t.point().loadFailed())) {
          probe.lastError().ifPresent(e -> out.println("last error the client saw: " + e));
        }
        return sweep.chosen() == null ? 1 : 0;
      }
    }
  }

  /** Removes a shutdown hook, unless the JVM is already shutting down (the hook then runs). */
  private static void removeShutdownHook(Thread hook) {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is already shutting down: the hook runs
    }
  }

  /** A usage error: picocli prints the message (one line) and the usage, and exits 2. */
  private CommandLine.ParameterException usage(@Nullable String message) {
    return new CommandLine.ParameterException(spec.commandLine(), String.valueOf(message));
  }

  /**
   * A model that cannot be served (its files or configuration broken): one line, exit 2, as a file
   * the user gave that is wrong.
   */
  private int fail(String message) {
    err.println("fulcrum tune: " + message);
    err.flush();
    return 2;
  }

  /**
   * Options that one mode would ignore are refused rather than dropped without a word: the sweep's
   * with {@code --compare}, {@code --rounds} without it, the quick search's budget with {@code
   * --exhaustive}.
   */
  private void checkModeOptions() {
    CommandLine.ParseResult given = spec.commandLine().getParseResult();
    if (compare.isEmpty()) {
      if (given.hasMatchedOption("--rounds")) {
        throw usage("--rounds is for --compare; a sweep re-measures with --remeasure-rounds");
      }
      if (exhaustive && maxTrials != null) {
        throw usage("--max-trials is the quick search's budget; --exhaustive measures every one");
      }
      return;
    }
    List<String> sweepOnly =
        List.of(
                "--exhaustive",
                "--max-trials",
                "--remeasure",
                "--remeasure-rounds",
                "--max-batch-sizes",
                "--queue-delays-us",
                "--instance-counts",
                "--intra-op-threads")
            .stream()
            .filter(given::hasMatchedOption)
            .toList();
    if (!sweepOnly.isEmpty()) {
      throw usage(
          "--compare measures the files given as they are, with no sweep: leave out "
              + String.join(", ", sweepOnly));
    }
  }

  /** The grid's values and the budget, refused when they mean nothing. */
  private void checkGridValues() {
    if (maxTrials != null && maxTrials < 1) {
      throw usage("--max-trials must be >= 1, was " + maxTrials);
    }
    if (maxBatchSizes.stream().anyMatch(b -> b == null || b < 1)) {
      // a max-batch-size of 0 would be measured as the model's own batching, not as none
      throw usage("--max-batch-sizes must be >= 1, were " + maxBatchSizes);
    }
    if (queueDelays.stream().anyMatch(d -> d == null || d < 0)) {
      throw usage("--queue-delays-us must be >= 0, were " + queueDelays);
    }
    if (instanceCounts.stream().anyMatch(i -> i == null || i < 1)) {
      throw usage("--instance-counts must be >= 1, were " + instanceCounts);
    }
    if (intraOpThreads.stream().anyMatch(t -> t == null || t < 0)) {
      throw usage(
          "--intra-op-threads must be >= 0 (0: onnxruntime's default), were " + intraOpThreads);
    }
  }

  /** {@code --compare}'s files, read before the server starts: a bad one is a usage error. */
  private List<Compare.Entry> compareEntries() {
    if (!compare.isEmpty() && rounds < 1) {
      throw usage("--rounds must be >= 1");
    }
    List<Compare.Entry> entries = new ArrayList<>();
    for (Path f : compare) {
      try {
        entries.add(new Compare.Entry(f.toString(), TrialConfig.readFile(f)));
      } catch (java.nio.file.NoSuchFileException e) {
        throw usage("--compare " + f + ": no such file");
      } catch (ConfigException e) {
        throw usage("--compare: " + oneLine(e.getMessage())); // the message names the file
      } catch (java.io.IOException e) {
        throw usage("--compare " + f + ": " + oneLine(e.getMessage()));
      }
    }
    return entries;
  }

  /** A message on one line: a YAML parser's spans several, with the offending text under it. */
  static String oneLine(@Nullable String message) {
    return String.valueOf(message).strip().replaceAll("\\s*\\R\\s*", " ");
  }

  /**
   * The header's word on re-measurement: what the search will keep back for it. In quick mode a
   * small budget keeps nothing back (Search.Remeasure#reserve), and the header should not promise
   * it.
   */
  static String remeasureNote(Search.Remeasure again, boolean exhaustive, int planned) {
    if (again.candidates() == 0 || again.rounds() == 0) {
      return "";
    }
    int rounds = exhaustive ? again.rounds() : again.reserve(planned) / again.candidates();
    if (rounds == 0) {
      return "; too few trials to keep any back to re-measure the best";
    }
    return String.format(
        Locale.ROOT,
        "; then the best %d measured %d more times each, in turns",
        again.candidates(),
        rounds);
  }

  /** The sweep's warm-up ({@link WarmUp}) on stderr, one line: each pass's throughput. */
  private void warmUp(LoadProbe probe, List<Integer> levels, ServerTrialRunner.Timing timing)
      throws InterruptedException {
    err.printf(
        Locale.ROOT,
        "warming up: unmeasured passes over the levels (%s s each) until the rate levels off,"
            + " %d to %d of them%n",
        new java.math.BigDecimal(trialSeconds / 2)
            .round(new java.math.MathContext(2))
            .stripTrailingZeros()
            .toPlainString(),
        WarmUp.MIN_PASSES,
        WarmUp.MAX_PASSES);
    List<Double> rates =
        WarmUp.run(
            () ->
                probe.run(levels, timing.warmup(), timing.window(), 1, null).stream()
                    .mapToDouble(LoadProbe.Level::inferencesPerSecond)
                    .sum(),
            WarmUp.MAX_PASSES);
    err.printf(
        Locale.ROOT,
        "warmed up in %d unmeasured passes (inferences/s summed over the levels: %s)%n",
        rates.size(),
        String.join(
            " -> ", rates.stream().map(r -> String.format(Locale.ROOT, "%.0f", r)).toList()));
  }

  /** Writes compare.json whole or not at all (a partial one after each round is replaced). */
  private void writeCompare(
      ObjectMapper mapper, Path file, Compare.Result result, Objective objective, boolean partial) {
    ObjectNode json = result.toJson(mapper, objective);
    json.put("model", model);
    json.put("trial_seconds", trialSeconds);
    if (partial) {
      json.put("partial", true);
    }
    try {
      AtomicFile.replace(file, mapper.writeValueAsString(json) + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code --compare}: the files measured in turns; compare.json and one line each. */
  private int compare(
      ServerTrialRunner runner,
      List<Compare.Entry> entries,
      List<Integer> levels,
      Objective objective)
      throws Exception {
    err.printf(
        Locale.ROOT,
        "comparing %d configurations of %s, %d rounds in turns, %.1f s each at %s%n",
        entries.size(),
        model,
        rounds,
        trialSeconds,
        levels.stream().map(c -> "c=" + c).toList());
    // One unrecorded round of every configuration first (it also warms the client, as the sweeps'
    // unmeasured pass does): on the quiet machine each round of the first comparison ran faster
    // than the one before for all configurations alike (24k, then 33-38k, then 40-48k/s), the
    // client and server still warming, so round 1 measured time.
    for (Compare.Entry e : entries) {
      try {
        runner.measureConfig(e.config());
      } catch (TrialRunner.TrialException ex) {
        // Counted where it matters: the recorded rounds report the failure.
      }
    }
    Progress progress = new Progress(err, terminal, System::nanoTime);
    ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    Path file = output.resolve("compare.json");
    Files.deleteIfExists(file); // an earlier run's file is not this run's partial result
    // Ctrl-C (or SIGTERM): compare.json after each complete round stands, marked partial, and the
    // hook says so; a comparison of 5 rounds of 20 s each is not lost in its fourth.
    Object lock = new Object();
    int[] roundsWritten = {0};
    boolean[] over = {false}; // the hook ran, or the comparison finished
    Thread hook =
        new Thread(
            () -> {
              synchronized (lock) {
                if (!over[0]) {
                  over[0] = true;
                  progress.finish();
                  out.println(
                      roundsWritten[0] == 0
                          ? "interrupted before the first round finished: nothing written"
                          : String.format(
                              Locale.ROOT,
                              "interrupted: %s holds the %d complete round%s of %d (marked"
                                  + " partial)",
                              file.toAbsolutePath().normalize(),
                              roundsWritten[0],
                              roundsWritten[0] == 1 ? "" : "s",
                              rounds));
                  out.flush();
                }
              }
            },
            "fulcrum-tune-partial");
    Runtime.getRuntime().addShutdownHook(hook);
    Compare.Result result;
    try {
      result =
          Compare.run(
              entries,
              rounds,
              objective,
              runner::measureConfig,
              progress,
              soFar -> {
                synchronized (lock) {
                  if (!over[0]) {
                    writeCompare(mapper, file, soFar, objective, true);
                    roundsWritten[0] = soFar.rounds();
                  }
                }
              });
      synchronized (lock) {
        if (over[0]) {
          return 130; // the JVM is shutting down; the hook has said what is written
        }
        over[0] = true;
      }
    } finally {
      removeShutdownHook(hook);
    }
    progress.finish();
    writeCompare(mapper, file, result, objective, false);
    for (int i = 0; i < entries.size(); i++) {
      Trial t = result.trials().get(i);
      out.printf(
          Locale.ROOT,
          "%s: %s: %.1f inferences/s (median of %d), p99 %.2f ms%s; %.3f of the first; each: %s%n",
          entries.get(i).name(),
          t.knobs().label(),
          result.figure(i),
          t.measurements().size(),
          t.p99Ms(),
          t.problem() == null ? "" : " (" + t.problem() + ")",
          result.figure(0) > 0 ? result.figure(i) / result.figure(0) : 0,
          t.measurements().stream()
              .map(
                  m ->
                      String.format(
                          Locale.ROOT, "%.0f", objective.judge(t.knobs(), m).throughput()))
              .toList());
    }
    Sweep.Noise noise = result.noise(objective);
    if (noise != null) {
      out.printf(
          Locale.ROOT,
          "%s; a median of %d measurements by about %.1f %%%n",
          noise.describe(),
          rounds,
          100 * noise.cv() * Math.sqrt(Math.PI / (2 * rounds)));
    }
    out.println("wrote " + output.resolve("compare.json").toAbsolutePath().normalize());
    return 0;
  }

  /**
   * The server's own lines (a load per trial, and the refused load that asks whether it has the SLO
   * policy) would break up the progress bar: unless FULCRUM_LOG_LEVEL says otherwise, only
   * warnings, and none from the control plane, whose failures each trial reports itself. Takes
   * effect when no logger exists yet (slf4j-simple reads its settings once), as from the CLI.
   */
  private static void quietServerLogs() {
    if (System.getenv("FULCRUM_LOG_LEVEL") == null && System.getProperty(LOG_LEVEL) == null) {
      // Per-logger settings are read when each logger is made, so they still apply here.
      System.setProperty(LOG_PREFIX + "dev.fulcrum", "warn");
      System.setProperty(LOG_PREFIX + "dev.fulcrum.core.repository.ModelManager", "off");
    }
  }

  /** The grid: the values given, else defaults sized to the model and this machine. */
  Grid grid(int modelMaxBatch, boolean sloPolicy) {
    int cores = Runtime.getRuntime().availableProcessors();
    List<Integer> batches = ascending(maxBatchSizes);
    if (batches.isEmpty()) {
      batches = modelMaxBatch <= 0 ? List.of(0) : powersOfTwo(modelMaxBatch);
    }
    List<Long> delays =
        queueDelays.isEmpty() ? List.of(0L, 100L, 500L, 2000L) : ascending(queueDelays);
    List<Integer> instances =
        instanceCounts.isEmpty() ? powersOfTwo(Math.max(2, cores)) : ascending(instanceCounts);
    List<Integer> threads =
        intraOpThreads.isEmpty() ? powersOfTwo(cores) : ascending(intraOpThreads);
    return new Grid(
        batches, delays, instances, threads, sloPolicy ? List.of(false, true) : List.of(false));
  }

  /**
   * The values given, smallest first and each once: the search walks each axis to its neighbours
   * and starts at the middle batch size, so an axis must be in order.
   */
  static <T extends Comparable<T>> List<T> ascending(List<T> values) {
    return values.stream().distinct().sorted().toList();
  }

  /** 1, 2, 4 .. up to {@code max}, and {@code max} itself. */
  static List<Integer> powersOfTwo(int max) {
    List<Integer> out = new ArrayList<>();
    for (int v = 1; v < max; v *= 2) {
      out.add(v);
    }
    out.add(max);
    return out;
  }

  private void write(Sweep sweep, TrialConfig config, Duration took) throws Exception {
    ResultFiles.write(output, sweep);
    out.printf(
        Locale.ROOT,
        "%d trials (%d of %d configurations) in %s; %d on the frontier%n",
        sweep.trialsRun(),
        sweep.trials().size(),
        sweep.gridSize(),
        Progress.human(took),
        sweep.frontier().size());
    Trial chosen = sweep.chosen();
    if (chosen == null) {
      out.println("no recommended.yaml written: " + sweep.whyNone());
    } else {
      ObjectNode recommended = config.with(chosen.knobs(), sloP99Ms);
      AtomicFile.replace(
          output.resolve(ResultFiles.RECOMMENDED),
          TrialConfig.yaml(recommended, comments(sweep, chosen)));
      out.printf(
          Locale.ROOT,
          "recommended: %s: %.1f inferences/s%s at %s, p50 %.2f ms, p99 %.2f ms%s%n",
          chosen.knobs().label(),
          chosen.throughput(),
          measuredTimes(chosen),
          chosen.point().load(),
          chosen.p50Ms(),
          chosen.p99Ms(),
          chosen.costPerMillion() == null
              ? ""
              : String.format(Locale.ROOT, ", $%.4f per 1M", chosen.costPerMillion()));
    }
    Sweep.Noise noise = sweep.noise();
    if (noise != null) {
      out.printf(
          Locale.ROOT,
          "%s, their re-measurements only: a rough figure%s%n",
          noise.describe(),
          chosen == null
              ? ""
              : String.format(
                  Locale.ROOT,
                  "; %d configurations lie within twice that of the recommendation, which these"
                      + " trials cannot tell apart (longer --trial-seconds, or the load from"
                      + " another machine, narrow it)",
                  sweep.withinNoiseOfChosen(noise).size()));
    }
    String thin = thinTrials(sweep.trials());
    if (thin != null) {
      out.println(thin);
    }
    out.println("wrote " + output.toAbsolutePath().normalize());
  }

  /** Requests a level must answer for its p99 to be more than its slowest one or two. */
  static final long FEW_REQUESTS = 200;

  /**
   * A line saying how many trials answered fewer than {@link #FEW_REQUESTS} requests at a level
   * (their p99 is one of their slowest few requests, their throughput a short window's), or null.
   */
  static @Nullable String thinTrials(List<Trial> trials) {
    int thin = 0;
    long fewest = Long.MAX_VALUE;
    for (Trial t : trials) {
      long least = Long.MAX_VALUE;
      for (List<LevelPoint> m : t.measurements()) {
        for (LevelPoint p : m) {
          if (!p.loadFailed()) {
            least = Math.min(least, p.ok());
          }
        }
      }
      if (least < FEW_REQUESTS) {
        thin++;
        fewest = Math.min(fewest, least);
      }
    }
    if (thin == 0) {
      return null;
    }
    return String.format(
        Locale.ROOT,
        "warning: %d trial%s answered fewer than %d requests at a load level (the fewest %d):"
            + " a p99 of so few requests is their slowest one or two, and the choice among"
            + " them is a guess; a longer --trial-seconds measures more",
        thin,
        thin == 1 ? "" : "s",
        FEW_REQUESTS,
        fewest);
  }

  /** " (median of 3 measurements)" for a re-measured trial, else nothing. */
  private static String measuredTimes(Trial t) {
    int n = t.measurements().size();
    return n <= 1 ? "" : " (median of " + n + " measurements)";
  }

  private List<String> comments(Sweep sweep, Trial chosen) {
    List<String> c = new ArrayList<>();
    c.add(
        String.format(
            Locale.ROOT,
            "Recommended by fulcrum tune for %s (%s search, %d of %d configurations measured,"
                + " %d trials).",
            model,
            sweep.mode(),
            sweep.trials().size(),
            sweep.gridSize(),
            sweep.trialsRun()));
    c.add(
        String.format(
            Locale.ROOT,
            "Measured: %.1f inferences/s%s at %s (closed loop), p50 %.3f ms, p99 %.3f ms%s.",
            chosen.throughput(),
            measuredTimes(chosen),
            chosen.point().load(),
            chosen.p50Ms(),
            chosen.p99Ms(),
            chosen.costPerMillion() == null
                ? ""
                : String.format(
                    Locale.ROOT,
                    ", $%.4f per 1M predictions at $%s/hour",
                    chosen.costPerMillion(),
                    costPerHour)));
    List<String> constraints = new ArrayList<>();
    if (sloP99Ms != null) {
      constraints.add("p99 <= " + sloP99Ms + " ms (99 % of requests within it)");
    }
    if (maxCostPerMillion != null) {
      constraints.add("<= $" + maxCostPerMillion + " per 1M predictions");
    }
    c.add(
        "Constraints: " + (constraints.isEmpty() ? "none" : String.join(", ", constraints)) + ".");
    c.add("Chosen knobs: " + chosen.knobs().label() + " (see results.json and report.html).");
    if (sweep.notABatch() != null) {
      c.add(
          "max-batch-size 0: the server found that the first dimension is not a batch ("
              + sweep.notABatch()
              + "); a max-batch-size above 0 would join the rows of different requests.");
    }
    c.add("The model's other settings are its own. Drop in as " + model + "/config.yaml.");
    c.add("");
    return c;
  }
}
