package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.MountedModels;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * SageMaker's multi-model endpoint's JSON: the body of {@code POST /models} ({@code {"model_name",
 * "url"}}) decoded to a {@link LoadRequest}, and the answers of {@code GET /models}, {@code GET
 * /models/<m>} and the status of a load or unload encoded.
 *
 * <p>Threads: any; stateless.
 */
public final class SageMakerJson {
  private SageMakerJson() {}

  /**
   * A load request's body: {@code {"model_name": "<name>", "url": "<folder>"}}.
   *
   * @param name the model's name
   * @param url its folder
   */
  public record LoadRequest(String name, String url) {}

  /**
   * Decodes a {@code POST /models} body.
   *
   * @throws InferenceException INVALID_ARGUMENT for a body that is not that object
   */
  public static LoadRequest decodeLoad(String body) {
    JsonNode node;
    try {
      node = Json.MAPPER.readTree(body);
    } catch (JsonProcessingException e) {
      throw InferenceException.invalid(
          "the request body is not valid JSON: %s", e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) {
      throw InferenceException.invalid(
          "the request body must be a JSON object {\"model_name\": ..., \"url\": ...}");
    }
    return new LoadRequest(text(node, "model_name"), text(node, "url"));
  }

  private static String text(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || !v.isTextual() || v.asText().isEmpty()) {
      throw InferenceException.invalid("field '%s' must be a non-empty string", field);
    }
    return v.asText();
  }

  /** {@code GET /models/<m>}'s answer: {@code {"modelName", "modelUrl"}}. */
  public static ObjectNode model(MountedModels.Mounted m) {
    return entry(JsonNodeFactory.instance.objectNode(), m);
  }

  /**
   * {@code GET /models}' answer: {@code {"models": [{"modelName", "modelUrl"}], "nextPageToken"}},
   * the token only when not null.
   */
  public static ObjectNode models(
      List<MountedModels.Mounted> page, @Nullable String nextPageToken) {
    ObjectNode out = JsonNodeFactory.instance.objectNode();
    ArrayNode models = out.putArray("models");
    for (MountedModels.Mounted m : page) {
      entry(models.addObject(), m);
    }
    if (nextPageToken != null) {
      out.put("nextPageToken", nextPageToken);
    }
    return out;
  }

  /** A load's or an unload's answer: {@code {"status": "<text>"}}. */
  public static ObjectNode status(String text) {
    return JsonNodeFactory.instance.objectNode().put("status", text);
  }

  private static ObjectNode entry(ObjectNode node, MountedModels.Mounted m) {
    return node.put("modelName", m.name()).put("modelUrl", m.url());
  }
}
