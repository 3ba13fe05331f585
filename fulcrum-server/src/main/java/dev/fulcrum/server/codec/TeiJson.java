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
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The JSON of Hugging Face Text Embeddings Inference's (TEI's) native routes: {@code POST /embed}
 * and {@code POST /similarity} decoded into typed requests, their answers ({@code [[f32, ...],
 * ...]}, {@code [score, ...]}), {@code GET /info} and TEI's error body ({@code {"error",
 * "error_type"}}) written. Stateless and thread-safe.
 */
public final class TeiJson {
  private TeiJson() {}

  /**
   * The most inputs one request may carry (TEI's {@code max_client_batch_size}, here OpenAI's bound
   * as on {@code /v1/embeddings}); more is TEI's 413.
   */
  public static final int MAX_CLIENT_BATCH_SIZE = OpenAiJson.MAX_INPUTS;

  /**
   * A decoded {@code POST /embed} body.
   *
   * @param inputs the texts, in order (a single string is a list of one), none empty
   * @param normalize {@code normalize} (TEI's default: true)
   * @param truncate {@code truncate} (TEI's default: false)
   */
  public record EmbedRequest(List<String> inputs, boolean normalize, boolean truncate) {
    public EmbedRequest {
      inputs = List.copyOf(inputs);
    }
  }

  /**
   * A decoded {@code POST /similarity} body: {@code {"inputs": {"source_sentence", "sentences"}}}.
   */
  public record SimilarityRequest(String source, List<String> sentences, boolean truncate) {
    public SimilarityRequest {
      sentences = List.copyOf(sentences);
    }
  }

  /**
   * Decodes a {@code POST /embed} body. {@code truncation_direction} {@code "Left"} and a {@code
   * prompt_name}, which TEI honours and a pipeline cannot (it cuts on the right and has no
   * prompts), are refused rather than ignored; fields that change nothing are ignored.
   */
  public static EmbedRequest decodeEmbed(ByteBuf body) {
    JsonNode root = Json.requestObject(body, "'inputs'");
    List<String> inputs = texts(root.get("inputs"), "inputs");
    unserved(root);
    return new EmbedRequest(inputs, bool(root, "normalize", true), bool(root, "truncate", false));
  }

  private static void unserved(JsonNode root) {
    JsonNode direction = root.get("truncation_direction");
    if (direction != null && !direction.isNull()) {
      if (!direction.isTextual()
          || !(direction.asText().equals("Right") || direction.asText().equals("Left"))) {
        throw InferenceException.invalid(
            "'truncation_direction' must be \"Right\" or \"Left\", was %s", shown(direction));
      }
      if (direction.asText().equals("Left")) {
        throw InferenceException.invalid(
            "'truncation_direction': \"Left\" is not served: the pipeline's tokenizer keeps a"
                + " text's first tokens (\"Right\")");
      }
    }
    JsonNode prompt = root.get("prompt_name");
    if (prompt != null && !prompt.isNull()) {
      throw InferenceException.invalid(
          "'prompt_name' is not served: a Fulcrum pipeline has no prompts; prepend the prompt's"
              + " text to each input instead");
    }
  }

  /** Decodes a {@code POST /similarity} body. */
  public static SimilarityRequest decodeSimilarity(ByteBuf body) {
    JsonNode root = Json.requestObject(body, "'inputs': {'source_sentence', 'sentences'}");
    JsonNode inputs = root.get("inputs");
    if (inputs == null || !inputs.isObject()) {
      throw InferenceException.invalid(
          "'inputs' must be an object {\"source_sentence\": str, \"sentences\": [str]}");
    }
    JsonNode source = inputs.get("source_sentence");
    if (source == null || !source.isTextual()) {
      throw InferenceException.invalid("'inputs.source_sentence' must be a string");
    }
    JsonNode sentences = inputs.get("sentences");
    if (sentences == null || !sentences.isArray()) {
      throw InferenceException.invalid("'inputs.sentences' must be an array of strings");
    }
    List<String> all = texts(sentences, "inputs.sentences");
    unserved(root);
    return new SimilarityRequest(
        text(source.asText(), "inputs.source_sentence"), all, bool(root, "truncate", false));
  }

  private static List<String> texts(@Nullable JsonNode node, String field) {
    if (node == null || node.isNull()) {
      throw InferenceException.invalid("'%s' is required: a string or an array of strings", field);
    }
    if (node.isTextual()) {
      return List.of(text(node.asText(), field));
    }
    if (!node.isArray()) {
      throw InferenceException.invalid(
          "'%s' must be a string or an array of strings, was %s", field, shown(node));
    }
    if (node.isEmpty()) {
      throw InferenceException.invalid("'%s' cannot be empty", field);
    }
    if (node.size() > MAX_CLIENT_BATCH_SIZE) {
      throw new InferenceException(
          ErrorCode.TOO_LARGE,
          "batch size "
              + node.size()
              + " > maximum allowed batch size "
              + MAX_CLIENT_BATCH_SIZE
              + ": send the rest in further requests");
    }
    List<String> texts = new ArrayList<>(node.size());
    for (int i = 0; i < node.size(); i++) {
      JsonNode item = node.get(i);
      if (!item.isTextual()) {
        throw InferenceException.invalid(
            "'%s[%d]' must be a string, was %s (token ids are not taken: send text)",
            field, i, shown(item));
      }
      texts.add(text(item.asText(), field + "[" + i + "]"));
    }
    return texts;
  }

