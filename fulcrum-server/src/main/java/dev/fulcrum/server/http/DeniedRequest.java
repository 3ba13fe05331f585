package dev.fulcrum.server.http;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.security.AccessPolicy;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import org.jspecify.annotations.Nullable;

/**
 * Stands in the pipeline for a request the {@link AccessPolicy} refused when its head arrived, so
 * that its 401 or 403 is answered in order with the requests before it; its body is never buffered.
 * The connection closes after the answer (the body may still be on its way).
 *
 * @param decision why it was refused
 */
record DeniedRequest(AccessPolicy.Decision decision) {
  /**
   * Checks a request head against the scope of the endpoint its path names, and against {@link
   * BrowserGuard}'s rules.
   *
   * @return the refusal, or null when the request may go on (also when its path names no endpoint
   *     or is malformed: the dispatcher answers 404 or 400)
   */
  static @Nullable DeniedRequest check(AccessPolicy access, HttpRequest head) {
    AccessPolicy.Decision browser = BrowserGuard.check(access, head);
    if (browser != null) {
      return new DeniedRequest(browser);
    }
    if (access.allowsAll()) {
      return null; // no route to match: nothing is refused (the dispatcher matches it once)
    }
    Route route;
    try {
      route = Route.match(head.uri());
    } catch (InferenceException e) {
      return null;
    }
    AccessPolicy.Decision d =
        access.check(route.endpoint().scope, head.headers().get(HttpHeaderNames.AUTHORIZATION));
    return d.allowed() ? null : new DeniedRequest(d);
  }
}
