package dev.fulcrum.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.codec.Json;
import dev.fulcrum.server.logging.LogControl;
import dev.fulcrum.server.logging.LogSettings;
import dev.fulcrum.server.logging.LogSettingsUpdate;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Triton's logging extension over REST: {@code GET v2/logging} reads the log settings in force,
 * {@code POST} changes those its JSON object names ({@link LogSettingsUpdate}) and answers every
 * setting then in force. Stateless; on the event loop (a change is a few volatile writes).
 */
final class LoggingHandler {
  private final LogControl control;

  LoggingHandler(LogControl control) {
    this.control = control;
  }

  Reply answer(FullHttpRequest request) {
    LogSettings s =
        request.method().equals(HttpMethod.GET)
            ? control.settings()
            : LogSettingsUpdate.apply(control, values(request));
    return Responses.json(
        HttpResponseStatus.OK, Json.MAPPER.valueToTree(LogSettingsUpdate.json(s)));
  }

  /** The body's settings, typed: JSON booleans, integers, strings and null as they are. */
  private static Map<String, @Nullable Object> values(FullHttpRequest request) {
    String text = request.content().toString(StandardCharsets.UTF_8);
    Map<String, @Nullable Object> out = new LinkedHashMap<>();
    if (text.isBlank()) {
      return out;
    }
    JsonNode body;
    try {
      body = Json.MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      throw InferenceException.invalid(
          "the log settings request is not valid JSON: %s", e.getOriginalMessage());
    }
    if (body == null || !body.isObject()) {
      throw InferenceException.invalid(
          "the log settings request must be a JSON object, e.g. {\"log_verbose_level\": 1}");
    }
    body.properties()
        .forEach(
            e -> {
              JsonNode v = e.getValue();
              Object value;
              if (v.isNull()) {
                value = null;
              } else if (v.isBoolean()) {
                value = v.booleanValue();
              } else if (v.isIntegralNumber() && v.canConvertToLong()) {
                value = v.longValue();
              } else if (v.isTextual()) {
                value = v.textValue();
              } else {
                value = v; // refused, quoted as JSON
              }
              out.put(e.getKey(), value);
            });
    return out;
  }
}
