package dev.fulcrum.tools.serve;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.LifecycleEvent;
import dev.fulcrum.core.repository.ModelFiles;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.repository.ModelVersionStatus;
import dev.fulcrum.core.repository.MountedModels;
import dev.fulcrum.core.repository.RepositorySource;
import dev.fulcrum.core.runtime.ComputeNice;
import dev.fulcrum.core.runtime.IdleHeapTrimmer;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.runtime.NativeHeap;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.monitoring.DriftMonitor;
import dev.fulcrum.pipelines.TextPipelines;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.GracefulShutdown;
import dev.fulcrum.server.HttpServer;
import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.SlowRequestLog;
import dev.fulcrum.server.Transport;
import dev.fulcrum.server.dashboard.DashboardFeed;
import dev.fulcrum.server.dashboard.RepositoryExtras;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.http.ConnectionLimit;
import dev.fulcrum.server.logging.LogControl;
import dev.fulcrum.server.metrics.MetricsSecurity;
import dev.fulcrum.server.metrics.MetricsServer;
import dev.fulcrum.server.metrics.ServerMetrics;
import dev.fulcrum.server.security.Security;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import dev.fulcrum.server.tracing.Tracing;
import dev.fulcrum.server.triton.PbtxtConfigFormat;
import dev.fulcrum.tools.log.LineLogging;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code fulcrum serve}: loads the model repositories and serves them. Flag names and defaults
 * follow Triton's where Triton has them.
 *
 * <p>Lifecycle: the HTTP and gRPC ports open first (live, not ready), models load, readiness turns
 * true. On SIGTERM or SIGINT readiness turns false (then, for {@code --shutdown-delay-secs},
 * requests are still served), new requests are refused, in-flight ones finish and their responses
 * are written, connections close, sessions close (all within {@code --exit-timeout-secs}, see
 * {@link GracefulShutdown}), and only then does the process exit 0. A model load still running is
 * not waited for (its caller is answered 503): the process then ends with status 0 without any
 * teardown ({@link ImmediateExit}), since ONNX Runtime's would free what the load uses.
 */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = "Start the inference server on a model repository (default: the bundled demo).")
