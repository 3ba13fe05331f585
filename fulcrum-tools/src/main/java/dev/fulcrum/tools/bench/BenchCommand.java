package dev.fulcrum.tools.bench;

import dev.fulcrum.tools.serve.ServeCommand;
import java.io.Console;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fulcrum bench}: a load generator for a running server (and the in-process ceiling) that
 * reports coordinated-omission-corrected latency; confined to the picocli thread, the load itself
 * runs on the transport's and driver's threads.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Measure a model's throughput and latency under load.",
      "As perf_analyzer: a warm-up, then windows until the last three agree within",
      "--stability %%.",
      "Open loop (--rate) measures latency from each request's scheduled send time,",
      "so a stalled server cannot hide its stall (no coordinated omission).",
      ""
    },
    footer = {
      "",
      "Examples:",
      "  fulcrum bench -m fraud_classifier --concurrency 1:8:x2",
      "  fulcrum bench -m fraud_classifier --rate 500:2000:500 \\",
      "      --distribution poisson",
      "  fulcrum bench -m fraud_classifier --protocol grpc \\",
      "      --grpc-url 127.0.0.1:8001 --concurrency 1:16:x4",
      "  fulcrum bench -m all_minilm_l6_v2 --shape input_ids:16 \\",
      "      --shape attention_mask:16 --shape token_type_ids:16 \\",
      "      --batch-size 4 --concurrency 4",
      "  fulcrum bench -m fraud_classifier --concurrency 8 --compare-in-process",
      "  FULCRUM_INFERENCE_TOKEN=... fulcrum bench -m fraud_classifier \\",
      "      --url https://localhost:8000 --tls-ca ca.pem --concurrency 8"
    })
public final class BenchCommand implements Callable<Integer> {
  @Spec CommandLine.Model.CommandSpec spec;

  @Option(
      names = {"-m", "--model"},
      paramLabel = "NAME",
      required = true,
      description = "Model to benchmark.")
  String model;

  @Option(
      names = "--model-version",
      defaultValue = "",
      paramLabel = "VERSION",
      description = "Version (default: newest).")
  String modelVersion;

  @Option(
      names = "--protocol",
      paramLabel = "PROTOCOL",
      defaultValue = "rest-binary",
      description =
          "rest-binary (Triton binary tensors), rest-json or grpc (OIP ModelInfer, async stub)"
              + " (default: ${DEFAULT-VALUE}). With grpc everything goes to --grpc-url:"
              + " metadata, config and statistics too; --url is not used.")
  String protocol;

  @Option(
      names = "--url",
      paramLabel = "URL",
      defaultValue = "http://127.0.0.1:8000",
      description = "REST base URL (default: ${DEFAULT-VALUE}).")
  URI url;

  @Option(
      names = "--grpc-url",
      paramLabel = "HOST:PORT",
      defaultValue = "127.0.0.1:8001",
      description = "gRPC target, host:port or dns:///host:port (default: ${DEFAULT-VALUE}).")
  String grpcUrl;

  @Option(
      names = "--token",
      paramLabel = "TOKEN",
      defaultValue = "${env:FULCRUM_INFERENCE_TOKEN}",
      description =
          "Bearer token for a server started with tokens (REST 'Authorization: Bearer', gRPC"
              + " 'authorization' metadata); default: the FULCRUM_INFERENCE_TOKEN environment"
              + " variable, which keeps it out of the process list.")
  @Nullable String token;

  @Option(
      names = "--tls-ca",
      paramLabel = "PEM",
      description =
          "Connect with TLS (REST and gRPC) and trust the server certificates this CA signed,"
              + " with host name verification. An https --url alone uses the JDK's CAs.")
  @Nullable Path tlsCa;

  @Option(
      names = "--tls-insecure",
      description =
          "Connect with TLS and trust any certificate, without host name verification: for a"
              + " loopback server with a self-signed certificate only.")
  boolean tlsInsecure;

  @Option(
      names = "--grpc-channels",
      defaultValue = "1",
      paramLabel = "N",
      description =
          "gRPC: HTTP/2 connections, used round-robin. One connection is served by one event"
              + " loop thread on each side; on a many-core machine try 2-4 at high concurrency"
              + " (default: ${DEFAULT-VALUE}).")
  int grpcChannels;

