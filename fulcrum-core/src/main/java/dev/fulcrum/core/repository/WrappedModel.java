package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.runtime.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SortedSet;

/**
 * Where a pipeline model's engine file is: the file of another model of the repository (its version
 * folder and its {@code default-model-filename}), or a file in the pipeline's own folder; and the
 * folders its steps' files are looked for in. Stateless; runs on a control thread.
 *
 * @param modelFile the ONNX file the pipeline runs
 * @param folders the pipeline's folder, then the wrapped model's (if any)
 */
record WrappedModel(Path modelFile, List<Path> folders) {

  static WrappedModel find(
      String name,
      Path dir,
      PipelineConfig pipeline,
      RepositorySource source,
      ModelConfigResolver resolver)
      throws ModelLoadException, ConfigException {
    if (pipeline.modelFile() != null) {
      Path file = dir.resolve(pipeline.modelFile()).normalize();
      if (!file.startsWith(dir) || !Files.isRegularFile(file)) {
        throw new ModelLoadException(
            "pipeline '" + name + "': missing model file " + name + "/" + pipeline.modelFile());
      }
      return new WrappedModel(file, List.of(dir));
    }
    String wrapped = java.util.Objects.requireNonNull(pipeline.model(), "model");
    Path wrappedDir = source.scan().models().get(wrapped);
    if (wrapped.equals(name) || wrappedDir == null) {
      throw new ModelLoadException(
          "pipeline '"
              + name
              + "': pipeline.model '"
              + wrapped
              + "' is not another model of the model repository");
    }
    ModelConfigLoader.FolderConfig read = source.readConfig(wrappedDir);
    if (read.config().pipeline() != null) {
      throw new ModelLoadException(
          "pipeline '" + name + "': pipeline.model '" + wrapped + "' is a pipeline itself");
    }
    ModelConfigResolver.Deployment d = resolver.deployment(wrapped, read.config(), read.file());
    long version = pipeline.modelVersion();
    if (version == 0) {
      SortedSet<Long> versions;
      try {
        versions = source.versions(wrappedDir);
      } catch (IOException e) {
        throw new ModelLoadException("cannot list " + wrappedDir + ": " + e.getMessage(), e);
      }
      if (versions.isEmpty()) {
        throw new ModelLoadException(
            "pipeline '" + name + "': model '" + wrapped + "' has no version folder");
      }
      version = versions.last();
    }
    Path file = wrappedDir.resolve(Long.toString(version)).resolve(d.modelFilename());
    if (!Files.isRegularFile(file)) {
      throw new ModelLoadException(
          "pipeline '"
              + name
              + "': missing model file "
              + wrapped
              + "/"
              + version
              + "/"
              + d.modelFilename());
    }
    return new WrappedModel(file, List.of(dir, wrappedDir));
  }
}
