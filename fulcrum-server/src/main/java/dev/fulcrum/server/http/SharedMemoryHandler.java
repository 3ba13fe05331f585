package dev.fulcrum.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.server.codec.Json;
import dev.fulcrum.server.protocol.SharedMemory;
import dev.fulcrum.server.shm.SharedMemoryRegion;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * Triton's shared memory extensions over REST: {@code v2/systemsharedmemory[/region/<r>]/status},
 * {@code .../region/<r>/register} ({@code {"key", "offset", "byte_size"}}) and {@code
 * [/region/<r>]/unregister} on the server's {@link SharedMemoryRegistry}; the CUDA extension as
 * Triton answers it without GPUs ({@link SharedMemory#cudaRegisterRefused}). Each call sees the
 * regions of its tenant ({@link SharedMemoryRegistry#forTenant}; all without tenants). Stateless;
 * on the event loop (registering opens and maps a file in {@code /dev/shm}, which is memory, not
 * disk).
 */
final class SharedMemoryHandler {
  private static final Reply EMPTY = Responses.json(HttpResponseStatus.OK, new byte[0]);

  private final SharedMemoryRegistry registry;

  SharedMemoryHandler(SharedMemoryRegistry registry) {
    this.registry = registry;
  }

  /** {@code GET v2/<kind>sharedmemory[/region/<r>]/status}. */
  Reply status(boolean cuda, String region, @Nullable Tenant tenant) {
    ArrayNode out = Json.MAPPER.createArrayNode();
    if (cuda) {
      if (!region.isEmpty()) {
        throw InferenceException.notFound("Unable to find cuda shared memory region: '%s'", region);
      }
      return Responses.json(HttpResponseStatus.OK, out);
    }
    for (SharedMemoryRegion r : registry.forTenant(tenant).status(region)) {
      out.addObject()
          .put("name", r.name())
          .put("key", r.key())
          .put("offset", r.offset())
          .put("byte_size", r.byteSize());
    }
    return Responses.json(HttpResponseStatus.OK, out);
  }

  /** {@code POST v2/<kind>sharedmemory/region/<r>/register}. */
  Reply register(boolean cuda, String region, FullHttpRequest request, @Nullable Tenant tenant) {
    if (cuda) {
      throw SharedMemory.cudaRegisterRefused(region, registry.allowed());
    }
    JsonNode body = body(request);
    JsonNode key = body.get("key");
    if (key == null) {
      throw InferenceException.invalid("Shared memory register request has no 'key' field");
    }
    if (!key.isTextual()) {
      throw InferenceException.invalid("Shared memory register request's 'key' must be a string");
    }
    long offset = unsigned(body, "offset", false);
    long byteSize = unsigned(body, "byte_size", true);
    registry.forTenant(tenant).register(region, key.textValue(), offset, byteSize);
    return EMPTY;
  }

  /** {@code POST v2/<kind>sharedmemory[/region/<r>]/unregister}. */
  Reply unregister(boolean cuda, String region, @Nullable Tenant tenant) {
    if (cuda) {
      SharedMemory.cudaUnregister(registry.allowed());
      return EMPTY;
    }
    SharedMemoryRegistry regions = registry.forTenant(tenant);
    if (region.isEmpty()) {
      regions.unregisterAll();
    } else {
      regions.unregister(region);
    }
    return EMPTY;
  }

  private static long unsigned(JsonNode body, String field, boolean required) {
    JsonNode v = body.get(field);
    if (v == null) {
      if (required) {
        throw InferenceException.invalid("Shared memory register request has no '%s' field", field);
      }
      return 0;
    }
    if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
      throw InferenceException.invalid(
          "Shared memory register request's '%s' must be a non-negative integer, was %s", field, v);
    }
    return v.longValue();
  }

  private static JsonNode body(FullHttpRequest request) {
    String text = request.content().toString(StandardCharsets.UTF_8);
    if (text.isBlank()) {
      return Json.MAPPER.createObjectNode();
    }
    try {
      JsonNode n = Json.MAPPER.readTree(text);
      if (!(n instanceof ObjectNode)) {
        throw InferenceException.invalid("the register request must be a JSON object");
      }
      return n;
    } catch (JsonProcessingException e) {
      throw InferenceException.invalid(
          "the register request is not valid JSON: %s", e.getOriginalMessage());
    }
  }
}
