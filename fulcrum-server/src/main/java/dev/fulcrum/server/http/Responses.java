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
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.jspecify.annotations.Nullable;

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
      case FAILED_PRECONDITION -> HttpResponseStatus.CONFLICT;
      case RESOURCE_EXHAUSTED -> HttpResponseStatus.TOO_MANY_REQUESTS;
      case DEADLINE_EXCEEDED -> HttpResponseStatus.GATEWAY_TIMEOUT;
      case CANCELLED -> CLIENT_CLOSED;
      case UNIMPLEMENTED -> HttpResponseStatus.NOT_IMPLEMENTED;
      case INTERNAL -> HttpResponseStatus.INTERNAL_SERVER_ERROR;
      case TOO_LARGE -> HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
      case UNSUPPORTED_MEDIA_TYPE -> HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE;
      case NO_CAPACITY -> HttpResponseStatus.INSUFFICIENT_STORAGE;
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
    return error(status, message, null);
  }

  /** An OIP error with the core's retry hint ({@link #retryHeaders}). */
  static Reply error(HttpResponseStatus status, String message, @Nullable Duration retryAfter) {
    byte[] bytes = JsonStreams.object("error", message); // no databind: a fresh server's 503s
    return alloc -> {
      FullHttpResponse r = jsonBytes(alloc, status, bytes);
      retryHeaders(r.headers(), status, retryAfter);
      return r;
    };
  }

  /** The retry hint in milliseconds, which OpenAI's SDKs read before {@code Retry-After}. */
  static final AsciiString RETRY_AFTER_MS = AsciiString.cached("retry-after-ms");

  /**
   * The retry headers of a refusal, the one place both the OIP and the OpenAI paths set them. With
   * the core's hint ({@link InferenceException#retryAfter()}: when a retry could be served, 100 ms
   * to 10 s) on a 429 or 503: {@code Retry-After} in whole seconds rounded up (RFC 9110
   * delay-seconds is an integer, and rounding down would ask for a retry before the estimate) and
   * {@code retry-after-ms} with the milliseconds (the OpenAI Python SDK prefers it and waits that
   * long when it is in (0, 60] s). Without a hint a 429 keeps {@code Retry-After: 1}, as it always
   * had; no other status gets either header.
   */
  static void retryHeaders(
      HttpHeaders headers, HttpResponseStatus status, @Nullable Duration retryAfter) {
    boolean overload =
        status.equals(HttpResponseStatus.TOO_MANY_REQUESTS)
            || status.equals(HttpResponseStatus.SERVICE_UNAVAILABLE);
    if (overload && retryAfter != null) {
      long ms = Math.max(1, (retryAfter.toNanos() + 999_999) / 1_000_000);
      headers.set(HttpHeaderNames.RETRY_AFTER, Long.toString((ms + 999) / 1000));
      headers.set(RETRY_AFTER_MS, Long.toString(ms));
    } else if (status.equals(HttpResponseStatus.TOO_MANY_REQUESTS)) {
      headers.set(HttpHeaderNames.RETRY_AFTER, "1");
    }
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
      return error(status(ie.code()), ie.getMessage(), ie.retryAfter());
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
