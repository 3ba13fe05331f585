package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.EnsembleConfig;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.config.RolloutConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.config.VersionPolicy;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.ClassLabels;
import dev.fulcrum.core.pipeline.ModelStages;
import dev.fulcrum.core.pipeline.PipelineRuntime;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.scheduler.InstanceChoice;
import dev.fulcrum.core.scheduler.ModelScheduler;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.scheduler.SequenceBatcher;
import dev.fulcrum.core.stats.ComputeLedger;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.stats.ProcessCpu;
import dev.fulcrum.core.stats.SloAccounting;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control plane of the models: loads, warms up, swaps and unloads model versions, and publishes
 * the versions that serve.
 *
 * <p>Design. Each model has a slot: its serving versions (an immutable list, newest first, replaced
 * in one volatile write) and one status row per version for the repository index. A version goes
 * LOADING → WARMING → READY → UNLOADING → UNLOADED, or UNAVAILABLE with a reason when its load or
 * warm-up fails; every change is a {@link LifecycleEvent}. A new version, or a changed
 * configuration, is loaded and warmed up <em>beside</em> what serves; the slot then sends new
 * requests to it, and only then does the old version drain (its scheduler finishes queued and
 * running requests) and close. A load that fails leaves what was serving in place. The version
 * policy of the configuration decides which versions serve.
 *
 * <p>Threads: control operations (load, unload, poll) run on the injected control executor (in the
 * server, {@code fulcrum-load-N} threads, as many as {@code --model-load-thread-count}); those of
 * one model are serialized by the slot's lock, those of different models run in parallel. {@link
 * #resolve} and the read methods run on any thread and never block.
 */
public final class ModelManager {
  /**
   * The lone-pass limit of every scheduler (ModelScheduler, "Lone passes"); the system property
   * {@code fulcrum.lone-pass-limit-us} overrides it for A/B measurements (0: every pass on the
   * engine threads).
   */
  private static final Duration LONE_PASS_LIMIT =
      Duration.ofNanos(
          1000
              * Long.getLong(
                  "fulcrum.lone-pass-limit-us",
                  ModelScheduler.DEFAULT_INLINE_PASS_LIMIT.toNanos() / 1000));

  /**
   * Which idle instance a version's next pass goes to ({@link InstanceChoice}; ModelScheduler,
   * "Instance choice"); the system property {@code fulcrum.instance-choice} ({@code most-recent},
   * the default, or {@code longest-idle}, the rule before session 21) overrides it for A/B
   * measurements. Read once; a word it does not know fails the start with the accepted words.
   */
  private static final InstanceChoice INSTANCE_CHOICE =
      InstanceChoice.parse(
          System.getProperty("fulcrum.instance-choice", InstanceChoice.DEFAULT.word()));

  /**
   * Whether the startup load starts with the lightest model alone (see {@link #start}); the system
   * property {@code fulcrum.start.lightest-first=false} loads every model at once, for A/B
   * measurements.
   */
  private static final boolean LIGHTEST_FIRST =
      Boolean.parseBoolean(System.getProperty("fulcrum.start.lightest-first", "true"));

  private static final Logger log = LoggerFactory.getLogger(ModelManager.class);

  /** How long an ensemble's load waits for a composing model's lock before it gives up on it. */
  private static final Duration COMPOSING_LOCK_WAIT = Duration.ofSeconds(60);

  /**
   * The idle time of an ensemble version's worker: any positive one, so that it starts no thread
   * (see {@link #loadEnsembleVersion}).
   */
  private static final Duration ENSEMBLE_WORKER_IDLE = Duration.ofSeconds(1);

  /**
   * Serializes {@link #recheckEnsembles}, so that of two loads that publish at once (an ensemble's
   * and one of its composing models'), the re-check that runs second sees both.
   */
  private final Object ensembleChecks = new Object();

  /** The ensembles whose loads run on this thread, outermost first (see {@link #composing}). */
  private static final ThreadLocal<Set<String>> LOADING_CHAIN =
      ThreadLocal.withInitial(java.util.LinkedHashSet::new);

  private final RepositorySource source;
  private final Map<String, ModelRuntime> runtimes;
  private final ModelConfigResolver resolver;
  private final SchedulerEnvironment environment;
  private final Executor control;
  private final ControlMode mode;

  /** The machine's compute time, all models together: each model's share of the price. */
  private final ComputeLedger ledger;

  private final List<LifecycleListener> listeners = new CopyOnWriteArrayList<>();

  /** The model folders that load requests bring (Triton's {@code file:} parameters). */
  private volatile ModelFiles files = new ModelFiles(ModelFiles.Settings.defaults());

  /**
   * The durable record of rolled-back canaries ({@code --rollout-state-dir}), or null: they are
   * remembered in memory only. Set before {@link #start}.
   */
  private volatile @Nullable RolloutRecord rolloutRecord;

  private final ConcurrentMap<String, Slot> models = new ConcurrentHashMap<>();
  private volatile Set<String> onDisk = Set.of();

  /**
   * Counts the changes that may change {@link #index()}: bumped after each change (a new or removed
   * model, a folder on disk, a version's state, a failure, what serves), so that a reader that read
   * the count before the index and finds it unchanged knows the index is still the same.
   */
  private final AtomicLong indexChanges = new AtomicLong();

  private volatile boolean starting = true;

  /** Configurations read by {@link #start} to order the startup load, each taken by its load. */
  private final ConcurrentMap<String, ModelConfigLoader.FolderConfig> startupConfigs =
      new ConcurrentHashMap<>();

  /**
   * Set by {@link #stopControl} or {@link #closeAll}: control tasks that have not started yet do
   * nothing, and new ones are refused.
   */
  private volatile boolean closing;

  /**
   * The repository API's load and unload calls not answered yet: {@link #stopControl} answers those
   * that would keep a shutdown's drain waiting.
   */
  private final Set<Call> calls = ConcurrentHashMap.newKeySet();

  /**
   * Set by {@link #closeAll}: a load it did not wait for closes what it loaded when it ends, since
   * nothing else will.
   */
  private volatile boolean closed;

  /** How often {@link #closeAll} looks again at a model whose lock is held. */
  private static final Duration LOCK_POLL = Duration.ofMillis(20);

  /** One load or unload of the repository API, until it is answered. */
  private static final class Call {
    final boolean isLoad;
    final String model;
    final CompletableFuture<Void> answer = new CompletableFuture<>();

    /** Set once its task holds the model's lock. */
    volatile boolean running;

    Call(boolean isLoad, String model) {
      this.isLoad = isLoad;
      this.model = model;
    }
  }

  /**
   * What the startup load's other models wait for, given the lightest model's load (completed in
   * any way): by default that load itself; see {@link #othersAfter}.
   */
  private volatile Function<CompletableFuture<?>, CompletableFuture<?>> othersAfter = f -> f;

  /** How many of the startup load's other models load at once; see {@link #startupLanes}. */
  private volatile int startupLanes = Integer.MAX_VALUE;

  /** One model: what serves, and the index rows. */
  private static final class Slot {
    final String name;

    /** Serializes the control operations of this model. */
    final ReentrantLock lock = new ReentrantLock();

    volatile List<ModelVersion> serving = List.of();

    /**
     * The canary rollout between the newest serving version and its baseline, or null (see {@link
     * #rollout}).
     */
    volatile @Nullable Rollout rollout;

    /**
     * Under the lock: versions whose canary rollout ended rolled back (and was not set going again
     * by hand), so that none becomes a newer canary's baseline; forgotten with their folders.
     */
    final Set<Long> rolledBack = new HashSet<>();

    final ConcurrentSkipListMap<Long, ModelVersionStatus> rows = new ConcurrentSkipListMap<>();

    /** Why the model as a whole cannot load (before its versions are known); "" when none. */
    volatile String failure = "";

    /** Under the lock: the configuration and version folders of the last attempt. */
    @Nullable String lastAttempt;

    /** Under the lock: the configuration stamp of what serves ("" when nothing does). */
    String servingStamp = "";

    /**
     * True while a load of this model runs (it holds the lock): {@link #closeAll} does not wait for
     * it, since an engine's session build cannot be interrupted and nobody will be served by it.
     */
    volatile boolean loading;

    /**
     * An ensemble's configuration file, as its last successful version load read it, which a
     * re-check against its composing models names ({@link #recheckEnsembles}); null for any other
     * model.
     */
    volatile @Nullable Path ensembleFile;

    /**
     * Under the lock: the pushed folder ({@link ModelFiles}) what serves was loaded from, or null
     * when it came from the repository (or nothing serves).
     */
    @Nullable Path pushed;

    Slot(String name) {
      this.name = name;
    }
  }

  /**
   * @param source the model folders
   * @param runtimes the engines, one per platform
   * @param resolver fills in and validates configurations
   * @param environment time, threads and observers for the schedulers and durations
   * @param control runs load, unload and poll operations (bounded parallelism)
   * @param mode whether the repository API may load and unload
   */
  public ModelManager(
      RepositorySource source,
      List<ModelRuntime> runtimes,
      ModelConfigResolver resolver,
      SchedulerEnvironment environment,
      Executor control,
      ControlMode mode) {
    this.source = source;
    Map<String, ModelRuntime> byPlatform = new LinkedHashMap<>();
    for (ModelRuntime r : runtimes) {
      byPlatform.put(r.platform(), r);
    }
    this.runtimes = Map.copyOf(byPlatform);
    this.resolver = resolver;
    this.environment = environment;
    this.ledger = new ComputeLedger(environment.ticker().nanoTime(), ProcessCpu.ofThisProcess());
    this.control = control;
    this.mode = mode;
  }

