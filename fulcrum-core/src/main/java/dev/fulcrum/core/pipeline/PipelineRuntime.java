package dev.fulcrum.core.pipeline;

import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelSignature;
import java.nio.file.Path;
import java.util.List;

/**
 * Opens the stages of a pipeline model (the SPI fulcrum-pipelines implements). The repository loads
 * the wrapped model file with the ONNX runtime as for any model, then asks this for the stages
 * around it. Thread-safe.
 */
public interface PipelineRuntime {

  /**
   * Opens the steps of a pipeline.
   *
   * @param pipeline the validated steps
   * @param folders where the steps' files are looked for, in order (the pipeline's folder, then the
   *     wrapped model's)
   * @param engine the wrapped model's signature
   * @throws ModelLoadException naming the file or the tensor when the steps cannot run on it
   */
  ModelStages open(PipelineConfig pipeline, List<Path> folders, ModelSignature engine)
      throws ModelLoadException;
}
