package dev.fulcrum.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.server.codec.Json;
import dev.fulcrum.server.codec.JsonStreams;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;

/**
 * The shape of an error's body on a request's API, told from its path (in place, without
 * allocating, by each stage that may answer: the aggregator and the codings check at the head, the
 * dispatcher): OIP's and TF Serving's {@code {"error": "<message>"}}, OpenAI's object ({@link
 * OpenAiHandler#shaped}), or MLflow's scoring server's {@code {"error_code": "BAD_REQUEST",
 * "message": "<message>"}} on {@code /invocations}, {@code /ping}, {@code /health} and {@code
 * /version}, and SageMaker's multi-model {@code /models/<m>/invoke}, or TEI's {@code {"error",
 * "error_type"}} with TEI's statuses on its paths ({@link TeiHandler#shaped}). Ollama's {@code
 * /api/...} paths take OIP's shape, which is Ollama's. Every refusal, also those made before a
 * handler (401, 413, 415, 429 at the head), is written in the request's shape.
 *
 * <p>Threads: any; stateless.
 */
enum ErrorShape {
  OIP,
  OPENAI,
  MLFLOW,
  TEI;

  /** The shape of errors on the path of request target {@code uri}. */
  static ErrorShape of(String uri) {
    if (isMlflowPath(uri)) {
      return MLFLOW;
    }
    if (TeiHandler.isPath(uri)) {
      return TEI;
    }
    return OpenAiHandler.isPath(uri) ? OPENAI : OIP;
  }

  /**
   * Whether a request target is one of MLflow's scoring server's paths, or SageMaker's multi-model
   * {@code /models/<m>/invoke} (its bodies and answers are {@code /invocations}'s).
   */
  static boolean isMlflowPath(String uri) {
    int start = Route.absoluteFormPath(uri);
    int end = Route.pathEnd(uri, start);
    return Route.pathIn(uri, start, end, MLFLOW_PATHS) || isInvokePath(uri, start, end);
  }

  /** Whether {@code uri[start, end)} is {@code /models/<m>/invoke}, one segment for the model. */
  private static boolean isInvokePath(String uri, int start, int end) {
    int modelStart = start + MODELS.length();
    int modelEnd = end - INVOKE.length();
    return modelEnd > modelStart
        && uri.startsWith(MODELS, start)
        && uri.startsWith(INVOKE, modelEnd)
        && uri.indexOf('/', modelStart) == modelEnd;
  }

  private static final String MODELS = "/models/";
  private static final String INVOKE = "/invoke";

  private static final List<String> MLFLOW_PATHS =
      List.of("/invocations", "/ping", "/health", "/version");

  /** An error reply (OIP's shape, as {@link Responses#error} writes it) rewritten in this shape. */
  Reply shaped(Reply reply) {
    return switch (this) {
      case OIP -> reply;
      case OPENAI -> OpenAiHandler.shaped(reply);
      case MLFLOW -> mlflow(reply);
      case TEI -> TeiHandler.shaped(reply);
    };
  }

  /**
   * MLflow's error code ({@code databricks.ErrorCode}'s name, as its scoring server and REST API
   * write it) of an HTTP status.
   */
  static String mlflowCode(HttpResponseStatus status) {
    return switch (status.code()) {
      case 401 -> "UNAUTHENTICATED";
      case 403 -> "PERMISSION_DENIED";
      case 404 -> "RESOURCE_DOES_NOT_EXIST";
      case 429 -> "REQUEST_LIMIT_EXCEEDED";
      case 503 -> "TEMPORARILY_UNAVAILABLE";
      case 504 -> "DEADLINE_EXCEEDED";
      case 501 -> "NOT_IMPLEMENTED";
      default -> status.code() >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
    };
  }

  /** An error body of another API's shape, from an OIP error reply's status and message. */
  @FunctionalInterface
  interface Body {
    byte[] of(HttpResponseStatus status, String message) throws IOException;
  }

  /**
   * A reply with an OIP error body ({@code {"error": "<message>"}}) rewritten by {@code body}, its
   * status and headers kept; any other reply (not an error, or already in another shape) as it is.
   */
  static Reply rewritten(Reply reply, Body body) {
    return alloc -> {
      FullHttpResponse r = reply.render(alloc);
      if (r.status().code() < 400 || !r.content().isReadable()) {
        return r;
      }
      byte[] shaped;
      try {
        JsonNode oip = Json.MAPPER.readTree(new ByteBufInputStream(r.content().duplicate()));
        JsonNode error = oip == null ? null : oip.get("error");
        if (error == null || !error.isTextual()) {
          return r; // already in the API's shape, or not an error body
        }
        shaped = body.of(r.status(), error.asText());
      } catch (IOException e) {
        return r;
      }
      FullHttpResponse out = r.replace(Unpooled.wrappedBuffer(shaped));
      r.release();
      return out;
    };
  }

  private static Reply mlflow(Reply reply) {
    return rewritten(reply, ErrorShape::mlflowBody);
  }

  private static byte[] mlflowBody(HttpResponseStatus status, String message) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream(message.length() + 64);
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("error_code", mlflowCode(status));
      g.writeStringField("message", message);
      g.writeEndObject();
    }
    return out.toByteArray();
  }
}