  public ControlMode mode() {
    return mode;
  }

  /**
   * Where the model files of load requests go and how large they may be; set before {@link #start}
   * (default: a temporary folder, {@link ModelFiles#DEFAULT_MAX_BYTES}).
   */
  public void modelFiles(ModelFiles.Settings settings) {
    this.files = new ModelFiles(settings);
  }

  /**
   * Keeps the rolled-back canary versions in {@code record} too, and takes those it holds as rolled
   * back: a version a former run rolled back is not a canary again. Set before {@link #start}.
   */
  void rolloutRecord(RolloutRecord record) {
    this.rolloutRecord = record;
  }

  /** The pushed model folders (their settings, and their removal at close). */
  public ModelFiles modelFiles() {
    return files;
  }

  /** Adds a listener of lifecycle events (metrics, logs); add before {@link #start}. */
  public void addListener(LifecycleListener listener) {
    listeners.add(listener);
  }

  /**
   * Lets the startup load's other models (all but the lightest) wait for more than the lightest
   * model's load, e.g. its first answer or a grace after it, so that their sessions' set-up does
   * not take the cores from the first request (docs/PERFORMANCE.md, "Cold start", session 9). The
   * function is given the lightest model's load (completed in any way, never exceptionally) and
   * must return a future that completes in any case, or the others never load. Set before {@link
   * #start}; no effect with {@code -Dfulcrum.start.lightest-first=false}.
   */
  public void othersAfter(Function<CompletableFuture<?>, CompletableFuture<?>> gate) {
    this.othersAfter = Objects.requireNonNull(gate);
  }

  /**
   * At most {@code lanes} of the startup load's other models (after the lightest) load at once,
   * lightest first: model {@code i} starts once model {@code i - lanes} has loaded or failed (the
   * control executor's threads bound it too). With one lane on a two-core machine the second
   * lightest gets the cores its sessions' set-up needs instead of sharing them with the third's,
   * and answers sooner (docs/PERFORMANCE.md, "Cold start", session 17); readiness, which waits for
   * all, comes a little later. Default: no bound beyond the executor's. Call before {@link #start};
   * no effect with {@code -Dfulcrum.start.lightest-first=false}.
   */
  public void startupLanes(int lanes) {
    if (lanes < 1) {
      throw new IllegalArgumentException("startup lanes must be at least 1, not " + lanes);
    }
    this.startupLanes = lanes;
  }

  // ---- control ---------------------------------------------------------------------------------

  /**
   * The startup load: every model in NONE and POLL modes; in EXPLICIT mode only the models named
   * ({@code *} for all). Completes when each has loaded or failed (failures are recorded, never
   * thrown); readiness counts only after that.
   */
  public CompletableFuture<Void> start(List<String> explicitModels) {
    RepositorySource.Scan scan = scan();
    List<String> names = new ArrayList<>();
    if (mode != ControlMode.EXPLICIT || explicitModels.contains("*")) {
      names.addAll(scan.models().keySet());
    } else {
      names.addAll(explicitModels);
    }
    boolean named = mode == ControlMode.EXPLICIT && !explicitModels.contains("*");
    // Cold start (docs/PERFORMANCE.md, "Cold start"): the lightest model loads first and alone,
    // the others once it has loaded (or failed). On a small machine a tiny model loaded beside
    // large ones shares the cores with their sessions' set-up and answers only when they are
    // nearly done; alone, it answers first and delays the others by its own short load.
    if (LIGHTEST_FIRST && names.size() > 1) {
      names = lightestFirst(scan, names);
    }
    List<CompletableFuture<?>> jobs = new ArrayList<>();
    CompletableFuture<?> first = null;
    int lanes = startupLanes;
    for (String name : names) {
      // after the lightest: model i waits for model i - lanes (its lane's previous), or the gate
      int previous = jobs.size() - lanes;
      CompletableFuture<?> after = first != null && previous >= 1 ? jobs.get(previous) : first;
      CompletableFuture<Void> job =
          after == null
              ? submit(name, () -> loadModel(name, null, null, named))
              : after.thenCompose(
                  ignored -> submit(name, () -> loadModel(name, null, null, named)));
      CompletableFuture<?> logged =
          job.exceptionally(
              t -> {
                Throwable cause = causeOf(t);
                if (cause instanceof RejectedExecutionException) {
                  // the manager closed before this load began (a start that failed, say): not an
                  // error of the model's, and the loads' executor says nothing a user can use
                  log.info("model '{}' not loaded: the server is stopping", name);
                } else if (cause instanceof InferenceException ie
                    && ie.code() == ErrorCode.NOT_FOUND) {
                  // a --load-model name the repository does not hold (a typo?): the index shows
                  // it UNAVAILABLE with the reason, so the server is not ready (as a model that
                  // fails to load), rather than ready without it
                  slot(name).failure = String.valueOf(ie.getMessage());
                  indexChanges.incrementAndGet();
                  log.error("model '{}' not loaded: {}", name, ie.getMessage());
                } else if (!(cause instanceof InferenceException)) {
                  log.error("model '{}' not loaded: {}", name, cause.getMessage());
                } // else the load logged why (each version's failure, or the configuration's)
                return null;
              });
      if (first == null && LIGHTEST_FIRST) {
        first = othersAfter.apply(logged);
      }
      jobs.add(logged);
    }
    // Not CompletableFuture[]::new: an array constructor reference is a lambda the AOT cache cannot
    // hold (its array class is not loaded when the cache is dumped), spun on the models' start
    // thread of every fresh JVM, on the first answer's path (PERFORMANCE.md, "Cold start", session
    // 20).
    return CompletableFuture.allOf(jobs.toArray(new CompletableFuture<?>[0]))
        .whenComplete(
            (r, t) -> {
              startupConfigs.clear(); // a load that never ran must not see them later
              starting = false;
            });
  }

  /**
   * {@code names} ordered by the bytes of engine files each loads at startup (the selected
   * versions' files, or the wrapped model's for a pipeline, times the instance count), lightest
   * first; a model whose configuration cannot be read counts as 0 (its load fails at once). Each
   * configuration read here is kept in {@link #startupConfigs} for the model's load, so that it is
   * parsed (and warned about) once.
   */
  private List<String> lightestFirst(RepositorySource.Scan scan, List<String> names) {
    Map<String, ModelConfigResolver.Deployment> deployments = new LinkedHashMap<>();
    for (String name : names) {
      Path dir = scan.models().get(name);
      if (dir == null) {
        continue;
      }
      try {
        ModelConfigLoader.FolderConfig read = source.readConfig(dir);
        startupConfigs.put(name, read);
        deployments.put(name, resolver.deployment(name, read.config(), read.file()));
      } catch (ConfigException | RuntimeException e) {
        // weight 0: the load reads it again and reports why
      }
    }
    Map<String, Long> weight = new LinkedHashMap<>();
    for (String name : names) {
      weight.put(name, weight(scan, name, deployments));
    }
    List<String> sorted = new ArrayList<>(names);
    sorted.sort(Comparator.comparingLong(n -> weight.getOrDefault(n, 0L)));
    return sorted;
  }

