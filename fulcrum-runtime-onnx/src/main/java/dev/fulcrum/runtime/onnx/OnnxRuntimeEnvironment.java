package dev.fulcrum.runtime.onnx;

import ai.onnxruntime.OrtEnvironment;

/**
 * ONNX Runtime's process-wide environment, started ahead of the first {@link OnnxRuntimeBackend}
 * (which then shares it): for a start that wants the native library loaded before its command line
 * is read. No logger of its own, so that calling it does not set up logging on its thread first.
 *
 * <p>Thread-safety: stateless; ONNX Runtime creates the environment once, under its own lock.
 */
public final class OnnxRuntimeEnvironment {
  private OnnxRuntimeEnvironment() {}

  /** Loads ONNX Runtime's native library and creates its environment (a no-op once done). */
  public static void start() {
    OrtEnvironment.getEnvironment();
  }
}