  @Option(
      names = "--grpc-contents",
      defaultValue = "raw",
      paramLabel = "raw|typed",
      description =
          "gRPC: tensors in raw_input_contents (little-endian bytes, the fast path) or typed"
              + " contents (default: ${DEFAULT-VALUE}).")
  String grpcContents;

  @Option(
      names = "--concurrency",
      paramLabel = "N|S:E[:STEP|:xF]",
      description =
          "Closed loop: N requests always outstanding, or a range (1:16:4 adds, 1:64:x2"
              + " multiplies). Default 1 when --rate is not given.")
  @Nullable String concurrency;

  @Option(
      names = "--rate",
      paramLabel = "R|S:E[:STEP|:xF]",
      description = "Open loop: R requests per second, or a range like --concurrency.")
  @Nullable String rate;

  @Option(
      names = "--distribution",
      paramLabel = "constant|poisson",
      defaultValue = "constant",
      description = "Open-loop send gaps: constant or poisson (default: ${DEFAULT-VALUE}).")
  String distribution;

  @Option(
      names = "--max-outstanding",
      paramLabel = "N",
      defaultValue = "1024",
      description =
          "Open loop: most requests in flight; beyond it sends wait and count as late"
              + " (default: ${DEFAULT-VALUE}).")
  int maxOutstanding;

  @Option(
      names = "--warmup",
      defaultValue = "2s",
      converter = DurationConverter.class,
      paramLabel = "DURATION",
      description =
          "Warm-up before measuring: 500ms, 2s, 1m or ISO-8601 (default: ${DEFAULT-VALUE}).")
  Duration warmup;

  @Option(
      names = "--window",
      defaultValue = "5s",
      converter = DurationConverter.class,
      paramLabel = "DURATION",
      description = "Measurement window: 500ms, 2s, 1m or ISO-8601 (default: ${DEFAULT-VALUE}).")
  Duration window;

  @Option(
      names = "--stability",
      defaultValue = "10",
      paramLabel = "PCT",
      description =
          "Stable when the last 3 windows' throughput and p99 are within +-PCT %% of their"
              + " mean (default: ${DEFAULT-VALUE}).")
  double stability;

  @Option(
      names = "--max-windows",
      paramLabel = "N",
      defaultValue = "10",
      description = "Give up on stability after this many windows (default: ${DEFAULT-VALUE}).")
  int maxWindows;

