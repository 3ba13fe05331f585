package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.error.InferenceException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The one Jackson databind configuration the HTTP transport uses (trees: metadata, repository
 * requests, the parts of an inference request read whole); the streaming parser and the first
 * replies use {@link JsonStreams} and load none of it. Thread-safe.
 */
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

  /**
   * The value at the parser's current token as a tree ({@code JsonParser.readValueAsTree()} for a
   * parser from {@link JsonStreams#FACTORY}, which has no codec); the parser is left at its last
   * token.
   */
  public static JsonNode tree(JsonParser p) throws IOException {
    return STREAMING.readTree(p);
  }

  /**
   * A request body read as a JSON object (TEI's and Ollama's codecs).
   *
   * @param fields what the object holds, for the refusal's message
   * @throws InferenceException INVALID_ARGUMENT for a body that is not valid JSON or not an object
   */
  static JsonNode requestObject(ByteBuf body, String fields) {
    JsonNode root;
    try {
      root = MAPPER.readTree(new ByteBufInputStream(body.duplicate()));
    } catch (JsonProcessingException e) {
      throw InferenceException.invalid(
          "the request body is not valid JSON: %s", e.getOriginalMessage());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (root == null || !root.isObject()) {
      throw InferenceException.invalid("the request body must be a JSON object with %s", fields);
    }
    return root;
  }
}
