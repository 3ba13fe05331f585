package dev.fulcrum.core.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a model's configuration: {@code config.yaml}, or a file of one of the registered {@link
 * ModelConfigFormat}s (Triton's {@code config.pbtxt}); errors name the file and the field.
 * Immutable and thread-safe: loader threads share one instance.
 */
public final class ModelConfigLoader {
  /** The file name of Fulcrum's own configuration format. */
  public static final String YAML_FILE = "config.yaml";

  private static final Logger log = LoggerFactory.getLogger(ModelConfigLoader.class);

  /**
   * The YAML parser of the plain path; databind ({@link DatabindConfigReader}) is created only for
   * a file the plain path leaves to it, so a start whose configurations are plain loads no databind
   * class for them (docs/PERFORMANCE.md, "Session 14").
   */
  private final YAMLFactory yamlFactory = new YAMLFactory();

  private final List<ModelConfigFormat> formats;

  /**
   * Whether config.yaml is mapped without databind when it holds only plain values ({@link
   * PlainConfigMapper}; databind still reads everything else and reports every error). {@code
   * -Dfulcrum.config.reader=databind} reads everything with databind, as before session 10
   * (docs/PERFORMANCE.md, "Session 10"), for A/B starts.
   */
  private static final boolean PLAIN =
      !"databind".equals(System.getProperty("fulcrum.config.reader"));

  /** A loader that reads {@code config.yaml} only. */
  public ModelConfigLoader() {
    this(List.of());
  }

  /**
   * @param formats other formats, tried in this order when a model folder has no config.yaml
   */
  public ModelConfigLoader(List<ModelConfigFormat> formats) {
    this.formats = List.copyOf(formats);
  }

  /**
   * A model folder's configuration and the file it came from.
   *
   * @param file the file read, relative to the repository ({@code <model>/config.yaml}); name it in
   *     messages. {@code <model>/config.yaml} when the folder has no configuration file at all.
   */
  public record FolderConfig(ModelConfigFile config, Path file) {}

  /**
   * Reads the configuration of a model folder: {@code config.yaml} if present, else the first
   * registered format whose file is present, else the empty configuration (completed from the model
   * file). When config.yaml and another format's file are both present, config.yaml wins and one
   * warning names both.
   *
   * @param modelDir {@code <repository>/<model>}
   */
  public FolderConfig readFolder(Path modelDir) throws ConfigException {
    Path model = modelDir.getFileName();
    Path shownYaml = model.resolve(YAML_FILE);
    List<ModelConfigFormat> present = new ArrayList<>();
    for (ModelConfigFormat f : formats) {
      if (Files.isRegularFile(modelDir.resolve(f.fileName()))) {
        present.add(f);
      }
    }
    if (Files.exists(modelDir.resolve(YAML_FILE))) {
      if (!present.isEmpty()) {
        log.warn(
            "{} and {} both exist; using {}",
            shownYaml,
            model.resolve(present.get(0).fileName()),
            shownYaml);
      }
      return new FolderConfig(
          parseYaml(readText(modelDir.resolve(YAML_FILE), shownYaml), shownYaml), shownYaml);
    }
    if (present.isEmpty()) {
      return new FolderConfig(ModelConfigFile.empty(), shownYaml);
    }
    ModelConfigFormat format = present.get(0);
    Path shown = model.resolve(format.fileName());
    return new FolderConfig(
        format.parse(readText(modelDir.resolve(format.fileName()), shown), shown), shown);
  }

  /** Reads a {@code config.yaml} file; an absent file reads as the empty configuration. */
  public ModelConfigFile read(Path file) throws ConfigException {
    if (!Files.exists(file)) {
      return ModelConfigFile.empty();
    }
    return parseYaml(readText(file, file), file);
  }

  private static String readText(Path file, Path shown) throws ConfigException {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new ConfigException(shown, "", "cannot be read: " + e.getMessage(), e);
    }
  }

  private ModelConfigFile parseYaml(String text, Path file) throws ConfigException {
    if (text.isBlank()) {
      return ModelConfigFile.empty();
    }
    if (PLAIN) {
      try (JsonParser p = yamlFactory.createParser(text)) {
        ModelConfigFile plain = PlainConfigMapper.read(p);
        if (plain != null) {
          return plain;
        }
      } catch (IOException e) {
        // databind below reads it again and reports the error as it always did
      }
    }
    return DatabindConfigReader.read(text, file);
  }

  /**
   * Parses a configuration given as text, e.g. the override of a repository load request: in
   * config.yaml's schema (JSON or YAML), else in a registered format's JSON form ({@link
   * ModelConfigFormat#parseLoadConfig}: Triton's {@code ModelConfig}, as tritonclient's {@code
   * load_model(config=...)} sends it); {@code source} names it in error messages, and the error of
   * a text in neither is config.yaml's.
   */
  public ModelConfigFile parse(String text, Path source) throws ConfigException {
    try {
      return parseYaml(text, source);
    } catch (ConfigException yamlError) {
      for (ModelConfigFormat f : formats) {
        ModelConfigFile other = f.parseLoadConfig(text, source);
        if (other != null) {
          return other;
        }
      }
      throw yamlError;
    }
  }
}
