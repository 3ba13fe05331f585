package dev.fulcrum.core.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Path;

/**
 * Reads {@code config.yaml} with Jackson databind: every file {@link PlainConfigMapper} leaves to
 * it (coercions, errors), and every file under {@code -Dfulcrum.config.reader=databind}. Its own
 * class so that databind's classes load with the first file that needs them, not with {@link
 * ModelConfigLoader} (docs/PERFORMANCE.md, "Session 14"). Stateless and thread-safe (one immutable
 * mapper).
 */
final class DatabindConfigReader {
  private DatabindConfigReader() {}

  /**
   * Strict where a typo would otherwise pass unnoticed: a key written twice is an error (not the
   * last one silently winning), and a fraction where a whole number belongs ({@code max-batch-size:
   * 8.7}) is not truncated.
   */
  private static final ObjectMapper YAML =
      new ObjectMapper(
              YAMLFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
          .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** The configuration in {@code text}; errors name {@code file} and the dotted field. */
  static ModelConfigFile read(String text, Path file) throws ConfigException {
    try {
      ModelConfigFile parsed = YAML.readValue(text, ModelConfigFile.class);
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
      throw new ConfigException(file, fieldPath(e), plain(e.getOriginalMessage()), e);
    } catch (JsonProcessingException e) {
      throw new ConfigException(file, "", "not valid YAML (or JSON): " + e.getOriginalMessage(), e);
    }
  }

  /** Jackson's message in the file's words: the kind of value rather than a Java type. */
  static String plain(String message) {
    return message
        .replaceAll("`java\\.util\\.(Array)?List<[^>]*>`", "a list")
        .replaceAll("`java\\.util\\.(LinkedHash|Hash)?Map<[^>]*>`", "a map")
        .replaceAll("`(java\\.lang\\.Integer|int|java\\.lang\\.Long|long)`", "a whole number")
        .replaceAll("`(java\\.lang\\.Double|double|java\\.lang\\.Float|float)`", "a number")
        .replaceAll("`(java\\.lang\\.Boolean|boolean)`", "true or false")
        .replace("`java.lang.String`", "text")
        .replaceAll("`dev\\.fulcrum\\.[\\w.$]+`", "a section")
        .replaceAll(" \\(token `JsonToken\\.[A-Z_]+`\\)", "")
        .replace(" (but could if coercion was enabled using `CoercionConfig`)", "")
        // A scalar where a section goes (slo: 10): Jackson speaks of creators and constructors.
        .replaceAll(
            "^Cannot construct instance of a section \\(although at least one Creator exists\\):"
                + " no \\w+/[\\w-]+ constructor/factory method to deserialize from (\\w+) value"
                + " (.*)$",
            "must be a section (a map of fields), not the $1 value $2");
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
