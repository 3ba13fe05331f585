package dev.fulcrum.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.codec.Json;
import dev.fulcrum.server.codec.JsonStreams;
import dev.fulcrum.server.security.AccessPolicy;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Builds JSON responses and maps core errors to HTTP statuses with OIP error bodies. */
final class Responses {
  private Responses() {}

  /** Nginx's "client closed request"; the client is gone, so nobody reads it, but logs do. */
  static final HttpResponseStatus CLIENT_CLOSED = new HttpResponseStatus(499, "Client Closed");

  private static final DefaultHttpHeadersFactory HEADERS =
      DefaultHttpHeadersFactory.headersFactory();

  static HttpResponseStatus status(ErrorCode code) {
    return switch (code) {
      case INVALID_ARGUMENT -> HttpResponseStatus.BAD_REQUEST;
      case NOT_FOUND -> HttpResponseStatus.NOT_FOUND;
      case UNAVAILABLE -> HttpResponseStatus.SERVICE_UNAVAILABLE;
      case RESOURCE_EXHAUSTED -> HttpResponseStatus.TOO_MANY_REQUESTS;
      case DEADLINE_EXCEEDED -> HttpResponseStatus.GATEWAY_TIMEOUT;
      case CANCELLED -> CLIENT_CLOSED;
      case UNIMPLEMENTED -> HttpResponseStatus.NOT_IMPLEMENTED;
      case INTERNAL -> HttpResponseStatus.INTERNAL_SERVER_ERROR;
    };
  }

  static Reply json(HttpResponseStatus status, JsonNode body) {
    byte[] bytes;
    try {
      bytes = Json.MAPPER.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    return alloc -> jsonBytes(alloc, status, bytes);
  }

  /** A reply of JSON already written (no databind). */
  static Reply json(HttpResponseStatus status, byte[] bytes) {
    return alloc -> jsonBytes(alloc, status, bytes);
  }

  /**
   * A response over {@code content} with headers to fill and no trailers: a response written whole
   * never has any, and Netty's default made a second header table for each one.
   */
  static FullHttpResponse full(HttpResponseStatus status, ByteBuf content) {
    return new DefaultFullHttpResponse(
        HttpVersion.HTTP_1_1, status, content, HEADERS.newHeaders(), EmptyHttpHeaders.INSTANCE);
  }

  static FullHttpResponse jsonBytes(ByteBufAllocator alloc, HttpResponseStatus status, byte[] b) {
    ByteBuf content = alloc.buffer(b.length).writeBytes(b);
    FullHttpResponse r = full(status, content);
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
    return r;
  }

  /** An OIP error: {@code {"error": message}}. */
  static Reply error(HttpResponseStatus status, String message) {
    byte[] bytes = JsonStreams.object("error", message); // no databind: a fresh server's 503s
    return alloc -> {
      FullHttpResponse r = jsonBytes(alloc, status, bytes);
      if (status.equals(HttpResponseStatus.TOO_MANY_REQUESTS)) {
        r.headers().set(HttpHeaderNames.RETRY_AFTER, "1");
      }
      return r;
    };
  }

  /**
   * The reply to a request the {@link AccessPolicy} refused: 401 with {@code WWW-Authenticate:
   * Bearer} (RFC 6750; {@code error="invalid_token"} when a token was sent), or 403.
   */
  static Reply refused(AccessPolicy.Decision d) {
    if (d.outcome() == AccessPolicy.Outcome.FORBIDDEN) {
      return error(HttpResponseStatus.FORBIDDEN, d.message());
    }
    Reply error = error(HttpResponseStatus.UNAUTHORIZED, d.message());
    String challenge =
        d.tokenPresented()
            ? "Bearer realm=\"fulcrum\", error=\"invalid_token\""
            : "Bearer realm=\"fulcrum\"";
    return alloc -> {
      FullHttpResponse r = error.render(alloc);
      r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, challenge);
      return r;
    };
  }

  /**
   * The error reply for any failure; only engine or server faults are 500. Logging is the caller's
   * ({@link dev.fulcrum.server.RequestFailureLog}).
   */
  static Reply error(Throwable t) {
    Throwable cause = cause(t);
    if (cause instanceof InferenceException ie) {
      return error(status(ie.code()), ie.getMessage());
    }
    return error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error: " + cause);
  }

  /**
   * The failure a future's completion wraps: past its CompletionException or ExecutionException.
   */
  static Throwable cause(Throwable t) {
    Throwable cause = t;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }
}
