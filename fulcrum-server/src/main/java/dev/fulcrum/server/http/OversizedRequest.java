package dev.fulcrum.server.http;

/**
 * Stands in the pipeline for a request whose body exceeded the limit, so that its 413 is answered
 * in order with the requests before it on the same connection.
 *
 * @param closeAfter whether the connection must close after the 413 (the body could not be skipped,
 *     or the client did not ask for keep-alive)
 * @param limit the limit in bytes
 */
record OversizedRequest(boolean closeAfter, int limit) {}
