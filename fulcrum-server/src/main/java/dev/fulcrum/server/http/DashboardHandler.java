package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.server.dashboard.DashboardFeed;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The REST port's dashboard: {@code GET /dashboard} and its files (the page, its script and style,
 * uPlot from its WebJar), all read from the classpath once, and {@code GET /dashboard/events}, a
 * server-sent-event stream of the {@link DashboardFeed}'s frames ({@link DashboardStream}). Nothing
 * here changes the server.
 *
 * <p>Threads: shared by every connection of the port; immutable after construction.
 */
final class DashboardHandler {
  private static final String UPLOT = "META-INF/resources/webjars/uplot/1.6.30/dist/";
  private static final String OWN = "dev/fulcrum/server/dashboard/";

  /**
   * The page's own policy: scripts, styles and connections to this server only (uPlot sets inline
   * styles through the DOM, which needs 'unsafe-inline' for styles, not for scripts).
   */
  private static final String CSP =
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'"
          + " data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

  private record File(byte[] bytes, String contentType) {}

  private final DashboardFeed feed;
  private final InferenceService service;
  private final Map<String, File> files;

  /** Compresses each frame once for every gzip page (the feed's thread). */
  private final FrameDeflater deflater = new FrameDeflater();

  DashboardHandler(DashboardFeed feed, InferenceService service) {
    this.feed = feed;
    this.service = service;
    this.files =
        Map.of(
            "index.html", load(OWN + "index.html", "text/html; charset=utf-8"),
            "dashboard.js", load(OWN + "dashboard.js", "text/javascript; charset=utf-8"),
            "dashboard.css", load(OWN + "dashboard.css", "text/css; charset=utf-8"),
            "uPlot.iife.min.js",
                load(UPLOT + "uPlot.iife.min.js", "text/javascript; charset=utf-8"),
            "uPlot.min.css", load(UPLOT + "uPlot.min.css", "text/css; charset=utf-8"));
  }

  private static File load(String resource, String contentType) {
    try (InputStream in = DashboardHandler.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("the dashboard's " + resource + " is not on the classpath");
      }
      return new File(in.readAllBytes(), contentType);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A file of the page, or 404 for any name not in the fixed list. */
  Reply file(String name) {
    File f = files.get(name);
    if (f == null) {
      return Responses.error(HttpResponseStatus.NOT_FOUND, "no dashboard file " + shown(name));
    }
    return alloc -> {
      FullHttpResponse r = Responses.full(HttpResponseStatus.OK, Unpooled.wrappedBuffer(f.bytes()));
      r.headers()
          .set(HttpHeaderNames.CONTENT_TYPE, f.contentType())
          .set(HttpHeaderNames.CACHE_CONTROL, "no-cache")
          .set("X-Content-Type-Options", "nosniff")
          .set(HttpHeaderNames.CONTENT_SECURITY_POLICY, CSP);
      return r;
    };
  }

  /**
   * Turns the connection (or HTTP/2 stream) into an event stream; false, with nothing written, when
   * the feed has {@link DashboardFeed#MAX_SUBSCRIBERS} already.
   *
   * @param gzip whether the page accepts gzip: its frames are then compressed ({@link
   *     FrameDeflater})
   */
  boolean stream(ChannelHandlerContext ctx, boolean gzip) {
    DashboardStream stream = new DashboardStream(ctx, feed, service, gzip ? deflater : null);
    if (!feed.subscribe(stream)) {
      return false;
    }
    stream.open();
    return true;
  }

  private static String shown(String name) {
    return name.length() > 100 ? name.substring(0, 100) + "..." : name;
  }
}
