package dev.fulcrum.core.runtime;

import java.nio.file.Path;

/**
 * An inference engine that can open model files of one platform (the runtime SPI).
 *
 * <p>Implementations are thread-safe: the repository may load several models at once.
 */
public interface ModelRuntime extends AutoCloseable {

  /**
   * The platform this runtime serves, as written in a model configuration, e.g. {@code
   * onnxruntime_onnx}.
   */
  String platform();

  /** The file name looked for in a version folder when the configuration names none. */
  String defaultModelFilename();

  /**
   * Opens one instance of a model (for ONNX Runtime, one session).
   *
   * @param modelFile the model file (or folder, for formats that use one)
   * @param options engine options from the model's configuration
   * @throws ModelLoadException with the engine's message when the model cannot be opened
   */
  ModelInstance load(Path modelFile, SessionOptions options) throws ModelLoadException;

  /** Releases engine-wide resources. */
  @Override
  default void close() {}
}
