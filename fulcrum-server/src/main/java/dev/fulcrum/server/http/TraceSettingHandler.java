package dev.fulcrum.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.codec.Json;
import dev.fulcrum.server.tracing.TraceSettings;
import dev.fulcrum.server.tracing.TraceSettingsStore;
import dev.fulcrum.server.tracing.Tracing;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * Triton's trace extension over REST: {@code GET v2[/models/<m>]/trace/setting} reads the settings
 * in force, {@code POST} changes them and answers what is then in force ({@link
 * TraceSettingsStore}). On a server started without tracing the settings read OFF and a POST is
 * refused (400), since no span could be sent anywhere. Stateless; on the event loop.
 */
final class TraceSettingHandler {
  private final @Nullable Tracing tracing;

  TraceSettingHandler(@Nullable Tracing tracing) {
    this.tracing = tracing;
  }

  /** The answer to GET or POST; an empty model is the server's settings. */
  Reply answer(String model, FullHttpRequest request) {
    String scope = model.isEmpty() ? null : model;
    Tracing t = tracing;
    TraceSettings s =
        request.method().equals(HttpMethod.GET)
            ? Tracing.read(t, scope)
            : Tracing.update(t, scope, body(request));
    return Responses.json(
        HttpResponseStatus.OK, Json.MAPPER.valueToTree(TraceSettingsStore.json(s)));
  }

  private static JsonNode body(FullHttpRequest request) {
    String text = request.content().toString(StandardCharsets.UTF_8);
    if (text.isBlank()) {
      return Json.MAPPER.createObjectNode();
    }
    try {
      return Json.MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      throw InferenceException.invalid(
          "the trace setting request is not valid JSON: %s", e.getOriginalMessage());
    }
  }
}
