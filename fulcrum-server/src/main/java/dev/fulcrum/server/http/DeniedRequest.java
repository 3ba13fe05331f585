package dev.fulcrum.server.http;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.server.security.AccessPolicy;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import org.jspecify.annotations.Nullable;

/**
 * Stands in the pipeline for a request the {@link AccessPolicy} refused when its head arrived, so
 * that its 401 or 403 is answered in order with the requests before it; its body is never buffered
 * but dropped as it arrives. The connection stays open when that body can be skipped within the
 * limits ({@link RefusedRequest#keepsConnection}), so a client can retry with a token on it;
 * otherwise it closes after the answer ({@code Connection: close}).
 *
 * @param decision why it was refused
 * @param closeAfter whether the connection closes after the answer
 * @param shape the error shape of the API the request was for ({@link ErrorShape#of})
 */
record DeniedRequest(AccessPolicy.Decision decision, boolean closeAfter, ErrorShape shape) {
  /**
   * Checks a request head against the scope of the endpoint its path names, and against {@link
   * BrowserGuard}'s rules; {@code maxDrained}: the largest body skipped to keep the connection.
   *
   * @return the refusal, or null when the request may go on (also when its path names no endpoint
   *     or is malformed: the dispatcher answers 404 or 400)
   */
  static @Nullable DeniedRequest check(AccessPolicy access, HttpRequest head, long maxDrained) {
    return check(access, head, maxDrained, null);
  }

  /** Told of an allowed request of a tenant: its route and its token's tenant. */
  interface Allowed {
    void allowed(Route route, Tenant tenant);
  }

  /**
   * As {@link #check(AccessPolicy, HttpRequest, long)}; an allowed request whose decision names a
   * tenant is told to {@code allowed} (its route matched once, here) before this returns null.
   */
  static @Nullable DeniedRequest check(
      AccessPolicy access, HttpRequest head, long maxDrained, @Nullable Allowed allowed) {
    boolean closeAfter = !RefusedRequest.keepsConnection(head, maxDrained);
    ErrorShape shape = ErrorShape.of(head.uri());
    AccessPolicy.Decision browser = BrowserGuard.check(access, head);
    if (browser != null) {
      return new DeniedRequest(browser, closeAfter, shape);
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
        access.check(
            route.endpoint().scope,
            route.endpoint().openWithoutTokens,
            head.headers().get(HttpHeaderNames.AUTHORIZATION));
    if (!d.allowed()) {
      return new DeniedRequest(d, closeAfter, shape);
    }
    Tenant tenant = d.tenant();
    if (allowed != null && tenant != null) {
      allowed.allowed(route, tenant);
    }
    return null;
  }
}
