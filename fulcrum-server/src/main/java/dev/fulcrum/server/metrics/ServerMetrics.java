package dev.fulcrum.server.metrics;

import dev.fulcrum.core.repository.LifecycleEvent;
import dev.fulcrum.core.repository.LifecycleListener;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.repository.Rollout;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.stats.ProcessCpu;
import dev.fulcrum.core.stats.SloAccounting;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.server.SlowRequestLog;
import dev.fulcrum.server.http.BufferBudget;
import dev.fulcrum.server.http.ConnectionLimit;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import dev.fulcrum.server.tracing.Tracing;
import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;
import org.jspecify.annotations.Nullable;

/**
 * The server's Prometheus metrics: Triton's {@code nv_inference_*} families with Triton's exact
 * names (so existing dashboards work), Fulcrum's histograms of request, queue and compute latency
 * and of formed batch sizes (optional: {@code fulcrum serve --metrics-histograms false} leaves them
 * out, 70 series per model), rejections by reason, model load time, and JVM/process metrics. Labels
 * are {@code model} and {@code version} only, so cardinality is bounded by the repository.
 *
 * <p>Thread-safe: observers are called from scheduler and transport threads; {@link #scrape()} from
 * the metrics endpoint's thread. The Triton families are written from the models' {@link
 * ModelStatistics} at scrape time (the Prometheus client would add {@code _total} to counter names,
 * which Triton's do not have).
 */