  private static String text(String s, String field) {
    if (s.isEmpty()) {
      throw InferenceException.invalid("'%s' cannot be empty", field);
    }
    return s;
  }

  private static boolean bool(JsonNode root, String field, boolean otherwise) {
    JsonNode n = root.get(field);
    if (n == null || n.isNull()) {
      return otherwise;
    }
    if (!n.isBoolean()) {
      throw InferenceException.invalid("'%s' must be true or false, was %s", field, shown(n));
    }
    return n.asBoolean();
  }

  private static String shown(JsonNode n) {
    String s = n.toString();
    return s.length() > 60 ? s.substring(0, 60) + "..." : s;
  }

  /** {@code POST /embed}'s answer: one array of numbers per input, in order. */
  public static ByteBuf encodeVectors(ByteBufAllocator alloc, List<float[]> vectors) {
    int dims = vectors.isEmpty() ? 0 : vectors.get(0).length;
    ByteBuf out = alloc.buffer(8 + vectors.size() * 12 * dims);
    try (JsonGenerator g =
        JsonStreams.FACTORY.createGenerator((OutputStream) new ByteBufOutputStream(out))) {
      g.writeStartArray();
      for (float[] v : vectors) {
        g.writeStartArray();
        for (float x : v) {
          g.writeNumber(x);
        }
        g.writeEndArray();
      }
      g.writeEndArray();
    } catch (IOException e) {
      out.release();
      throw new UncheckedIOException(e);
    } catch (RuntimeException e) {
      out.release();
      throw e;
    }
    return out;
  }

  /** {@code POST /similarity}'s answer: one score per sentence. */
  public static byte[] encodeScores(float[] scores) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(8 + scores.length * 12);
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      g.writeStartArray();
      for (float s : scores) {
        g.writeNumber(s);
      }
      g.writeEndArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /**
   * The cosine similarity of {@code vectors[0]} to each of the others (TEI's {@code /similarity}:
   * the source sentence against each sentence).
   */
  public static float[] cosines(List<float[]> vectors) {
    float[] source = vectors.get(0);
    double sourceNorm = norm(source);
    float[] scores = new float[vectors.size() - 1];
    for (int i = 1; i < vectors.size(); i++) {
      float[] v = vectors.get(i);
      double dot = 0;
      for (int j = 0; j < v.length; j++) {
        dot += (double) source[j] * v[j];
      }
      double n = sourceNorm * norm(v);
      scores[i - 1] = n == 0 ? 0f : (float) (dot / n);
    }
    return scores;
  }

  private static double norm(float[] v) {
    double sum = 0;
    for (float x : v) {
      sum += (double) x * x;
    }
    return Math.sqrt(sum);
  }

  /** A vector scaled to unit length (TEI's {@code normalize}); a zero vector as it is. */
  public static float[] normalized(float[] v) {
    double n = norm(v);
    if (n == 0) {
      return v;
    }
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = (float) (v[i] / n);
    }
    return out;
  }

  /**
   * What {@code GET /info} tells of the pipeline the routes run.
   *
   * @param modelId the Fulcrum model's name
   * @param pooling the pipeline's pooling ({@code mean}), or "" when it does not pool
   * @param maxInputLength the tokenizer's max-length from config.yaml, or 0 when only the tokenizer
   *     file says
   * @param maxBatchRequests the model's max-batch-size
   * @param version the server's version
   */
  public record ServedModel(
      String modelId, String pooling, int maxInputLength, int maxBatchRequests, String version) {}

  /** {@code GET /info}: TEI's fields, those that have no meaning here null. */
  public static byte[] info(ServedModel info) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(512);
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("model_id", info.modelId());
      g.writeNullField("model_sha");
      g.writeStringField("model_dtype", "float32");
      g.writeObjectFieldStart("model_type");
      g.writeObjectFieldStart("embedding");
      g.writeStringField("pooling", info.pooling().isEmpty() ? "none" : info.pooling());
      g.writeEndObject();
      g.writeEndObject();
      g.writeNumberField("max_concurrent_requests", 512);
      if (info.maxInputLength() > 0) {
        g.writeNumberField("max_input_length", info.maxInputLength());
      } else {
        g.writeNullField("max_input_length");
      }
      g.writeNumberField("max_batch_requests", info.maxBatchRequests());
      g.writeNumberField("max_client_batch_size", MAX_CLIENT_BATCH_SIZE);
      g.writeBooleanField("auto_truncate", false);
      g.writeNumberField("tokenization_workers", 1);
      g.writeStringField("version", info.version());
      g.writeNullField("sha");
      g.writeNullField("docker_label");
      g.writeStringField("router", "fulcrum");
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** TEI's error body: {@code {"error": "<message>", "error_type": "<type>"}}. */
  public static byte[] error(String message, String type) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(message.length() + 48);
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("error", message);
      g.writeStringField("error_type", type);
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }
}