  private long weight(
      RepositorySource.Scan scan,
      String name,
      Map<String, ModelConfigResolver.Deployment> deployments) {
    ModelConfigResolver.Deployment d = deployments.get(name);
    Path dir = scan.models().get(name);
    if (d == null || dir == null) {
      return 0;
    }
    if (d.ensemble() != null) {
      // no file of its own; it loads after (or with) the models it calls: last
      return Long.MAX_VALUE;
    }
    try {
      PipelineConfig pipeline = d.pipeline();
      long bytes = 0;
      if (pipeline == null) {
        for (long v : d.versionPolicy().select(source.versions(dir))) {
          bytes += sizeOf(dir.resolve(Long.toString(v)).resolve(d.modelFilename()));
        }
      } else {
        String ownFile = pipeline.modelFile();
        String wrappedName = pipeline.model();
        ModelConfigResolver.Deployment wrapped =
            wrappedName == null ? null : deployments.get(wrappedName);
        if (ownFile != null) {
          bytes = sizeOf(dir.resolve(ownFile));
        } else if (wrappedName != null && wrapped != null && wrapped.pipeline() == null) {
          // the wrapped model's file, once per instance of the pipeline
          bytes = weight(scan, wrappedName, deployments) / Math.max(1, wrapped.instanceCount());
        }
      }
      return bytes * d.instanceCount();
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  private static long sizeOf(Path file) throws IOException {
    return Files.isRegularFile(file) ? Files.size(file) : 0;
  }

  /**
   * Loads (or reloads) a model, as Triton's repository load: new versions and a changed
   * configuration are loaded beside what serves and swapped in; versions the policy no longer
   * selects are drained and unloaded. Completes when done.
   *
   * @param configOverride a configuration (JSON, config.yaml's schema) used instead of the model's
   *     file, or null
   * @return fails with an {@link InferenceException}: UNIMPLEMENTED outside EXPLICIT mode,
   *     NOT_FOUND for a model not in the repository, INVALID_ARGUMENT when it fails to load
   */
  public CompletableFuture<Void> load(String name, @Nullable String configOverride) {
    return load(name, configOverride, Map.of());
  }

  /**
   * Loads (or reloads) a model from the files a load request brings (Triton's {@code
   * file:<version>/<path>} parameters), with the configuration it gives: they are checked, written
   * into a new folder the server owns ({@link ModelFiles}) and loaded from there as a repository
   * folder would be; the model's previous pushed folder is deleted once the new one serves. A later
   * load without files loads the model from the repository, or, when the repository has no such
   * model, again from the folder that serves. No files: {@link #load(String, String)}.
   *
   * @param modelFiles parameter name ({@code file:1/model.onnx}) → content
   * @return fails with INVALID_ARGUMENT for files without a configuration or a path that breaks the
   *     rules ({@link ModelFiles#relativePath}), TOO_LARGE over the size limit, and as {@link
   *     #load(String, String)}
   */
  public CompletableFuture<Void> load(
      String name, @Nullable String configOverride, Map<String, byte[]> modelFiles) {
    if (mode != ControlMode.EXPLICIT) {
      return CompletableFuture.failedFuture(controlNotAllowed("load", name));
    }
    if (modelFiles.isEmpty()) {
      return call(true, name, () -> loadModel(name, configOverride, null, true));
    }
    Map<Path, byte[]> checked;
    try {
      if (configOverride == null) {
        throw needsConfig(name);
      }
      checked = files.check(name, modelFiles);
    } catch (InferenceException e) {
      return CompletableFuture.failedFuture(e);
    }
    ModelFiles store = files;
    return call(
        true,
        name,
        () -> {
          Path folder;
          try {
            folder = store.write(name, checked);
          } catch (IOException e) {
            throw InferenceException.internal(
                "cannot write the model files of '" + name + "': " + why(e), e);
          }
          try {
            loadModel(name, configOverride, folder, true);
          } finally {
            Slot s = models.get(name);
            store.keepOnly(name, s == null ? null : s.pushed);
          }
        });
  }

  /**
   * Loads (or reloads) a model as a load request asks, its body read on the control thread when the
   * load runs ({@link LoadRequestBody}): its files, if any, written into a new folder the server
   * owns as they are read, then loaded as by {@link #load(String, String, Map)}; without files as
   * {@link #load(String, String)}. The body is released once read, or when the load does not run.
   *
   * @return fails as {@link #load(String, String, Map)}, and with INVALID_ARGUMENT for a body the
   *     reader refuses
   */
  public CompletableFuture<Void> loadRequest(String name, LoadRequestBody body) {
    AtomicBoolean released = new AtomicBoolean();
    Runnable release =
        () -> {
          if (released.compareAndSet(false, true)) {
            body.release();
          }
        };
    if (mode != ControlMode.EXPLICIT) {
      release.run();
      return CompletableFuture.failedFuture(controlNotAllowed("load", name));
    }
    ModelFiles store = files;
    return call(
        true,
        name,
        () -> {
          String config;
          Path folder;
          try (ModelFiles.Push push = store.begin(name)) {
            try {
              config = body.read(push);
            } catch (IOException e) {
              throw InferenceException.internal(
                  "cannot write the model files of '" + name + "': " + why(e), e);
            } finally {
              release.run();
            }
            checkConfig(config);
            if (push.isEmpty()) {
              loadModel(name, config, null, true);
              return;
            }
            if (config == null) {
              throw needsConfig(name);
            }
            try {
              folder = push.finish();
            } catch (IOException e) {
              throw InferenceException.internal(
                  "cannot write the model files of '" + name + "': " + why(e), e);
            }
          }
          try {
            loadModel(name, config, folder, true);
          } finally {
            Slot s = models.get(name);
            store.keepOnly(name, s == null ? null : s.pushed);
          }
        },
        release);
  }

  /**
   * Whether the repository holds a model folder of this name, as of its last scan (start, index,
   * load): one read of a published set.
   */
  public boolean inRepository(String name) {
    return onDisk.contains(name);
  }

  /**
   * Loads a model from a folder outside the repository that the caller has checked ({@link
   * MountedModels}: SageMaker's multi-model endpoint), as a repository folder would be loaded: its
   * configuration file (or none), its version folders. The folder is read, never written or
   * deleted; a later load of the model without a folder looks in the repository again.
   *
   * @param folder the folder, told (and checked, which reads the file system) on the control thread
   *     that runs the load: an {@link InferenceException} it throws fails the load
   * @return fails as {@link #load(String, String)}
   */
  public CompletableFuture<Void> loadFrom(String name, Supplier<Path> folder) {
    if (mode != ControlMode.EXPLICIT) {
      return CompletableFuture.failedFuture(controlNotAllowed("load", name));
    }
    return call(
        true,
        name,
        () -> {
          Path dir;
          try {
            dir = folder.get();
          } catch (InferenceException e) {
            Slot s = models.get(name);
            if (s != null && s.serving.isEmpty() && s.rows.isEmpty() && s.failure.isEmpty()) {
              models.remove(name, s); // a refused folder leaves no row in the index
              indexChanges.incrementAndGet();
            }
            throw e;
          }
          loadModel(name, null, dir, true);
        });
  }

  /**
   * Refuses an empty {@code config} parameter: not "no configuration", since a load with one
   * replaces config.yaml, and an empty one would drop it.
   *
   * @throws InferenceException INVALID_ARGUMENT
   */
  public static void checkConfig(@Nullable String config) {
    if (config != null && config.isBlank()) {
      throw InferenceException.invalid(
          "parameter 'config' is empty: give the model configuration as JSON, or leave the"
              + " parameter out to load with the model's config.yaml");
    }
  }

  private static InferenceException needsConfig(String name) {
    return InferenceException.invalid(
        "model '%s': a load request with model files ('file:...' parameters) needs the"
            + " 'config' parameter, the pushed model's configuration as JSON (as Triton)",
        name);
  }

  /** Drains and unloads every version of a model; completes when done (EXPLICIT mode only). */
  public CompletableFuture<Void> unload(String name) {
    if (mode != ControlMode.EXPLICIT) {
      return CompletableFuture.failedFuture(controlNotAllowed("unload", name));
    }
    if (!models.containsKey(name) && !onDisk.contains(name)) {
      return CompletableFuture.failedFuture(
          InferenceException.notFound("model '%s' is not in the model repository", name));
    }
    return call(
        false,
        name,
        () -> {
          unloadModel(name, "unloaded");
          files.keepOnly(name, null);
        });
  }

  /**
   * A load or unload of the repository API: answered when its task has run, or by {@link
   * #stopControl}.
   */
  private CompletableFuture<Void> call(boolean isLoad, String name, ControlTask task) {
    return call(isLoad, name, task, () -> {});
  }

  /**
   * {@link #call(boolean, String, ControlTask)}, with {@code after} run once the task has run or
   * will not run (refused or skipped for a shutdown), before the answer.
   */
  private CompletableFuture<Void> call(
      boolean isLoad, String name, ControlTask task, Runnable after) {
    if (closing) {
      after.run();
      return CompletableFuture.failedFuture(stopping(isLoad, name));
    }
    Call c = new Call(isLoad, name);
    calls.add(c);
    c.answer.whenComplete((r, t) -> calls.remove(c));
    CompletableFuture<Void> job;
    try {
      job =
          submit(
              name,
              () -> {
                c.running = true;
                task.run();
              });
    } catch (RuntimeException e) {
      after.run();
      calls.remove(c);
      throw e;
    }
    job.whenComplete(
        (r, t) -> {
          after.run();
          if (t == null) {
            c.answer.complete(null);
          } else {
            c.answer.completeExceptionally(causeOf(t));
          }
        });
    return c.answer;
  }

  private static InferenceException stopping(boolean isLoad, String name) {
    return InferenceException.unavailable(
        "cannot %s model '%s': the server is shutting down", isLoad ? "load" : "unload", name);
  }

  /**
   * The start of a shutdown's drain: no control task starts from now on, new loads and unloads are
   * refused (UNAVAILABLE), and the repository API's calls not answered yet are answered
   * UNAVAILABLE, except an unload that has begun (it ends with the requests it drains). A load that
   * runs is not stopped (an engine's session build cannot be interrupted) but its caller is not
   * kept waiting, nor is the drain, whose wait for every answer to be written would otherwise last
   * as long as the load.
   */
  public void stopControl() {
    closing = true;
    for (Call c : calls) {
      if (!c.isLoad && c.running) {
        continue;
      }
      c.answer.completeExceptionally(
          c.running
              ? InferenceException.unavailable(
                  "the server is shutting down: the load of model '%s' did not finish and is not"
                      + " served",
                  c.model)
              : stopping(c.isLoad, c.model));
    }
  }

  /**
   * Re-scans the folders (POLL mode): a new or removed version folder, or a changed configuration,
   * reloads the model; a removed model folder unloads it. Completes when the changes are applied.
   */
  public CompletableFuture<Void> poll() {
    RepositorySource.Scan scan = scan();
    List<CompletableFuture<?>> jobs = new ArrayList<>();
    for (String name : scan.models().keySet()) {
      jobs.add(submit(name, () -> loadModel(name, null, null, false)).exceptionally(t -> null));
    }
    for (Slot s : models.values()) {
      if (!scan.models().containsKey(s.name) && !s.serving.isEmpty()) {
        jobs.add(
            submit(s.name, () -> unloadModel(s.name, "removed from the model repository"))
                .exceptionally(t -> null));
      }
    }
    return CompletableFuture.allOf(jobs.toArray(new CompletableFuture<?>[0]));
  }

  private static InferenceException controlNotAllowed(String action, String name) {
    return new InferenceException(
        ErrorCode.UNIMPLEMENTED,
        "cannot "
            + action
            + " model '"
            + name
            + "': explicit model load / unload is allowed only with --model-control-mode explicit");
  }

  private RepositorySource.Scan scan() {
    RepositorySource.Scan scan = source.scan();
    onDisk = Set.copyOf(scan.models().keySet());
    indexChanges.incrementAndGet();
    scan.problems()
        .forEach(
            (name, reason) -> {
              log.error("{}", reason);
              if (!name.isEmpty()) {
                Slot s = slot(name);
                s.failure = source.forClients(reason);
                indexChanges.incrementAndGet();
              }
            });
    return scan;
  }

  private interface ControlTask {
    void run() throws InferenceException;
  }

  /** Runs a task of one model on the control executor, under the model's lock. */
  private CompletableFuture<Void> submit(String name, ControlTask task) {
    return CompletableFuture.runAsync(
        () -> {
          if (closing) {
            throw InferenceException.unavailable("the server is shutting down");
          }
          Slot s = slot(name);
          s.lock.lock();
          try {
            task.run();
          } finally {
            s.lock.unlock();
          }
        },
        control);
  }

  private Slot slot(String name) {
    Slot known = models.get(name);
    if (known != null) {
      return known;
    }
    Slot made =
        models.computeIfAbsent(
            name,
            n -> {
              Slot s = new Slot(n);
              RolloutRecord record = rolloutRecord;
              if (record != null) {
                s.rolledBack.addAll(record.rolledBack(n).keySet()); // not published yet
              }
              return s;
            });
    indexChanges.incrementAndGet();
    return made;
  }

  /** Under the slot's lock, on a control thread. */
  private void loadModel(
      String name, @Nullable String configOverride, @Nullable Path pushed, boolean explicit) {
    Slot s = slot(name);
    s.loading = true;
    try {
      loadModel(s, name, configOverride, pushed, explicit);
    } finally {
      s.loading = false;
      if (closed && !s.serving.isEmpty()) {
        // closeAll did not wait for this load: what it loaded is closed here instead
        unloadModel(name, "the server is shutting down");
      }
    }
  }

  private void loadModel(
      Slot s,
      String name,
      @Nullable String configOverride,
      @Nullable Path pushed,
      boolean explicit) {
    // a pushed folder, else the repository's, else (a load without files of a model the
    // repository does not have) the pushed folder that serves
    Path dir = pushed != null ? pushed : source.scan().models().get(name);
    if (dir == null && explicit) {
      dir = s.pushed;
    }
    if (dir == null) {
      if (!explicit) {
        return;
      }
      if (s.serving.isEmpty() && s.rows.isEmpty()) {
        models.remove(name, s);
        indexChanges.incrementAndGet();
      }
      throw InferenceException.notFound("model '%s' is not in the model repository", name);
    }
    boolean fromPush = files.owns(dir);
    String stamp =
        (fromPush ? "pushed:" + dir + "\n" : "")
            + source.configStamp(dir)
            + (configOverride == null ? "" : "\noverride:" + configOverride);
    SortedSet<Long> available;
    try {
      available = source.versions(dir);
    } catch (IOException e) {
      modelFailed(s, "cannot list the model folder " + name + ": " + why(e), explicit);
      return;
    }
    Map<Long, String> folders = new TreeMap<>();
    for (long v : available) {
      folders.put(v, source.versionStamp(dir, v));
    }
    String attempt = stamp + "\nversions:" + folders;
    if (!explicit && attempt.equals(s.lastAttempt)) {
      return; // nothing changed since the last poll: neither retry a failure nor reload
    }
    s.lastAttempt = attempt;
    ModelConfigFile file;
    Path configFile;
    ModelConfigResolver.Deployment deployment;
    try {
      if (configOverride == null) {
        ModelConfigLoader.FolderConfig read = startupConfigs.remove(name);
        if (read == null) {
          read = source.readConfig(dir);
        }
        file = read.config();
        configFile = read.file();
      } else {
        configFile = Path.of(name, "<config override>");
        file = source.parseConfig(configOverride, configFile);
      }
      deployment = resolver.deployment(name, file, configFile);
    } catch (ConfigException e) {
      modelFailed(s, e.getMessage(), explicit);
      return;
    }
    ModelRuntime runtime = runtimes.get(deployment.platform());
    EnsembleConfig ensemble = deployment.ensemble();
    if (runtime == null && ensemble == null) {
      modelFailed(s, "no runtime for platform " + deployment.platform(), explicit);
      return;
    }
    List<Long> selected =
        deployment.versionPolicy().select(servable(s, available, file, deployment.versionPolicy()));
    if (selected.isEmpty()) {
      modelFailed(
          s,
          available.isEmpty()
              ? "no version folders in "
                  + name
                  + " (expected "
                  + name
                  + "/1/"
                  + deployment.modelFilename()
                  + (ensemble != null ? ", an empty folder for an ensemble, as in Triton" : "")
                  + ")"
              : configFile
                  + ": field 'version-policy': selects none of the version folders "
                  + available,
          explicit);
      return;
    }
    List<ModelConfig> composing = List.of();
    if (ensemble != null) {
      try {
        composing = composing(name, ensemble, configFile, explicit);
      } catch (ConfigException e) {
        // its own folder may not change when a composing model is fixed: the next poll retries
        s.lastAttempt = null;
        modelFailed(s, e.getMessage(), explicit);
        return;
      }
    }
    boolean configChanged = !stamp.equals(s.servingStamp);
    List<ModelVersion> before = s.serving;
    TreeMap<Long, ModelVersion> next = new TreeMap<>(Comparator.reverseOrder());
    List<String> failures = new ArrayList<>();
    for (long v : selected) {
      ModelVersion old = find(before, v);
      String folder = folders.getOrDefault(v, "");
      // an ensemble version that no longer fits its composing models (see recheckEnsembles) is
      // loaded again, so that a load of it checks them and says why it fails
      if (old != null
          && !configChanged
          && folder.equals(old.folderStamp())
          && (ensemble == null || old.isReady())) {
        next.put(v, old); // nothing of it changed: it keeps serving as loaded
        continue;
      }
      try {
        next.put(
            v,
            ensemble != null
                ? loadEnsembleVersion(
                    s, v, dir, file, configFile, deployment, composing, old, folder)
                : loadVersion(
                    s,
                    v,
                    dir,
                    file,
                    configFile,
                    deployment,
                    Objects.requireNonNull(runtime),
                    old,
                    folder));
      } catch (ConfigException | ModelLoadException e) {
        String message = Objects.requireNonNullElse(e.getMessage(), "");
        String reason = source.forClients(message);
        failures.add("version " + v + ": " + reason);
        emit(new LifecycleEvent.LoadFailed(name, v, reason));
        if (old != null) {
          next.put(v, old); // the serving version stays, with its stamp: a later load retries
          log.warn(
              "model '{}' version {}: reload refused, it keeps serving as loaded before: {}",
              name,
              v,
              message);
        } else {
          log.error("model '{}' version {} not loaded: {}", name, v, message);
          row(s, v, ModelState.LOADING, ModelState.UNAVAILABLE, reason);
        }
      }
    }
    if (!failures.isEmpty()) {
      // A failed load keeps what served (Triton: "a failed reload keeps the old model"): a version
      // the new selection would drop, e.g. version 1 when a new version 2 fails to load under the
      // default policy (latest 1), serves on until a load succeeds.
      for (ModelVersion old : before) {
        if (!next.containsKey(old.version())) {
          next.put(old.version(), old);
          log.warn(
              "model '{}' version {} keeps serving: the load that would replace it failed",
              name,
              old.version());
        }
      }
    }
    if (ensemble != null && !failures.isEmpty()) {
      s.lastAttempt = null; // as above: a composing model that changed may fit on the next poll
    }
    List<ModelVersion> after = List.copyOf(next.values());
    if (failures.isEmpty() || before.isEmpty()) {
      s.servingStamp = stamp; // else what serves keeps its configuration: a later load retries
    }
    if (failures.isEmpty()) {
      s.pushed = fromPush ? dir : null; // else what serves keeps its folder
    }
    s.failure = "";
    bindRollout(s, after); // before publishing: a request that meets the new list meets its split
    s.serving = after; // new requests go to the new versions from here on
    indexChanges.incrementAndGet();
    for (ModelVersion mv : after) {
      if (!before.contains(mv)) {
        row(s, mv.version(), ModelState.WARMING, ModelState.READY, "");
        emit(new LifecycleEvent.Loaded(name, mv.version(), mv.loadDuration(), mv.warmupDuration()));
      }
    }
    for (ModelVersion old : before) {
      if (!after.contains(old)) {
        retire(s, old, find(after, old.version()) == null ? "unloaded" : "");
      }
    }
    // A version whose folder is gone is no longer in the repository: its row leaves the index
    // (it grew by a row at every rollout that deleted an old folder).
    s.rows
        .entrySet()
        .removeIf(
            e -> e.getValue().state() == ModelState.UNLOADED && !folders.containsKey(e.getKey()));
    recheckEnsembles(name);
    if (!failures.isEmpty()) {
      throw new InferenceException(
          ErrorCode.INVALID_ARGUMENT,
          "failed to load '" + name + "': " + String.join("; ", failures));
    }
  }

  /**
   * The version folders the version policy chooses among: all of them, but under a rollout and a
   * {@code latest: N} policy not a version rolled back once a newer one is there, so that {@code
   * latest: 2} keeps the last good version serving as the baseline of the bad one's successor
   * instead of the bad one. Under the slot's lock.
   */
  private SortedSet<Long> servable(
      Slot s, SortedSet<Long> available, ModelConfigFile file, VersionPolicy policy) {
    noteVerdict(s);
    s.rolledBack.retainAll(available);
    RolloutRecord record = rolloutRecord;
    if (record != null) {
      record.retain(s.name, available);
    }
    if (file.rollout() == null
        || !(policy instanceof VersionPolicy.Latest)
        || s.rolledBack.isEmpty()
        || available.isEmpty()) {
      return available;
    }
    SortedSet<Long> out = new TreeSet<>(available);
    for (long v : s.rolledBack) {
      if (v != available.last()) {
        out.remove(v);
      }
    }
    return out;
  }

  /**
   * Remembers the verdict of the model's rollout now: a canary rolled back is a known-bad version;
   * one promoted, or set going again by hand, is not. Under the slot's lock.
   */
  private void noteVerdict(Slot s) {
    Rollout r = s.rollout;
    if (r == null) {
      return;
    }
    if (r.verdict() == Rollout.Verdict.ROLLED_BACK) {
      s.rolledBack.add(r.canaryVersion());
    } else {
      s.rolledBack.remove(r.canaryVersion());
    }
    record(r);
  }

  /** Writes the verdict of {@code r} to the durable record, when there is one. Any thread. */
  private void record(Rollout r) {
    RolloutRecord record = rolloutRecord;
    if (record != null) {
      record.note(
          r.model(), r.canaryVersion(), r.verdict() == Rollout.Verdict.ROLLED_BACK, r.reason());
    }
  }

  /**
   * The canary rollout of what is about to serve: the newest version (the canary) against the
   * newest other serving version that was never rolled back (the stable version, or baseline) when
   * the newest's configuration has a {@code rollout:} and two serve; carried on (state and counts)
   * when it is between the same versions under the same rules, else a new one; none otherwise. Each
   * serving version is told which rollout it is an arm of. Under the slot's lock.
   */
  private void bindRollout(Slot s, List<ModelVersion> after) {
    noteVerdict(s);
    Rollout former = s.rollout;
    Rollout next = null;
    if (after.size() >= 2 && after.get(0).config().rollout() != null) {
      ModelVersion canary = after.get(0);
      ModelVersion stable = baseline(s, after);
      RolloutConfig rc = Objects.requireNonNull(canary.config().rollout());
      long slo = canary.config().slo().latencyNanos();
      if (former != null && former.sameAs(canary.version(), stable.version(), rc, slo)) {
        next = former;
      } else {
        next =
            new Rollout(
                s.name, canary.version(), stable.version(), rc, slo, environment.ticker(), former);
        RolloutRecord record = rolloutRecord;
        RolloutRecord.Entry earlier =
            record == null || former != null
                ? null
                : record.rolledBack(s.name).get(canary.version());
        if (record != null) {
          next.listen(this::record);
        }
        if (record != null && earlier != null) {
          // the first rollout of this model since the server started, of a canary a former run
          // rolled back: the verdict holds, as it would have in that run
          next.resumeRolledBack(
              "rolled back before this server started ("
                  + record.file()
                  + ", "
                  + earlier.at()
                  + "): "
                  + earlier.reason());
        } else {
          log.info(
              "model '{}': canary rollout of version {} against version {}: {}% of the requests"
                  + " that name no version",
              s.name, canary.version(), stable.version(), rc.canaryTrafficPercent());
        }
        record(next); // a new rollout of a canary recorded as rolled back sets it going again
      }
      if (next != former && s.rolledBack.contains(stable.version())) {
        // No version that served well is left (a version policy of specific versions, or a
        // version unloaded by hand): the rolled-back one is the baseline.
        log.warn(
            "model '{}': version {} was rolled back but is now the stable version that canary"
                + " version {} is judged against and that gets {}% of the requests naming no"
                + " version, as no serving version was never rolled back; add the version that"
                + " served well back to the version policy to judge version {} against it",
            s.name,
            stable.version(),
            canary.version(),
            100 - rc.canaryTrafficPercent(),
            canary.version());
      }
      next.bind(canary, stable);
    } else if (!after.isEmpty() && after.get(0).config().rollout() != null) {
      log.warn(
          "model '{}': rollout configured but only version {} serves: it gets every request until"
              + " a second version serves",
          s.name,
          after.get(0).version());
    }
    for (ModelVersion mv : after) {
      boolean arm =
          next != null
              && (mv.version() == next.canaryVersion() || mv.version() == next.stableVersion());
      mv.rollout(arm ? next : null);
    }
    s.rollout = next;
  }

  /**
   * The canary's baseline among {@code after} (newest first, two or more): the newest version after
   * the canary that was never rolled back, else the one after the canary.
   */
  private static ModelVersion baseline(Slot s, List<ModelVersion> after) {
    for (int i = 1; i < after.size(); i++) {
      if (!s.rolledBack.contains(after.get(i).version())) {
        return after.get(i);
      }
    }
    return after.get(1);
  }

  private void modelFailed(Slot s, String message, boolean explicit) {
    String reason = source.forClients(message);
    if (s.serving.isEmpty()) {
      log.error("model '{}' not loaded: {}", s.name, message);
    } else {
      log.warn(
          "model '{}': reload refused, it keeps serving as loaded before: {}", s.name, message);
    }
    emit(new LifecycleEvent.LoadFailed(s.name, 0, reason));
    s.failure = reason;
    indexChanges.incrementAndGet();
    if (explicit) {
      throw new InferenceException(
          ErrorCode.INVALID_ARGUMENT, "failed to load '" + s.name + "': " + reason);
    }
  }

  private static @Nullable ModelVersion find(List<ModelVersion> versions, long v) {
    for (ModelVersion mv : versions) {
      if (mv.version() == v) {
        return mv;
      }
    }
    return null;
  }

  /**
   * Loads, warms up and builds the scheduler of one version; the row shows LOADING and WARMING only
   * when no older copy of the version is serving (a swap keeps showing READY).
   */
  private ModelVersion loadVersion(
      Slot s,
      long version,
      Path dir,
      ModelConfigFile file,
      Path configFile,
      ModelConfigResolver.Deployment deployment,
      ModelRuntime runtime,
      @Nullable ModelVersion serving,
      String folderStamp)
      throws ConfigException, ModelLoadException {
    String name = s.name;
    long start = environment.ticker().nanoTime();
    boolean showRow = serving == null;
    state(s, version, null, ModelState.LOADING, "", showRow);
    Path modelFile = dir.resolve(Long.toString(version)).resolve(deployment.modelFilename());
    ModelRuntime engine = runtime;
    PipelineConfig pipeline = deployment.pipeline();
    WrappedModel wrapped = null;
    if (pipeline != null) {
      // A pipeline runs another model's file (loaded here as any model's) inside its stages.
      wrapped = WrappedModel.find(name, dir, pipeline, source, resolver);
      modelFile = wrapped.modelFile();
      engine = runtimes.get(ModelConfigResolver.ONNX_PLATFORM);
      if (engine == null || !(runtime instanceof PipelineRuntime)) {
        throw new ModelLoadException("pipeline '" + name + "': no pipeline runtime is installed");
      }
    } else {
      String problem =
          modelFileProblem(modelFile, name + "/" + version + "/" + deployment.modelFilename());
      if (problem != null) {
        throw new ModelLoadException(problem);
      }
    }
    List<ModelInstance> instances = new ArrayList<>();
    ModelStages stages = null;
    try {
      instances.add(engine.load(modelFile, deployment.sessionOptions()));
      if (pipeline != null && wrapped != null && runtime instanceof PipelineRuntime p) {
        stages = p.open(pipeline, wrapped.folders(), instances.get(0).signature(), configFile);
      }
      ModelConfig config =
          resolver
              .complete(
                  name,
                  file,
                  configFile,
                  deployment,
                  stages != null ? stages.signature() : instances.get(0).signature(),
                  stages != null ? instances.get(0).signature() : null)
              .locatedIn(dir);
      Warmup warmup = Warmup.plan(file.modelWarmup(), config, configFile, dir);
      ClassLabels labels = LabelFiles.read(config, dir, configFile);
      // Triton's reshape: the instances take and give the shapes clients use.
      ModelConfig resolved = config;
      instances.set(0, ReshapingInstance.wrap(instances.get(0), resolved));
      for (int i = 1; i < deployment.instanceCount(); i++) {
        instances.add(
            ReshapingInstance.wrap(engine.load(modelFile, deployment.sessionOptions()), resolved));
      }
      state(s, version, ModelState.LOADING, ModelState.WARMING, "", showRow);
      long warmStart = environment.ticker().nanoTime();
      List<String> outputs = config.outputs().stream().map(TensorConfig::name).toList();
      for (int i = 0; i < instances.size(); i++) {
        warmup.run(instances.get(i), i, outputs);
      }
      Duration warm = Duration.ofNanos(environment.ticker().nanoTime() - warmStart);
      // Batching inferred from the model's dynamic first dimensions (no max-batch-size written):
      // check that the dimension is a batch before requests of different clients share a pass.
      Path probed = modelFile;
      ModelRuntime probeEngine = engine;
      String notABatch =
          config.maxBatchSize() > 0
                  && file.maxBatchSize() == null
                  && stages == null
                  && config.sequenceBatching() == null
              ? BatchProbe.check(
                  () ->
                      ReshapingInstance.wrap(
                          probeEngine.load(probed, deployment.sessionOptions()), resolved),
                  config,
                  outputs)
              : null;
      // A reload of a serving version (a new configuration, same version) keeps counting in the
      // statistics of the copy it replaces, which also counts its own last requests as it drains:
      // the statistics extension and the nv_inference_* counters under the same labels never go
      // back to 0 (Prometheus cannot see a reset that is back above the old value by the next
      // scrape; an operator's soak lost 40 % of a model's requests that way).
      ModelStatistics statistics =
          serving != null
              ? serving.statistics()
              : new ModelStatistics(environment.wallClockMillis());
      // Likewise its live SLO accounting, unless the objective, the price or the instances changed.
      SloAccounting accounting =
          serving != null && serving.sloAccounting().continuesWith(config.slo(), instances.size())
              ? serving.sloAccounting()
              : new SloAccounting(config.slo(), instances.size(), ledger, environment.ticker());
      SchedulerObserver observer =
          SchedulerObserver.all(
              statistics, accounting, environment.observers().create(name, Long.toString(version)));
      ModelScheduler scheduler =
          new ModelScheduler(
              name + "-v" + version,
              config,
              instances,
              environment
                  .schedulerOptions()
                  .withObserver(observer)
                  .withInlineLimit(LONE_PASS_LIMIT)
                  .withInstanceChoice(INSTANCE_CHOICE));
      if (notABatch != null) {
        scheduler.stopJoining();
        log.warn(
            "model '{}' version {}: its first dimension is not a batch ({}): requests are not"
                + " joined into one pass; write max-batch-size: 0 in its config.yaml to say so",
            name,
            version,
            notABatch);
      }
      Duration took = Duration.ofNanos(environment.ticker().nanoTime() - start);
      ModelVersion mv =
          new ModelVersion(
              name,
              version,
              config,
              scheduler,
              statistics,
              accounting,
              took,
              warm,
              observer,
              stages,
              labels,
              folderStamp,
              notABatch,
              config.sequenceBatching() == null
                  ? null
                  : new SequenceBatcher(
                      config, scheduler, environment.ticker(), environment.timer()));
      log.info(
          "model '{}' version {} ready in {} ms (warm-up {} ms, {} instance(s), max-batch-size {})",
          name,
          version,
          took.toMillis(),
          warm.toMillis(),
          instances.size(),
          config.maxBatchSize());
      return mv;
    } catch (ConfigException | ModelLoadException | RuntimeException e) {
      for (ModelInstance i : instances) {
        i.close();
      }
      if (stages != null) {
        stages.close();
      }
      if (e instanceof RuntimeException re) {
        throw new ModelLoadException(re.toString(), re);
      }
      throw e;
    }
  }

  /**
   * The configurations of the models an ensemble's steps call, in the order of its steps, as they
   * serve now. A composing model that does not serve yet is loaded first, as Triton loads an
   * ensemble's composing models with it: under that model's own lock, on this thread, and only when
   * it can be had within {@link #COMPOSING_LOCK_WAIT} (a load that waits on this one would
   * otherwise never end); a model loaded in this chain already (an ensemble that calls itself,
   * through others) is not loaded again, and its step fails below. A step whose model is this
   * ensemble, or reaches it again through ensembles that serve now, is refused ({@link
   * #loopBack(String, String)}).
   *
   * @throws ConfigException naming the step's model field when a model is not available or closes a
   *     loop of ensembles
   */
  private List<ModelConfig> composing(
      String name, EnsembleConfig ensemble, Path configFile, boolean explicit)
      throws ConfigException {
    Set<String> chain = LOADING_CHAIN.get();
    boolean first = chain.isEmpty();
    chain.add(name);
    try {
      for (String m : ensemble.models()) {
        if (!chain.contains(m) && !servesNow(m)) {
          loadComposing(m, explicit);
        }
      }
      List<ModelConfig> out = new ArrayList<>();
      for (int i = 0; i < ensemble.steps().size(); i++) {
        EnsembleConfig.Step st = ensemble.steps().get(i);
        if (st.model().equals(name)) {
          throw new ConfigException(
              configFile,
              EnsembleConfig.modelField(configFile, i),
              "an ensemble cannot call itself");
        }
        List<String> loop = loopBack(name, st.model());
        if (loop != null) {
          // each request would recurse through them without end
          throw new ConfigException(
              configFile,
              EnsembleConfig.modelField(configFile, i),
              "the composing model '"
                  + st.model()
                  + "' forms a loop of ensembles: "
                  + String.join(" → ", loop));
        }
        try {
          out.add(resolve(st.model(), st.versionString()).config());
        } catch (InferenceException e) {
          throw new ConfigException(
              configFile,
              EnsembleConfig.modelField(configFile, i),
              "the composing model '" + st.model() + "' is not available: " + e.getMessage());
        }
      }
      return out;
    } finally {
      chain.remove(name);
      if (first) {
        LOADING_CHAIN.remove();
      }
    }
  }

  /**
   * The ensembles a request to the ensemble {@code name} would pass through to reach {@code name}
   * again by way of its step's model {@code first}, as they serve now ({@code [name, first, ...,
   * name]}), or null when it would not: a depth-first walk through the composing models that are
   * themselves ensembles. The loads of an ensemble chain on one thread stop a loop among models
   * loaded together; this one stops a loop that a reload of a serving ensemble would close.
   */
  private @Nullable List<String> loopBack(String name, String first) {
    List<String> path = new ArrayList<>();
    path.add(name);
    return loopBack(name, first, path, new HashSet<>()) ? List.copyOf(path) : null;
  }

  private boolean loopBack(String name, String at, List<String> path, Set<String> seen) {
    path.add(at);
    if (at.equals(name)) {
      return true;
    }
    if (seen.add(at)) {
      for (ModelVersion mv : versions(at)) {
        EnsembleConfig e = mv.config().ensemble();
        if (e != null) {
          for (String m : e.models()) {
            if (loopBack(name, m, path, seen)) {
              return true;
            }
          }
        }
      }
    }
    path.remove(path.size() - 1);
    return false;
  }

  /** True when {@code name} has a version serving now. */
  private boolean servesNow(String name) {
    Slot s = models.get(name);
    return s != null && !s.serving.isEmpty();
  }

  /**
   * Checks again every serving ensemble that {@code changed} is (its own load just published) or
   * that calls {@code changed} (a composing model just loaded or reloaded) against its composing
   * models as they serve now, as Triton validates an ensemble again when a model it depends on
   * changes: one that no longer fits (an output's type or shape changed, an input renamed, a
   * smaller max-batch-size) is taken out of READY, UNAVAILABLE with the reason in its index row, so
   * that its readiness says so and its requests fail with that reason instead of at a step; one
   * that fits again is READY again. The composing model's reload is not refused (Triton does not
   * refuse it either: the model is the team's to change, its own clients may need the change). An
   * ensemble whose composing model does not serve is left as it is (its readiness already answers
   * false, and its requests name the step). Takes no model's lock: the versions' states and rows
   * are changed under each version's monitor, which a retire's state change waits for.
   */
  private void recheckEnsembles(String changed) {
    synchronized (ensembleChecks) {
      for (Slot e : models.values()) {
        List<ModelVersion> serving = e.serving;
        Path file = e.ensembleFile;
        if (serving.isEmpty() || file == null) {
          continue;
        }
        ModelConfig config = serving.get(0).config();
        EnsembleConfig ensemble = config.ensemble();
        if (ensemble == null || !(e.name.equals(changed) || ensemble.models().contains(changed))) {
          continue;
        }
        String problem = composingProblem(config, ensemble, file);
        if (problem != null) {
          for (ModelVersion mv : serving) {
            refit(e, mv, problem);
          }
        }
      }
    }
  }

  /**
   * Why {@code ensemble} does not fit its composing models as they serve now ("" when it fits), or
   * null when one of them does not serve (nothing to check it against).
   */
  private @Nullable String composingProblem(
      ModelConfig config, EnsembleConfig ensemble, Path file) {
    List<ModelConfig> composing = new ArrayList<>();
    for (EnsembleConfig.Step st : ensemble.steps()) {
      try {
        composing.add(resolve(st.model(), st.versionString()).config());
      } catch (InferenceException ex) {
        return null;
      }
    }
    try {
      ensemble.checkComposing(config, composing, file);
      return "";
    } catch (ConfigException ex) {
      return source.forClients(Objects.requireNonNullElse(ex.getMessage(), ""));
    }
  }

  /**
   * Makes an ensemble version READY when {@code problem} is "", else UNAVAILABLE with it as the
   * reason; a version being retired is left alone.
   */
  private void refit(Slot e, ModelVersion mv, String problem) {
    boolean fits = problem.isEmpty();
    ModelState want = fits ? ModelState.READY : ModelState.UNAVAILABLE;
    String reason = fits ? "" : "a composing model changed after the ensemble loaded: " + problem;
    ModelState was;
    synchronized (mv) {
      was = mv.state();
      if (was != ModelState.READY && was != ModelState.UNAVAILABLE) {
        return;
      }
      ModelVersionStatus row = e.rows.get(mv.version());
      if (was == want && row != null && row.state() == want && row.reason().equals(reason)) {
        return;
      }
      mv.setState(want);
      row(e, mv.version(), was, want, reason);
    }
    if (was != want && fits) {
      log.info(
          "ensemble '{}' version {} fits its composing models again: ready", e.name, mv.version());
    } else if (was != want) {
      log.warn("ensemble '{}' version {} is not ready: {}", e.name, mv.version(), reason);
    }
  }

  /** Loads an ensemble's composing model on this thread (see {@link #composing}). */
  private void loadComposing(String name, boolean explicit) {
    Slot c = slot(name);
    try {
      if (!c.lock.tryLock(COMPOSING_LOCK_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
        return; // its step fails: not available
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    try {
      log.info("loading '{}', a composing model of an ensemble", name);
      loadModel(name, null, null, explicit);
    } catch (InferenceException e) {
      // its step fails with the reason (resolve names it)
      log.debug("composing model '{}' not loaded: {}", name, e.getMessage());
    } finally {
      c.lock.unlock();
    }
  }

  /**
   * Loads an ensemble version: no model file, its steps checked against the models they call, and a
   * scheduler that holds its statistics, admission and lifecycle as any version's (its requests run
   * as requests to those models). Its row shows LOADING and WARMING as any version's.
   */
  private ModelVersion loadEnsembleVersion(
      Slot s,
      long version,
      Path dir,
      ModelConfigFile file,
      Path configFile,
      ModelConfigResolver.Deployment deployment,
      List<ModelConfig> composing,
      @Nullable ModelVersion serving,
      String folderStamp)
      throws ConfigException {
    String name = s.name;
    long start = environment.ticker().nanoTime();
    boolean showRow = serving == null;
    state(s, version, null, ModelState.LOADING, "", showRow);
    ModelConfig config = resolver.ensemble(name, file, configFile, deployment);
    Objects.requireNonNull(config.ensemble()).checkComposing(config, composing, configFile);
    s.ensembleFile = configFile;
    ClassLabels labels = LabelFiles.read(config, dir, configFile);
    state(s, version, ModelState.LOADING, ModelState.WARMING, "", showRow);
    ModelStatistics statistics =
        serving != null ? serving.statistics() : new ModelStatistics(environment.wallClockMillis());
    SloAccounting accounting = new SloAccounting(config.slo(), 1, ledger, environment.ticker());
    SchedulerObserver observer =
        SchedulerObserver.all(
            statistics, accounting, environment.observers().create(name, Long.toString(version)));
    // Idle workers (a positive idle time) start their thread for the first request queued, and an
    // ensemble's queue stays empty: its version keeps no engine thread while it serves (its close
    // starts one for a moment, to close the instance, as for any idle worker).
    ModelScheduler scheduler =
        new ModelScheduler(
            name + "-v" + version,
            config,
            List.of(new EnsembleInstance(config)),
            environment
                .schedulerOptions()
                .withObserver(observer)
                .withWorkerIdle(ENSEMBLE_WORKER_IDLE));
    Duration took = Duration.ofNanos(environment.ticker().nanoTime() - start);
    log.info(
        "ensemble '{}' version {} ready: {} step(s) calling {}",
        name,
        version,
        config.ensemble().steps().size(),
        config.ensemble().models());
    return new ModelVersion(
        name,
        version,
        config,
        scheduler,
        statistics,
        accounting,
        took,
        Duration.ZERO,
        observer,
        null,
        labels,
        folderStamp,
        null,
        null);
  }

  /** Drains and closes a version that no longer serves. Under the slot's lock. */
  private void retire(Slot s, ModelVersion mv, String reason) {
    boolean showRow = find(s.serving, mv.version()) == null;
    mv.setState(ModelState.UNLOADING);
    state(s, mv.version(), ModelState.READY, ModelState.UNLOADING, "", showRow);
    mv.scheduler().close(); // finishes queued and running requests, then closes the instances
    mv.closeStages();
    mv.setState(ModelState.UNLOADED);
    state(s, mv.version(), ModelState.UNLOADING, ModelState.UNLOADED, reason, showRow);
    if (showRow) {
      log.info("model '{}' version {} unloaded", s.name, mv.version());
    } else {
      log.info(
          "model '{}' version {}: the copy it was reloaded over drained and closed",
          s.name,
          mv.version());
    }
  }

  private void unloadModel(String name, String reason) {
    Slot s = slot(name);
    List<ModelVersion> before = s.serving;
    s.serving = List.of();
    noteVerdict(s); // a model loaded again keeps its known-bad versions out of the baseline
    s.rollout = null;
    s.servingStamp = "";
    s.lastAttempt = null;
    s.failure = "";
    s.pushed = null;
    for (ModelVersion mv : before) {
      retire(s, mv, reason);
    }
    for (ModelVersionStatus r : s.rows.values()) {
      if (r.state() != ModelState.UNLOADED) {
        s.rows.put(
            Long.parseLong(r.version()),
            new ModelVersionStatus(name, r.version(), ModelState.UNLOADED, reason));
      }
    }
    indexChanges.incrementAndGet();
  }

  private void state(
      Slot s,
      long version,
      @Nullable ModelState from,
      ModelState to,
      String reason,
      boolean showRow) {
    if (showRow) {
      row(s, version, from, to, reason);
    } else {
      emit(new LifecycleEvent.StateChanged(s.name, version, from, to, reason));
    }
  }

  private void row(Slot s, long version, @Nullable ModelState from, ModelState to, String reason) {
    s.rows.put(version, new ModelVersionStatus(s.name, Long.toString(version), to, reason));
    indexChanges.incrementAndGet();
    emit(new LifecycleEvent.StateChanged(s.name, version, from, to, reason));
  }

  private void emit(LifecycleEvent e) {
    for (LifecycleListener l : listeners) {
      try {
        l.onEvent(e);
      } catch (RuntimeException ex) {
        log.warn("lifecycle listener failed on {}", e, ex);
      }
    }
  }

  // ---- reads (any thread) ----------------------------------------------------------------------

  /**
   * Finds the version a request is for.
   *
   * @param version an explicit version, or empty for the newest ready one
   * @throws InferenceException NOT_FOUND for an unknown model or version, UNAVAILABLE when it is
   *     known but not ready (loading, failed, unloading)
   */
  public ModelVersion resolve(String name, String version) {
    Slot s = models.get(name);
    if (s == null) {
      if (starting && onDisk.contains(name)) {
        throw InferenceException.unavailable("model '%s' is not loaded yet", name);
      }
      if (onDisk.contains(name)) {
        throw InferenceException.unavailable("model '%s' is not loaded", name);
      }
      throw InferenceException.notFound("unknown model '%s'", name);
    }
    List<ModelVersion> serving = s.serving;
    if (version == null || version.isEmpty()) {
      for (ModelVersion mv : serving) {
        if (mv.isReady()) {
          return mv;
        }
      }
      if (serving.isEmpty() && !onDisk.contains(name) && !starting) {
        // its folder was removed from the repository: gone, not coming back (503 is retried)
        throw InferenceException.notFound(
            "unknown model '%s': removed from the model repository", name);
      }
      throw InferenceException.unavailable(
          "model '%s' has no ready version%s", name, reasonSuffix(s));
    }
    for (ModelVersion mv : serving) {
      if (mv.versionString().equals(version)) {
        if (!mv.isReady()) {
          ModelVersionStatus row = s.rows.get(mv.version());
          throw InferenceException.unavailable(
              "model '%s' version %s is %s%s",
              name,
              version,
              mv.state(),
              row == null || row.reason().isEmpty() ? "" : ": " + row.reason());
        }
        return mv;
      }
    }
    for (ModelVersionStatus r : s.rows.values()) {
      if (r.version().equals(version)) {
        throw InferenceException.unavailable(
            "model '%s' version %s is %s%s",
            name,
            version,
            r.state() == ModelState.UNLOADED ? "not loaded" : r.state().name(),
            r.reason().isEmpty() ? "" : ": " + r.reason());
      }
    }
    throw InferenceException.notFound("model '%s' has no version '%s'", name, version);
  }

  /**
   * Finds the version an inference request goes to: {@link #resolve}, and for a request that names
   * no version of a model with a canary rollout, the rollout's choice between its newest version
   * and that one's baseline. Never blocks.
   */
  public ModelVersion route(String name, String version) {
    ModelVersion mv = resolve(name, version);
    Rollout r = mv.rollout();
    if (r == null || (version != null && !version.isEmpty())) {
      return mv;
    }
    return r.pick(mv);
  }

  /**
   * The model's canary rollout now, or null when it has none (or fewer than two versions serve).
   */
  public @Nullable Rollout rollout(String name) {
    Slot s = models.get(name);
    return s == null ? null : s.rollout;
  }

  /** Every model's canary rollout now, by model name. */
  public List<Rollout> rollouts() {
    List<Rollout> out = new ArrayList<>();
    for (Slot s : models.values()) {
      Rollout r = s.rollout;
      if (r != null) {
        out.add(r);
      }
    }
    out.sort(Comparator.comparing(Rollout::model));
    return out;
  }

  private static String reasonSuffix(Slot s) {
    if (!s.failure.isEmpty()) {
      return ": " + s.failure;
    }
    for (ModelVersionStatus r : s.rows.descendingMap().values()) {
      if (!r.reason().isEmpty()) {
        return ": " + r.reason();
      }
    }
    return "";
  }

  /** The serving versions of a model, newest first (empty if unknown or not loaded). */
  public List<ModelVersion> versions(String name) {
    Slot s = models.get(name);
    return s == null ? List.of() : s.serving;
  }

  /** Every serving version of every model, by model name then newest first. */
  public List<ModelVersion> served() {
    return models.values().stream()
        .sorted(Comparator.comparing(s -> s.name))
        .flatMap(s -> s.serving.stream())
        .toList();
  }

  /**
   * A count that changes after every change that may change {@link #index()}: a reader that reads
   * it before the index and again later, and finds it the same, may keep what it made of the index.
   */
  public long indexChanges() {
    return indexChanges.get();
  }

  /**
   * One row per model version the manager knows, one per model that failed before its versions were
   * known, and one ({@code UNAVAILABLE}, "not loaded") per model folder never loaded.
   */
  public List<ModelVersionStatus> index() {
    Map<String, List<ModelVersionStatus>> byName = new TreeMap<>();
    for (Slot s : models.values()) {
      List<ModelVersionStatus> rows = new ArrayList<>(s.rows.values());
      if (s.serving.isEmpty()
          && !onDisk.contains(s.name)
          && s.failure.isEmpty()
          && !rows.isEmpty()
          && rows.stream().allMatch(r -> r.state() == ModelState.UNLOADED)) {
        continue; // its folder was removed from the repository after it was unloaded
      }
      String failure = s.failure;
      if (!failure.isEmpty() && s.serving.isEmpty()) {
        rows.add(0, new ModelVersionStatus(s.name, "", ModelState.UNAVAILABLE, failure));
      } else if (!failure.isEmpty()) {
        // a changed configuration that was refused (a poll's, say): what serves says so
        rows.replaceAll(
            r ->
                r.state() == ModelState.READY && r.reason().isEmpty()
                    ? new ModelVersionStatus(
                        r.name(),
                        r.version(),
                        ModelState.READY,
                        "serving as loaded before; the last load was refused: " + failure)
                    : r);
      }
      if (rows.isEmpty()) {
        rows.add(new ModelVersionStatus(s.name, "", ModelState.UNLOADED, "not loaded"));
      }
      byName.put(s.name, rows);
    }
    for (String name : onDisk) {
      byName.computeIfAbsent(
          name,
          n ->
              List.of(
                  new ModelVersionStatus(
                      n,
                      "",
                      starting ? ModelState.LOADING : ModelState.UNLOADED,
                      starting ? "" : "not loaded")));
    }
    return byName.values().stream().flatMap(List::stream).toList();
  }

  /**
   * True when the startup load has finished and every model version that is meant to serve is ready
   * (unloaded ones do not count; a failed one does, unless another version of its model is ready).
   * A version being retired (UNLOADING) is not meant to serve, a version loading beside a ready one
   * of its model is a rollout, and a version that failed to load beside a ready one is a failed
   * rollout whose model still answers (Triton keeps serving what served when a reload fails): none
   * makes the server unready, so a readiness probe does not take a serving replica out of rotation
   * at every version swap, unload or failed push. The failed version stays UNAVAILABLE in the index
   * with its reason, and in the load-failure metric.
   */
  public boolean allReady() {
    if (starting) {
      return false;
    }
    List<ModelVersionStatus> rows = index();
    Set<String> serving = new HashSet<>();
    for (ModelVersionStatus r : rows) {
      if (r.state() == ModelState.READY) {
        serving.add(r.name());
      }
    }
    for (ModelVersionStatus r : rows) {
      boolean fine =
          switch (r.state()) {
            case READY, UNLOADING, UNLOADED -> true;
            case LOADING, WARMING, UNAVAILABLE -> serving.contains(r.name());
          };
      if (!fine) {
        return false;
      }
    }
    return true;
  }

  /** True until the startup load has finished. */
  public boolean isStarting() {
    return starting;
  }

  /**
   * Drains and unloads every model, on the calling thread, within {@code timeout}: control tasks
   * not yet started are dropped, a running unload is waited for, a running load is not (its model
   * is left as it is, and closed by its own thread when the load ends), then each serving version's
   * scheduler answers what it holds and closes its instances (see {@link ModelScheduler#close}).
   *
   * @return true when every version closed in time; false when a load or a pass still runs (its
   *     engine is left to finish, so it must not be freed under it)
   */
  public boolean closeAll(Duration timeout) {
    closing = true;
    closed = true;
    long deadline = System.nanoTime() + timeout.toNanos();
    // Every model's workers are told to stop at once (each ends its passes and closes its own
    // instance); the loop below then waits for them one by one. One after the other, each model
    // was told only when the one before it had closed: one slow pass or close held up all the
    // models after it, and those reached after the timeout were told only as the server halted
    // (a server of 500 small models took 6 to 30 s to stop on a busy 2-core box). A model whose
    // lock is held (a load or unload running) is left to the loop, which waits for it.
    for (Slot s : models.values()) {
      if (s.lock.tryLock()) {
        try {
          for (ModelVersion mv : s.serving) {
            mv.scheduler().beginClose();
          }
        } finally {
          s.lock.unlock();
        }
      }
    }
    boolean clean = true;
    for (Slot s : models.values()) {
      try {
        if (!lockUnlessLoading(s, deadline)) {
          clean = false;
          continue;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
      try {
        for (ModelVersion mv : s.serving) {
          mv.setState(ModelState.UNLOADING);
          clean &=
              mv.scheduler().close(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
          mv.closeStages();
          mv.setState(ModelState.UNLOADED);
        }
        s.serving = List.of();
        indexChanges.incrementAndGet();
      } finally {
        s.lock.unlock();
      }
    }
    return clean;
  }

  /**
   * Takes the model's lock, waiting while an unload holds it (it drains requests, which ends) but
   * not for a load: a load's session build cannot be interrupted, may last minutes, and nobody will
   * be served by it; its control thread closes what it loaded once it ends ({@link #closed}).
   * False, logged, when the lock was not taken.
   */
  private static boolean lockUnlessLoading(Slot s, long deadline) throws InterruptedException {
    while (!s.lock.tryLock(
        Math.min(LOCK_POLL.toNanos(), Math.max(0, deadline - System.nanoTime())),
        TimeUnit.NANOSECONDS)) {
      if (s.loading) {
        log.warn(
            "model '{}' is still loading; not waited for (a session build cannot be stopped)",
            s.name);
        return false;
      }
      if (System.nanoTime() - deadline >= 0) {
        log.warn("model '{}' is still unloading; left as it is", s.name);
        return false;
      }
    }
    return true;
  }

  /** The failure a CompletionException wraps, or the throwable itself. */
  private static Throwable causeOf(Throwable t) {
    Throwable cause = t.getCause();
    return cause != null ? cause : t;
  }

  /**
   * Why a model file cannot be loaded, before ONNX Runtime is asked (whose words for these are
   * "system error number 13" and a C++ signature): absent, in a version folder the server may not
   * read, unreadable, or empty (a copy that has not started, a failed download); null when it can
   * be tried. A {@code model.onnx} folder (Triton's layout with external data) is left to the
   * runtime. {@code shown}: the file relative to the repository, as reasons name it.
   */
  static @Nullable String modelFileProblem(Path modelFile, String shown) {
    Path folder = modelFile.getParent();
    if (!Files.exists(modelFile)) {
      if (folder != null
          && Files.isDirectory(folder)
          && !(Files.isReadable(folder) && Files.isExecutable(folder))) {
        return "cannot read the version folder of " + shown + ": permission denied";
      }
      return "missing model file " + shown;
    }
    if (Files.isRegularFile(modelFile)) {
      if (!Files.isReadable(modelFile)) {
        return "cannot read model file " + shown + ": permission denied";
      }
      try {
        if (Files.size(modelFile) == 0) {
          return "model file " + shown + " is empty (0 bytes)";
        }
      } catch (IOException e) {
        return "cannot read model file " + shown + ": " + why(e);
      }
    }
    return null;
  }

  /** An I/O failure in a user's words: the JDK's message of these is the bare path. */
  static String why(IOException e) {
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "no such file or folder";
    }
    if (e instanceof java.nio.file.NotDirectoryException) {
      return "not a folder";
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}
