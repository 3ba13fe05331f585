package dev.fulcrum.server.http;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * Stands in the pipeline for a request refused before its body was buffered (413: the body exceeds
 * the limit; 503: the buffered-bytes budget is spent), so that its error is answered in order with
 * the requests before it on the same connection.
 *
 * @param closeAfter whether the connection must close after the answer (the body could not be
 *     skipped, or the client did not ask for keep-alive)
 * @param status the answer's status
 * @param message the OIP error message
 */
record RefusedRequest(boolean closeAfter, HttpResponseStatus status, String message) {
  static RefusedRequest oversized(boolean closeAfter, int limit) {
    return new RefusedRequest(
        closeAfter,
        HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
        "the request body exceeds the server's limit of " + limit + " bytes");
  }

  static RefusedRequest overBudget() {
    return new RefusedRequest(
        true,
        HttpResponseStatus.SERVICE_UNAVAILABLE,
        "the server is holding too many request bodies; retry later");
  }
}
