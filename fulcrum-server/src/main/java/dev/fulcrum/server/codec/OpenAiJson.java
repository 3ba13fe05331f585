package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.ByteBufOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The JSON of the OpenAI-compatible embeddings API ({@code POST /v1/embeddings}, {@code GET
 * /v1/models}): its request decoded into a typed {@link EmbeddingsRequest}, its answers and its
 * error body written in OpenAI's shapes. Stateless and thread-safe.
 */
public final class OpenAiJson {
  private OpenAiJson() {}

  /** The most texts one request may embed: OpenAI's own bound for {@code input}. */
  public static final int MAX_INPUTS = 2048;

  /**
   * A decoded embeddings request.
   *
   * @param model the {@code model} field: the name of the Fulcrum model to run
   * @param input the texts, in order (a single string is a list of one), never empty, none empty
   * @param base64 {@code encoding_format: "base64"}: each vector as base64 of its little-endian
   *     float32 bytes; false for {@code "float"} (the default), a JSON array of numbers
   * @param dimensions the {@code dimensions} field, or 0 when it is absent (the model's own)
   * @param truncate whether a text longer than the pipeline's tokenizer takes may be cut (always on
   *     {@code /v1/embeddings}; TEI's and Ollama's {@code truncate}); false refuses it (413)
   */
  public record EmbeddingsRequest(
      String model, List<String> input, boolean base64, int dimensions, boolean truncate) {
    public EmbeddingsRequest {
      input = List.copyOf(input);
    }

    /** A request that lets the pipeline cut a longer text, as OpenAI's API does. */
    public EmbeddingsRequest(String model, List<String> input, boolean base64, int dimensions) {
      this(model, input, base64, dimensions, true);
    }
  }

  /**
   * A client's mistake in an OpenAI request (400), naming the request field it is about, as
   * OpenAI's error body does ({@code param}).
   */
  public static final class InvalidField extends InferenceException {
    private static final long serialVersionUID = 1L;

    private final String param;

    public InvalidField(String param, String message) {
      super(ErrorCode.INVALID_ARGUMENT, message);
      this.param = param;
    }

    /** The request field ({@code input}, {@code model}, ...). */
    public String param() {
      return param;
    }
  }