public final class ServerMetrics
    implements SchedulerEnvironment.ObserverFactory, LifecycleListener {
  private static final double[] LATENCY_BUCKETS = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
  };
  private static final double[] BATCH_BUCKETS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

  private final boolean jvm;
  private final boolean histograms;
  private final boolean driftDetail;

  /**
   * The Prometheus registry and families; null until {@link #activate} for a server made by {@link
   * #deferred}. Written under {@link #lock}.
   */
  private volatile @Nullable Families families;

  private final Object lock = new Object();
  // Before activation (guarded by lock): the observers handed out, the lifecycle events, readiness.
  private final List<DeferredObserver> deferredObservers = new ArrayList<>();
  private final List<LifecycleEvent> deferredEvents = new ArrayList<>();
  private double startupSeconds = Double.NaN;

  private volatile @Nullable ModelRepository repository;
  private volatile dev.fulcrum.core.monitor.@Nullable ModelMonitor monitor;
  private volatile @Nullable Tracing tracing;
  private volatile @Nullable SlowRequestLog slowRequests;
  private volatile @Nullable SharedMemoryRegistry sharedMemory;
  private volatile List<Tenant> tenants = List.of();
  private volatile @Nullable HealthMetrics health;

  /**
   * @param jvm whether to include JVM and process metrics
   */
  public ServerMetrics(boolean jvm) {
    this(jvm, true, true);
  }

  /**
   * @param jvm whether to include JVM and process metrics
   * @param histograms whether to register and observe the per-model histograms ({@code
   *     fulcrum_request_duration_seconds}, {@code fulcrum_queue_duration_seconds}, {@code
   *     fulcrum_compute_duration_seconds}, {@code fulcrum_batch_size}); without them a version that
   *     has served has 70 series fewer (a demo model: 20 instead of 90), for servers of many models
   *     (Triton's latency histograms are opt-in too)
   * @param driftDetail whether every monitored feature's drift status, scores and thresholds are
   *     exported (~100 series per demo model); false: a feature's {@code fulcrum_drift_status} only
   *     while its alert is raised, beside each version's {@code fulcrum_drift_drifting} count
   *     ({@code fulcrum serve --metrics-drift-detail false}, for servers of many models)
   */
  public ServerMetrics(boolean jvm, boolean histograms, boolean driftDetail) {
    this(jvm, histograms, driftDetail, true);
  }

  private ServerMetrics(boolean jvm, boolean histograms, boolean driftDetail, boolean activateNow) {
    this.jvm = jvm;
    this.histograms = histograms;
    this.driftDetail = driftDetail;
    if (activateNow) {
      activate();
    }
  }

  /**
   * Metrics whose Prometheus registry and families (~115 classes, the registry's set-up) are
   * created at {@link #activate}, at the first {@link #scrape} or at {@link #registerJvmMetrics},
   * whichever comes first: {@code fulcrum serve} activates them after the first answer, off a fresh
   * server's first request (docs/PERFORMANCE.md, "Cold start", session 14). Until then the
   * observers and lifecycle events are kept and replayed in order at activation, so no count is
   * lost. Without JVM metrics ({@link #registerJvmMetrics} adds them).
   */
  public static ServerMetrics deferred() {
    return deferred(true, true);
  }

  /** {@link #deferred()}, with or without the histograms and the drift detail (constructor). */
  public static ServerMetrics deferred(boolean histograms, boolean driftDetail) {
    return new ServerMetrics(false, histograms, driftDetail, false);
  }

  /** Creates the registry and the families now, if not yet; replays what came before. */
  public void activate() {
    families();
  }

  private Families families() {
    Families f = families;
    if (f != null) {
      return f;
    }
    synchronized (lock) {
      f = families;
      if (f == null) {
        f = new Families(jvm, histograms);
        f.startup.set(startupSeconds);
        for (LifecycleEvent e : deferredEvents) {
          f.onEvent(e, repository);
        }
        deferredEvents.clear();
        for (DeferredObserver o : deferredObservers) {
          o.attach(f.observer(o.model, o.version));
        }
        deferredObservers.clear();
        families = f;
      }
      return f;
    }
  }

  /**
   * Adds the JVM and process metrics (for a server that created this without them, to keep their
   * class loading off the start's critical path). Call at most once.
   */
  public void registerJvmMetrics() {
    families().registerJvmMetrics();
  }

  /**
   * Records how long the start took, from the JVM's start to the end of its loads, ready or not.
   */
  public void startupDone(double seconds) {
    synchronized (lock) {
      startupSeconds = seconds;
      Families f = families;
      if (f != null) {
        f.startup.set(seconds);
      }
    }
  }

  /** The repository whose models the Triton families describe. */
  public void bind(ModelRepository repository) {
    this.repository = repository;
  }

  /** The drift monitor whose per-feature gauges {@link #scrape()} writes ({@link DriftMetrics}). */
  public void bindMonitor(dev.fulcrum.core.monitor.ModelMonitor monitor) {
    this.monitor = monitor;
  }

  /** The tracing whose trace and span counts {@link #scrape()} writes. */
  public void bindTracing(Tracing tracing) {
    this.tracing = tracing;
  }

  /**
   * The shared memory regions whose count and bytes {@link #scrape()} writes, while clients may
   * register them ({@code --allow-client-shm}).
   */
  public void bindSharedMemory(SharedMemoryRegistry registry) {
    this.sharedMemory = registry;
  }

  /** The tenants whose chargeback counters {@link #scrape()} writes ({@link TenantMetrics}). */
  public void bindTenants(List<Tenant> tenants) {
    this.tenants = List.copyOf(tenants);
  }

  /**
   * The server's readiness, its ports' connection caps and its request buffer budget, which {@link
   * #scrape()} writes with the models' readiness and direct memory ({@code fulcrum_server_ready},
   * {@code fulcrum_model_ready}, {@code fulcrum_connections_*}, {@code fulcrum_request_buffer*},
   * {@code fulcrum_direct_memory_*}, {@code fulcrum_netty_allocator_used_bytes}): read from the
   * counters that enforce the caps, at scrape time. Call once the ports are bound.
   *
   * @param readiness what {@code /v2/health/ready} answers
   * @param listeners each port's cap, keyed by its label value ({@code rest}, {@code grpc}, {@code
   *     metrics})
   * @param requestBuffer the server-wide request buffer budget, or null when none is shared
   */
  public void bindServer(
      BooleanSupplier readiness,
      Map<String, ConnectionLimit> listeners,
      @Nullable BufferBudget requestBuffer) {
    this.health = new HealthMetrics(readiness, listeners, requestBuffer);
  }

  /** The slow-request log whose line counts {@link #scrape()} writes. */
  public void bindSlowRequests(SlowRequestLog log) {
    this.slowRequests = log;
  }

  /** Load and warm-up durations and load failures, from the model manager's events. */
  @Override
  public void onEvent(LifecycleEvent event) {
    Families f = families;
    if (f == null) {
      synchronized (lock) {
        f = families;
        if (f == null) {
          deferredEvents.add(event);
          return;
        }
      }
    }
    f.onEvent(event, repository);
  }

  @Override
  public SchedulerObserver create(String model, String version) {
    Families f = families;
    if (f == null) {
      synchronized (lock) {
        f = families;
        if (f == null) {
          DeferredObserver o = new DeferredObserver(model, version);
          deferredObservers.add(o);
          return o;
        }
      }
    }
    return f.observer(model, version);
  }

  /**
   * An observer handed out before activation: keeps its events until the families exist, then
   * replays them and forwards every later one. Thread-safe (the events are immutable records).
   */
  private static final class DeferredObserver implements SchedulerObserver {
    final String model;
    final String version;
    private volatile @Nullable SchedulerObserver target;
    private @Nullable List<Object> held = new ArrayList<>(); // guarded by this

    DeferredObserver(String model, String version) {
      this.model = model;
      this.version = version;
    }

    void attach(SchedulerObserver t) {
      synchronized (this) {
        List<Object> h = held;
        if (h != null) {
          for (Object e : h) {
            dispatch(t, e);
          }
        }
        held = null;
        target = t;
      }
    }

    private void hold(Object e) {
      SchedulerObserver t;
      synchronized (this) {
        t = target;
        List<Object> h = held;
        if (t == null && h != null) {
          h.add(e);
          return;
        }
      }
      if (t != null) {
        dispatch(t, e);
      }
    }

    private static void dispatch(SchedulerObserver t, Object e) {
      switch (e) {
        case Rejected r -> t.rejected(r);
        case RequestDone d -> t.requestDone(d);
        case BatchDone b -> t.batchDone(b);
        default -> throw new IllegalStateException("not an event: " + e);
      }
    }

    @Override
    public void rejected(Rejected e) {
      SchedulerObserver t = target;
      if (t != null) {
        t.rejected(e);
      } else {
        hold(e);
      }
    }

    @Override
    public void requestDone(RequestDone e) {
      SchedulerObserver t = target;
      if (t != null) {
        t.requestDone(e);
      } else {
        hold(e);
      }
    }

    @Override
    public void batchDone(BatchDone e) {
      SchedulerObserver t = target;
      if (t != null) {
        t.batchDone(e);
      } else {
        hold(e);
      }
    }
  }

  /**
   * The Prometheus registry and Fulcrum's families in it; its own class so that the Prometheus
   * client's classes load at activation, not with {@link ServerMetrics}. Every family is built
   * {@code withoutExemplars()}: with OpenTelemetry on the class path (for {@code
   * --trace-otlp-endpoint}) the client would otherwise look up the current span on every update,
   * and Fulcrum's spans are made after the answer, never current where a metric is updated, so no
   * exemplar could carry a trace. Thread-safe.
   */
  private static final class Families {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    /** The per-model histograms; null when they are off. */
    private final @Nullable Histograms histograms;

    private final Counter rejections;
    private final Gauge loadDuration;
    private final Gauge warmupDuration;
    private final Counter loadFailures;
    private final Gauge startup;

    Families(boolean jvm, boolean withHistograms) {
      histograms =
          withHistograms
              ? new Histograms(
                  histogram(
                      "fulcrum_request_duration_seconds",
                      "Time from admission to response of successful requests",
                      LATENCY_BUCKETS),
                  histogram(
                      "fulcrum_queue_duration_seconds",
                      "Time successful requests waited in the queue",
                      LATENCY_BUCKETS),
                  histogram(
                      "fulcrum_compute_duration_seconds",
                      "Forward-pass (compute_infer) time of the batch each successful request ran"
                          + " in",
                      LATENCY_BUCKETS),
                  histogram(
                      "fulcrum_batch_size", "Inferences (rows) per executed batch", BATCH_BUCKETS))
              : null;
      rejections =
          Counter.builder()
              .name("fulcrum_rejected_requests")
              .help("Requests refused without running: queue_full, timeout or slo")
              .labelNames("model", "version", "reason")
              .withoutExemplars()
              .register(registry);
      loadDuration =
          Gauge.builder()
              .name("fulcrum_model_load_duration_seconds")
              .help("Time the serving copy of a model version took to load, warm-up included")
              .labelNames("model", "version")
              .withoutExemplars()
              .register(registry);
      warmupDuration =
          Gauge.builder()
              .name("fulcrum_model_warmup_duration_seconds")
              .help("Time the serving copy of a model version spent in its model-warmup passes")
              .labelNames("model", "version")
              .withoutExemplars()
              .register(registry);
      loadFailures =
          Counter.builder()
              .name("fulcrum_model_load_failures")
              .help(
                  "Loads (or warm-ups) of a model version that failed; version \"\" for the model")
              .labelNames("model", "version")
              .withoutExemplars()
              .register(registry);
      if (jvm) {
        registerJvmMetrics();
      }
      startup =
          Gauge.builder()
              .name("fulcrum_startup_seconds")
              .help(
                  "Seconds from the JVM's start to the end of the start's model loads, ready or"
                      + " not (NaN while they run)")
              .withoutExemplars()
              .register(registry);
      startup.set(Double.NaN);
    }

    void registerJvmMetrics() {
      JvmMetrics.builder().register(registry);
    }

    private Histogram histogram(String name, String help, double[] buckets) {
      return Histogram.builder()
          .name(name)
          .help(help)
          .labelNames("model", "version")
          .classicOnly()
          .classicUpperBounds(buckets)
          .withoutExemplars()
          .register(registry);
    }

    void onEvent(LifecycleEvent event, @Nullable ModelRepository repository) {
      switch (event) {
        case LifecycleEvent.Loaded l -> {
          String v = Long.toString(l.version());
          loadDuration.labelValues(l.model(), v).set(l.loadDuration().toNanos() / 1e9);
          warmupDuration.labelValues(l.model(), v).set(l.warmupDuration().toNanos() / 1e9);
        }
        case LifecycleEvent.LoadFailed f ->
            loadFailures
                .labelValues(f.model(), f.version() == 0 ? "" : Long.toString(f.version()))
                .inc();
        case LifecycleEvent.StateChanged c -> {
          if (c.to() == ModelState.UNLOADED) {
            forget(c.model(), c.version(), repository);
          }
        }
      }
    }

    /**
     * Drops the series of a version that no longer serves, so that a server that swaps versions all
     * day does not export (and keep in memory) one set of series per version it ever served. Kept
     * when the same version serves again (a reload with a new configuration unloads the old copy
     * after the new one took over).
     */
    private void forget(String model, long version, @Nullable ModelRepository r) {
      if (r != null && r.versions(model).stream().anyMatch(v -> v.version() == version)) {
        return;
      }
      String v = Long.toString(version);
      Histograms h = histograms;
      if (h != null) {
        for (Histogram each : List.of(h.request, h.queue, h.compute, h.batch)) {
          each.remove(model, v);
        }
      }
      loadDuration.remove(model, v);
      warmupDuration.remove(model, v);
      for (String reason : List.of("queue_full", "timeout", "slo")) {
        rejections.remove(model, v, reason);
      }
    }

    SchedulerObserver observer(String model, String version) {
      Counts counts =
          new Counts(
              rejections.labelValues(model, version, "queue_full"),
              rejections.labelValues(model, version, "timeout"),
              rejections.labelValues(model, version, "slo"));
      Histograms h = histograms;
      return h == null ? counts : new Timed(counts, h, model, version);
    }

    /** The four per-model histogram families, registered together or not at all. */
    private record Histograms(
        Histogram request, Histogram queue, Histogram compute, Histogram batch) {}

    /** A version's rejection counters: the whole observer when the histograms are off. */
    private record Counts(
        CounterDataPoint queueFull, CounterDataPoint timeout, CounterDataPoint slo)
        implements SchedulerObserver {
      @Override
      public void rejected(Rejected e) {
        switch (e.reason()) {
          case QUEUE_FULL -> queueFull.inc();
          case SLO -> slo.inc();
        }
      }

      @Override
      public void requestDone(RequestDone e) {
        if (e.outcome() == Outcome.TIMED_OUT) {
          timeout.inc();
        }
      }

      @Override
      public void batchDone(BatchDone e) {}
    }

    /**
     * A version's rejection counters and its latency and batch-size histograms. The histograms'
     * series are made at the version's first observation (its first pass, or its first answer), not
     * at its load: a version that never ran has no distribution to tell, and on a server of many
     * mostly idle models their 70 zero series a version were most of a scrape (300 demo models: 1.5
     * of 5.5 MB). Once made they stay until the version stops serving ({@link #forget}), so a
     * series never vanishes and comes back while its version serves. The counters stay from the
     * load: {@code rate()} of a counter that appears at its first increment misses that increment,
     * and request and rejection counts are what alerts rate.
     */
    private static final class Timed implements SchedulerObserver {
      private final Counts counts;
      private final Histograms h;
      private final String model;
      private final String version;

      /**
       * The version's four data points, once it has run; volatile: made by the first engine or
       * event-loop thread that observes, read by all (two racing threads get the same points).
       */
      private volatile @Nullable Points points;

      private record Points(
          DistributionDataPoint request,
          DistributionDataPoint queue,
          DistributionDataPoint compute,
          DistributionDataPoint batch) {}

      Timed(Counts counts, Histograms h, String model, String version) {
        this.counts = counts;
        this.h = h;
        this.model = model;
        this.version = version;
      }

      private Points points() {
        Points p = points;
        if (p == null) {
          p =
              new Points(
                  h.request.labelValues(model, version),
                  h.queue.labelValues(model, version),
                  h.compute.labelValues(model, version),
                  h.batch.labelValues(model, version));
          points = p;
        }
        return p;
      }

      @Override
      public void rejected(Rejected e) {
        counts.rejected(e);
      }

      @Override
      public void requestDone(RequestDone e) {
        if (e.outcome() == Outcome.SUCCESS) {
          Points p = points();
          p.request.observe(e.totalNanos() / 1e9);
          p.queue.observe(e.queueNanos() / 1e9);
          p.compute.observe(e.computeInferNanos() / 1e9);
        } else {
          counts.requestDone(e);
        }
      }

      @Override
      public void batchDone(BatchDone e) {
        points().batch.observe(e.rows());
      }
    }

    void scrape(ByteArrayOutputStream out, Predicate<String> names) throws IOException {
      writer.write(out, registry.scrape(names), EscapingScheme.UNDERSCORE_ESCAPING);
    }
  }

  /** The metrics in Prometheus text format 0.0.4. */
  public String scrape() {
    return scrape(List.of());
  }

  /**
   * The families that {@code names} asks for, in Prometheus text format 0.0.4: Prometheus's {@code
   * name[]} query parameter, as the Prometheus Java client's exporters read it (its {@code
   * MetricNameFilter}: a family is written when a name asked for is its name or begins with it, so
   * {@code fulcrum_rejected_requests_total} and {@code fulcrum_request_duration_seconds_bucket}
   * select their families); every family when {@code names} is empty. A family not asked for is not
   * read at all, so a scrape of a few families of a server of many models stays small.
   */
  public String scrape(List<String> names) {
    Predicate<String> wanted = names.isEmpty() ? n -> true : nameFilter(names);
    StringBuilder sb = new StringBuilder(8192);
    writeTritonFamilies(sb, wanted);
    writeSloFamilies(sb, wanted);
    writeObservabilityFamilies(sb, wanted);
    ModelRepository repo = repository;
    HealthMetrics h = health;
    if (h != null) {
      // only a server whose ports are bound (fulcrum serve) has these families
      h.write(sb, wanted, () -> repo == null ? List.of() : repo.index());
    }
    List<Rollout> rollouts = repo == null ? List.of() : repo.rollouts();
    if (!rollouts.isEmpty()) {
      // only a server with a canary rollout has these families (as only a monitored one has drift)
      RolloutMetrics.write(sb, wanted, rollouts);
    }
    List<Tenant> t = tenants;
    if (!t.isEmpty()) {
      // only a server whose tokens turn tenants on has tenants, and these families
      TenantMetrics.write(sb, wanted, t);
    }
    dev.fulcrum.core.monitor.ModelMonitor m = monitor;
    if (m != null) {
      DriftMetrics.write(sb, wanted, m.reports(), driftDetail);
      DriftMetrics.writePredictionLog(sb, wanted, m.predictionLog());
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(16384);
    try {
      families().scrape(out, wanted);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return sb.append(out.toString(StandardCharsets.UTF_8)).toString();
  }

  /** The Prometheus client's own filter of {@code name[]}, so both halves read it alike. */
  private static Predicate<String> nameFilter(List<String> names) {
    return io.prometheus.metrics.model.registry.MetricNameFilter.builder()
        .nameMustBeEqualTo(names)
        .build();
  }

  public static String contentType() {
    return PrometheusTextFormatWriter.CONTENT_TYPE; // a constant: loads no Prometheus class
  }

  private record Row(ModelVersion version, ModelStatistics.Snapshot stats) {}

  private void writeTritonFamilies(StringBuilder sb, Predicate<String> names) {
    ModelRepository repo = repository;
    List<Row> rows =
        repo == null
            ? List.of()
            : repo.served().stream().map(v -> new Row(v, v.statistics().snapshot())).toList();
    counter(
        sb,
        names,
        rows,
        "nv_inference_request_success",
        "Number of successful inference requests, all batch sizes",
        r -> r.stats.success().count());
    if (TextFamily.open(
        sb,
        names,
        "nv_inference_request_failure",
        "counter",
        "Number of failed inference requests, all batch sizes")) {
      for (Row r : rows) {
        ModelStatistics.Snapshot s = r.stats;
        long rejected = s.rejected() + s.timedOut();
        long backend = Math.max(0, s.fail().count() - rejected - s.cancelled() - s.invalid());
        failure(sb, r, "REJECTED", rejected);
        failure(sb, r, "CANCELED", s.cancelled());
        failure(sb, r, "BACKEND", backend);
        failure(sb, r, "OTHER", s.invalid()); // a 400 the client caused, found as the request ran
      }
    }
    counter(
        sb,
        names,
        rows,
        "nv_inference_count",
        "Number of inferences performed (does not include cached requests)",
        r -> r.stats.inferenceCount());
    counter(
        sb,
        names,
        rows,
        "nv_inference_exec_count",
        "Number of model executions performed (does not include cached requests)",
        r -> r.stats.executionCount());
    gauge(
        sb,
        names,
        rows,
        "nv_inference_pending_request_count",
        "Instantaneous number of pending requests awaiting execution per-model.",
        r -> r.version.pending());
    counter(
        sb,
        names,
        rows,
        "nv_inference_request_duration_us",
        "Cumulative inference request duration in microseconds (includes cached requests)",
        r -> TimeUnit.NANOSECONDS.toMicros(r.stats.success().ns()));
    counter(
        sb,
        names,
        rows,
        "nv_inference_queue_duration_us",
        "Cumulative inference queuing duration in microseconds (includes cached requests)",
        r -> TimeUnit.NANOSECONDS.toMicros(r.stats.queue().ns()));
    counter(
        sb,
        names,
        rows,
        "nv_inference_compute_input_duration_us",
        "Cumulative compute input duration in microseconds (does not include cached requests)",
        r -> TimeUnit.NANOSECONDS.toMicros(r.stats.computeInput().ns()));
    counter(
        sb,
        names,
        rows,
        "nv_inference_compute_infer_duration_us",
        "Cumulative compute inference duration in microseconds (does not include cached requests)",
        r -> TimeUnit.NANOSECONDS.toMicros(r.stats.computeInfer().ns()));
    counter(
        sb,
        names,
        rows,
        "nv_inference_compute_output_duration_us",
        "Cumulative inference compute output duration in microseconds (does not include cached"
            + " requests)",
        r -> TimeUnit.NANOSECONDS.toMicros(r.stats.computeOutput().ns()));
    // Per-model families that only mean something for some models get rows only for those, so a
    // server of many small models does not export a zero series per model for each (Triton, too,
    // reports cache metrics only for models with the response cache; the families' HELP and TYPE
    // lines stay, so the family list does not change with the models loaded).
    List<Row> cached =
        rows.stream().filter(r -> r.version.config().responseCache().enabled()).toList();
    List<Row> pipelines = rows.stream().filter(r -> r.version.config().pipeline() != null).toList();
    counter(
        sb,
        names,
        cached,
        "nv_cache_num_hits_per_model",
        "Number of cache hits per model",
        r -> r.stats.cacheHit().count());
    counter(
        sb,
        names,
        cached,
        "nv_cache_num_misses_per_model",
        "Number of cache misses per model",
        r -> r.stats.cacheMiss().count());
    counter(
        sb,
        names,
        cached,
        "nv_cache_hit_duration_per_model",
        "Total cache hit duration per model, in microseconds",
        r -> TimeUnit.NANOSECONDS.toMicros(r.stats.cacheHit().ns()));
    counter(
        sb,
        names,
        cached,
        "nv_cache_miss_duration_per_model",
        "Total cache miss (lookup and insertion) duration per model, in microseconds",
        r -> TimeUnit.NANOSECONDS.toMicros(r.stats.cacheMiss().ns()));
    counter(
        sb,
        names,
        pipelines,
        "fulcrum_pipeline_preprocess_duration_us",
        "Cumulative time of a pipeline model's steps before the model (e.g. tokenizing), in"
            + " microseconds; not in queue or compute",
        r -> TimeUnit.NANOSECONDS.toMicros(r.stats.preprocess().ns()));
    counter(
        sb,
        names,
        pipelines,
        "fulcrum_pipeline_postprocess_duration_us",
        "Cumulative time of a pipeline model's steps after the model (e.g. pooling), in"
            + " microseconds; not in queue or compute",
        r -> TimeUnit.NANOSECONDS.toMicros(r.stats.postprocess().ns()));
    gauge(
        sb,
        names,
        rows,
        "nv_model_load_duration_secs",
        "Model load time in seconds",
        r -> r.version.loadDuration().toNanos() / 1e9);
    List<Row> stateful = rows.stream().filter(r -> r.version.sequences() != null).toList();
    gauge(
        sb,
        names,
        stateful,
        "fulcrum_sequence_slots",
        "Sequences a stateful model version may hold open at once (its sequence batcher's slots)",
        r -> Objects.requireNonNull(r.version.sequences()).slots());
    gauge(
        sb,
        names,
        stateful,
        "fulcrum_sequence_slots_held",
        "Sequences of a stateful model version holding a slot now (open, not yet ended or idle)",
        r -> Objects.requireNonNull(r.version.sequences()).activeSequences());
    gauge(
        sb,
        names,
        stateful,
        "fulcrum_sequence_backlog",
        "Sequences of a stateful model version waiting for a slot now (every slot held)",
        r -> Objects.requireNonNull(r.version.sequences()).backlogSequences());
    counter(
        sb,
        names,
        stateful,
        "fulcrum_sequence_idle_ended_total",
        "Sequences of a stateful model version ended by max-sequence-idle-microseconds (no request"
            + " for that long): their slot and state freed",
        r -> Objects.requireNonNull(r.version.sequences()).idleEnded());
  }

  /**
   * SLO attainment per window, utilization, cost per million predictions, the capacity at the
   * objective and the load against it, and SLO refusals, from each served version's {@link
   * dev.fulcrum.core.stats.SloAccounting} at scrape time (docs/METRICS.md). Undefined values (no
   * requests, no objective, no price) are left out.
   */
  private void writeSloFamilies(StringBuilder sb, Predicate<String> names) {
    ModelRepository repo = repository;
    List<ModelVersion> served = repo == null ? List.of() : repo.served();
    List<SloAccounting.Snapshot> snaps = served.stream().map(ModelVersion::sloSnapshot).toList();
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_slo_attainment_ratio",
        "gauge",
        "Share of requests answered within the latency"
            + " objective (refusals and timeouts are misses), per window")) {
      for (int i = 0; i < served.size(); i++) {
        if (snaps.get(i).latencyMs() <= 0) {
          continue;
        }
        for (SloAccounting.Window w : snaps.get(i).windows()) {
          if (Double.isFinite(w.attainment())) {
            sloLine(sb, "fulcrum_slo_attainment_ratio", served.get(i), w.window(), w.attainment());
          }
        }
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_cost_per_million_predictions_usd",
        "gauge",
        "USD per million predictions over the last"
            + " 60 s: price x wall time x the model's share of compute / predictions")) {
      for (int i = 0; i < served.size(); i++) {
        double cost = snaps.get(i).window("60s").costPerMillionUsd();
        if (Double.isFinite(cost)) {
          sloLine(sb, "fulcrum_cost_per_million_predictions_usd", served.get(i), null, cost);
        }
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_model_utilization_ratio",
        "gauge",
        "Compute time over wall time x instances, last 60 s")) {
      for (int i = 0; i < served.size(); i++) {
        sloLine(
            sb,
            "fulcrum_model_utilization_ratio",
            served.get(i),
            null,
            snaps.get(i).window("60s").utilization());
      }
    }
    // The scaling signal (docs/DEPLOYMENT.md, "Scaling"): one series each per version with an
    // objective, no window label; the capacity once the policy is warm, the ratio once it is > 0.
    List<SloAccounting.Load> loads = snaps.stream().map(SloAccounting.Snapshot::load).toList();
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_slo_capacity_requests_per_second",
        "gauge",
        "The highest request rate this replica"
            + " serves within the latency objective: the lower of the pass times' bound (what the"
            + " SLO policy learned; 0: the objective is too tight for any batch size), the CPU"
            + " bound (the rate that fills the CPU the process may use: its limit, or its CPUs"
            + " less what other processes use) and, while it refuses more than the objective"
            + " allows, the observed bound (the rate it took over the objective's percentile)")) {
      for (int i = 0; i < served.size(); i++) {
        double capacity = loads.get(i).capacityPerSecond();
        if (Double.isFinite(capacity)) {
          sloLine(sb, "fulcrum_slo_capacity_requests_per_second", served.get(i), null, capacity);
        }
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_slo_load_ratio",
        "gauge",
        "Requests offered over the last 10 s (refused ones too) per"
            + " second, over fulcrum_slo_capacity_requests_per_second (the largest of the load on"
            + " the passes, on the CPU budget and against the observed bound): above 1, more than"
            + " this replica serves within the objective")) {
      for (int i = 0; i < served.size(); i++) {
        double ratio = loads.get(i).ratio();
        if (Double.isFinite(ratio)) {
          sloLine(sb, "fulcrum_slo_load_ratio", served.get(i), null, ratio);
        }
      }
    }
    // What the CPU bound is from (the process's, shared by every model): why it states what it
    // does.
    ProcessCpu.Usage cpu = snaps.isEmpty() ? ProcessCpu.Usage.UNKNOWN : snaps.get(0).cpu();
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_slo_cpu_cores",
        "gauge",
        "The CPU the capacity's CPU bound is from, over the last ~10"
            + " s, in cores: allowed (the lower of the cgroup CPU limit and the CPUs the process may"
            + " run on), others (what other processes keep busy on those CPUs), budget (what it may"
            + " use now: with CPU pressure known, own plus allowed less own times the share of"
            + " the time it did not wait; else allowed or the CPUs less others, whichever is"
            + " lower), own (what it uses)")) {
      if (!snaps.isEmpty()) {
        // Always the four series while a version serves (NaN until a second of readings, others NaN
        // without /proc): a series that comes and goes with the readings would read as churn.
        boolean known = Double.isFinite(cpu.ownCores());
        cpuLine(sb, "allowed", cpu.allowedCores());
        cpuLine(sb, "others", cpu.othersCores());
        cpuLine(sb, "budget", known ? cpu.budgetCores() : Double.NaN);
        cpuLine(sb, "own", cpu.ownCores());
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_slo_cpu_pressure_ratio",
        "gauge",
        "The share of the last ~10 s in which at least one"
            + " of the process's runnable tasks waited for a CPU (Linux PSI cpu some: its cgroup's"
            + " cpu.pressure, else the host's; /slo capacity.cpu.pressure_scope says which); where"
            + " known, the CPU budget is from it. NaN without PSI")) {
      if (!snaps.isEmpty()) {
        sb.append("fulcrum_slo_cpu_pressure_ratio ")
            .append(number(cpu.pressureSomeRatio()))
            .append('\n');
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_slo_rejections_total",
        "counter",
        "Requests refused at admission or dropped from the"
            + " queue because they could not meet the latency objective")) {
      for (int i = 0; i < served.size(); i++) {
        if (snaps.get(i).latencyMs() > 0) {
          sloLine(
              sb,
              "fulcrum_slo_rejections_total",
              served.get(i),
              null,
              snaps.get(i).window("start").sloRejected());
        }
      }
    }
  }

  /**
   * Tracing's and the slow-request log's own health, each only while it is on: what the WARN line a
   * minute (tracing) and the summary lines (the log) say, as counters an alert can watch.
   */
  private void writeObservabilityFamilies(StringBuilder sb, Predicate<String> names) {
    Tracing t = tracing;
    if (t != null) {
      if (TextFamily.open(
          sb,
          names,
          "fulcrum_traces_total",
          "counter",
          "Requests traced: their spans queued for the OTLP exporter,"
              + " or dropped whole because the span queue was full")) {
        outcome(sb, "fulcrum_traces_total", "queued", t.queuedTraces());
        outcome(sb, "fulcrum_traces_total", "dropped", t.dropped());
      }
      if (TextFamily.open(
          sb,
          names,
          "fulcrum_trace_spans_total",
          "counter",
          "Spans the OTLP exporter sent to the collector, or"
              + " failed to send (collector down or refusing)")) {
        outcome(sb, "fulcrum_trace_spans_total", "exported", t.exportedSpans());
        outcome(sb, "fulcrum_trace_spans_total", "failed", t.failedSpans());
      }
    }
    SlowRequestLog s = slowRequests;
    if (s != null) {
      if (TextFamily.open(
          sb,
          names,
          "fulcrum_slow_requests_total",
          "counter",
          "Slow or load-refused inference requests: given a"
              + " line on the slow-request log, or suppressed (over --log-slow-max-lines-per-sec,"
              + " or the log's queue full)")) {
        outcome(sb, "fulcrum_slow_requests_total", "logged", s.logged());
        outcome(sb, "fulcrum_slow_requests_total", "suppressed", s.suppressed());
      }
    }
    SharedMemoryRegistry shm = sharedMemory;
    if (shm != null && shm.allowed()) {
      if (TextFamily.open(
          sb,
          names,
          "fulcrum_shared_memory_regions",
          "gauge",
          "System shared memory regions registered (Triton's extension, --allow-client-shm)")) {
        sb.append("fulcrum_shared_memory_regions ").append(shm.count()).append('\n');
      }
      if (TextFamily.open(
          sb,
          names,
          "fulcrum_shared_memory_bytes",
          "gauge",
          "Bytes of the registered system shared memory regions, together")) {
        sb.append("fulcrum_shared_memory_bytes ").append(shm.bytes()).append('\n');
      }
    }
  }

  private static void outcome(StringBuilder sb, String name, String outcome, long value) {
    sb.append(name).append("{outcome=\"").append(outcome).append("\"} ").append(value);
    sb.append('\n');
  }

  private static void cpuLine(StringBuilder sb, String use, double cores) {
    sb.append("fulcrum_slo_cpu_cores{use=\"").append(use).append("\"} ").append(number(cores));
    sb.append('\n');
  }

  private static void sloLine(
      StringBuilder sb, String name, ModelVersion v, @Nullable String window, double value) {
    sb.append(name).append("{model=\"").append(TextFamily.escape(v.name()));
    sb.append("\",version=\"").append(TextFamily.escape(v.versionString())).append('"');
    if (window != null) {
      sb.append(",window=\"").append(window).append('"');
    }
    sb.append("} ").append(number(value)).append('\n');
  }

  private static void counter(
      StringBuilder sb,
      Predicate<String> names,
      List<Row> rows,
      String name,
      String help,
      ToDoubleFunction<Row> value) {
    family(sb, names, rows, name, help, "counter", value);
  }

  private static void gauge(
      StringBuilder sb,
      Predicate<String> names,
      List<Row> rows,
      String name,
      String help,
      ToDoubleFunction<Row> value) {
    family(sb, names, rows, name, help, "gauge", value);
  }

  private static void family(
      StringBuilder sb,
      Predicate<String> names,
      List<Row> rows,
      String name,
      String help,
      String type,
      ToDoubleFunction<Row> value) {
    if (!TextFamily.open(sb, names, name, type, help)) {
      return;
    }
    for (Row r : rows) {
      sb.append(name).append(labels(r, null)).append(' ').append(number(value.applyAsDouble(r)));
      sb.append('\n');
    }
  }

  private static void failure(StringBuilder sb, Row r, String reason, long value) {
    sb.append("nv_inference_request_failure")
        .append(labels(r, reason))
        .append(' ')
        .append(value)
        .append('\n');
  }

  private static String labels(Row r, @Nullable String reason) {
    StringBuilder sb = new StringBuilder("{model=\"").append(TextFamily.escape(r.version.name()));
    sb.append("\",version=\"").append(TextFamily.escape(r.version.versionString())).append('"');
    if (reason != null) {
      sb.append(",reason=\"").append(reason).append('"');
    }
    return sb.append('}').toString();
  }

  private static String number(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15
        ? Long.toString((long) v)
        : String.format(Locale.ROOT, "%.6f", v);
  }
}