public final class ServeCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

  @Option(
      names = "--model-repository",
      paramLabel = "DIR",
      description =
          "Model repository folder, laid out as <model>/<version>/model.onnx with an optional"
              + " <model>/config.yaml; repeatable (default: the bundled demo repository).")
  List<Path> repositories = new ArrayList<>();

  @Option(
      names = "--host",
      paramLabel = "HOST",
      defaultValue = "127.0.0.1",
      description = "Address to bind (default: ${DEFAULT-VALUE}; 0.0.0.0 for all interfaces).")
  String host;

  @Option(
      names = "--http-port",
      paramLabel = "PORT",
      defaultValue = "8000",
      description =
          "HTTP port for the Open Inference Protocol REST API (default: ${DEFAULT-VALUE}; 0 picks a"
              + " free port).")
  int httpPort;

  @Option(
      names = "--grpc-port",
      paramLabel = "PORT",
      defaultValue = "8001",
      description =
          "gRPC port for the Open Inference Protocol (inference.GRPCInferenceService, with health"
              + " and reflection) (default: ${DEFAULT-VALUE}; 0 picks a free port).")
  int grpcPort;

  @Option(
      names = "--grpc-max-message-size",
      defaultValue = "67108864",
      paramLabel = "BYTES",
      description =
          "Largest gRPC request message accepted; larger ones get RESOURCE_EXHAUSTED (default:"
              + " ${DEFAULT-VALUE}, 64 MiB).")
  int grpcMaxMessageSize;

  @Option(
      names = "--grpc-max-metadata-bytes",
      defaultValue = "8192",
      paramLabel = "BYTES",
      description =
          "Largest gRPC request metadata (a call's headers, each counted as HTTP/2 does: name +"
              + " value + 32); a call over it ends with RESOURCE_EXHAUSTED, its connection going on"
              + " (default: ${DEFAULT-VALUE}, the REST port's header limit; 1024 to 1048576).")
  int grpcMaxMetadataBytes;

  @Option(
      names = "--metrics-port",
      paramLabel = "PORT",
      defaultValue = "8002",
      description =
          "Prometheus metrics port, GET /metrics (default: ${DEFAULT-VALUE}; 0 picks a free port).")
  int metricsPort;

  @Option(
      names = "--allow-metrics",
      defaultValue = "true",
      arity = "1",
      paramLabel = "BOOL",
      description = "Serve Prometheus metrics on --metrics-port (default: ${DEFAULT-VALUE}).")
  boolean allowMetrics;

  @Option(
      names = "--allow-client-shm",
      defaultValue = "false",
      arity = "1",
      paramLabel = "BOOL",
      description =
          "Let clients register system shared memory regions (/dev/shm objects the server maps;"
              + " Triton's option and default). With tokens, registering needs the management"
              + " scope; with tenants, a region and its key are the registering tenant's alone"
              + " (default: ${DEFAULT-VALUE}).")
  boolean allowClientShm;

  @Option(
      names = "--client-shm-regions-per-tenant",
      defaultValue = "128",
      paramLabel = "N",
      description =
          "With tenants, the most system shared memory regions one tenant holds at once (1 to"
              + " 1024, the server's own limit; default: ${DEFAULT-VALUE}, an eighth of it).")
  int clientShmRegionsPerTenant;

  @Option(
      names = "--metrics-histograms",
      defaultValue = "true",
      arity = "1",
      paramLabel = "BOOL",
      description =
          "Export the per-model latency and batch-size histograms (fulcrum_*_duration_seconds,"
              + " fulcrum_batch_size): 70 series per model; false for many models, whose"
              + " nv_inference_* counters still give mean latencies (default: ${DEFAULT-VALUE}).")
  boolean metricsHistograms;

  @Option(
      names = "--metrics-drift-detail",
      defaultValue = "true",
      arity = "1",
      paramLabel = "BOOL",
      description =
          "Export every monitored feature's drift status, test scores and thresholds (~100 series"
              + " per demo model); false for many models: fulcrum_drift_status only for features"
              + " whose alert is raised, beside each version's fulcrum_drift_drifting count"
              + " (default: ${DEFAULT-VALUE}).")
  boolean metricsDriftDetail;

  @Option(
      names = "--request-timing-always",
      defaultValue = "false",
      arity = "1",
      paramLabel = "BOOL",
      description =
          "Time every request as if it set the parameter timing: true: queue, compute and total"
              + " time (and cost_usd with a price) in every answer's parameters, and a"
              + " Server-Timing header on every REST answer, e.g. for a load balancer's access log"
              + " (default: ${DEFAULT-VALUE}: only requests that ask).")
  boolean requestTimingAlways;

  @Option(
      names = "--log-slow-requests-ms",
      paramLabel = "MS|slo",
      description =
          "Log one line (logger fulcrum.slow) for each inference request slower than MS"
              + " milliseconds, from the whole request read to its answer handed to the transport,"
              + " and for each refused for load (429, queue timeout); a model with a latency"
              + " objective (slo: latency-ms) is judged by it instead; 'slo': only models with"
              + " one. At most"
              + " --log-slow-max-lines-per-sec lines a second (default: off).")
  @Nullable String logSlowRequestsMs;

  @Option(
      names = "--log-slow-format",
      defaultValue = "logfmt",
      paramLabel = "logfmt|json",
      description = "How a slow-request line is written (default: ${DEFAULT-VALUE}).")
  String logSlowFormat;

  @Option(
      names = "--log-slow-max-lines-per-sec",
      defaultValue = "100",
      paramLabel = "N",
      description =
          "Slow-request lines a second at most; the rest are counted in one line a second"
              + " (default: ${DEFAULT-VALUE}).")
  int logSlowMaxLinesPerSec;

  @Option(
      names = "--invocations-model",
      paramLabel = "MODEL[:VERSION]",
      description =
          "The model POST /invocations (SageMaker's and MLflow's scoring endpoint) runs when the"
              + " request's X-Amzn-SageMaker-Target-Model header names none, and whose readiness"
              + " GET /ping reports (default: the repository's only model; with several, such a"
              + " request is a 400 naming them).")
  @Nullable String invocationsModel;

  @Option(
      names = "--embeddings-model",
      paramLabel = "MODEL",
      description =
          "The text pipeline Hugging Face TEI's routes (POST /embed, /similarity, GET /info) run"
              + " (default: the only text-embedding pipeline served; with several, such a request"
              + " is a 422 naming them).")
  @Nullable String embeddingsModel;

  @Option(
      names = "--http-max-input-size",
      defaultValue = "67108864",
      paramLabel = "BYTES",
      description =
          "Largest request body accepted; larger ones get 413 (default: ${DEFAULT-VALUE}, 64 MiB).")
  int httpMaxInputSize;

  @Option(
      names = "--http-thread-count",
      paramLabel = "N",
      defaultValue = "0",
      description =
          "HTTP event loop threads (default: ${DEFAULT-VALUE}, one per core, one in all on two"
              + " cores or fewer: fewer loops, each woken for more requests; Netty's own choice was"
              + " twice the cores).")
  int httpThreads;

  @Option(
      names = "--transport",
      defaultValue = "auto",
      paramLabel = "auto|io_uring|epoll|nio",
      description =
          "Netty I/O transport of the HTTP and gRPC ports: auto starts both on epoll (else"
              + " io_uring, else NIO, whichever works here) and moves the HTTP port's new"
              + " connections to io_uring a second after the start where it works (it serves small"
              + " requests at high rates with ~0.7x epoll's CPU, but would delay the first answer"
              + " ~0.07 s); a named one is used from the start and throughout, and one that does"
              + " not work stops the start (default: ${DEFAULT-VALUE}; auto follows"
              + " -Dfulcrum.transport when that is set).")
  String transport;

  @Option(
      names = "--exit-timeout-secs",
      paramLabel = "SECS",
      defaultValue = "30",
      description =
          "On shutdown, how long the whole drain may take: in-flight requests finish and their"
              + " responses are written, then sessions close (default: ${DEFAULT-VALUE}).")
  int exitTimeoutSecs;

  @Option(
      names = "--shutdown-delay-secs",
      paramLabel = "SECS",
      defaultValue = "0",
      description =
          "On SIGTERM or SIGINT, first keep serving for SECS seconds with readiness false and"
              + " HTTP/1.1 answers closing their connections, so that a load balancer (a"
              + " Kubernetes Service) stops sending here before anything is refused; then the"
              + " drain of --exit-timeout-secs. A second signal ends the wait (default:"
              + " ${DEFAULT-VALUE}: drain at once).")
  int shutdownDelaySecs;

  @Option(
      names = "--strict-readiness",
      defaultValue = "true",
      arity = "1",
      paramLabel = "BOOL",
      description =
          "Ready only when every model is ready (default: ${DEFAULT-VALUE}); false: ready once"
              + " loading is done.")
  boolean strictReadiness;

  @Option(
      names = "--model-load-thread-count",
      paramLabel = "N",
      defaultValue = "4",
      description = "Models loaded in parallel, at startup and after (default: ${DEFAULT-VALUE}).")
  int loadThreads;

  @Option(
      names = "--model-control-mode",
      defaultValue = "none",
      paramLabel = "MODE",
      description =
          "none: load every model at startup, no loading or unloading after; poll: also re-scan the"
              + " repositories every --repository-poll-secs; explicit: load only --load-model"
              + " models, then load and unload through the repository API (default:"
              + " ${DEFAULT-VALUE}).")
  String modelControlMode;

  @Option(
      names = "--load-model",
      paramLabel = "NAME",
      description =
          "With --model-control-mode explicit: a model to load at startup; repeatable; '*' loads"
              + " all.")
  List<String> loadModels = new ArrayList<>();

  @Option(
      names = "--repository-poll-secs",
      paramLabel = "SECS",
      defaultValue = "15",
      description =
          "With --model-control-mode poll: seconds between scans of the repositories (default:"
              + " ${DEFAULT-VALUE}).")
  int repositoryPollSecs;

  @Option(
      names = "--model-load-dir",
      paramLabel = "DIR",
      description =
          "With --model-control-mode explicit: the folder, owned by the server, where the model"
              + " files of load requests (Triton's file:<version>/<path> parameters) are written"
              + " and loaded from; emptied at start and at exit (default: a new temporary folder)."
              + " A folder that holds files the server did not make is refused, never emptied.")
  @Nullable Path modelLoadDir;

  @Option(
      names = "--model-load-max-bytes",
      paramLabel = "BYTES",
      defaultValue = "67108864",
      description =
          "The largest total size of the model files of one load request; more is refused (413,"
              + " RESOURCE_EXHAUSTED). Raise --http-max-input-size (base64: 4/3 of the files) and"
              + " --grpc-max-message-size with it (default: ${DEFAULT-VALUE}, 64 MiB).")
  long modelLoadMaxBytes;

  @Option(
      names = "--sagemaker-mme-root",
      paramLabel = "DIR",
      description =
          "Serve SageMaker's multi-model endpoint contract (POST/GET /models, GET/DELETE"
              + " /models/<m>, POST /models/<m>/invoke): a load names a model folder, which must"
              + " lie under DIR (SageMaker's /opt/ml/models), no '..' and no symbolic link out of"
              + " it. Needs --model-control-mode explicit. With no token at all, /models is open to"
              + " every client, even beyond loopback (SageMaker's agent sends none): isolate the"
              + " port by the network. Once any token is set, loads and unloads need the"
              + " management scope and SageMaker's agent can no longer use it (default: off).")
  @Nullable Path sagemakerMmeRoot;

  @Option(
      names = "--sagemaker-mme-max-models",
      paramLabel = "N",
      defaultValue = "1000",
      description =
          "With --sagemaker-mme-root: how many models POST /models may hold loaded at once; a"
              + " load past it is refused 507, on which SageMaker unloads a model it used least"
              + " recently and retries (default: ${DEFAULT-VALUE}).")
  int sagemakerMmeMaxModels;

  @Option(
      names = "--rollout-state-dir",
      paramLabel = "DIR",
      description =
          "Records the canary versions a rollout rolled back in DIR/rollout-state.json (written"
              + " atomically at each verdict, read at start), so that a restart does not make a"
              + " version judged bad a canary again; not at or inside a model repository (default: none,"
              + " remembered in memory only).")
  @Nullable Path rolloutStateDir;

  @Option(
      names = "--default-max-batch-size",
      paramLabel = "N",
      defaultValue = "32",
      description =
          "max-batch-size given to a batchable model whose config sets none (default:"
              + " ${DEFAULT-VALUE}).")
  int defaultMaxBatchSize;

  @Option(
      names = "--cost-per-hour",
      defaultValue = "0",
      paramLabel = "USD",
      description =
          "What this machine costs per hour, for cost per million predictions (a model's"
              + " slo.cost-per-hour overrides it; default 0: cost is not reported).")
  double costPerHour;

  @Option(
      names = "--onnx-optimized-cache",
      arity = "1",
      paramLabel = "BOOL",
      description =
          "Keep ONNX Runtime's optimized graph of each model in --onnx-optimized-cache-dir and load"
              + " it on later starts instead of optimizing the model again (default: off, on when"
              + " --onnx-optimized-cache-dir is given; the quiet-machine cold start showed no gain"
              + " on the demo models).")
  @Nullable Boolean onnxOptimizedCache;

  @Option(
      names = "--onnx-global-intra-op-threads",
      defaultValue = "auto",
      paramLabel = "N|auto",
      description =
          "Run every model's operators on one pool of N threads shared by the process (ONNX"
              + " Runtime's global thread pool, Triton's enable-global-threadpool) instead of a"
              + " pool per model instance sized to the machine; for many models on one server."
              + " Instances of one intra-op thread keep running on their own thread. 0: a pool"
              + " per session; auto: a shared pool of one thread per core when the model"
              + " repositories hold 16 models or more, else 0 (default: ${DEFAULT-VALUE}).")
  String onnxGlobalIntraOpThreads;

  @Option(
      names = "--onnx-optimized-cache-dir",
      paramLabel = "DIR",
      description =
          "Folder of the optimized graphs (default: fulcrum/onnxruntime in $XDG_CACHE_HOME,"
              + " else in ~/.cache).")
  @Nullable Path onnxOptimizedCacheDir;

  @Option(
      names = "--native-heap-trim-secs",
      defaultValue = "10",
      paramLabel = "S",
      description =
          "Give the native heap's free memory back to the OS after S seconds in which nothing was"
              + " answered, and every S seconds while idle (default: ${DEFAULT-VALUE}; 0: never)."
              + " Never under load: a trim there costs more than it returns.")
  int nativeHeapTrimSecs;

  @Option(
      names = "--engine-thread-idle-secs",
      defaultValue = "0",
      paramLabel = "S",
      description =
          "Start each model instance's engine thread at the first request that needs it and end it"
              + " after S seconds without one (the next request starts it again); for many mostly"
              + " idle models on one server. 0: the engine threads start with their model and live"
              + " until it unloads (default: ${DEFAULT-VALUE}).")
  int engineThreadIdleSecs;

  @Mixin LimitOptions limits = new LimitOptions();

  @Mixin SecurityOptions securityOptions = new SecurityOptions();

  @Mixin MonitoringOptions monitoringOptions = new MonitoringOptions();

  @Mixin TracingOptions tracingOptions = new TracingOptions();

  @Override
  public Integer call() throws Exception {
    Startup.mark("command line read");
    // SIGTERM / SIGINT, from the first moment: drain and close on our own thread once the server
    // is wired (stopAction), then exit 0 (see TerminationSignals for why not a shutdown hook).
    CompletableFuture<Runnable> stopAction = new CompletableFuture<>();
    AtomicBoolean stopping = new AtomicBoolean();
    CountDownLatch secondSignal = new CountDownLatch(1); // ends --shutdown-delay-secs early
    TerminationSignals.Routed routed =
        TerminationSignals.route(
            () -> {
              if (stopping.compareAndSet(false, true)) {
                Thread.ofPlatform()
                    .name("fulcrum-shutdown")
                    .start(
                        () -> {
                          stopAction.join().run();
                          System.exit(0);
                        });
              } else if (shutdownDelaySecs > 0 && secondSignal.getCount() > 0) {
                secondSignal.countDown();
              } else {
                log.info("already shutting down");
              }
            });
    if (routed == TerminationSignals.Routed.ALREADY_SIGNALLED) {
      // SIGTERM or SIGINT as the JVM started (TerminationSignals.early): nothing runs yet
      stopAction.complete(() -> {}); // a later signal's stop has nothing to do either
      log.info("stopped by a signal before the server started");
      return 0;
    }
    // SIGHUP: a reload (HangupRescan) once the repository exists, never a stop (the JVM's default).
    AtomicReference<HangupRescan> reload = new AtomicReference<>();
    TerminationSignals.onHangup(
        () -> {
          HangupRescan r = reload.get();
          if (r != null) {
            r.hangup();
          } else {
            log.info("SIGHUP: the server is {}; ignored", stopping.get() ? "stopping" : "starting");
          }
        });
    List<Path> roots = repositories.isEmpty() ? List.of(demoRepository()) : repositories;
    checkOptions();
    Transport httpTransport;
    try {
      Transport named = Transport.parse(transport);
      // auto defers to -Dfulcrum.transport: a plain default keeps ServeArgs' fast path
      httpTransport = named == Transport.AUTO ? Transport.fromSystemProperties() : named;
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--transport: " + e.getMessage(), e);
    }
    Security security;
    MetricsSecurity metricsSecurity;
    try {
      security = securityOptions.security(host, System.getenv(), sagemakerMmeRoot);
      metricsSecurity = securityOptions.metricsSecurity(security);
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), e.getMessage(), e);
    }
    SlowRequestLog slowRequests = slowRequestLog();
    String scheme = security.tls().isPresent() ? "https" : "http";
    int cores = Runtime.getRuntime().availableProcessors();
    // Engine threads and ONNX Runtime's pools at a higher nice than the event loops (off: 0), so a
    // saturated machine runs the loops that read requests and write refusals first
    // (docs/PERFORMANCE.md, "Latency objectives", session 17).
    ComputeNice computeNice;
    try {
      computeNice = ComputeNice.fromSystemProperties();
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), e.getMessage(), e);
    }
    // Cold start: ONNX Runtime's native library loads on its own thread while the metrics and the
    // repository are set up, the REST port binds and the configurations are read; only the first
    // session waits for it. The first request waits only for what it needs (docs/PERFORMANCE.md,
    // "Cold start").
    Startup startup = new Startup();
    CompletableFuture<OnnxRuntimeBackend> onnxStart =
        startup.run(
            "onnxruntime",
            () -> {
              int pool = globalIntraOpThreads(roots, cores);
              return pool > 0
                  ? OnnxRuntimeBackend.withGlobalThreadPool(
                      optimizedModelCache(), computeNice, pool)
                  : new OnnxRuntimeBackend(optimizedModelCache(), computeNice);
            });
    // The Prometheus registry and families are created with the dashboard's start (a second after
    // the first model, below), at readiness or at the first scrape, whichever comes first, off the
    // first request's path; the observers keep what comes before (docs/PERFORMANCE.md, "Cold
    // start", session 14). JVM metrics are registered once the server is ready.
    ServerMetrics metrics =
        Boolean.parseBoolean(System.getProperty("fulcrum.start.metrics-deferred", "true"))
            ? ServerMetrics.deferred(metricsHistograms, metricsDriftDetail)
            : new ServerMetrics(false, metricsHistograms, metricsDriftDetail);
    DashboardFeed dashboard = new DashboardFeed();
    DashboardStart dashboardStart =
        DashboardStart.fromProperty(System.getProperty("fulcrum.start.dashboard", "settled"));
    FirstAnswer firstAnswer = new FirstAnswer();
    // The models after the lightest can wait for the first answer once the lightest model is ready
    // (or a grace after it), so that their sessions' set-up does not take the cores the first
    // request needs; gRPC and metrics can wait the same way. Both off by default: on the quiet
    // machine the first fraud answer came no sooner (0.728 s against 0.741 s), while readiness came
    // 17 % and the first MiniLM answer 24 % later. docs/PERFORMANCE.md, "Cold start", session 9.
    boolean modelsAfterAnswer =
        Boolean.parseBoolean(System.getProperty("fulcrum.start.models-after-answer", "false"));
    boolean portsAfterAnswer =
        Boolean.parseBoolean(System.getProperty("fulcrum.start.ports-after-answer", "false"));
    long answerGraceMs = Long.getLong("fulcrum.start.answer-grace-ms", 300L);
    Executor answerGrace =
        CompletableFuture.delayedExecutor(Math.max(0L, answerGraceMs), TimeUnit.MILLISECONDS);
    SchedulerEnvironment environment =
        SchedulerEnvironment.system(
                (model, version) ->
                    dashboardStart.watchesAnswers() || modelsAfterAnswer || portsAfterAnswer
                        ? SchedulerObserver.all(
                            metrics.create(model, version),
                            dashboard.create(model, version),
                            firstAnswer)
                        : SchedulerObserver.all(
                            metrics.create(model, version), dashboard.create(model, version)),
                computeNice)
            .withWorkerIdle(Duration.ofSeconds(engineThreadIdleSecs));
    Startup.mark("metrics and dashboard set up");
    if (!Boolean.parseBoolean(System.getProperty("fulcrum.start.engine-beside", "true"))) {
      try {
        onnxStart.join(); // the order before, for A/B measurements (bench/coldstart.sh)
      } catch (CompletionException e) {
        throw Startup.cause(e);
      }
    }
    ModelRepository repository;
    try {
      repository =
          new ModelRepository(
              roots,
              runtimes(
                  new StartingRuntime(
                      OnnxRuntimeBackend.PLATFORM,
                      OnnxRuntimeBackend.DEFAULT_MODEL_FILENAME,
                      onnxStart)),
              new ModelConfigResolver(cores, defaultMaxBatchSize, costPerHour),
              environment,
              repositorySettings(),
              configLoader());
    } catch (IllegalArgumentException e) {
      // a --rollout-state-dir whose record cannot be read: named, with the file
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), e.getMessage(), e);
    }
    repository.manager().modelFiles(modelFileSettings());
    Path mmeRoot = sagemakerMmeRoot;
    if (mmeRoot != null) { // checked by checkOptions
      repository.mount(new MountedModels.Settings(mmeRoot, sagemakerMmeMaxModels));
    }
    if (repository.settings().mode() == ControlMode.EXPLICIT) {
      try {
        log.debug(
            "model files of load requests go to {}", repository.manager().modelFiles().prepare());
      } catch (java.io.IOException e) {
        throw new picocli.CommandLine.ParameterException(
            new picocli.CommandLine(this),
            "--model-load-dir " + modelLoadDir + ": cannot be made or emptied: " + e);
      }
    }
    reload.set(
        new HangupRescan(
            repository.settings().mode(),
            repository::isLoading,
            stopping::get,
            () -> repository.manager().poll(),
            repository::index,
            task -> Thread.ofPlatform().name("fulcrum-sighup").daemon(true).start(task),
            System::nanoTime));
    if (modelsAfterAnswer) {
      repository.manager().othersAfter(lightest -> firstAnswer.afterOr(lightest, answerGrace));
    }
    // The models after the lightest load at most one per two cores at once, by weight: on two
    // cores one at a time, so the second lightest (MiniLM in the demo) is not set up beside the
    // third and answers ~0.1 s sooner (docs/PERFORMANCE.md, "Cold start", session 17);
    // -Dfulcrum.start.lanes=N overrides it for A/B measurements.
    repository
        .manager()
        .startupLanes(Math.max(1, Integer.getInteger("fulcrum.start.lanes", cores / 2)));
    repository.manager().addListener(metrics);
    metrics.bind(repository);
    metrics.bindTenants(security.access().tenants());
    if (!security.access().tenants().isEmpty()) {
      log.info(
          "tenants: {} (GET /v2/tenants, fulcrum_tenant_* metrics)", security.access().tenants());
    }
    repository.manager().addListener(dashboard);
    dashboard.bind(repository);
    DriftMonitor monitor = monitoringOptions.start();
    if (monitor != null) {
      metrics.bindMonitor(monitor);
      // Each monitored version's detectors are made when it loads (once the server has answered
      // its first request, or a second after this: reading baselines stays off the cold start's
      // path, as the dashboard's first ticks do): an unreadable baseline is logged then, and its
      // metrics exist before its first request.
      CompletableFuture<Void> afterFirstAnswer =
          firstAnswer.afterOr(
              CompletableFuture.completedFuture(null),
              CompletableFuture.delayedExecutor(1, TimeUnit.SECONDS));
      repository
          .manager()
          .addListener(
              event -> {
                if (event instanceof LifecycleEvent.Loaded loaded) {
                  for (ModelVersion v : repository.versions(loaded.model())) {
                    if (v.version() == loaded.version()) {
                      afterFirstAnswer.thenRun(() -> monitor.watch(v));
                    }
                  }
                }
              });
    }
    dashboard.source(new RepositoryExtras(repository, monitor));
    InferenceService service =
        new InferenceService(repository, strictReadiness, monitor, requestTimingAlways);
    Tracing tracing = tracingOptions.start();
    if (tracing != null) {
      metrics.bindTracing(tracing);
    }
    if (slowRequests != null) {
      metrics.bindSlowRequests(slowRequests);
    }
    IdleHeapTrimmer heapTrimmer = heapTrimmer(repository, service);
    Startup.mark("repository and monitor set up");
    // The first request needs the REST port and its model: those start first; gRPC, metrics and
    // the dashboard's feed once a model is ready or the load is over (docs/PERFORMANCE.md, "Cold
    // start").
    CompletableFuture<Void> firstModel = new CompletableFuture<>();
    repository
        .manager()
        .addListener(
            event -> {
              if (event instanceof LifecycleEvent.Loaded) {
                firstModel.complete(null);
              }
            });
    log.info(
        "loading models from {} (model control mode {})",
        roots,
        repository.settings().mode().name().toLowerCase(Locale.ROOT));
    for (Path root : roots) {
      String mistake = modelFolderMistake(root);
      if (mistake != null) {
        log.warn("{}", mistake);
      }
    }
    CompletableFuture<Void> loaded =
        startup.run(
            "models",
            () -> {
              repository.loadAll();
              return null;
            });
    loaded.whenComplete((r, t) -> firstModel.complete(null));
    // Both ports' budget, capped by the JVM's direct-memory limit (made by the first port to
    // start).
    RequestBytesBudget requestBytes =
        new RequestBytesBudget(limits.httpMaxBufferedBytes, httpMaxInputSize, grpcMaxMessageSize);
    // One registry for both ports: a region registered over REST is usable over gRPC (Triton's).
    SharedMemoryRegistry sharedMemory =
        SharedMemoryRegistry.devShm(
            allowClientShm,
            Math.max(httpMaxInputSize, grpcMaxMessageSize),
            clientShmRegionsPerTenant());
    metrics.bindSharedMemory(sharedMemory);
    CompletableFuture<HttpServer> httpStart =
        startup.run(
            "http",
            PortUnavailableException.naming(
                "REST",
                "--http-port",
                host,
                httpPort,
                () -> {
                  HttpServer server =
                      new HttpServer(
                          service,
                          new HttpServerConfig(
                              host,
                              httpPort,
                              httpMaxInputSize,
                              httpEventLoops(httpThreads),
                              limits.http(),
                              security,
                              httpTransport,
                              invocationsModel(),
                              embeddingsModel == null ? "" : embeddingsModel));
                  server
                      .dashboard(dashboard)
                      .bufferBudget(requestBytes.get())
                      .sharedMemory(sharedMemory);
                  if (slowRequests != null) {
                    server.slowRequests(slowRequests);
                  }
                  if (tracing != null) {
                    server.tracing(tracing);
                  }
                  LogControl logControl = LineLogging.control();
                  if (logControl != null) {
                    server.logging(logControl);
                  }
                  server.start();
                  log.info(
                      "HTTP (Open Inference Protocol) on {}://{}:{}/v2",
                      scheme,
                      bracketed(host),
                      server.port());
                  log.info(
                      "Dashboard on {}://{}:{}/dashboard", scheme, urlHost(host), server.port());
                  return server;
                }));
    CompletableFuture<Void> later =
        Boolean.parseBoolean(System.getProperty("fulcrum.start.ports-after-model", "true"))
            ? CompletableFuture.allOf(firstModel, httpStart.handle((server, failure) -> null))
            : CompletableFuture.completedFuture(null);
    CompletableFuture<Void> portsGate =
        portsAfterAnswer ? firstAnswer.afterOr(later, answerGrace) : later;
    // The dashboard's first ticks cost tens of ms of CPU: a second after the first model, off the
    // first requests' threads (docs/PERFORMANCE.md, "Cold start", session 8).
    dashboardStart
        .gate(later, firstAnswer, CompletableFuture.delayedExecutor(1, TimeUnit.SECONDS))
        .thenRun(
            () -> {
              dashboard.start();
              metrics.activate();
            });
    CompletableFuture<GrpcServer> grpcStart =
        startup.after(
            portsGate,
            "grpc",
            PortUnavailableException.naming(
                "gRPC",
                "--grpc-port",
                host,
                grpcPort,
                () -> {
                  GrpcServer server =
                      new GrpcServer(
                              service,
                              new GrpcServerConfig(
                                  host,
                                  grpcPort,
                                  grpcMaxMessageSize,
                                  grpcMaxMetadataBytes,
                                  limits.grpc(),
                                  security,
                                  httpTransport))
                          .bufferBudget(requestBytes.get())
                          .sharedMemory(sharedMemory);
                  if (slowRequests != null) {
                    server.slowRequests(slowRequests);
                  }
                  if (tracing != null) {
                    server.tracing(tracing);
                  }
                  LogControl logControl = LineLogging.control();
                  if (logControl != null) {
                    server.logging(logControl);
                  }
                  server.start();
                  log.info(
                      "gRPC (Open Inference Protocol) on {}:{}", bracketed(host), server.port());
                  return server;
                }));
    CompletableFuture<MetricsServer> metricsStart =
        startup.after(
            portsGate,
            "metrics",
            PortUnavailableException.naming(
                "Prometheus metrics",
                "--metrics-port",
                host,
                metricsPort,
                () -> {
                  if (!allowMetrics) {
                    return null;
                  }
                  MetricsServer server =
                      new MetricsServer(
                          host,
                          metricsPort,
                          metrics,
                          limits.http(),
                          metricsSecurity,
                          service::isReady);
                  log.info(
                      "Prometheus metrics on {}://{}:{}/metrics{}",
                      metricsSecurity.tls().isPresent() ? "https" : "http",
                      bracketed(host),
                      server.port(),
                      metricsSecurity.tokens().isPresent() ? " (bearer token)" : "");
                  return server;
                }));
    service.readyAfter(CompletableFuture.allOf(grpcStart, metricsStart));
    HttpServer http;
    GrpcServer grpc;
    MetricsServer metricsServer;
    try {
      onnxStart.join(); // an engine that cannot start stops the server, as a port that cannot bind
      http = httpStart.join();
      grpc = grpcStart.join();
      metricsServer = metricsStart.join();
    } catch (CompletionException e) {
      Startup.closeStarted(List.of(httpStart, grpcStart, metricsStart));
      // A port that cannot bind fails the start while a model may be inside ONNX Runtime's
      // createSession on the loading thread: exiting then runs ORT's shutdown hook, which frees
      // the environment under that load (SIGSEGV, 7 starts of 12 against a taken REST port).
      // Drop the loads not begun, close what loaded; a running load is not waited for (it cannot
      // be stopped): end the process without any teardown then.
      if (!repository.close(Duration.ofSeconds(exitTimeoutSecs))) {
        log.error(
            "start failed ({}); a model load still runs, stopping without exit hooks",
            Startup.cause(e).getMessage());
        ImmediateExit.now(1);
      }
      if (Startup.cause(e) instanceof PortUnavailableException taken) {
        log.error("{}", taken.getMessage()); // the user's fix is another port: no stack trace
        return 1;
      }
      throw Startup.cause(e);
    }
    // Readiness, the ports' connection caps and the request buffer budget on /metrics, read from
    // what enforces them at each scrape (docs/METRICS.md, "Readiness, connections and memory").
    Map<String, ConnectionLimit> caps = new LinkedHashMap<>();
    http.connectionLimit().ifPresent(cap -> caps.put("rest", cap));
    caps.put("grpc", grpc.connectionLimit());
    if (metricsServer != null) {
      caps.put("metrics", metricsServer.connectionLimit());
    }
    metrics.bindServer(service::isReady, caps, requestBytes.get());

    CountDownLatch stopped = new CountDownLatch(1);
    Runnable stop =
        () -> {
          if (heapTrimmer != null) {
            heapTrimmer.close();
          }
          boolean enginesClosed = shutdown(service, http, grpc, secondSignal);
          if (tracing != null) {
            tracing.close(); // the last spans, bounded: an absent collector does not hold the exit
          }
          dashboard.close();
          if (metricsServer != null) {
            metricsServer.close();
          }
          environment.close();
          if (monitor != null) {
            monitor.close();
          }
          if (slowRequests != null) {
            slowRequests.close(); // the lines of the last requests, and the last summary
          }
          stopped.countDown();
          if (!enginesClosed) {
            // A pass or a load (not waited for: a session build cannot be stopped, and nobody
            // will be served by it) still uses ONNX Runtime: exiting would run its hook, which
            // frees the environment under that thread, and the C library's exit would run ONNX
            // Runtime's static destructors under it. End the process without either.
            ImmediateExit.now(0);
          }
        };
    stopAction.complete(stop);
    // Any other exit (System.exit elsewhere, SIGHUP where it could not be handled, -Xrs): drain
    // as well as we can. ONNX Runtime's own
    // hook runs alongside this one there, which only the signal route above avoids.
    Runtime.getRuntime()
        .addShutdownHook(
            Thread.ofPlatform()
                .name("fulcrum-exit")
                .unstarted(
                    () -> {
                      if (stopping.compareAndSet(false, true)) {
                        stop.run();
                      }
                    }));

    loaded.join();
    // Not during the loads (a trim locks malloc's arenas), and malloc_trim's downcall is linked
    // here, not on the start's path: linking it before the REST port bound cost the first fraud
    // answer ~0.06 s (docs/PERFORMANCE.md, "Cold start", session 24).
    if (heapTrimmer != null && NativeHeap.available()) {
      heapTrimmer.start();
    }
    List<ModelVersionStatus> index = repository.index();
    for (ModelVersionStatus s : index) {
      if (s.state() == ModelState.READY) {
        log.info(
            "  READY        {} v{}{}",
            s.name(),
            s.version(),
            slowRequestNote(repository, s, slowRequests != null));
      } else if (s.state() == ModelState.UNLOADED) {
        log.info("  not loaded   {}", s.name());
      } else {
        log.warn("  {}  {} {}: {}", s.state(), s.name(), s.version(), s.reason());
      }
    }
    double startupSeconds = Startup.secondsSinceJvmStart();
    metrics.startupDone(startupSeconds);
    dashboard.readiness(service::isReady);
    dashboard.startupDone(startupSeconds, service.isReady());
    log.info(
        "server is {} ({} of {} model versions ready) {} s after the JVM started; Ctrl-C or"
            + " SIGTERM to stop",
        service.isReady() ? "READY" : "NOT READY",
        index.stream().filter(s -> s.state() == ModelState.READY).count(),
        index.size(),
        String.format(Locale.ROOT, "%.2f", startupSeconds));
    warnIfInvocationsModelUnknown(index);
    if (allowMetrics) {
      metrics.registerJvmMetrics();
    }
    // With --transport auto, the REST port's new connections move from epoll to io_uring a second
    // after the start, off the start's CPU and the first requests' way (HttpServer's
    // moveToWarmTransport: io_uring's own start would delay the first answer ~0.07 s).
    startup
        .after(
            CompletableFuture.runAsync(
                () -> {}, CompletableFuture.delayedExecutor(1, TimeUnit.SECONDS)),
            "http-warm",
            http::moveToWarmTransport)
        .whenComplete(
            (moved, failed) -> {
              if (failed != null) {
                log.warn("HTTP port {}: staying on epoll", http.port(), failed);
              }
            });
    stopped.await();
    return 0;
  }

  /**
   * {@code --sagemaker-mme-root}'s usage errors, made before anything starts: explicit model
   * control, an existing folder, a cap of at least one model.
   */
  private void checkSageMakerMme() {
    Path root = sagemakerMmeRoot;
    if (root == null) {
      return;
    }
    if (repositorySettings().mode() != ControlMode.EXPLICIT) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--sagemaker-mme-root needs --model-control-mode explicit");
    }
    if (!Files.isDirectory(root)) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--sagemaker-mme-root " + root + ": no such folder");
    }
    if (sagemakerMmeMaxModels < 1) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--sagemaker-mme-max-models must be >= 1");
    }
  }

  private ModelRepository.Settings repositorySettings() {
    ControlMode mode;
    try {
      mode = ControlMode.parse(modelControlMode);
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--model-control-mode must be none, poll or explicit, was '" + modelControlMode + "'");
    }
    if (!loadModels.isEmpty() && mode != ControlMode.EXPLICIT) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--load-model needs --model-control-mode explicit");
    }
    if (repositoryPollSecs < 1) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--repository-poll-secs must be >= 1");
    }
    return new ModelRepository.Settings(
        mode,
        Math.max(1, loadThreads),
        loadModels,
        Duration.ofSeconds(repositoryPollSecs),
        rolloutStateDir);
  }

  /** {@code --client-shm-regions-per-tenant}, checked against its bounds. */
  int clientShmRegionsPerTenant() {
    if (clientShmRegionsPerTenant < 1
        || clientShmRegionsPerTenant > SharedMemoryRegistry.MAX_REGIONS_PER_TENANT_LIMIT) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--client-shm-regions-per-tenant must be 1 to "
              + SharedMemoryRegistry.MAX_REGIONS_PER_TENANT_LIMIT
              + ", was "
              + clientShmRegionsPerTenant);
    }
    return clientShmRegionsPerTenant;
  }

  /** Where the model files of load requests go ({@code --model-load-dir}) and their limit. */
  ModelFiles.Settings modelFileSettings() {
    if (modelLoadMaxBytes < 1) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--model-load-max-bytes must be >= 1");
    }
    return new ModelFiles.Settings(modelLoadDir, modelLoadMaxBytes);
  }

  /**
   * The idle trim of the native heap ({@code --native-heap-trim-secs}), or null when off; started
   * only where {@code malloc_trim} can be called ({@link NativeHeap#available}, asked after the
   * loads). What it watches: every served version's answered and refused requests, and the requests
   * in flight.
   */
  private @Nullable IdleHeapTrimmer heapTrimmer(
      ModelRepository repository, InferenceService service) {
    if (nativeHeapTrimSecs == 0) {
      return null;
    }
    return new IdleHeapTrimmer(
        Duration.ofSeconds(nativeHeapTrimSecs),
        () -> {
          long n = 0;
          for (ModelVersion v : repository.served()) {
            ModelStatistics.Snapshot s = v.statistics().snapshot();
            n += s.success().count() + s.fail().count();
          }
          return n;
        },
        () -> service.inFlight() > 0,
        NativeHeap::trim);
  }

  /**
   * The announcement, drain and close (see {@link GracefulShutdown}); true when every session was
   * closed.
   */
  private boolean shutdown(
      InferenceService service,
      HttpServer http,
      @Nullable GrpcServer grpc,
      CountDownLatch secondSignal) {
    return GracefulShutdown.run(
        service,
        http,
        grpc,
        new GracefulShutdown.Delay(Duration.ofSeconds(shutdownDelaySecs), secondSignal),
        Duration.ofSeconds(exitTimeoutSecs));
  }

  /** The REST port's event loops: {@code --http-thread-count}, else {@link #defaultEventLoops}. */
  static int httpEventLoops(int requested) {
    return requested > 0
        ? requested
        : defaultEventLoops(Runtime.getRuntime().availableProcessors());
  }

  /**
   * One event loop per core, except one in all on a machine of two cores or fewer. Each event
   * loop's wake-up from {@code epoll_wait} is a context switch (~10 us of CPU on a small VM); with
   * Netty's default of twice the cores a loop wakes for fewer requests (docs/PERFORMANCE.md,
   * "Session 14": at 4,000 fraud requests a second, 0.5-0.6 wake-ups per request on 4 loops, 0.22
   * on 2). On two cores the second loop competes with the engine thread and the client for the
   * other core, and one loop's turn joins more lone passes into one ONNX Runtime call ("Session
   * 18": 0.04-0.08 voluntary switches per fraud request on one loop against 0.12-0.19 on two).
   */
  static int defaultEventLoops(int cores) {
    return cores <= 2 ? 1 : cores;
  }

  /** A host as a browser address takes it: the wildcard as loopback, IPv6 in brackets. */
  static String urlHost(String host) {
    if (host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]")) {
      return "localhost";
    }
    return bracketed(host);
  }

  /**
   * {@code host} as it goes before {@code :port}: an IPv6 address in brackets ({@code [::1]:8000};
   * {@code ::1:8000} reads as another address and pastes into no client).
   */
  static String bracketed(String host) {
    return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
  }

  /**
   * The optimized-graph cache folder, or null when it is off: off by default, on with {@code
   * --onnx-optimized-cache true}, a {@code --onnx-optimized-cache-dir} or {@code
   * -Dfulcrum.onnx.optimized-cache=true} (the switch bench/coldstart.sh's A/B variants use).
   */
  @Nullable Path optimizedModelCache() {
    String property = System.getProperty("fulcrum.onnx.optimized-cache");
    boolean on =
        property != null
            ? Boolean.parseBoolean(property)
            : onnxOptimizedCache != null ? onnxOptimizedCache : onnxOptimizedCacheDir != null;
    if (!on) {
      return null;
    }
    return onnxOptimizedCacheDir != null
        ? onnxOptimizedCacheDir
        : userCacheDir(System.getenv(), System.getProperty("user.home", ""))
            .resolve("fulcrum/onnxruntime");
  }

  /** $XDG_CACHE_HOME when it is an absolute path (the XDG rule), else ~/.cache. */
  static Path userCacheDir(Map<String, String> env, String userHome) {
    String xdg = env.get("XDG_CACHE_HOME");
    if (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute()) {
      return Path.of(xdg);
    }
    return Path.of(userHome, ".cache");
  }

  /**
   * A warning when {@code root} looks like one model's folder rather than a repository of them:
   * every folder in it is a version number ({@code 1}, {@code 2}), so its "models" would be named 1
   * and 2 and each fail for want of version folders; null when it looks like a repository.
   */
  static @Nullable String modelFolderMistake(Path root) {
    List<String> folders = new ArrayList<>();
    try (java.util.stream.Stream<Path> children = Files.list(root)) {
      children
          .filter(Files::isDirectory)
          .map(p -> p.getFileName().toString())
          .filter(n -> !n.startsWith("."))
          .sorted()
          .forEach(folders::add);
    } catch (java.io.IOException | RuntimeException e) {
      return null; // the repository's own listing reports it
    }
    if (folders.isEmpty() || !folders.stream().allMatch(n -> n.matches("[0-9]+"))) {
      return null;
    }
    Path absolute = root.toAbsolutePath().normalize();
    Path parent = absolute.getParent();
    return "--model-repository "
        + root
        + " looks like a single model's folder: its folders "
        + folders
        + " are version folders, so they load as models named "
        + String.join(", ", folders)
        + (parent == null
            ? ""
            : "; give its parent as --model-repository "
                + parent
                + " (model '"
                + absolute.getFileName()
                + "')");
  }

  /**
   * What the start's summary says after a ready model version whose config.yaml sets {@code
   * slow-request-ms}: its threshold, and that it judges nothing while the slow-request log is off;
   * "" for a version without one (or gone since the index was read).
   */
  static String slowRequestNote(
      ModelRepository repository, ModelVersionStatus status, boolean slowLogOn) {
    ModelConfig config;
    try {
      config = repository.resolve(status.name(), status.version()).config();
    } catch (RuntimeException gone) {
      return "";
    }
    return slowRequestNote(config.slowRequestNanos(), slowLogOn);
  }

  /** {@link #slowRequestNote(ModelRepository, ModelVersionStatus, boolean)} of a threshold. */
  static String slowRequestNote(long slowRequestNanos, boolean slowLogOn) {
    if (slowRequestNanos <= 0) {
      return "";
    }
    String ms =
        java.math.BigDecimal.valueOf(slowRequestNanos, 6).stripTrailingZeros().toPlainString();
    return slowLogOn
        ? " (slow-request-ms " + ms + ")"
        : " (slow-request-ms "
            + ms
            + ": unused, the slow-request log is off; --log-slow-requests-ms)";
  }

  /**
   * Warns, once the start's loads end, when {@code --invocations-model} names a model (or version)
   * the repository does not hold: every {@code /invocations} naming none would be a 404 and {@code
   * /ping} a 503 for good, which a typo should not wait for the first request to tell.
   */
  private void warnIfInvocationsModelUnknown(List<ModelVersionStatus> index) {
    dev.fulcrum.server.HttpServerConfig.InvocationsModel m = invocationsModel();
    if (m == null) {
      return;
    }
    for (ModelVersionStatus s : index) {
      if (s.name().equals(m.name()) && (m.version().isEmpty() || s.version().equals(m.version()))) {
        return;
      }
    }
    log.warn(
        "--invocations-model {}{}: the repository has no such model{}; /invocations without"
            + " the X-Amzn-SageMaker-Target-Model header will answer 404 and /ping 503 (models: {})",
        m.name(),
        m.version().isEmpty() ? "" : ":" + m.version(),
        m.version().isEmpty() ? "" : " version",
        index.stream().map(ModelVersionStatus::name).distinct().limit(20).toList());
  }

  /**
   * The model {@code --invocations-model} names, or null when it is not given.
   *
   * @throws picocli.CommandLine.ParameterException when it is not {@code <model>[:<version>]}
   */
  dev.fulcrum.server.HttpServerConfig.@Nullable InvocationsModel invocationsModel() {
    String spec = invocationsModel;
    if (spec == null) {
      return null;
    }
    try {
      return dev.fulcrum.server.HttpServerConfig.InvocationsModel.parse(spec);
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--invocations-model: " + e.getMessage());
    }
  }

  /**
   * The slow-request log the options ask for, or null when {@code --log-slow-requests-ms} is not
   * given. Its logger is made at INFO unless the logging configuration names a level for it, so
   * that asking for the log shows it under a quieter {@code FULCRUM_LOG_LEVEL}.
   */
  @Nullable SlowRequestLog slowRequestLog() {
    String ms = logSlowRequestsMs;
    if (ms == null) {
      return null;
    }
    SlowRequestLog.Settings settings;
    try {
      settings =
          new SlowRequestLog.Settings(
              SlowRequestLog.Settings.thresholdNanos(ms),
              SlowRequestLog.Format.parse(logSlowFormat),
              logSlowMaxLinesPerSec);
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), e.getMessage(), e);
    }
    String level = "org.slf4j.simpleLogger.log." + SlowRequestLog.LOGGER_NAME;
    if (System.getProperty(level) == null) {
      System.setProperty(level, "info");
    }
    log.info(
        "slow-request log (logger {}): each inference request slower than {}, and each refused"
            + " for load; at most {} lines a second, {}",
        SlowRequestLog.LOGGER_NAME,
        settings.thresholdNanos() == Long.MAX_VALUE
            ? "its model's slow-request-ms, else its slo.latency-ms (models without either: none)"
            : ms.trim()
                + " ms (a model with slow-request-ms in its config.yaml: than that; with"
                + " slo.latency-ms: than its objective)",
        settings.maxLinesPerSecond(),
        settings.format().name().toLowerCase(Locale.ROOT));
    return new SlowRequestLog(settings);
  }

  /**
   * {@code path} absolute, normalized and with its links resolved as far as it exists (a folder the
   * server makes later keeps the rest of its name), so that two names of one folder compare equal.
   */
  private static Path realPathOf(Path path) {
    Path absolute = path.toAbsolutePath().normalize();
    Path existing = absolute;
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    if (existing == null) {
      return absolute;
    }
    try {
      return existing.toRealPath().resolve(existing.relativize(absolute));
    } catch (java.io.IOException e) {
      return absolute; // unreadable: compared by its name
    }
  }

  /** The options' checks that picocli's types do not make, before anything starts or binds. */
  void checkOptions() {
    // The same folder twice (a flag repeated in a manifest) made every model "in more than one
    // model repository": all UNAVAILABLE, none named the cause.
    java.util.Set<Path> distinct = new java.util.HashSet<>();
    for (Path root : repositories) {
      if (!distinct.add(root.toAbsolutePath().normalize())) {
        throw new picocli.CommandLine.ParameterException(
            new picocli.CommandLine(this), "--model-repository " + root + " is given twice");
      }
    }
    for (Path root : repositories) {
      // A mistyped folder would give a server that reports ready with no models at all.
      if (!Files.isDirectory(root)) {
        throw new picocli.CommandLine.ParameterException(
            new picocli.CommandLine(this),
            "--model-repository "
                + root
                + " is not a folder"
                + (Files.exists(root) ? "" : " (no such path)"));
      }
      // Unlistable, it started a server READY with no models and one ERROR line in the log.
      if (!Files.isReadable(root) || !Files.isExecutable(root)) {
        throw new picocli.CommandLine.ParameterException(
            new picocli.CommandLine(this),
            "--model-repository " + root + " cannot be read by this user (permission denied)");
      }
    }
    // A state folder in a repository looked like a model folder there: one that fails to load,
    // and under strict readiness a replica that never became ready.
    if (rolloutStateDir != null) {
      Path state = realPathOf(rolloutStateDir);
      for (Path root : repositories) {
        if (state.startsWith(realPathOf(root))) {
          throw new picocli.CommandLine.ParameterException(
              new picocli.CommandLine(this),
              "--rollout-state-dir "
                  + rolloutStateDir
                  + " is "
                  + (state.equals(realPathOf(root)) ? "" : "inside ")
                  + "the model repository "
                  + root
                  + ": give it a folder of its own, outside every --model-repository");
        }
      }
    }
    for (Map.Entry<String, Integer> port :
        Map.of("--http-port", httpPort, "--grpc-port", grpcPort, "--metrics-port", metricsPort)
            .entrySet()) {
      if (port.getValue() < 0 || port.getValue() > 65535) {
        throw new picocli.CommandLine.ParameterException(
            new picocli.CommandLine(this),
            port.getKey()
                + " must be a port number 0..65535 (0: any free port), was "
                + port.getValue());
      }
    }
    // One port for two transports failed only when the second bound, after the models loaded,
    // as "Address already in use" (as if another process held it).
    Map<String, Integer> ports = new java.util.LinkedHashMap<>();
    ports.put("--http-port", httpPort);
    ports.put("--grpc-port", grpcPort);
    if (allowMetrics) {
      ports.put("--metrics-port", metricsPort);
    }
    Map<Integer, String> byPort = new java.util.HashMap<>();
    for (Map.Entry<String, Integer> port : ports.entrySet()) {
      String earlier =
          port.getValue() == 0 ? null : byPort.putIfAbsent(port.getValue(), port.getKey());
      if (earlier != null) {
        throw new picocli.CommandLine.ParameterException(
            new picocli.CommandLine(this),
            port.getKey()
                + " and "
                + earlier
                + " are both "
                + port.getValue()
                + ": each needs a port of its own");
      }
    }
    // The ports' own checks, made here so that a mistake is one line before anything starts.
    invocationsModel();
    atLeast(
        "--http-max-buffered-bytes",
        limits.httpMaxBufferedBytes,
        "--http-max-buffered-bytes-per-connection",
        limits.httpMaxBufferedBytesPerConnection,
        "--http-max-input-size",
        httpMaxInputSize);
    atLeast(
        "--http-max-buffered-bytes",
        limits.httpMaxBufferedBytes,
        "--grpc-max-buffered-bytes-per-connection",
        limits.grpcMaxBufferedBytesPerConnection,
        "--grpc-max-message-size",
        grpcMaxMessageSize);
    if (!hostResolves(host)) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--host " + host + " is neither an IP address nor a name this machine resolves");
    }
    String tracingMistake = tracingOptions.mistake();
    if (tracingMistake != null) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), tracingMistake);
    }
    clientShmRegionsPerTenant();
    checkSageMakerMme();
    if (grpcMaxMetadataBytes < GrpcServerConfig.MIN_MAX_METADATA_SIZE
        || grpcMaxMetadataBytes > GrpcServerConfig.MAX_MAX_METADATA_SIZE) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--grpc-max-metadata-bytes must be "
              + GrpcServerConfig.MIN_MAX_METADATA_SIZE
              + " to "
              + GrpcServerConfig.MAX_MAX_METADATA_SIZE
              + ", was "
              + grpcMaxMetadataBytes);
    }
    if (shutdownDelaySecs < 0) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--shutdown-delay-secs must be >= 0, was " + shutdownDelaySecs);
    }
    if (exitTimeoutSecs < 0) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--exit-timeout-secs must be >= 0, was " + exitTimeoutSecs);
    }
    if (nativeHeapTrimSecs < 0) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--native-heap-trim-secs must be >= 0 (0: never), was " + nativeHeapTrimSecs);
    }
    if (engineThreadIdleSecs < 0) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--engine-thread-idle-secs must be >= 0 (0: the engine threads start with their model"
              + " and never end idle), was "
              + engineThreadIdleSecs);
    }
    try {
      GlobalIntraOpThreads.parse(onnxGlobalIntraOpThreads);
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), e.getMessage(), e);
    }
    if (!(costPerHour >= 0) || Double.isInfinite(costPerHour)) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--cost-per-hour must be a number of USD >= 0, was " + costPerHour);
    }
  }

  /** Both budgets must hold one request of the largest size, or it could never be taken. */
  private void atLeast(
      String portFlag,
      long port,
      String connectionFlag,
      long connection,
      String sizeFlag,
      int size) {
    if (port < size || connection < size) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          String.format(
              java.util.Locale.ROOT,
              "%s (%d) and %s (%d) must be at least %s (%d), or a request of the largest size"
                  + " could never be taken",
              portFlag,
              port,
              connectionFlag,
              connection,
              sizeFlag,
              size));
    }
  }

  private static boolean hostResolves(String host) {
    try {
      java.net.InetAddress.getByName(host);
      return true;
    } catch (java.net.UnknownHostException | SecurityException e) {
      return false;
    }
  }

  /**
   * The runtimes a server's repository is given: its ONNX Runtime and the text pipelines (platform
   * {@code fulcrum_pipeline}, whose wrapped model file runs on that ONNX Runtime). {@code fulcrum
   * tune} wires its in-process server with the same list, so it loads every model serve loads.
   */
  public static List<ModelRuntime> runtimes(ModelRuntime onnx) {
    return List.of(onnx, new TextPipelines());
  }

  /**
   * The shared intra-op pool's threads for {@code --onnx-global-intra-op-threads} (checked by
   * {@link #checkOptions}), or 0; {@code auto} counts the model folders of {@code roots} (a listing
   * of each, on the engine's start thread, beside the rest of the start) and says when it shares.
   */
  private int globalIntraOpThreads(List<Path> roots, int cores) {
    GlobalIntraOpThreads option = GlobalIntraOpThreads.parse(onnxGlobalIntraOpThreads);
    if (!option.auto()) {
      return option.threads();
    }
    int models = new RepositorySource(roots, configLoader()).scan().models().size();
    int pool = option.threadsFor(models, cores);
    if (pool > 0) {
      log.info(
          "{} models in the repository: ONNX Runtime sessions of more than one intra-op thread"
              + " share one pool of {} threads (--onnx-global-intra-op-threads auto; 0: a pool per"
              + " session)",
          models,
          pool);
    }
    return pool;
  }

  /** How a server reads a model folder's configuration: config.yaml, else Triton's config.pbtxt. */
  public static ModelConfigLoader configLoader() {
    return new ModelConfigLoader(List.of(new PbtxtConfigFormat()));
  }

  /** The bundled demo repository: $FULCRUM_HOME/demo/models, else ./demo/models. */
  public static Path demoRepository() {
    String home = System.getenv("FULCRUM_HOME");
    Path base = home == null ? Path.of("") : Path.of(home);
    Path demo = base.resolve("demo/models").toAbsolutePath().normalize();
    if (!Files.isDirectory(demo)) {
      throw new IllegalStateException(
          "no --model-repository given and the demo repository " + demo + " does not exist");
    }
    return demo;
  }
}