  /**
   * Decodes a {@code POST /v1/embeddings} body. Fields OpenAI defines that mean nothing here
   * ({@code user}) and fields it does not define are ignored, as the servers that offer this API
   * beside OpenAI (TEI, Infinity) ignore them.
   *
   * @throws InvalidField for a body that is not such a request, naming the field
   */
  public static EmbeddingsRequest decodeEmbeddings(ByteBuf body) {
    JsonNode root;
    try {
      root = Json.MAPPER.readTree(new ByteBufInputStream(body.duplicate()));
    } catch (JsonProcessingException e) {
      throw new InvalidField("", "the request body is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (root == null || !root.isObject()) {
      throw new InvalidField("", "the request body must be a JSON object with 'model' and 'input'");
    }
    JsonNode model = root.get("model");
    if (model == null || model.isNull()) {
      throw new InvalidField("model", "'model' is required: the name of a text-embedding model");
    }
    if (!model.isTextual() || model.asText().isEmpty()) {
      throw new InvalidField("model", "'model' must be a non-empty string, was " + shown(model));
    }
    List<String> input = input(root.get("input"));
    boolean base64 = base64(root.get("encoding_format"));
    int dimensions = dimensions(root.get("dimensions"));
    return new EmbeddingsRequest(model.asText(), input, base64, dimensions);
  }

  private static List<String> input(@Nullable JsonNode input) {
    if (input == null || input.isNull()) {
      throw new InvalidField("input", "'input' is required: a string or an array of strings");
    }
    if (input.isTextual()) {
      return List.of(text(input.asText(), -1));
    }
    if (!input.isArray()) {
      throw new InvalidField(
          "input", "'input' must be a string or an array of strings, was " + shown(input));
    }
    if (input.isEmpty()) {
      throw new InvalidField("input", "'input' is an empty array: give at least one string");
    }
    if (input.size() > MAX_INPUTS) {
      throw new InvalidField(
          "input",
          "'input' has "
              + input.size()
              + " items; at most "
              + MAX_INPUTS
              + " per request: send the rest in further requests");
    }
    List<String> texts = new ArrayList<>(input.size());
    for (int i = 0; i < input.size(); i++) {
      JsonNode item = input.get(i);
      if (item.isTextual()) {
        texts.add(text(item.asText(), i));
      } else if (item.isIntegralNumber() || (item.isArray() && isTokenIds(item))) {
        throw new InvalidField(
            "input",
            "'input' holds token ids (input["
                + i
                + "] is "
                + shown(item)
                + "): send text. This server tokenizes with the model's own tokenizer, and ids made"
                + " by another (OpenAI's tiktoken) would mean other words. LangChain's"
                + " OpenAIEmbeddings sends ids unless it is made with"
                + " check_embedding_ctx_length=False");
      } else {
        throw new InvalidField("input", "'input[" + i + "]' must be a string, was " + shown(item));
      }
    }
    return texts;
  }

  private static boolean isTokenIds(JsonNode array) {
    for (JsonNode n : array) {
      if (!n.isIntegralNumber()) {
        return false;
      }
    }
    return true;
  }

  private static String text(String s, int index) {
    if (s.isEmpty()) {
      throw new InvalidField(
          "input",
          (index < 0 ? "'input'" : "'input[" + index + "]'")
              + " is an empty string, which has no embedding: leave it out");
    }
    return s;
  }

  private static boolean base64(@Nullable JsonNode format) {
    if (format == null || format.isNull()) {
      return false;
    }
    if (format.isTextual() && format.asText().equals("float")) {
      return false;
    }
    if (format.isTextual() && format.asText().equals("base64")) {
      return true;
    }
    throw new InvalidField(
        "encoding_format",
        "'encoding_format' must be \"float\" or \"base64\", was " + shown(format));
  }

  private static int dimensions(@Nullable JsonNode dimensions) {
    if (dimensions == null || dimensions.isNull()) {
      return 0;
    }
    if (!dimensions.isIntegralNumber() || !dimensions.canConvertToInt() || dimensions.asInt() < 1) {
      throw new InvalidField(
          "dimensions", "'dimensions' must be a positive integer, was " + shown(dimensions));
    }
    return dimensions.asInt();
  }

  private static String shown(JsonNode n) {
    String s = n.toString();
    return s.length() > 60 ? s.substring(0, 60) + "..." : s;
  }

  /**
   * The vectors of an embeddings request, each already cut to the dimensions asked (see {@link
   * #truncated}).
   */
  public static ByteBuf encodeEmbeddings(
      ByteBufAllocator alloc,
      String model,
      List<float[]> vectors,
      boolean base64,
      long promptTokens) {
    ByteBuf out = alloc.buffer(64 + vectors.size() * (base64 ? 48 : 12) * dims(vectors));
    java.io.OutputStream stream = new ByteBufOutputStream(out);
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(stream)) {
      g.writeStartObject();
      g.writeStringField("object", "list");
      g.writeArrayFieldStart("data");
      for (int i = 0; i < vectors.size(); i++) {
        float[] v = vectors.get(i);
        g.writeStartObject();
        g.writeStringField("object", "embedding");
        g.writeNumberField("index", i);
        g.writeFieldName("embedding");
        if (base64) {
          ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
          b.asFloatBuffer().put(v);
          g.writeString(Base64.getEncoder().encodeToString(b.array()));
        } else {
          g.writeStartArray();
          for (float x : v) {
            g.writeNumber(x); // the shortest decimal that reads back as this float
          }
          g.writeEndArray();
        }
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeStringField("model", model);
      g.writeObjectFieldStart("usage");
      g.writeNumberField("prompt_tokens", promptTokens);
      g.writeNumberField("total_tokens", promptTokens);
      g.writeEndObject();
      g.writeEndObject();
    } catch (IOException e) {
      out.release();
      throw new UncheckedIOException(e);
    } catch (RuntimeException e) {
      out.release();
      throw e;
    }
    return out;
  }

  private static int dims(List<float[]> vectors) {
    return vectors.isEmpty() ? 0 : vectors.get(0).length;
  }

  /**
   * A vector cut to its first {@code dimensions} values and scaled back to unit length, as OpenAI
   * answers {@code dimensions}; the vector itself when it has no more than that.
   */
  public static float[] truncated(float[] v, int dimensions) {
    if (dimensions <= 0 || dimensions >= v.length) {
      return v;
    }
    double sum = 0;
    for (int i = 0; i < dimensions; i++) {
      sum += (double) v[i] * v[i];
    }
    double norm = Math.sqrt(sum);
    float[] out = new float[dimensions];
    for (int i = 0; i < dimensions; i++) {
      out[i] = norm == 0 ? v[i] : (float) (v[i] / norm);
    }
    return out;
  }

  /**
   * A model object of {@code GET /v1/models}: {@code {"id", "object": "model", "created",
   * "owned_by": "fulcrum"}}.
   */
  public static void writeModel(JsonGenerator g, String id, long created) throws IOException {
    g.writeStartObject();
    writeModelFields(g, id, created);
    g.writeEndObject();
  }

  /**
   * The fields of a model object, inside an object the caller opened ({@code GET /v1/models/<id>}
   * adds TF Serving's and KServe's to them).
   */
  public static void writeModelFields(JsonGenerator g, String id, long created) throws IOException {
    g.writeStringField("id", id);
    g.writeStringField("object", "model");
    g.writeNumberField("created", created);
    g.writeStringField("owned_by", "fulcrum");
  }

  /** {@code GET /v1/models}: {@code {"object": "list", "data": [model, ...]}}. */
  public static byte[] models(List<String> ids, long created) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(64 + ids.size() * 80);
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("object", "list");
      g.writeArrayFieldStart("data");
      for (String id : ids) {
        writeModel(g, id, created);
      }
      g.writeEndArray();
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** {@code GET /v1/models/<id>}: one model object. */
  public static byte[] model(String id, long created) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(80 + id.length());
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      writeModel(g, id, created);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /**
   * OpenAI's error body: {@code {"error": {"message", "type", "param", "code"}}}; {@code param} and
   * {@code code} null when there is none.
   */
  public static byte[] error(
      String message, String type, @Nullable String param, @Nullable String code) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(message.length() + 96);
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeObjectFieldStart("error");
      g.writeStringField("message", message);
      g.writeStringField("type", type);
      if (param == null || param.isEmpty()) {
        g.writeNullField("param");
      } else {
        g.writeStringField("param", param);
      }
      if (code == null) {
        g.writeNullField("code");
      } else {
        g.writeStringField("code", code);
      }
      g.writeEndObject();
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }
}
