package dev.fulcrum.core.repository;

import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * A repository load request as the transport received it, read only when its load runs: on a
 * control thread, under the model's lock, its {@code file:<version>/<path>} parameters decoded
 * straight into the push's files ({@link ModelFiles.Push}). So a large push is neither decoded on a
 * transport's threads, which serve other requests meanwhile, nor held in memory decoded.
 *
 * <p>Concurrency: {@link #read} runs at most once, on a control thread; {@link #release} exactly
 * once, after it or instead of it, on any thread.
 */
public interface LoadRequestBody {
  /**
   * Reads the request: writes its model files through {@code files} and returns its {@code config}
   * parameter's text, or null when it has none.
   *
   * @throws dev.fulcrum.core.error.InferenceException INVALID_ARGUMENT for a request or parameter
   *     refused, naming it
   * @throws IOException when a file cannot be written
   */
  @Nullable String read(ModelFiles.Push files) throws IOException;

  /**
   * Frees what holds the request (the transport's buffer); called once, whether read ran or not.
   */
  void release();
}
