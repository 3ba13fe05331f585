package dev.fulcrum.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.RolloutConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.LoadRequestBody;
import dev.fulcrum.core.repository.ModelFiles;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.repository.ModelVersionStatus;
import dev.fulcrum.core.repository.Rollout;
import dev.fulcrum.server.codec.Json;
import dev.fulcrum.server.protocol.LoadParameters;
import dev.fulcrum.server.protocol.RolloutJson;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * Triton's model repository extension over REST: {@code POST v2/repository/index}, {@code POST
 * v2/repository/models/<m>/load} and {@code .../unload}; and beside it a model's canary rollout,
 * {@code GET|POST v2/models/<m>/rollout}, read and acted on on the event loop. The index is read on
 * the event loop; a load or unload runs on the control threads (a load's body, with any pushed
 * files, is read there too) and its reply (200 with an empty body, or the reason) is written when
 * it has finished, as Triton's clients expect.
 */
final class RepositoryHandler {
  private static final Reply OK =
      alloc -> {
        FullHttpResponse r = Responses.full(HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        return r;
      };

  private final InferenceService service;

  RepositoryHandler(InferenceService service) {
    this.service = service;
  }

  /** The index: {@code [{name, version, state, reason}]}; body {@code {"ready": true}} filters. */
  Reply index(FullHttpRequest request) {
    JsonNode body = body(request);
    boolean readyOnly = body.path("ready").asBoolean(false);
    ArrayNode out = JsonNodeFactory.instance.arrayNode();
    for (ModelVersionStatus s : service.repository().index()) {
      if (readyOnly && s.state() != ModelState.READY) {
        continue;
      }
      out.addObject()
          .put("name", s.name())
          .put("version", s.version())
          .put("state", s.state().tritonName())
          .put("reason", s.reason());
    }
    return Responses.json(HttpResponseStatus.OK, out);
  }

  /**
   * Loads or reloads a model; {@code {"parameters": {"config": "<JSON>"}}} gives a configuration
   * (config.yaml's field names) to use instead of the model's file, and {@code "file:1/model.onnx":
   * "<base64>"} parameters the model's files (with a config, as Triton requires).
   */
  CompletableFuture<Reply> load(String model, FullHttpRequest request) {
    return service.loadRequest(model, new Body(request.content().retain())).thenApply(v -> OK);
  }

  /**
   * A load request's body, kept (retained) past the event loop's turn until the control thread that
   * runs the load has read it as a stream ({@link LoadParameters#readJson}): the loop never decodes
   * a push's files, so its other connections are not held up for as long as that takes, and the
   * only copy of them in memory is the body itself. Released once by the core.
   */
  private record Body(ByteBuf content) implements LoadRequestBody {
    @Override
    public @Nullable String read(ModelFiles.Push files) throws IOException {
      return LoadParameters.readJson(new ByteBufInputStream(content.duplicate()), files);
    }

    @Override
    public void release() {
      content.release();
    }
  }

  /** Unloads a model; {@code {"parameters": {"unload_dependents": ...}}} is accepted. */
  CompletableFuture<Reply> unload(String model, FullHttpRequest request) {
    body(request);
    return service.unload(model).thenApply(v -> OK);
  }

  /**
   * A model's canary rollout: GET its state; POST {@code {"action": "promote"}}, {@code {"action":
   * "rollback"}} (each with an optional {@code "reason"}), {@code {"action": "restart"}} (from its
   * first configured step) or {@code {"canary_traffic_percent": N}} (judged afresh), answered with
   * the state after it.
   */
  Reply rollout(String model, FullHttpRequest request) {
    ModelVersion newest = service.repository().resolve(model, "");
    Rollout r = service.repository().rollout(model);
    if (r == null) {
      RolloutConfig configured = newest.config().rollout();
      if (configured == null) {
        throw InferenceException.notFound(
            "model '%s' has no canary rollout: its config.yaml has no rollout: section", model);
      }
      if (request.method().equals(HttpMethod.POST)) {
        // the request is well formed and the model is there: it is the model's state (one
        // version) that refuses it, until a second version serves
        throw InferenceException.failedPrecondition(
            "model '%s' has no canary to act on: only version %d serves; a rollout needs a second"
                + " version serving",
            model, newest.version());
      }
      return Responses.json(
          HttpResponseStatus.OK, RolloutJson.inactive(model, newest.version(), configured));
    }
    if (request.method().equals(HttpMethod.POST)) {
      JsonNode body = body(request);
      JsonNode action = body.path("action");
      JsonNode percent = body.path("canary_traffic_percent");
      String reason = body.path("reason").asText("");
      if (action.isMissingNode() == percent.isMissingNode()) {
        throw InferenceException.invalid(
            "give either \"action\": \"promote\", \"rollback\" or \"restart\", or"
                + " \"canary_traffic_percent\": 0 to 100");
      }
      if (!percent.isMissingNode()) {
        if (!percent.canConvertToInt() || !percent.isIntegralNumber()) {
          throw InferenceException.invalid(
              "canary_traffic_percent must be a whole number 0 to 100");
        }
        r.setPercent(percent.intValue());
      } else {
        switch (action.asText("")) {
          case "promote" -> r.promote(reason);
          case "rollback" -> r.rollBack(reason);
          case "restart" -> r.restart();
          default ->
              throw InferenceException.invalid(
                  "action must be \"promote\", \"rollback\" or \"restart\", was %s",
                  action.toString());
        }
      }
    }
    return Responses.json(HttpResponseStatus.OK, RolloutJson.state(r));
  }

  /** The request's JSON object, or an empty object for an empty body. */
  private static JsonNode body(FullHttpRequest request) {
    if (!request.content().isReadable()) {
      return JsonNodeFactory.instance.objectNode();
    }
    try {
      JsonNode node = Json.MAPPER.readTree(request.content().toString(StandardCharsets.UTF_8));
      if (node == null || node.isMissingNode()) {
        return JsonNodeFactory.instance.objectNode();
      }
      if (!node.isObject()) {
        throw InferenceException.invalid("the request body must be a JSON object");
      }
      return node;
    } catch (JsonProcessingException e) {
      throw InferenceException.invalid(
          "the request body is not valid JSON: %s", e.getOriginalMessage());
    }
  }
}
