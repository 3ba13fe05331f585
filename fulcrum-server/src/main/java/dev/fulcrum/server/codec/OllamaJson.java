package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The JSON of Ollama's embedding API: {@code POST /api/embed} and the legacy {@code POST
 * /api/embeddings} decoded into a typed {@link EmbedRequest}, their answers, {@code GET /api/tags}
 * and {@code GET /api/version} written. Ollama's error body is OIP's ({@code {"error": "..."}}).
 * Stateless and thread-safe.
 */
public final class OllamaJson {
  private OllamaJson() {}

  /** The tag every Fulcrum model is listed under, and the one a name without a tag means. */
  public static final String TAG = "latest";

  /**
   * A decoded embed request.
   *
   * @param model the Fulcrum model's name (a {@code :latest} tag taken off)
   * @param input the texts, in order, none empty
   * @param truncate {@code truncate} (Ollama's default: true)
   * @param dimensions {@code dimensions}, or 0 for the model's own
   * @param legacy whether it came on {@code /api/embeddings} ({@code prompt}, one vector back)
   */
  public record EmbedRequest(
      String model, List<String> input, boolean truncate, int dimensions, boolean legacy) {
    public EmbedRequest {
      input = List.copyOf(input);
    }
  }

  /** Decodes a {@code POST /api/embed} body: {@code {"model", "input": str | [str], ...}}. */
  public static EmbedRequest decodeEmbed(ByteBuf body) {
    JsonNode root = Json.requestObject(body, "'model'");
    String model = model(root);
    JsonNode input = root.get("input");
    List<String> texts;
    if (input == null || input.isNull()) {
      throw InferenceException.invalid("'input' is required: a string or an array of strings");
    } else if (input.isTextual()) {
      texts = List.of(text(input.asText(), "input"));
    } else if (input.isArray()) {
      if (input.isEmpty()) {
        throw InferenceException.invalid("'input' is an empty array: give at least one string");
      }
      if (input.size() > OpenAiJson.MAX_INPUTS) {
        throw new InferenceException(
            ErrorCode.TOO_LARGE,
            "'input' has "
                + input.size()
                + " items; at most "
                + OpenAiJson.MAX_INPUTS
                + " per request");
      }
      texts = new ArrayList<>(input.size());
      for (int i = 0; i < input.size(); i++) {
        JsonNode item = input.get(i);
        if (!item.isTextual()) {
          throw InferenceException.invalid("'input[%d]' must be a string, was %s", i, shown(item));
        }
        texts.add(text(item.asText(), "input[" + i + "]"));
      }
    } else {
      throw InferenceException.invalid(
          "'input' must be a string or an array of strings, was %s", shown(input));
    }
    JsonNode truncate = root.get("truncate");
    if (truncate != null && !truncate.isNull() && !truncate.isBoolean()) {
      throw InferenceException.invalid("'truncate' must be true or false, was %s", shown(truncate));
    }
    JsonNode dimensions = root.get("dimensions");
    int dims = 0;
    if (dimensions != null && !dimensions.isNull()) {
      if (!dimensions.isIntegralNumber()
          || !dimensions.canConvertToInt()
          || dimensions.asInt() < 1) {
        throw InferenceException.invalid(
            "'dimensions' must be a positive integer, was %s", shown(dimensions));
      }
      dims = dimensions.asInt();
    }
    return new EmbedRequest(
        model, texts, truncate == null || truncate.isNull() || truncate.asBoolean(), dims, false);
  }

  /** Decodes a legacy {@code POST /api/embeddings} body: {@code {"model", "prompt"}}. */
  public static EmbedRequest decodeEmbeddings(ByteBuf body) {
    JsonNode root = Json.requestObject(body, "'model'");
    String model = model(root);
    JsonNode prompt = root.get("prompt");
    if (prompt == null || !prompt.isTextual()) {
      throw InferenceException.invalid(
          "'prompt' is required: a string, was %s", prompt == null ? "absent" : shown(prompt));
    }
    return new EmbedRequest(model, List.of(text(prompt.asText(), "prompt")), true, 0, true);
  }

