package dev.fulcrum.core.config;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * Another file format a model folder's configuration may be written in, besides {@code config.yaml}
 * (for example Triton's {@code config.pbtxt}, which the server module reads with protobuf so that
 * the core never depends on it). {@link ModelConfigLoader#readFolder} tries {@code config.yaml}
 * first, then each registered format in order. Implementations are stateless and thread-safe:
 * several loader threads call them at once.
 */
public interface ModelConfigFormat {
  /** The file this format reads in a model folder, such as {@code config.pbtxt}. */
  String fileName();

  /**
   * Parses the file's text into the configuration as written; fields the format has and Fulcrum
   * does not are the format's to report (a warning), not an error.
   *
   * @param text the file's whole content
   * @param file the file as messages name it: relative to the repository ({@code
   *     <model>/config.pbtxt}), never an absolute path
   * @throws ConfigException naming {@code file} and the field (with line and column where the
   *     format knows them)
   */
  ModelConfigFile parse(String text, Path file) throws ConfigException;

  /**
   * Parses the configuration of a repository load request ({@code parameters.config}) when it is
   * written in this format's JSON form (Triton's load API sends a {@code ModelConfig} as JSON, as
   * its {@code GET .../config} returns it); the loader asks only when the text is not a valid
   * config.yaml. Null when the text is not in this format, so that config.yaml's error stands.
   *
   * @param source how messages name it
   */
  default @Nullable ModelConfigFile parseLoadConfig(String text, Path source)
      throws ConfigException {
    return null;
  }
}
