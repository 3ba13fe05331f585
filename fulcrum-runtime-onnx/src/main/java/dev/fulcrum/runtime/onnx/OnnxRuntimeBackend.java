package dev.fulcrum.runtime.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import dev.fulcrum.core.config.ShownPath;
import dev.fulcrum.core.runtime.ComputeNice;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.runtime.SessionOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ONNX Runtime engine: opens {@code .onnx} models as ORT sessions on the process-wide {@link
 * OrtEnvironment}.
 *
 * <p>Thread-safe: several threads may load models at once; the sessions that instances share (one
 * per model file and options for instances of one intra-op thread, see {@link #load}, and the
 * sessions of lone passes, {@code intra-op-threads-alone}, {@link LonePassSession}) are counted and
 * closed under this backend's lock, and created outside it.
 *
 * <p>The shared environment is ONNX Runtime's process singleton, so {@link #close()} leaves it
 * open; sessions are freed by closing their {@link ModelInstance}s.
 *
 * <p>With an optimized-model cache folder ({@link #OnnxRuntimeBackend(Path)}), a session is created
 * from the graph ONNX Runtime optimized on an earlier load of the same model file and options
 * ({@link OptimizedModelCache}); the first load optimizes the model and writes the graph there.
 *
 * <p>With a {@link ComputeNice} that lowers, each session is created on a short-lived thread of its
 * own at that nice, so that ONNX Runtime's pool threads, which inherit it, yield to the event
 * loops.
 */
public final class OnnxRuntimeBackend implements ModelRuntime {
  /** The platform name of a model configuration served by this runtime. */
  public static final String PLATFORM = "onnxruntime_onnx";

  /** The file looked for in a version folder when the configuration names none. */
  public static final String DEFAULT_MODEL_FILENAME = "model.onnx";

  private static final Logger log = LoggerFactory.getLogger(OnnxRuntimeBackend.class);

  /** Model files larger than this are never cached (read whole into memory; protobuf's limit). */
  private static final long CACHE_MAX_MODEL_BYTES = 1L << 30;

  private final OrtEnvironment env;

  /** Where optimized graphs are kept, or null: every load optimizes the model. */
  private final @Nullable OptimizedModelCache cache;

  /** Lone-pass sessions by model file and options; guarded by {@code this}. */
  private final Map<SessionKey, LonePassSession> lonePassSessions = new HashMap<>();

  /**
   * The sessions of instances of one intra-op thread, by model file and options; guarded by {@code
   * this}.
   */
  private final Map<SessionKey, SharedSession> sharedSessions = new HashMap<>();

  /** The nice of the sessions' pool threads. */
  private final ComputeNice computeNice;

  /**
   * The system property that gives a pass of one row its own intra-op thread count ({@link
   * #oneRowIntraOpThreads}); 0 or unset: off.
   */
  public static final String ONE_ROW_INTRA_OP_THREADS = "fulcrum.onnx.one-row-intra-op-threads";

  /**
   * Intra-op threads of a pass of one row, on a second session of each instance, or 0: every pass
   * on the instance's session. On two cores MiniLM's one-row pass took 1.6 ms on one thread against
   * 2.2 ms on two that do not spin (the pool's worker is woken per operator); batches keep the
   * instance's threads (docs/PERFORMANCE.md, "Session 18: one row on one thread").
   */
  private final int oneRowIntraOpThreads;

  /**
   * The threads of the process-wide intra-op pool that sessions of more than one intra-op thread
   * share ({@link #withGlobalThreadPool}), or 0: each such session has a pool of its own.
   */
  private final int globalIntraOpThreads;

  /**
   * The system property that turns the shared session of one-thread instances off ({@code false}:
   * each instance makes its own, as before session 25), read once when the backend is made; for A/B
   * measurements.
   */
  public static final String SHARED_SESSIONS = "fulcrum.onnx.shared-sessions";

  /** Whether instances of one intra-op thread share one session ({@link #SHARED_SESSIONS}). */
  private final boolean sharedSessionsOn =
      Boolean.parseBoolean(System.getProperty(SHARED_SESSIONS, "true"));

  /** Model files loaded once already: their later loads log ONNX Runtime's errors only. */
  private final Set<Path> warnedOnce = ConcurrentHashMap.newKeySet();

  /**
   * Each model file's graph bounds, read once per version of the file (its size and modification
   * time): every instance of a model, and every model of one file (the demo's token-id model and
   * its text pipeline), loads with the same. Reading MiniLM's 22 MB graph took 24–33 ms in a fresh
   * JVM, four times at the demo's start, beside the other models' loads.
   */
  private final Map<Path, FileBounds> indexBounds = new ConcurrentHashMap<>();

  private record FileBounds(long size, long modified, IndexBounds.Found found) {}

  private record SessionKey(Path file, SessionOptions options, boolean cacheable) {}

  /**
   * One session that instances of the same model file and options share: made by the first
   * instance's load (outside the backend's lock, so that other models load meanwhile; a second
   * instance waits for it), closed when the last instance closes. {@link #users} is guarded by the
   * backend.
   */
  private static final class SharedSession {
    final CompletableFuture<OrtSession> session = new CompletableFuture<>();
    int users;
  }

  /** A backend without an optimized-model cache: every load optimizes its model. */
  public OnnxRuntimeBackend() {
    this(OrtEnvironment.getEnvironment(), null, ComputeNice.none());
  }

  /**
   * @param optimizedModelCache the folder where optimized graphs are kept between loads and starts
   *     (created when first written), or null for none
   */
  public OnnxRuntimeBackend(@Nullable Path optimizedModelCache) {
    this(OrtEnvironment.getEnvironment(), optimizedModelCache, ComputeNice.none());
  }

  /**
   * @param optimizedModelCache as in {@link #OnnxRuntimeBackend(Path)}
   * @param computeNice the nice of the sessions' intra/inter-op pool threads
   */
  public OnnxRuntimeBackend(@Nullable Path optimizedModelCache, ComputeNice computeNice) {
    this(OrtEnvironment.getEnvironment(), optimizedModelCache, computeNice);
  }

  OnnxRuntimeBackend(OrtEnvironment env) {
    this(env, null, ComputeNice.none());
  }

  private OnnxRuntimeBackend(
      OrtEnvironment env, @Nullable Path optimizedModelCache, ComputeNice computeNice) {
    this(env, optimizedModelCache, computeNice, oneRowThreadsProperty());
  }

  /**
   * @param oneRowIntraOpThreads intra-op threads of a pass of one row on a second session of each
   *     instance (0: none), see {@link #ONE_ROW_INTRA_OP_THREADS}
   */
  OnnxRuntimeBackend(
      OrtEnvironment env,
      @Nullable Path optimizedModelCache,
      ComputeNice computeNice,
      int oneRowIntraOpThreads) {
    this(env, optimizedModelCache, computeNice, oneRowIntraOpThreads, 0);
  }

  private OnnxRuntimeBackend(
      OrtEnvironment env,
      @Nullable Path optimizedModelCache,
      ComputeNice computeNice,
      int oneRowIntraOpThreads,
      int globalIntraOpThreads) {
    if (oneRowIntraOpThreads < 0 || oneRowIntraOpThreads > 1024) {
      throw new IllegalArgumentException(
          ONE_ROW_INTRA_OP_THREADS + " must be 0..1024, was " + oneRowIntraOpThreads);
    }
    this.oneRowIntraOpThreads = oneRowIntraOpThreads;
    this.globalIntraOpThreads = globalIntraOpThreads;
    this.env = Objects.requireNonNull(env, "env");
    this.computeNice = Objects.requireNonNull(computeNice, "computeNice");
    this.cache =
        optimizedModelCache == null
            ? null
            : new OptimizedModelCache(optimizedModelCache, env.getVersion());
  }

  /** The name of the threads of the shared intra-op pool ({@link #withGlobalThreadPool}). */
  static final String GLOBAL_POOL_THREAD_NAME = "fulcrum-onnx-pool";

  /**
   * A backend whose sessions of more than one intra-op thread (the default for a model alone on a
   * machine of several cores) run their operators on one pool of {@code intraOpThreads} threads
   * that the whole process shares (ONNX Runtime's global thread pool; Triton's {@code
   * enable-global-threadpool}), instead of on a pool each sized to the machine: with many models on
   * one server, per-session pools made the threads grow as models × cores (500 models on 64 cores:
   * ~32,000 threads). Sessions of one intra-op thread keep running on their caller's thread, as
   * without it. Its threads do not spin when idle and are named {@value #GLOBAL_POOL_THREAD_NAME}.
   *
   * <p>It creates ONNX Runtime's process environment, so it must come before anything else in the
   * process uses ONNX Runtime.
   *
   * @param optimizedModelCache as in {@link #OnnxRuntimeBackend(Path)}
   * @param computeNice the nice of the pool's threads
   * @param intraOpThreads the shared pool's threads, 1..1024
   * @throws IllegalStateException when ONNX Runtime's environment exists already
   */
  public static OnnxRuntimeBackend withGlobalThreadPool(
      @Nullable Path optimizedModelCache, ComputeNice computeNice, int intraOpThreads) {
    if (intraOpThreads < 1 || intraOpThreads > 1024) {
      throw new IllegalArgumentException(
          "the shared intra-op pool's threads must be 1..1024, was " + intraOpThreads);
    }
    // The pool's threads are made with the environment, on a thread of its own: they take its
    // name and nice.
    FutureTask<OrtEnvironment> create =
        new FutureTask<>(
            () -> {
              if (computeNice.lowers()) {
                computeNice.applyToCurrentThread();
              }
              try (OrtEnvironment.ThreadingOptions threads =
                  new OrtEnvironment.ThreadingOptions()) {
                threads.setGlobalIntraOpNumThreads(intraOpThreads);
                threads.setGlobalInterOpNumThreads(1);
                threads.setGlobalSpinControl(false);
                return OrtEnvironment.getEnvironment(
                    OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
                    OrtEnvironment.DEFAULT_NAME,
                    threads);
              }
            });
    Thread.ofPlatform().name(GLOBAL_POOL_THREAD_NAME).start(create);
    OrtEnvironment env;
    try {
      env = create.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while making ONNX Runtime's environment", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new IllegalStateException(
          "ONNX Runtime's shared thread pool could not be made: " + e.getCause(), e.getCause());
    }
    return new OnnxRuntimeBackend(
        env, optimizedModelCache, computeNice, oneRowThreadsProperty(), intraOpThreads);
  }

  /** The shared intra-op pool's threads, or 0 when each session has its own pool. */
  public int globalIntraOpThreads() {
    return globalIntraOpThreads;
  }

  private static int oneRowThreadsProperty() {
    String value = System.getProperty(ONE_ROW_INTRA_OP_THREADS, "0").trim();
    try {
      return Integer.parseInt(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          ONE_ROW_INTRA_OP_THREADS + " must be a whole number, was \"" + value + "\"", e);
    }
  }

  @Override
  public String platform() {
    return PLATFORM;
  }

  @Override
  public String defaultModelFilename() {
    return DEFAULT_MODEL_FILENAME;
  }

  /** The ONNX Runtime version in use, e.g. {@code 1.23.2}. */
  public String engineVersion() {
    return env.getVersion();
  }

  /**
   * {@inheritDoc}
   *
   * <p>{@code modelFile} may be the {@code .onnx} file or a folder holding {@value
   * #DEFAULT_MODEL_FILENAME} (Triton's layout for models with external data files next to them).
   */
  @Override
  public ModelInstance load(Path modelFile, SessionOptions options) throws ModelLoadException {
    Objects.requireNonNull(modelFile, "modelFile");
    Objects.requireNonNull(options, "options");
    Path file =
        Files.isDirectory(modelFile) ? modelFile.resolve(DEFAULT_MODEL_FILENAME) : modelFile;
    if (!Files.isRegularFile(file)) {
      throw new ModelLoadException("ONNX model file " + ShownPath.of(file) + " does not exist");
    }
    SessionKey key =
        new SessionKey(file.toAbsolutePath().normalize(), options, !Files.isDirectory(modelFile));
    // Instances of one intra-op thread share one session: each pass runs on the calling engine
    // thread (there is no pool to share), concurrent passes of one session are ONNX Runtime's
    // contract, and the weights are held once instead of once per instance (~26 MB per MiniLM
    // instance). With more threads each instance keeps its own pool, so its own session.
    boolean share = sharedSessionsOn && options.intraOpThreads() == 1;
    SharedSession held = share ? acquireSharedSession(key) : null;
    OrtSession session;
    if (held != null) {
      session = held.session.join(); // completed by acquireSharedSession
    } else {
      try {
        session = createSession(file, options, key.cacheable());
      } catch (OrtException e) {
        throw loadFailure(file, "", e);
      }
    }
    Runnable releaseSession =
        held != null
            ? () -> releaseSharedSession(key, held)
            : () -> closeSession(session, "the session");
    LonePassSession lone = null;
    try {
      lone = options.threadsByLoad() ? acquireLonePassSession(key) : null;
      // The model's onnxruntime.intra-op-threads-one-row, else the server-wide property.
      int oneRowThreads =
          options.intraOpThreadsOneRow() > 0
              ? options.intraOpThreadsOneRow()
              : oneRowIntraOpThreads;
      OneRowSession oneRow = null;
      if (oneRowThreads > 0 && oneRowThreads != options.intraOpThreads() && lone == null) {
        SessionOptions narrow = options.withIntraOpThreads(oneRowThreads);
        oneRow = new OneRowSession(() -> oneRowSession(key, narrow), ShownPath.of(file));
      }
      LonePassSession shared = lone;
      return new OnnxModelInstance(
          env,
          session,
          releaseSession,
          indexBounds(file),
          shared,
          shared == null ? () -> {} : () -> releaseLonePassSession(key, shared),
          oneRow);
    } catch (ModelLoadException | RuntimeException e) {
      if (lone != null) {
        releaseLonePassSession(key, lone);
      }
      try {
        releaseSession.run();
      } catch (RuntimeException closing) {
        e.addSuppressed(closing);
      }
      throw e;
    }
  }

  /** {@code file}'s graph bounds, read when the file is new or changed since they were read. */
  private IndexBounds.Found indexBounds(Path file) {
    long size;
    long modified;
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
      size = a.size();
      modified = a.lastModifiedTime().toMillis();
    } catch (IOException e) {
      return IndexBounds.of(file); // it says what it can (nothing, from a file it cannot read)
    }
    Path key = file.toAbsolutePath().normalize();
    FileBounds known = indexBounds.get(key);
    if (known != null && known.size() == size && known.modified() == modified) {
      return known.found();
    }
    IndexBounds.Found found = IndexBounds.of(file);
    indexBounds.put(key, new FileBounds(size, modified, found));
    return found;
  }

  /**
   * The session the instances of one intra-op thread of {@code key}'s file and options share: made
   * by the first (outside the lock), waited for by the others, counted per instance; returned with
   * its session made.
   */
  private SharedSession acquireSharedSession(SessionKey key) throws ModelLoadException {
    SharedSession shared;
    boolean create;
    synchronized (this) {
      shared = sharedSessions.get(key);
      create = shared == null;
      if (shared == null) {
        shared = new SharedSession();
        sharedSessions.put(key, shared);
      }
      shared.users++;
    }
    if (create) {
      try {
        shared.session.complete(createSession(key.file(), key.options(), key.cacheable()));
      } catch (OrtException e) {
        failShared(key, shared, e);
        throw loadFailure(key.file(), "", e);
      } catch (ModelLoadException | RuntimeException | Error e) {
        failShared(key, shared, e);
        throw e;
      }
    }
    try {
      shared.session.join();
      return shared;
    } catch (CompletionException e) {
      // The first instance's load failed (and said why); this one fails the same way.
      synchronized (this) {
        shared.users--;
      }
      Throwable cause = e.getCause();
      if (cause instanceof OrtException ort) {
        throw loadFailure(key.file(), "", ort);
      }
      if (cause instanceof ModelLoadException load) {
        throw new ModelLoadException(load.getMessage(), load);
      }
      throw new ModelLoadException("could not load " + ShownPath.of(key.file()), e);
    }
  }

  /** The first instance could not make the shared session: the next load tries again. */
  private void failShared(SessionKey key, SharedSession shared, Throwable cause) {
    synchronized (this) {
      sharedSessions.remove(key, shared);
    }
    shared.session.completeExceptionally(cause);
  }

  /** Called once per instance that held it; the last closes the shared session. */
  private void releaseSharedSession(SessionKey key, SharedSession shared) {
    synchronized (this) {
      if (--shared.users > 0) {
        return;
      }
      sharedSessions.remove(key, shared);
    }
    closeSession(shared.session.join(), "a session shared by instances");
  }

  /** Closes {@code session}; ORT's failure is a bug here, named by {@code what} was closed. */
  private static void closeSession(OrtSession session, String what) {
    try {
      session.close();
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime could not close " + what, e);
    }
  }

  /**
   * The lone-pass session of a model file and options, created by the first instance that needs it
   * (with {@code intra-op-threads-alone} threads) and shared by the others.
   */
  private synchronized LonePassSession acquireLonePassSession(SessionKey key)
      throws ModelLoadException {
    LonePassSession lone = lonePassSessions.get(key);
    if (lone == null) {
      SessionOptions wide = key.options().withIntraOpThreads(key.options().intraOpThreadsAlone());
      try {
        lone = new LonePassSession(createSession(key.file(), wide, key.cacheable()));
      } catch (OrtException e) {
        throw loadFailure(key.file(), " for lone passes", e);
      }
      lonePassSessions.put(key, lone);
    }
    lone.users++;
    return lone;
  }

  /** The second session of an instance, for its passes of one row. */
  private OrtSession oneRowSession(SessionKey key, SessionOptions options)
      throws ModelLoadException {
    try {
      return createSession(key.file(), options, key.cacheable());
    } catch (OrtException e) {
      throw loadFailure(key.file(), " for passes of one row", e);
    }
  }

  /** ONNX Runtime's failure to make a session of {@code file}, naming no path beyond its own. */
  private static ModelLoadException loadFailure(Path file, String purpose, OrtException e) {
    return new ModelLoadException(
        "ONNX Runtime could not load "
            + ShownPath.of(file)
            + purpose
            + ": "
            + String.valueOf(e.getMessage()).replace(file.toString(), ShownPath.of(file)),
        e);
  }

  /** Called once per instance that held it; the last closes the shared session. */
  private synchronized void releaseLonePassSession(SessionKey key, LonePassSession lone) {
    if (--lone.users > 0) {
      return;
    }
    lonePassSessions.remove(key, lone);
    closeSession(lone.session(), "a lone-pass session");
  }

  /**
   * A session on {@code file}, from the optimized-model cache when there is one and it holds this
   * model's graph; otherwise optimized from the file (and its graph written to the cache). A model
   * in Triton's folder layout ({@code cacheable} false: it may have external data files beside it)
   * and a model over 1 GiB are never cached. Any cache failure falls back to the plain load.
   */
  private OrtSession createSession(Path file, SessionOptions options, boolean cacheable)
      throws OrtException, ModelLoadException {
    if (!computeNice.lowers()) {
      return createSessionHere(file, options, cacheable);
    }
    // The session's intra/inter-op threads take the nice of the thread that creates them, and a
    // thread cannot lower its nice again: a thread of its own (named as this one, so that the
    // pool's threads keep the loader's name) sets it and creates the session.
    FutureTask<OrtSession> create =
        new FutureTask<>(
            () -> {
              computeNice.applyToCurrentThread();
              return createSessionHere(file, options, cacheable);
            });
    Thread.ofPlatform().name(Thread.currentThread().getName()).start(create);
    try {
      return create.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelLoadException("interrupted while loading " + ShownPath.of(file), e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof OrtException ort) {
        throw ort;
      }
      if (cause instanceof ModelLoadException load) {
        throw load;
      }
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new ModelLoadException("could not load " + ShownPath.of(file), e);
    }
  }

  private OrtSession createSessionHere(Path file, SessionOptions options, boolean cacheable)
      throws OrtException, ModelLoadException {
    // ONNX Runtime's load warnings (an unused initializer, say) are worth a line at a file's first
    // load, not again at each reload, instance or fulcrum tune trial.
    boolean quiet = !warnedOnce.add(file.toAbsolutePath().normalize());
    OptimizedModelCache.Entry entry = null;
    if (cache != null && cacheable) {
      try {
        if (Files.size(file) <= CACHE_MAX_MODEL_BYTES) {
          entry = cache.entry(file, options);
        }
      } catch (IOException e) {
        log.debug("optimized-model cache: cannot read {}: {}", ShownPath.of(file), e.toString());
      }
    }
    if (cache == null || entry == null) {
      try (OrtSession.SessionOptions ortOptions = sessionOptions(options, quiet)) {
        return env.createSession(file.toString(), ortOptions);
      }
    }
    SessionOptions.OptimizationLevel loadLevel =
        options.optimizationLevel() == SessionOptions.OptimizationLevel.ALL
            ? SessionOptions.OptimizationLevel.ALL // the layout pass, never saved: see the cache
            : SessionOptions.OptimizationLevel.DISABLED;
    ByteBuffer graph = cache.read(entry);
    if (graph != null) {
      try (OrtSession.SessionOptions ortOptions = sessionOptions(options, quiet)) {
        ortOptions.setOptimizationLevel(optLevel(loadLevel));
        OrtSession session = env.createSession(graph, ortOptions);
        log.debug("{}: optimized graph from {}", ShownPath.of(file), entry.file());
        return session;
      } catch (OrtException e) {
        log.warn(
            "optimized-model cache: ONNX Runtime could not load {} ({}); optimizing {} again",
            entry.file(),
            e.getMessage(),
            ShownPath.of(file));
        cache.discard(entry);
      }
    }
    Path written;
    try {
      written = cache.temporaryFile();
    } catch (IOException e) {
      log.warn("optimized-model cache: cannot write in {}: {}", cache.dir(), e.toString());
      try (OrtSession.SessionOptions ortOptions = sessionOptions(options, quiet)) {
        return env.createSession(file.toString(), ortOptions);
      }
    }
    OrtSession session;
    try (OrtSession.SessionOptions ortOptions = sessionOptions(options, quiet)) {
      ortOptions.setOptimizationLevel(optLevel(entry.savedLevel()));
      ortOptions.setOptimizedModelFilePath(written.toString());
      session = env.createSession(file.toString(), ortOptions);
    } catch (OrtException e) {
      // Saving can fail where loading does not (a graph over protobuf's 2 GiB once its external
      // data is inlined): load as without a cache, which fails alone if the model is at fault.
      deleteQuietly(written);
      log.warn(
          "optimized-model cache: ONNX Runtime could not save the optimized graph of {} ({});"
              + " loading it without the cache",
          ShownPath.of(file),
          e.getMessage());
      try (OrtSession.SessionOptions ortOptions = sessionOptions(options, quiet)) {
        return env.createSession(file.toString(), ortOptions);
      }
    } catch (ModelLoadException | RuntimeException e) {
      deleteQuietly(written);
      throw e;
    }
    try {
      cache.store(entry, written);
      log.debug("{}: optimized graph written to {}", ShownPath.of(file), entry.file());
    } catch (IOException e) {
      log.warn("optimized-model cache: cannot write {}: {}", entry.file(), e.toString());
      deleteQuietly(written);
    }
    if (entry.savedLevel() == options.optimizationLevel()) {
      return session;
    }
    // Saved below the configured level (ALL's layout pass is machine-specific): serve a session
    // made the way every later start makes it, so the first start runs the same graph.
    session.close();
    ByteBuffer saved = cache.read(entry);
    try (OrtSession.SessionOptions ortOptions = sessionOptions(options, quiet)) {
      if (saved != null) {
        ortOptions.setOptimizationLevel(optLevel(loadLevel));
        return env.createSession(saved, ortOptions);
      }
      return env.createSession(file.toString(), ortOptions);
    }
  }

  private static void deleteQuietly(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      log.debug("cannot delete {}: {}", file, e.toString());
    }
  }

  /** Lone-pass sessions open now (for tests). */
  synchronized int lonePassSessionCount() {
    return lonePassSessions.size();
  }

  /** Sessions shared by instances of one intra-op thread, open now (for tests). */
  synchronized int sharedSessionCount() {
    return sharedSessions.size();
  }

  /**
   * {@link #sessionOptions(SessionOptions)}, logging errors only when {@code quiet}; on the shared
   * intra-op pool when there is one and the session is not of one intra-op thread.
   */
  private OrtSession.SessionOptions sessionOptions(SessionOptions options, boolean quiet)
      throws ModelLoadException {
    boolean shared = globalIntraOpThreads > 0 && options.intraOpThreads() != 1;
    OrtSession.SessionOptions o = sessionOptions(shared ? options.withIntraOpThreads(0) : options);
    if (shared) {
      try {
        o.disablePerSessionThreads();
      } catch (OrtException e) {
        o.close();
        throw new ModelLoadException(
            "ONNX Runtime rejected the shared thread pool: " + e.getMessage(), e);
      }
    }
    if (quiet) {
      try {
        o.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
      } catch (OrtException e) {
        log.debug("ONNX Runtime's session log level: {}", e.toString());
      }
    }
    return o;
  }

  /** Translates Fulcrum's engine options into ORT session options. */
  static OrtSession.SessionOptions sessionOptions(SessionOptions options)
      throws ModelLoadException {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    try {
      if (options.intraOpThreads() > 0) {
        o.setIntraOpNumThreads(options.intraOpThreads());
      }
      if (options.interOpThreads() > 0) {
        o.setInterOpNumThreads(options.interOpThreads());
      }
      String spin = options.allowSpinning() ? "1" : "0";
      o.addConfigEntry("session.intra_op.allow_spinning", spin);
      o.addConfigEntry("session.inter_op.allow_spinning", spin);
      o.setOptimizationLevel(optLevel(options.optimizationLevel()));
      o.setExecutionMode(
          switch (options.executionMode()) {
            case SEQUENTIAL -> OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL;
            case PARALLEL -> OrtSession.SessionOptions.ExecutionMode.PARALLEL;
          });
      o.setCPUArenaAllocator(options.memoryArena());
      o.setMemoryPatternOptimization(options.memoryPattern());
      addExecutionProvider(o, options);
      return o;
    } catch (OrtException e) {
      o.close();
      throw new ModelLoadException(
          "ONNX Runtime rejected the session options: " + e.getMessage(), e);
    } catch (ModelLoadException | RuntimeException e) {
      o.close();
      throw e;
    }
  }

  private static OrtSession.SessionOptions.OptLevel optLevel(
      SessionOptions.OptimizationLevel level) {
    return switch (level) {
      case DISABLED -> OrtSession.SessionOptions.OptLevel.NO_OPT;
      case BASIC -> OrtSession.SessionOptions.OptLevel.BASIC_OPT;
      case EXTENDED -> OrtSession.SessionOptions.OptLevel.EXTENDED_OPT;
      case ALL -> OrtSession.SessionOptions.OptLevel.ALL_OPT;
    };
  }

  private static void addExecutionProvider(OrtSession.SessionOptions o, SessionOptions options)
      throws OrtException, ModelLoadException {
    String provider = options.executionProvider().trim().toLowerCase(Locale.ROOT);
    switch (provider) {
      case "", "cpu" -> {}
      case "cuda" -> {
        if (!OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
          throw new ModelLoadException(
              "the CUDA execution provider was requested, but this ONNX Runtime build has no"
                  + " CUDA support (available providers: "
                  + OrtEnvironment.getAvailableProviders()
                  + "); put com.microsoft.onnxruntime:onnxruntime_gpu on the class path instead"
                  + " of onnxruntime, or run the model on the CPU (execution-provider: cpu in"
                  + " config.yaml; kind: KIND_CPU in config.pbtxt's instance_group)");
        }
        if (options.deviceId() < 0) {
          throw new ModelLoadException("CUDA device id must be >= 0, not " + options.deviceId());
        }
        o.addCUDA(options.deviceId());
      }
      default ->
          throw new ModelLoadException(
              "unknown execution provider \""
                  + options.executionProvider()
                  + "\"; ONNX Runtime models support \"cpu\" and \"cuda\"");
    }
  }
}
