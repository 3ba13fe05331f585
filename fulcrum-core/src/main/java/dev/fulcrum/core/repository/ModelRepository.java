package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models of one or more repository folders, as the server sees them: a {@link RepositorySource}
 * (the folders) and a {@link ModelManager} (the control plane) wired together with the control
 * executor, plus the read-only view the transports use (resolve a version, list versions, the
 * index, readiness).
 *
 * <p>Threads: loads, unloads and polls run on {@code fulcrum-load-N} threads (as many as {@link
 * Settings#loadThreads()}); polling is timed by one {@code fulcrum-repository-poll} thread; reads
 * run on any thread and never block.
 */
public final class ModelRepository implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ModelRepository.class);
  public static final String CONFIG_FILE = RepositorySource.CONFIG_FILE;

  /**
   * How models are loaded.
   *
   * @param mode Triton's model control mode
   * @param loadThreads models loaded in parallel
   * @param startupModels in EXPLICIT mode, the models loaded at startup ({@code *}: all)
   * @param pollInterval in POLL mode, how often the folders are re-scanned
   * @param rolloutStateDir where the canary versions rolled back are recorded, so that a restart
   *     does not make them canaries again ({@code --rollout-state-dir}); null: remembered in memory
   *     only
   */
  public record Settings(
      ControlMode mode,
      int loadThreads,
      List<String> startupModels,
      Duration pollInterval,
      @Nullable Path rolloutStateDir) {
    public Settings {
      startupModels = List.copyOf(startupModels);
      if (loadThreads < 1) {
        throw new IllegalArgumentException("loadThreads must be >= 1, was " + loadThreads);
      }
      if (pollInterval.isNegative() || pollInterval.isZero()) {
        throw new IllegalArgumentException("pollInterval must be positive, was " + pollInterval);
      }
    }

    /** Settings without a rollout record. */
    public Settings(
        ControlMode mode, int loadThreads, List<String> startupModels, Duration pollInterval) {
      this(mode, loadThreads, startupModels, pollInterval, null);
    }

    /** Triton's default: everything loaded at startup, no model control. */
    public static Settings defaults() {
      return new Settings(ControlMode.NONE, 4, List.of(), Duration.ofSeconds(15));
    }

    public Settings withMode(ControlMode m) {
      return new Settings(m, loadThreads, startupModels, pollInterval, rolloutStateDir);
    }

    /** These settings with the rolled-back canaries recorded in {@code dir} (null: none). */
    public Settings withRolloutStateDir(@Nullable Path dir) {
      return new Settings(mode, loadThreads, startupModels, pollInterval, dir);
    }
  }

  private final ModelManager manager;
  private final @Nullable RolloutRecord rolloutRecord;
  private final Settings settings;
  private final ExecutorService control;
  private final SchedulerEnvironment environment;
  private final boolean ownsEnvironment;
  private @Nullable ScheduledExecutorService poller;

  /**
   * @param roots the repository folders, searched in order
   * @param runtimes the engines, one per platform
   * @param resolver fills in and validates configurations
   */
  public ModelRepository(
      List<Path> roots, List<ModelRuntime> runtimes, ModelConfigResolver resolver) {
    this(
        roots,
        runtimes,
        resolver,
        SchedulerEnvironment.system(),
        Settings.defaults(),
        new ModelConfigLoader(),
        true);
  }

  /**
   * @param environment time, threads and observers for the schedulers; the caller closes it
   */
  public ModelRepository(
      List<Path> roots,
      List<ModelRuntime> runtimes,
      ModelConfigResolver resolver,
      SchedulerEnvironment environment) {
    this(
        roots,
        runtimes,
        resolver,
        environment,
        Settings.defaults(),
        new ModelConfigLoader(),
        false);
  }

  /**
   * @param environment time, threads and observers for the schedulers; the caller closes it
   */
  public ModelRepository(
      List<Path> roots,
      List<ModelRuntime> runtimes,
      ModelConfigResolver resolver,
      SchedulerEnvironment environment,
      Settings settings) {
    this(roots, runtimes, resolver, environment, settings, new ModelConfigLoader(), false);
  }

  /**
   * @param environment time, threads and observers for the schedulers; the caller closes it
   * @param loader reads each model folder's configuration, in the formats it was given (e.g.
   *     Triton's config.pbtxt besides config.yaml)
   */
  public ModelRepository(
      List<Path> roots,
      List<ModelRuntime> runtimes,
      ModelConfigResolver resolver,
      SchedulerEnvironment environment,
      Settings settings,
      ModelConfigLoader loader) {
    this(roots, runtimes, resolver, environment, settings, loader, false);
  }

  private ModelRepository(
      List<Path> roots,
      List<ModelRuntime> runtimes,
      ModelConfigResolver resolver,
      SchedulerEnvironment environment,
      Settings settings,
      ModelConfigLoader loader,
      boolean ownsEnvironment) {
    this.environment = environment;
    this.ownsEnvironment = ownsEnvironment;
    this.settings = settings;
    // first: a record that cannot be read stops the start before any thread is made
    Path stateDir = settings.rolloutStateDir();
    this.rolloutRecord =
        stateDir == null ? null : RolloutRecord.open(stateDir, java.time.Clock.systemUTC());
    AtomicInteger n = new AtomicInteger();
    this.control =
        Executors.newFixedThreadPool(
            settings.loadThreads(),
            r ->
                Thread.ofPlatform()
                    .name("fulcrum-load-" + n.getAndIncrement())
                    .daemon(true)
                    .unstarted(r));
    this.manager =
        new ModelManager(
            new RepositorySource(roots, loader),
            runtimes,
            resolver,
            environment,
            control,
            settings.mode());
    if (rolloutRecord != null) {
      manager.rolloutRecord(rolloutRecord);
    }
  }

  /** The models loaded from folders under a root (SageMaker's multi-model endpoint), or null. */
  private volatile @Nullable MountedModels mounted;

  /**
   * Lets models be loaded by name from folders under {@code settings}' root ({@code fulcrum serve
   * --sagemaker-mme-root}); set once, before the server starts. Needs the explicit model control
   * mode, as the repository API's loads.
   *
   * @throws IllegalStateException in another mode
   */
  public MountedModels mount(MountedModels.Settings settings) {
    if (this.settings.mode() != ControlMode.EXPLICIT) {
      throw new IllegalStateException(
          "loading models from folders under a root needs --model-control-mode explicit");
    }
    MountedModels m = new MountedModels(manager, settings);
    mounted = m;
    return m;
  }

  /** The models loaded from folders under a root ({@link #mount}), or null when not enabled. */
  public @Nullable MountedModels mounted() {
    return mounted;
  }

  /** The control plane: load, unload, poll, lifecycle listeners. */
  public ModelManager manager() {
    return manager;
  }

  public Settings settings() {
    return settings;
  }

  /**
   * The startup load (see {@link ModelManager#start}); blocks until every model has loaded or
   * failed, then, in POLL mode, starts polling.
   */
  public void loadAll() {
    try {
      manager.start(settings.startupModels()).join();
    } catch (CompletionException e) {
      log.error("model loading failed unexpectedly", e.getCause());
    }
    if (settings.mode() == ControlMode.POLL) {
      startPolling();
    }
  }

  private synchronized void startPolling() {
    if (poller != null) {
      return;
    }
    poller =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("fulcrum-repository-poll").daemon(true).factory());
    long ms = settings.pollInterval().toMillis();
    poller.scheduleWithFixedDelay(
        () -> {
          try {
            manager.poll().join();
          } catch (RuntimeException e) {
            log.error("polling the model repository failed", e);
          }
        },
        ms,
        ms,
        TimeUnit.MILLISECONDS);
  }

  /**
   * Finds the version a request is for.
   *
   * @param version an explicit version, or empty for the newest ready one
   * @throws InferenceException NOT_FOUND for an unknown model or version, UNAVAILABLE when it is
   *     known but not ready
   */
  public ModelVersion resolve(String name, String version) {
    return manager.resolve(name, version);
  }

  /**
   * Finds the version an inference request goes to: {@link #resolve}, then, for a request that
   * names no version of a model with a canary rollout, the rollout's split (see {@link Rollout}).
   *
   * @throws InferenceException as {@link #resolve}
   */
  public ModelVersion route(String name, String version) {
    return manager.route(name, version);
  }

  /** A model's canary rollout now, or null when it has none or fewer than two versions serve. */
  public @Nullable Rollout rollout(String name) {
    return manager.rollout(name);
  }

  /** Every model's canary rollout now, by model name. */
  public List<Rollout> rollouts() {
    return manager.rollouts();
  }

  /** The serving versions of a model, newest first (empty if unknown or not loaded). */
  public List<ModelVersion> versions(String name) {
    return manager.versions(name);
  }

  /** Every serving version of every model, by model name then newest first. */
  public List<ModelVersion> served() {
    return manager.served();
  }

  /**
   * The versions a per-model API call covers: every served version when {@code name} is empty, a
   * model's served versions when {@code version} is empty, else the one version.
   *
   * @throws InferenceException NOT_FOUND or UNAVAILABLE as {@link #resolve} does
   */
  public List<ModelVersion> select(String name, String version) {
    if (name == null || name.isEmpty()) {
      return served();
    }
    ModelVersion one = resolve(name, version);
    return version == null || version.isEmpty() ? versions(name) : List.of(one);
  }

  /**
   * A count that changes after every change that may change {@link #index()} (a model added or
   * removed, a state, a failure): what a reader made of the index stays right while it is the same.
   */
  public long indexChanges() {
    return manager.indexChanges();
  }

  /** The repository index: one row per model version (Triton's states via tritonName()). */
  public List<ModelVersionStatus> index() {
    return manager.index();
  }

  /** True when the startup load has finished and every model version meant to serve is ready. */
  public boolean allReady() {
    return manager.allReady();
  }

  /** True until the startup load has finished. */
  public boolean isLoading() {
    return manager.isStarting();
  }

  /** {@link #close(Duration)} with 30 s. */
  @Override
  public void close() {
    close(Duration.ofSeconds(30));
  }

  /**
   * Stops polling and the control threads (loads not started yet are dropped, a running one is not
   * waited for: see {@link ModelManager#closeAll}), then drains and unloads every model, all within
   * {@code timeout}.
   *
   * @return true when every engine was closed; false when a load still runs, or a forward pass
   *     after the timeout (its engine is left alone: the caller must not free the engine's
   *     environment)
   */
  public boolean close(Duration timeout) {
    synchronized (this) {
      if (poller != null) {
        poller.shutdownNow();
      }
    }
    control.shutdown();
    boolean clean = manager.closeAll(timeout);
    manager.modelFiles().close(); // pushed models do not outlive the server
    if (rolloutRecord != null) {
      rolloutRecord.close(); // its last verdicts written
    }
    if (ownsEnvironment) {
      environment.close();
    }
    return clean;
  }
}
