package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.StreamReadFeature;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The HTTP transport's streaming JSON (jackson-core only): the parser of the inference request and
 * the writer of the small replies a fresh server gives first (health, errors). Kept apart from
 * {@link Json}, whose databind {@code ObjectMapper}s are built only when a request needs a tree or
 * a reply is written from one: the first inference answer and the probes before it load no databind
 * class (docs/PERFORMANCE.md, "Cold start", session 14). Thread-safe.
 */
public final class JsonStreams {
  private JsonStreams() {}

  /**
   * Configured as {@link Json#MAPPER}'s factory: rejects duplicate keys, leaves the source open.
   * Parsers from it have no codec; a tree inside the request is read with {@link Json#tree}. Its
   * parsers read a floating-point number with Jackson's bundled FastDoubleParser straight from the
   * token's characters instead of through a {@code String} and {@link Double#parseDouble}: the same
   * correctly rounded double for every JSON number (the tokenizer has already checked the syntax),
   * without the two objects per element (docs/PERFORMANCE.md, "Per-request cost", session 18).
   */
  public static final JsonFactory FACTORY =
      JsonFactory.builder()
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .disable(StreamReadFeature.AUTO_CLOSE_SOURCE)
          .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
          .build();

  /** {@code {"<field>":"<value>"}}, the value escaped as {@link Json#MAPPER} escapes it. */
  public static byte[] object(String field, String value) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(value.length() + field.length() + 8);
    try (JsonGenerator g = FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField(field, value);
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** {@code {"<field>":true}} or {@code false}, as {@link Json#MAPPER} writes it. */
  public static byte[] object(String field, boolean value) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(field.length() + 12);
    try (JsonGenerator g = FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeBooleanField(field, value);
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }
}
