package dev.fulcrum.pipelines;

import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.pipeline.ModelStages;
import dev.fulcrum.core.pipeline.PipelineRuntime;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.SessionOptions;
import java.nio.file.Path;
import java.util.List;

/**
 * The pipeline runtime: platform {@code fulcrum_pipeline} in the runtime list the repository is
 * given. A pipeline model's file is loaded by the ONNX runtime like any model's; this opens the
 * {@link ModelStages} around it. Stateless and thread-safe.
 */
public final class TextPipelines implements ModelRuntime, PipelineRuntime {

  @Override
  public String platform() {
    return PipelineConfig.PLATFORM;
  }

  @Override
  public String defaultModelFilename() {
    return "model.onnx";
  }

  /** Never called: the repository loads a pipeline's model file with the ONNX runtime. */
  @Override
  public ModelInstance load(Path modelFile, SessionOptions options) throws ModelLoadException {
    throw new ModelLoadException(
        "a pipeline model is loaded through its wrapped model: " + modelFile.getFileName());
  }

  @Override
  public ModelStages open(
      PipelineConfig pipeline, List<Path> folders, ModelSignature engine, Path configFile)
      throws ConfigException {
    return PipelineStages.open(pipeline, folders, engine, configFile);
  }
}
