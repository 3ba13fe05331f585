package dev.fulcrum.core.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads {@code config.yaml} files; errors name the file and the field. Thread-safe. */
public final class ModelConfigLoader {
  private final ObjectMapper yaml =
      new ObjectMapper(new YAMLFactory())
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** Reads a file; an absent file reads as the empty configuration. */
  public ModelConfigFile read(Path file) throws ConfigException {
    if (!Files.exists(file)) {
      return ModelConfigFile.empty();
    }
    try {
      String text = Files.readString(file);
      if (text.isBlank()) {
        return ModelConfigFile.empty();
      }
      ModelConfigFile parsed = yaml.readValue(text, ModelConfigFile.class);
      return parsed == null ? ModelConfigFile.empty() : parsed;
    } catch (UnrecognizedPropertyException e) {
      throw new ConfigException(
          file,
          fieldPath(e),
          "unknown field '"
              + e.getPropertyName()
              + "'; known fields here: "
              + e.getKnownPropertyIds(),
          e);
    } catch (JsonMappingException e) {
      throw new ConfigException(file, fieldPath(e), e.getOriginalMessage(), e);
    } catch (JsonProcessingException e) {
      throw new ConfigException(file, "", "not valid YAML: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new ConfigException(file, "", "cannot be read: " + e.getMessage(), e);
    }
  }

  /**
   * Parses a configuration given as text (JSON or YAML), e.g. the override of a repository load
   * request; {@code source} names it in error messages.
   */
  public ModelConfigFile parse(String text, Path source) throws ConfigException {
    try {
      ModelConfigFile parsed = text.isBlank() ? null : yaml.readValue(text, ModelConfigFile.class);
      return parsed == null ? ModelConfigFile.empty() : parsed;
    } catch (UnrecognizedPropertyException e) {
      throw new ConfigException(
          source,
          fieldPath(e),
          "unknown field '"
              + e.getPropertyName()
              + "'; known fields here: "
              + e.getKnownPropertyIds(),
          e);
    } catch (JsonMappingException e) {
      throw new ConfigException(source, fieldPath(e), e.getOriginalMessage(), e);
    } catch (JsonProcessingException e) {
      throw new ConfigException(source, "", "not valid JSON or YAML: " + e.getOriginalMessage(), e);
    }
  }

  static String fieldPath(JsonMappingException e) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference r : e.getPath()) {
      if (r.getFieldName() != null) {
        if (!sb.isEmpty()) {
          sb.append('.');
        }
        sb.append(r.getFieldName());
      } else if (r.getIndex() >= 0) {
        sb.append('[').append(r.getIndex()).append(']');
      }
    }
    return sb.toString();
  }
}
