package dev.fulcrum.server.http;

import dev.fulcrum.server.ClientText;
import dev.fulcrum.server.security.AccessPolicy;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Keeps web pages in a user's browser from driving the REST port: a page on another site may send a
 * "simple" POST to {@code http://127.0.0.1:8000} without any CORS preflight (cross-site request
 * forgery: run inference, or load and unload models when the repository API is open), and a page
 * whose DNS name is rebound to 127.0.0.1 may even read the answers (DNS rebinding), the class of
 * the Ray and Jupyter reports. Two rules, checked with the token when a request head arrives:
 *
 * <ul>
 *   <li>A request other than GET and HEAD that carries an {@code Origin} (browsers send one on
 *       every such request; other clients do not) must come from the origin it is addressed to: its
 *       host and port those of the {@code Host} header. The dashboard's own requests are
 *       same-origin GETs.
 *   <li>When the port is open to every request (no token configured, bound to loopback: {@link
 *       AccessPolicy#allowsAll}), the {@code Host} must be a name of one label ({@code localhost}),
 *       a {@code .localhost} name, an IP address, or the address the server binds: a rebinding
 *       page's host is its own DNS name, which has a dot. With tokens, a browser cannot send the
 *       token cross-site without a CORS preflight, which Fulcrum never grants. A request without
 *       {@code Host} (HTTP/1.0) is not a browser's.
 * </ul>
 *
 * <p>Stateless; runs on the event loops.
 */
final class BrowserGuard {
  private BrowserGuard() {}

  /** The refusal for a request head (403), or null when it may go on. */
  static AccessPolicy.@Nullable Decision check(AccessPolicy access, HttpRequest head) {
    String host = head.headers().get(HttpHeaderNames.HOST);
    if (access.allowsAll() && host != null && !localHost(hostName(host), access.host())) {
      return forbidden(
          "a request for host '"
              + ClientText.printable(host, 100)
              + "' is refused: with no token configured this server answers only requests"
              + " addressed to it by a local name or an IP address (a guard against DNS"
              + " rebinding); configure tokens (--auth-token-file) to serve it under other names");
    }
    HttpMethod method = head.method();
    if (method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD)) {
      return null;
    }
    String origin = head.headers().get(HttpHeaderNames.ORIGIN);
    if (origin == null || sameOrigin(origin, host)) {
      return null;
    }
    return forbidden(
        "a cross-origin request from '"
            + ClientText.printable(origin, 100)
            + "' is refused: Fulcrum answers a browser's requests from its own origin only"
            + " (the dashboard); call it from a program rather than from a web page of another"
            + " site");
  }

  private static AccessPolicy.Decision forbidden(String message) {
    return new AccessPolicy.Decision(AccessPolicy.Outcome.FORBIDDEN, message, false);
  }

  /** The host of a {@code Host} header or an origin's authority, without port or brackets. */
  static String hostName(String authority) {
    String a = authority.strip();
    if (a.startsWith("[")) {
      int end = a.indexOf(']');
      return end < 0 ? a : a.substring(0, end + 1);
    }
    int colon = a.lastIndexOf(':');
    return colon >= 0 && a.indexOf(':') == colon ? a.substring(0, colon) : a;
  }

  static boolean localHost(String name, String boundHost) {
    String n = name.toLowerCase(Locale.ROOT);
    if (n.endsWith(".")) {
      n = n.substring(0, n.length() - 1); // "localhost." is localhost
    }
    return n.indexOf('.') < 0 // localhost, a machine's own name: a rebinding needs a DNS name
        || n.endsWith(".localhost")
        || n.startsWith("[") // an IPv6 address
        || ipv4(n)
        || n.equals(boundHost.toLowerCase(Locale.ROOT));
  }

  private static boolean ipv4(String n) {
    int dots = 0;
    for (int i = 0; i < n.length(); i++) {
      char c = n.charAt(i);
      if (c == '.') {
        dots++;
      } else if (c < '0' || c > '9') {
        return false;
      }
    }
    return dots == 3 && !n.startsWith(".") && !n.endsWith(".") && !n.contains("..");
  }

  /** Whether an {@code Origin} names the host and port of the {@code Host} header. */
  static boolean sameOrigin(String origin, @Nullable String host) {
    if (host == null) {
      return false;
    }
    int scheme = origin.indexOf("://");
    if (scheme < 0) {
      return false; // "null" (a sandboxed frame, a file) or malformed
    }
    String s = origin.substring(0, scheme).toLowerCase(Locale.ROOT);
    String defaultPort = s.equals("https") ? "443" : s.equals("http") ? "80" : null;
    if (defaultPort == null) {
      return false;
    }
    String authority = origin.substring(scheme + 3);
    return hostName(authority).equalsIgnoreCase(hostName(host))
        && port(authority, defaultPort).equals(port(host.strip(), defaultPort));
  }

  private static String port(String authority, String defaultPort) {
    int bracket = authority.lastIndexOf(']');
    int colon = authority.lastIndexOf(':');
    if (colon <= bracket || (bracket < 0 && authority.indexOf(':') != colon)) {
      return defaultPort;
    }
    String p = authority.substring(colon + 1);
    return p.isEmpty() ? defaultPort : p;
  }
}
