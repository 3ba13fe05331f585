package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.inference.ClassLabels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the labels files a version's outputs name (Triton's {@code label_filename}, {@link
 * ClassLabels#read}). Stateless; called on the thread that loads the version.
 */
final class LabelFiles {
  private LabelFiles() {}

  /**
   * The labels of every output of {@code config} that names a file in {@code modelDir}.
   *
   * @throws ConfigException naming {@code configFile} and the output's field when a file is missing
   *     or unreadable
   */
  static ClassLabels read(ModelConfig config, Path modelDir, Path configFile)
      throws ConfigException {
    Map<String, List<String>> byOutput = new HashMap<>();
    List<TensorConfig> outputs = config.outputs();
    for (int i = 0; i < outputs.size(); i++) {
      TensorConfig o = outputs.get(i);
      String name = o.labels();
      if (name == null) {
        continue;
      }
      String field = "outputs[" + i + "].labels";
      Path file = modelDir.resolve(name);
      if (!Files.isRegularFile(file)) {
        throw new ConfigException(
            configFile, field, "no file '" + name + "' in the model's folder");
      }
      try {
        byOutput.put(o.name(), ClassLabels.read(file));
      } catch (IOException e) {
        throw new ConfigException(
            configFile, field, "cannot read '" + name + "' as UTF-8 text: " + e, e);
      }
    }
    return ClassLabels.of(byOutput);
  }
}