  /** The {@code model} field, its {@code :latest} tag taken off (any other tag is kept). */
  private static String model(JsonNode root) {
    JsonNode model = root.get("model");
    if (model == null || !model.isTextual() || model.asText().isEmpty()) {
      throw InferenceException.invalid(
          "'model' is required: the name of a text-embedding model, was %s",
          model == null ? "absent" : shown(model));
    }
    return name(model.asText());
  }

  /** A model name as a client writes it, {@code <name>[:latest]}, as Fulcrum names it. */
  public static String name(String tagged) {
    String suffix = ":" + TAG;
    return tagged.endsWith(suffix) && tagged.length() > suffix.length()
        ? tagged.substring(0, tagged.length() - suffix.length())
        : tagged;
  }

  private static String text(String s, String field) {
    if (s.isEmpty()) {
      throw InferenceException.invalid("'%s' is an empty string, which has no embedding", field);
    }
    return s;
  }

  private static String shown(JsonNode n) {
    String s = n.toString();
    return s.length() > 60 ? s.substring(0, 60) + "..." : s;
  }

  /**
   * The answer to an embed request: {@code /api/embed}'s {@code {"model", "embeddings",
   * "total_duration", "load_duration", "prompt_eval_count"}}, or the legacy {@code {"embedding"}}.
   *
   * @param model the model as the client named it
   * @param totalNanos from the request's arrival to its answer
   */
  public static ByteBuf encodeEmbed(
      ByteBufAllocator alloc,
      EmbedRequest asked,
      String model,
      List<float[]> vectors,
      long tokens,
      long totalNanos) {
    int dims = vectors.isEmpty() ? 0 : vectors.get(0).length;
    ByteBuf out = alloc.buffer(128 + vectors.size() * 12 * dims);
    try (JsonGenerator g =
        JsonStreams.FACTORY.createGenerator((OutputStream) new ByteBufOutputStream(out))) {
      g.writeStartObject();
      if (asked.legacy()) {
        g.writeFieldName("embedding");
        vector(g, vectors.get(0));
      } else {
        g.writeStringField("model", model);
        g.writeArrayFieldStart("embeddings");
        for (float[] v : vectors) {
          vector(g, v);
        }
        g.writeEndArray();
        g.writeNumberField("total_duration", totalNanos);
        g.writeNumberField("load_duration", 0);
        g.writeNumberField("prompt_eval_count", tokens);
      }
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

  private static void vector(JsonGenerator g, float[] v) throws IOException {
    g.writeStartArray();
    for (float x : v) {
      g.writeNumber(x);
    }
    g.writeEndArray();
  }

  /**
   * {@code GET /api/tags}: each model as {@code <name>:latest}, with Ollama's fields.
   *
   * @param models the text-embedding models' names
   * @param modified when they were loaded (the server's start)
   */
  public static byte[] tags(List<String> models, Instant modified) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(64 + models.size() * 300);
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeArrayFieldStart("models");
      for (String m : models) {
        String tagged = m + ":" + TAG;
        g.writeStartObject();
        g.writeStringField("name", tagged);
        g.writeStringField("model", tagged);
        g.writeStringField("modified_at", modified.toString());
        g.writeNumberField("size", 0);
        g.writeStringField("digest", "");
        g.writeObjectFieldStart("details");
        g.writeStringField("parent_model", "");
        g.writeStringField("format", "fulcrum-pipeline");
        g.writeStringField("family", "");
        g.writeNullField("families");
        g.writeStringField("parameter_size", "");
        g.writeStringField("quantization_level", "");
        g.writeEndObject();
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** {@code GET /api/version}: {@code {"version": "<version>"}}. */
  public static byte[] version(String version) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(32 + version.length());
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("version", version);
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }
}
