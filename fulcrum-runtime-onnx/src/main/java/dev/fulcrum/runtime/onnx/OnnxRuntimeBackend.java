package dev.fulcrum.runtime.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import dev.fulcrum.core.config.ShownPath;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.runtime.SessionOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The ONNX Runtime engine: opens {@code .onnx} models as ORT sessions on the process-wide {@link
 * OrtEnvironment}.
 *
 * <p>Thread-safe: several threads may load models at once (each load builds its own session); the
 * sessions of lone passes ({@code intra-op-threads-alone}, {@link LonePassSession}) that the
 * instances of one model share are created, counted and closed under this backend's lock.
 *
 * <p>The shared environment is ONNX Runtime's process singleton, so {@link #close()} leaves it
 * open; sessions are freed by closing their {@link ModelInstance}s.
 */
public final class OnnxRuntimeBackend implements ModelRuntime {
  /** The platform name of a model configuration served by this runtime. */
  public static final String PLATFORM = "onnxruntime_onnx";

  /** The file looked for in a version folder when the configuration names none. */
  public static final String DEFAULT_MODEL_FILENAME = "model.onnx";

  private final OrtEnvironment env;

  /** Lone-pass sessions by model file and options; guarded by {@code this}. */
  private final Map<LoneKey, LonePassSession> lonePassSessions = new HashMap<>();

  private record LoneKey(Path file, SessionOptions options) {}

  public OnnxRuntimeBackend() {
    this(OrtEnvironment.getEnvironment());
  }

  OnnxRuntimeBackend(OrtEnvironment env) {
    this.env = Objects.requireNonNull(env, "env");
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
    OrtSession session;
    try (OrtSession.SessionOptions ortOptions = sessionOptions(options)) {
      session = env.createSession(file.toString(), ortOptions);
    } catch (OrtException e) {
      throw new ModelLoadException(
          "ONNX Runtime could not load "
              + ShownPath.of(file)
              + ": "
              + String.valueOf(e.getMessage()).replace(file.toString(), ShownPath.of(file)),
          e);
    }
    LoneKey key = new LoneKey(file.toAbsolutePath().normalize(), options);
    LonePassSession lone = null;
    try {
      lone = options.threadsByLoad() ? acquireLonePassSession(key) : null;
      LonePassSession shared = lone;
      return new OnnxModelInstance(
          env,
          session,
          IndexBounds.of(file),
          shared,
          shared == null ? () -> {} : () -> releaseLonePassSession(key, shared));
    } catch (ModelLoadException | RuntimeException e) {
      if (lone != null) {
        releaseLonePassSession(key, lone);
      }
      closeQuietly(session, e);
      throw e;
    }
  }

  /**
   * The lone-pass session of a model file and options, created by the first instance that needs it
   * (with {@code intra-op-threads-alone} threads) and shared by the others.
   */
  private synchronized LonePassSession acquireLonePassSession(LoneKey key)
      throws ModelLoadException {
    LonePassSession lone = lonePassSessions.get(key);
    if (lone == null) {
      SessionOptions wide = key.options().withIntraOpThreads(key.options().intraOpThreadsAlone());
      try (OrtSession.SessionOptions ortOptions = sessionOptions(wide)) {
        lone = new LonePassSession(env.createSession(key.file().toString(), ortOptions));
      } catch (OrtException e) {
        throw new ModelLoadException(
            "ONNX Runtime could not load "
                + ShownPath.of(key.file())
                + " for lone passes: "
                + String.valueOf(e.getMessage())
                    .replace(key.file().toString(), ShownPath.of(key.file())),
            e);
      }
      lonePassSessions.put(key, lone);
    }
    lone.users++;
    return lone;
  }

  /** Called once per instance that held it; the last closes the shared session. */
  private synchronized void releaseLonePassSession(LoneKey key, LonePassSession lone) {
    if (--lone.users > 0) {
      return;
    }
    lonePassSessions.remove(key, lone);
    try {
      lone.session().close();
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime could not close a lone-pass session", e);
    }
  }

  /** Lone-pass sessions open now (for tests). */
  synchronized int lonePassSessionCount() {
    return lonePassSessions.size();
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
      o.setOptimizationLevel(
          switch (options.optimizationLevel()) {
            case DISABLED -> OrtSession.SessionOptions.OptLevel.NO_OPT;
            case BASIC -> OrtSession.SessionOptions.OptLevel.BASIC_OPT;
            case EXTENDED -> OrtSession.SessionOptions.OptLevel.EXTENDED_OPT;
            case ALL -> OrtSession.SessionOptions.OptLevel.ALL_OPT;
          });
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
                  + " of onnxruntime, or use execution provider \"cpu\"");
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

  private static void closeQuietly(OrtSession session, Exception primary) {
    try {
      session.close();
    } catch (OrtException | RuntimeException e) {
      primary.addSuppressed(e);
    }
  }
}
