package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

/** The one Jackson configuration the HTTP transport uses. Thread-safe. */
public final class Json {
  private Json() {}

  /** Rejects duplicate keys and trailing content; keeps big integers exact (UINT64). */
  public static final ObjectMapper MAPPER =
      new ObjectMapper(
              JsonFactory.builder()
                  .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                  .build())
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .disable(JsonParser.Feature.AUTO_CLOSE_SOURCE);

  /**
   * {@link #MAPPER} for the values a streaming parser reads as trees inside a larger document
   * (parameters, outputs): the same factory, without the trailing-token check, which the streaming
   * reader makes itself at the document's end.
   */
  static final ObjectMapper STREAMING =
      MAPPER.copy().disable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
}