  @Option(
      names = "--timeout",
      defaultValue = "30s",
      converter = DurationConverter.class,
      paramLabel = "DURATION",
      description =
          "Client-side timeout per request, a duration like --window; counts as timed out"
              + " (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  @Mixin ShapeOptions shapes = new ShapeOptions();

  @Option(
      names = "--batch-size",
      paramLabel = "N",
      defaultValue = "1",
      description =
          "Batch dimension of each request for batching models (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(
      names = "--input-data",
      paramLabel = "FILE",
      description = "OIP JSON requests to replay (JSONL or a JSON array) instead of random data.")
  @Nullable Path inputData;

  @Option(
      names = "--input-order",
      paramLabel = "sequential|random",
      defaultValue = "sequential",
      description = "sequential or random choice among the samples (default: ${DEFAULT-VALUE}).")
  String inputOrder;

  @Option(
      names = "--seed",
      paramLabel = "N",
      defaultValue = "42",
      description = "Seed for random data and Poisson gaps (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(
      names = "--client-threads",
      paramLabel = "N",
      defaultValue = "1",
      description =
          "REST client event loop threads, or gRPC channel callback threads (default:"
              + " ${DEFAULT-VALUE}).")
  int clientThreads;

  @Option(
      names = "--in-process",
      description = "Measure ONNX Runtime in this process only (the ceiling); no server needed.")
  boolean inProcess;

  @Option(
      names = "--compare-in-process",
      description =
          "Measure the server, then the same load in process, and print server / in-process.")
  boolean compareInProcess;

  @Option(
      names = "--model-repository",
      paramLabel = "DIR",
      description = "Repository for --in-process runs (default: the bundled demo repository).")
  @Nullable Path modelRepository;

  @Option(
      names = "--threads",
      paramLabel = "N",
      defaultValue = "0",
      description = "In-process: ONNX Runtime intra-op threads per instance (0: as configured).")
  int threads;

  @Option(
      names = "--output",
      paramLabel = "FILE.csv|FILE.json",
      description = "Also write the results to a CSV or JSON file.")
  @Nullable Path output;

  PrintStream out = System.out;
  PrintStream err = System.err;

  @Override
  public Integer call() throws Exception {
    String proto = protocol.toLowerCase(Locale.ROOT);
    if (!proto.equals("rest-json") && !proto.equals("rest-binary") && !proto.equals("grpc")) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--protocol must be rest-json, rest-binary or grpc");
    }
    String contents = grpcContents.toLowerCase(Locale.ROOT);
    if (!contents.equals("raw") && !contents.equals("typed")) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--grpc-contents must be raw or typed");
    }
    // A URL without a scheme or host ("nonsense", "localhost:8000") failed in the HTTP client
    // with a stack trace; with --protocol grpc, --url is not used.
    if (!proto.equals("grpc")
        && (url.getScheme() == null
            || !List.of("http", "https").contains(url.getScheme().toLowerCase(Locale.ROOT))
            || url.getHost() == null)) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--url must be an http:// or https:// URL with a host, such as http://127.0.0.1:8000,"
              + " was '"
              + url
              + "'");
    }
    if (grpcChannels < 1) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--grpc-channels must be at least 1");
    }
    if (concurrency != null && rate != null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "give --concurrency or --rate, not both");
    }
    ClientSecurity security;
    try {
      security =
          new ClientSecurity(
              Optional.ofNullable(token).filter(t -> !t.isEmpty()),
              "https".equalsIgnoreCase(url.getScheme()),
              Optional.ofNullable(tlsCa),
              tlsInsecure);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    List<Load> loads;
    try {
      loads = loads();
    } catch (IllegalArgumentException e) {
      String message = String.valueOf(e.getMessage());
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          message.startsWith("--")
              ? message
              : (rate != null ? "--rate " + rate : "--concurrency " + concurrency) + ": " + message,
          e);
    }
    try {
      shapes.parsed();
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    checkSettings();
    LoadRunner.Settings settings =
        new LoadRunner.Settings(
            warmup,
            window,
            stability,
            maxWindows,
            timeout.plusSeconds(1),
            maxOutstanding,
            inputOrder.equalsIgnoreCase("random"),
            seed);
    Consumer<String> progress = progressLine();
    List<LevelResult> results = new java.util.concurrent.CopyOnWriteArrayList<>();
    // Ctrl-C (or SIGTERM) in a long sweep: the levels measured so far are printed and written.
    Thread partial =
        new Thread(
            () -> {
              if (!results.isEmpty()) {
                out.println();
                out.println("interrupted: the " + results.size() + " level(s) measured so far");
                finish(results, loads.size());
              }
            },
            "fulcrum-bench-partial");
    Runtime.getRuntime().addShutdownHook(partial);
    try {
      return run(loads, settings, security, proto, contents, progress, results);
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(partial);
      } catch (IllegalStateException e) {
        // the JVM is already shutting down: the hook runs
      }
    }
  }

  private int run(
      List<Load> loads,
      LoadRunner.Settings settings,
      ClientSecurity security,
      String proto,
      String contents,
      Consumer<String> progress,
      List<LevelResult> results)
      throws Exception {
    List<Sample> samples = null;
    if (!inProcess && proto.equals("grpc")) {
      try (GrpcChannels channels =
          new GrpcChannels(grpcUrl, grpcChannels, clientThreads, security)) {
        GrpcServerApi api = new GrpcServerApi(channels, model, modelVersion);
        ModelInfo info = api.modelInfo();
        samples = samples(info);
        LoadRunner runner = new LoadRunner(settings, System::nanoTime, api::stats, progress);
        try (GrpcTransport t =
            new GrpcTransport(
                channels, info, modelVersion, samples, contents.equals("raw"), timeout)) {
          for (Load load : loads) {
            results.add(runner.run("server", t, load, samples.get(0).batch()));
            progress.accept("");
          }
        }
      }
    } else if (!inProcess) {
      HttpClient client = ServerApi.newClient(security);
      ServerApi api = new ServerApi(client, base(), model, modelVersion, security);
      ModelInfo info = api.modelInfo();
      samples = samples(info);
      LoadRunner runner = new LoadRunner(settings, System::nanoTime, api::stats, progress);
      try (RestTransport t =
          new RestTransport(
              base(),
              info,
              modelVersion,
              samples,
              proto.equals("rest-binary"),
              timeout,
              clientThreads,
              connections(loads),
              security)) {
        for (Load load : loads) {
          results.add(runner.run("server", t, load, samples.get(0).batch()));
          progress.accept("");
        }
        t.lastError().ifPresent(e -> err.println("last error seen by the client: " + e));
      }
    }
    if (inProcess || compareInProcess) {
      Path repo = modelRepository != null ? modelRepository : ServeCommand.demoRepository();
      try (InProcessTransport t = InProcessTransport.open(repo, model, threads)) {
        if (samples == null) {
          samples = samples(t.model());
        }
        t.samples(samples);
        LoadRunner runner = new LoadRunner(settings, System::nanoTime, Optional::empty, progress);
        for (Load load : loads) {
          results.add(runner.run("in-process", t, load, samples.get(0).batch()));
          progress.accept("");
        }
      }
    }
    List<LevelResult> all = List.copyOf(results);
    results.clear(); // printed below: not again by the shutdown hook
    finish(all, loads.size());
    return all.stream().anyMatch(r -> r.stats().ok() > 0) ? 0 : 1;
  }

  /** The table, the ratios and warnings, and --output, for the levels measured. */
  private void finish(List<LevelResult> results, int levels) {
    out.print(Report.table(results));
    if (compareInProcess && !inProcess && results.size() == 2 * levels) {
      printRatios(results, levels);
    }
    warnings(results);
    if (output != null) {
      try {
        Report.write(output, results);
        out.println("wrote " + output);
      } catch (java.io.IOException e) {
        err.println("fulcrum bench: cannot write " + output + ": " + e);
      }
    }
    out.flush();
  }

  /** The settings' checks, before any request is sent. */
  private void checkSettings() {
    String problem = null;
    if (window.isNegative() || window.isZero()) {
      problem = "--window must be longer than 0, was " + window;
    } else if (warmup.isNegative()) {
      problem = "--warmup must be 0 or longer, was " + warmup;
    } else if (maxWindows < 1) {
      problem = "--max-windows must be at least 1, was " + maxWindows;
    } else if (!(stability > 0)) {
      problem = "--stability must be a percentage > 0, was " + stability;
    } else if (batchSize < 1) {
      problem = "--batch-size must be at least 1, was " + batchSize;
    } else if (!inputOrder.equalsIgnoreCase("random")
        && !inputOrder.equalsIgnoreCase("sequential")) {
      problem = "--input-order must be sequential or random, was " + inputOrder;
    } else if (output != null) {
      String name = output.getFileName().toString().toLowerCase(Locale.ROOT);
      Path parent = output.toAbsolutePath().getParent();
      if (!name.endsWith(".json") && !name.endsWith(".csv")) {
        problem = "--output must end in .json or .csv, was " + output;
      } else if (parent != null && !java.nio.file.Files.isDirectory(parent)) {
        problem = "--output " + output + ": no folder " + parent;
      }
    }
    if (problem != null) {
      throw new CommandLine.ParameterException(spec.commandLine(), problem);
    }
  }

  private URI base() {
    String s = url.toString();
    return URI.create(s.endsWith("/") ? s : s + "/");
  }

  private List<Load> loads() {
    List<Load> loads = new ArrayList<>();
    if (rate != null) {
      ArrivalSchedule.Distribution d;
      try {
        d = ArrivalSchedule.Distribution.valueOf(distribution.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "--distribution must be one of "
                + java.util.Arrays.toString(ArrivalSchedule.Distribution.values())
                    .toLowerCase(Locale.ROOT)
                + ", was "
                + distribution,
            e);
      }
      LoadLevels.parse(rate).forEach(r -> loads.add(new Load.Open(r, d)));
    } else {
      LoadLevels.parseInts(concurrency == null ? "1" : concurrency)
          .forEach(c -> loads.add(new Load.Closed(c)));
    }
    return loads;
  }

  /** REST connections: one per outstanding request, like wrk -cN. */
  private int connections(List<Load> loads) {
    int n = 1;
    for (Load l : loads) {
      n = Math.max(n, l instanceof Load.Closed c ? c.concurrency() : maxOutstanding);
    }
    return n;
  }

  private List<Sample> samples(ModelInfo info) throws java.io.IOException {
    if (inputData != null) {
      return InputGenerator.fromFile(info, inputData);
    }
    return InputGenerator.random(info, shapes.parsed(), batchSize, 16, seed);
  }

  static Map<String, long[]> parseShapes(List<String> specs) {
    Map<String, long[]> m = new LinkedHashMap<>();
    Pattern p = Pattern.compile("([^:]+):([0-9]+(?:,[0-9]+)*)");
    for (String s : specs) {
      Matcher mm = p.matcher(s.trim());
      if (!mm.matches()) {
        throw new IllegalArgumentException("--shape " + s + ": expected NAME:D1,D2,...");
      }
      String[] dims = mm.group(2).split(",");
      long[] d = new long[dims.length];
      for (int i = 0; i < d.length; i++) {
        d[i] = Long.parseLong(dims[i]);
      }
      m.put(mm.group(1), d);
    }
    return m;
  }

  private void printRatios(List<LevelResult> results, int levels) {
    out.println("server / in-process:");
    for (int i = 0; i < levels && i + levels < results.size(); i++) {
      LevelResult s = results.get(i);
      LevelResult c = results.get(i + levels);
      double p99s = s.stats().latency().getValueAtPercentile(99);
      double p99c = c.stats().latency().getValueAtPercentile(99);
      out.printf(
          Locale.ROOT,
          "  %-10s throughput %.2fx, p99 %.2fx%n",
          s.load().label(),
          c.requestsPerSecond() == 0 ? 0 : s.requestsPerSecond() / c.requestsPerSecond(),
          p99c == 0 ? 0 : p99s / p99c);
    }
  }

  private void warnings(List<LevelResult> results) {
    for (LevelResult r : results) {
      String at = r.target() + " " + r.load().label();
      if (r.clientCpu() > 0.8) {
        err.printf(
            Locale.ROOT,
            "WARNING %s: the client used %.0f%% of the machine's CPU; it may be the bottleneck.%n",
            at,
            100 * r.clientCpu());
      }
      if (r.load() instanceof Load.Open && r.lateFraction() > 0.01) {
        err.printf(
            Locale.ROOT,
            "WARNING %s: %.1f%% of sends were >1 ms behind schedule (max lag %s ms); the client"
                + " could not keep the rate. Latency is still measured from the schedule.%n",
            at,
            100 * r.lateFraction(),
            Report.ms(r.stats().maxLagNanos()));
      }
      if (!r.stable()) {
        err.printf(
            "WARNING %s: not stable within %d windows (±%s%%); numbers are from the last 3.%n",
            at, r.windows(), stability);
      }
      if (r.completed() != r.sent()) {
        err.printf(
            "WARNING %s: %d requests still in flight when the level ended.%n",
            at, r.sent() - r.completed());
      }
    }
  }

  /**
   * Whether a person watches the output: since JDK 22 System.console() is never null, and
   * Console.isTerminal() (JDK 22, called by reflection: the build targets 21) says so instead.
   */
  @SuppressWarnings("SystemConsoleNull") // JDK 21 still returns null; isTerminal() covers 22+
  static boolean interactive() {
    Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException e) {
      return true; // JDK 21: a console is there only when both streams are a terminal
    }
  }

  private Consumer<String> progressLine() {
    if (!interactive()) {
      return s -> {};
    }
    return s -> {
      String line = s.length() > 119 ? s.substring(0, 119) : s;
      err.print(
          "\r" + line + " ".repeat(Math.max(0, 119 - line.length())) + (s.isEmpty() ? "\r" : ""));
      err.flush();
    };
  }

  /** Parses 2s, 500ms, 1m, 1.5s or an ISO-8601 duration. */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    private static final Pattern SIMPLE = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)(ms|s|m)");

    @Override
    public Duration convert(String value) {
      Matcher m = SIMPLE.matcher(value.trim().toLowerCase(Locale.ROOT));
      if (m.matches()) {
        double v = Double.parseDouble(m.group(1));
        double nanos =
            switch (m.group(2)) {
              case "ms" -> v * 1e6;
              case "s" -> v * 1e9;
              default -> v * 60e9;
            };
        return Duration.ofNanos((long) nanos);
      }
      try {
        return Duration.parse(value);
      } catch (java.time.format.DateTimeParseException e) {
        throw new CommandLine.TypeConversionException(
            "'"
                + value
                + "' is not a duration: give a number and a unit, such as 500ms, 5s or 1m"
                + " (or ISO-8601, such as PT5S)");
      }
    }
  }
}
