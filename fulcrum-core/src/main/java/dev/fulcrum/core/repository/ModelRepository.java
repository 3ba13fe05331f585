package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.inference.InferenceException;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.scheduler.ModelScheduler;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.stats.ModelStatistics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models found in one or more repository folders laid out as Triton's: {@code
 * <repo>/<model>/<version>/model.onnx} with an optional {@code <repo>/<model>/config.yaml} (or a
 * file of a format the {@link ModelConfigLoader} was given, such as Triton's config.pbtxt).
 *
 * <p>{@link #loadAll()} loads every model on a small pool of named loader threads; a model that
 * fails to load is recorded with its reason and does not stop the others. After loading, the served
 * versions are published through a concurrent map that request threads read lock-free.
 */
public final class ModelRepository implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ModelRepository.class);
  private static final Pattern VERSION_DIR = Pattern.compile("[1-9][0-9]{0,17}");
  public static final String CONFIG_FILE = "config.yaml";

  private final List<Path> roots;
  private final Map<String, ModelRuntime> runtimes;
  private final ModelConfigResolver resolver;
  private final SchedulerEnvironment environment;
  private final boolean ownsEnvironment;
  private final ModelConfigLoader loader;
  private final ConcurrentMap<String, ModelEntry> models = new ConcurrentHashMap<>();
  private volatile boolean loading = true;

  /** A model's published versions (newest first) and the status rows of all it tried. */
  private record ModelEntry(
      String name, Path dir, List<ModelVersion> versions, List<ModelVersionStatus> statuses) {}

  /**
   * @param roots the repository folders, searched in order
   * @param runtimes the engines, one per platform
   * @param resolver fills in and validates configurations
   */
  public ModelRepository(
      List<Path> roots, List<ModelRuntime> runtimes, ModelConfigResolver resolver) {
    this(roots, runtimes, resolver, SchedulerEnvironment.system(), true, new ModelConfigLoader());
  }

  /**
   * @param environment time, threads and observers for the schedulers; the caller closes it
   */
  public ModelRepository(
      List<Path> roots,
      List<ModelRuntime> runtimes,
      ModelConfigResolver resolver,
      SchedulerEnvironment environment) {
    this(roots, runtimes, resolver, environment, false, new ModelConfigLoader());
  }

  /**
   * @param environment time, threads and observers for the schedulers; the caller closes it
   * @param loader reads each model folder's configuration, in the formats it was given
   */
  public ModelRepository(
      List<Path> roots,
      List<ModelRuntime> runtimes,
      ModelConfigResolver resolver,
      SchedulerEnvironment environment,
      ModelConfigLoader loader) {
    this(roots, runtimes, resolver, environment, false, loader);
  }

  private ModelRepository(
      List<Path> roots,
      List<ModelRuntime> runtimes,
      ModelConfigResolver resolver,
      SchedulerEnvironment environment,
      boolean ownsEnvironment,
      ModelConfigLoader loader) {
    this.environment = environment;
    this.loader = loader;
    this.ownsEnvironment = ownsEnvironment;
    this.roots = List.copyOf(roots);
    Map<String, ModelRuntime> byPlatform = new LinkedHashMap<>();
    for (ModelRuntime r : runtimes) {
      byPlatform.put(r.platform(), r);
    }
    this.runtimes = Map.copyOf(byPlatform);
    this.resolver = resolver;
  }

  /** Loads every model in every root, using up to {@code threads} loader threads; blocks. */
  public void loadAll(int threads) {
    Map<String, Path> found = new LinkedHashMap<>();
    for (Path root : roots) {
      if (!Files.isDirectory(root)) {
        log.error("model repository {} is not a folder", root);
        continue;
      }
      try (Stream<Path> dirs = Files.list(root)) {
        for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
          String name = dir.getFileName().toString();
          if (name.startsWith(".")) {
            continue;
          }
          Path earlier = found.putIfAbsent(name, dir);
          if (earlier != null) {
            String reason =
                "model '" + name + "' is in two repositories: " + earlier + " and " + dir;
            log.error(reason);
            models.put(name, failed(name, dir, reason));
            found.remove(name);
          }
        }
      } catch (IOException e) {
        log.error("cannot list model repository {}: {}", root, e.toString());
      }
    }
    AtomicInteger n = new AtomicInteger();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.max(1, threads),
            r -> Thread.ofPlatform().name("fulcrum-load-" + n.getAndIncrement()).unstarted(r));
    try {
      List<Future<?>> jobs = new ArrayList<>();
      for (Map.Entry<String, Path> e : found.entrySet()) {
        if (!models.containsKey(e.getKey())) {
          jobs.add(pool.submit(() -> loadModel(e.getKey(), e.getValue())));
        }
      }
      for (Future<?> job : jobs) {
        try {
          job.get();
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return;
        } catch (java.util.concurrent.ExecutionException ee) {
          log.error("model loading failed unexpectedly", ee.getCause());
        }
      }
    } finally {
      pool.shutdown();
      loading = false;
    }
  }

  private static ModelEntry failed(String name, Path dir, String reason) {
    return new ModelEntry(
        name,
        dir,
        List.of(),
        List.of(new ModelVersionStatus(name, "", ModelState.UNAVAILABLE, reason)));
  }

  private void loadModel(String name, Path dir) {
    ModelConfigFile file;
    Path configFile;
    ModelConfigResolver.Deployment deployment;
    try {
      ModelConfigLoader.FolderConfig found = loader.readFolder(dir);
      file = found.config();
      configFile = found.file();
      deployment = resolver.deployment(name, file, configFile);
    } catch (ConfigException e) {
      log.error("model '{}' not loaded: {}", name, e.getMessage());
      models.put(name, failed(name, dir, e.getMessage()));
      return;
    }
    ModelRuntime runtime = runtimes.get(deployment.platform());
    if (runtime == null) {
      models.put(name, failed(name, dir, "no runtime for platform " + deployment.platform()));
      return;
    }
    SortedSet<Long> available = new TreeSet<>();
    try (Stream<Path> entries = Files.list(dir)) {
      entries
          .filter(Files::isDirectory)
          .map(p -> p.getFileName().toString())
          .filter(s -> VERSION_DIR.matcher(s).matches())
          .forEach(s -> available.add(Long.parseLong(s)));
    } catch (IOException e) {
      models.put(name, failed(name, dir, "cannot list " + dir + ": " + e.getMessage()));
      return;
    }
    List<Long> selected = deployment.versionPolicy().select(available);
    if (selected.isEmpty()) {
      String reason =
          available.isEmpty()
              ? "no version folders in "
                  + dir
                  + " (expected "
                  + dir
                  + "/1/"
                  + deployment.modelFilename()
                  + ")"
              : "the version policy selects none of the versions " + available;
      log.error("model '{}' not loaded: {}", name, reason);
      models.put(name, failed(name, dir, reason));
      return;
    }
    List<ModelVersion> ready = new ArrayList<>();
    List<ModelVersionStatus> statuses = new ArrayList<>();
    for (long v : selected) {
      try {
        ModelVersion mv = loadVersion(name, dir, v, file, configFile, deployment, runtime);
        ready.add(mv);
        statuses.add(new ModelVersionStatus(name, Long.toString(v), ModelState.READY, ""));
        log.info(
            "model '{}' version {} ready in {} ms ({} instance(s), max-batch-size {})",
            name,
            v,
            mv.loadDuration().toMillis(),
            mv.scheduler().instanceCount(),
            mv.config().maxBatchSize());
      } catch (ConfigException | ModelLoadException e) {
        log.error("model '{}' version {} not loaded: {}", name, v, e.getMessage());
        statuses.add(
            new ModelVersionStatus(name, Long.toString(v), ModelState.UNAVAILABLE, e.getMessage()));
      }
    }
    ready.sort(Comparator.comparingLong(ModelVersion::version).reversed());
    models.put(name, new ModelEntry(name, dir, List.copyOf(ready), List.copyOf(statuses)));
  }

  private ModelVersion loadVersion(
      String name,
      Path dir,
      long version,
      ModelConfigFile file,
      Path configFile,
      ModelConfigResolver.Deployment deployment,
      ModelRuntime runtime)
      throws ConfigException, ModelLoadException {
    long start = System.nanoTime();
    Path modelFile = dir.resolve(Long.toString(version)).resolve(deployment.modelFilename());
    if (!Files.exists(modelFile)) {
      throw new ModelLoadException("missing model file " + modelFile);
    }
    List<ModelInstance> instances = new ArrayList<>();
    try {
      instances.add(runtime.load(modelFile, deployment.sessionOptions()));
      ModelConfig config =
          resolver.complete(name, file, configFile, deployment, instances.get(0).signature());
      for (int i = 1; i < deployment.instanceCount(); i++) {
        instances.add(runtime.load(modelFile, deployment.sessionOptions()));
      }
      ModelStatistics statistics = new ModelStatistics(environment.wallClockMillis());
      SchedulerObserver observer =
          SchedulerObserver.all(
              statistics, environment.observers().create(name, Long.toString(version)));
      ModelScheduler scheduler =
          new ModelScheduler(
              name + "-v" + version,
              config,
              instances,
              environment.ticker(),
              environment.workerThreads(),
              environment.timer(),
              observer);
      return new ModelVersion(
          name,
          version,
          config,
          scheduler,
          statistics,
          Duration.ofNanos(System.nanoTime() - start));
    } catch (ConfigException | ModelLoadException | RuntimeException e) {
      for (ModelInstance i : instances) {
        i.close();
      }
      if (e instanceof RuntimeException re) {
        throw new ModelLoadException(re.toString(), re);
      }
      throw e;
    }
  }

  /**
   * Finds the version a request is for.
   *
   * @param version an explicit version, or empty for the newest ready one
   * @throws InferenceException NOT_FOUND for an unknown model or version, UNAVAILABLE when it is
   *     known but not ready
   */
  public ModelVersion resolve(String name, String version) {
    ModelEntry e = models.get(name);
    if (e == null) {
      if (loading) {
        throw InferenceException.unavailable("model '%s' is not loaded yet", name);
      }
      throw InferenceException.notFound("unknown model '%s'", name);
    }
    if (version == null || version.isEmpty()) {
      for (ModelVersion mv : e.versions()) {
        if (mv.isReady()) {
          return mv;
        }
      }
      throw InferenceException.unavailable(
          "model '%s' has no ready version%s", name, reasonSuffix(e, ""));
    }
    for (ModelVersion mv : e.versions()) {
      if (mv.versionString().equals(version)) {
        if (!mv.isReady()) {
          throw InferenceException.unavailable(
              "model '%s' version %s is %s", name, version, mv.state());
        }
        return mv;
      }
    }
    for (ModelVersionStatus s : e.statuses()) {
      if (s.version().equals(version)) {
        throw InferenceException.unavailable(
            "model '%s' version %s is not ready: %s", name, version, s.reason());
      }
    }
    throw InferenceException.notFound("model '%s' has no version '%s'", name, version);
  }

  private static String reasonSuffix(ModelEntry e, String version) {
    for (ModelVersionStatus s : e.statuses()) {
      if (s.version().equals(version) && !s.reason().isEmpty()) {
        return ": " + s.reason();
      }
    }
    return e.statuses().isEmpty() ? "" : ": " + e.statuses().get(0).reason();
  }

  /** The served versions of a model, newest first (empty if unknown or failed). */
  public List<ModelVersion> versions(String name) {
    ModelEntry e = models.get(name);
    return e == null ? List.of() : e.versions();
  }

  /** Every served version of every model, by model name then newest first. */
  public List<ModelVersion> served() {
    return models.values().stream()
        .sorted(Comparator.comparing(ModelEntry::name))
        .flatMap(e -> e.versions().stream())
        .toList();
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

  /** Whether the repository knows the model at all, loaded or not. */
  public boolean contains(String name) {
    return models.containsKey(name);
  }

  /** One row per model version, or per model that failed before its versions were known. */
  public List<ModelVersionStatus> index() {
    List<ModelVersionStatus> out = new ArrayList<>();
    models.values().stream()
        .sorted(Comparator.comparing(ModelEntry::name))
        .forEach(
            e -> {
              for (ModelVersionStatus s : e.statuses()) {
                Optional<ModelVersion> mv =
                    e.versions().stream()
                        .filter(v -> v.versionString().equals(s.version()))
                        .findFirst();
                out.add(
                    mv.map(
                            v ->
                                new ModelVersionStatus(
                                    s.name(), s.version(), v.state(), s.reason()))
                        .orElse(s));
              }
            });
    return out;
  }

  /** True when loading has finished and every model version found is ready. */
  public boolean allReady() {
    return !loading && index().stream().allMatch(s -> s.state() == ModelState.READY);
  }

  public boolean isLoading() {
    return loading;
  }

  @Override
  public void close() {
    for (ModelEntry e : models.values()) {
      for (ModelVersion v : e.versions()) {
        v.setState(ModelState.UNLOADING);
        v.scheduler().close();
        v.setState(ModelState.UNAVAILABLE);
      }
    }
    if (ownsEnvironment) {
      environment.close();
    }
  }
}
