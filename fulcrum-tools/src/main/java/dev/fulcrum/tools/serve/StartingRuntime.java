package dev.fulcrum.tools.serve;

import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.runtime.SessionOptions;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A runtime whose engine is still starting (ONNX Runtime's native library and environment, on a
 * start thread): the repository is built, the folders scanned and the configurations read while it
 * starts, and only the first {@link #load} waits for it (docs/PERFORMANCE.md, "Cold start").
 *
 * <p>Thread-safety: {@link #load} may be called from any thread; every caller waits for the same
 * future.
 */
final class StartingRuntime implements ModelRuntime {
  private final String platform;
  private final String defaultModelFilename;
  private final CompletableFuture<? extends ModelRuntime> engine;

  StartingRuntime(
      String platform,
      String defaultModelFilename,
      CompletableFuture<? extends ModelRuntime> engine) {
    this.platform = platform;
    this.defaultModelFilename = defaultModelFilename;
    this.engine = engine;
  }

  @Override
  public String platform() {
    return platform;
  }

  @Override
  public String defaultModelFilename() {
    return defaultModelFilename;
  }

  @Override
  public ModelInstance load(Path modelFile, SessionOptions options) throws ModelLoadException {
    ModelRuntime started;
    try {
      started = engine.join();
    } catch (CompletionException e) {
      Exception cause = Startup.cause(e);
      throw new ModelLoadException("the " + platform + " engine did not start: " + cause, cause);
    }
    return started.load(modelFile, options);
  }

  @Override
  public void close() {
    engine.thenAccept(ModelRuntime::close);
  }
}
