package dev.fulcrum.server.http;

import dev.fulcrum.core.error.InferenceException;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import org.jspecify.annotations.Nullable;

/**
 * Stands in the pipeline for a request refused before its body was buffered (413: the body exceeds
 * the limit; 417: an Expect other than 100-continue; 415: a content coding the server cannot undo;
 * 503: the buffered-bytes budget is spent; 429: its tenant is over its rate or concurrency limit),
 * so that its error is answered in order with the requests before it on the same connection.
 *
 * @param closeAfter whether the connection must close after the answer (the body could not be
 *     skipped, or the client did not ask for keep-alive)
 * @param status the answer's status
 * @param message the error message
 * @param shape the error shape of the API the request was for ({@link ErrorShape#of}): OpenAI's and
 *     MLflow's errors take their own shape, and the refusal is made before any handler, so the
 *     dispatcher learns the path only from here
 * @param failure the core's refusal, answered as the core's errors are (429 with {@code
 *     Retry-After} and {@code retry-after-ms}); null for the transport's own refusals
 */
record RefusedRequest(
    boolean closeAfter,
    HttpResponseStatus status,
    String message,
    ErrorShape shape,
    @Nullable InferenceException failure) {
  RefusedRequest(boolean closeAfter, HttpResponseStatus status, String message, ErrorShape shape) {
    this(closeAfter, status, message, shape, null);
  }

  /**
   * 429: the request's tenant is over its rate or concurrency limit, judged at the request's head
   * ({@link dev.fulcrum.core.InferenceService#admitEarly}); its body is dropped as it arrives.
   */
  static RefusedRequest overTenantLimit(
      InferenceException refusal, boolean closeAfter, ErrorShape shape) {
    return new RefusedRequest(
        closeAfter, HttpResponseStatus.TOO_MANY_REQUESTS, refusal.getMessage(), shape, refusal);
  }

  static RefusedRequest oversized(boolean closeAfter, int limit, ErrorShape shape) {
    return new RefusedRequest(
        closeAfter, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, oversizedMessage(limit), shape);
  }

  static String oversizedMessage(int limit) {
    return "the request body exceeds the server's limit of " + limit + " bytes";
  }

  static final String EXPECTATION_FAILED = "the Expect header may only be '100-continue'";

  /**
   * 417: an {@code Expect} other than 100-continue. The connection closes after it: whether the
   * client sends the body it announced or holds it back, waiting, is unknown.
   */
  static RefusedRequest expectationFailed(ErrorShape shape) {
    return new RefusedRequest(
        true, HttpResponseStatus.EXPECTATION_FAILED, EXPECTATION_FAILED, shape);
  }

  /** 415: a body in a content coding the server does not undo ({@link KnownCodings}). */
  static RefusedRequest unsupportedCoding(boolean closeAfter, String message, ErrorShape shape) {
    return new RefusedRequest(
        closeAfter, HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, message, shape);
  }

  static RefusedRequest overBudget(ErrorShape shape) {
    return new RefusedRequest(
        true,
        HttpResponseStatus.SERVICE_UNAVAILABLE,
        "the server is holding too many request bodies; retry later",
        shape);
  }

  /**
   * Whether the connection can stay open after a request refused at its head: the client asked for
   * keep-alive, and its body is absent or has a {@code Content-Length} of at most {@code
   * maxDrained} and no {@code Expect} (a client told a final status may or may not send a body it
   * held back, so where the next request starts is unknown). A chunked body could run on without
   * end: it closes. (On HTTP/2 the stream ends either way; a closing stream is reset with NO_ERROR
   * after the answer, which tells the client to stop sending.)
   */
  static boolean keepsConnection(HttpRequest request, long maxDrained) {
    if (!HttpUtil.isKeepAlive(request)) {
      return false;
    }
    if (request instanceof LastHttpContent) {
      return true; // arrived whole (an HTTP/2 HEADERS frame that ends its stream)
    }
    if (request.headers().contains(HttpHeaderNames.TRANSFER_ENCODING)) {
      return false;
    }
    long length = HttpUtil.getContentLength(request, 0L); // neither header: no body (RFC 9112 6.3)
    return length <= maxDrained
        && (length == 0 || !request.headers().contains(HttpHeaderNames.EXPECT));
  }
}
