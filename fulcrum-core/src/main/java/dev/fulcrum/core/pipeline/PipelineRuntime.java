package dev.fulcrum.core.pipeline;

import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.PipelineConfig;
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
   * @param configFile the pipeline's config.yaml, which errors name
   * @throws ConfigException naming {@code configFile} and the field ({@code
   *     pipeline.pre[0].statistics}, ...) when a step's file is wrong or a step cannot run on the
   *     wrapped model
   */
  ModelStages open(
      PipelineConfig pipeline, List<Path> folders, ModelSignature engine, Path configFile)
      throws ConfigException;
}
