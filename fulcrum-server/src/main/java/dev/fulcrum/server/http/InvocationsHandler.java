package dev.fulcrum.server.http;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.ClientText;
import dev.fulcrum.server.HttpServerConfig.InvocationsModel;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * MLflow's scoring server's and SageMaker's paths around the inference itself: {@code GET /ping}
 * (and {@code /health}), {@code GET /version}, and what a {@code POST /invocations} runs: its model
 * ({@link InvocationsTarget}) and its body's format, told from its content type once ({@link
 * #isCsv}); the inference is {@link InferHandler#invocations}'s.
 *
 * <p>Threads: called on the event loop; holds no mutable state of its own.
 */
final class InvocationsHandler {
  private final InvocationsTarget target;

  /** The server's version, MLflow's {@code GET /version}. */
  private final String version;

  InvocationsHandler(InvocationsTarget target, String version) {
    this.target = target;
    this.version = version;
  }

  /**
   * The model and version an {@code /invocations} request runs on ({@link InvocationsTarget#of}).
   */
  InvocationsModel model(HttpHeaders headers) {
    return target.of(headers);
  }

  /**
   * SageMaker's health check's answer: 200 when ready, else 503 (its body a line, as MLflow's
   * scoring server writes it).
   */
  Reply ping() {
    boolean ready = target.ready();
    return alloc -> {
      FullHttpResponse r =
          Responses.full(
              ready ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
              Unpooled.wrappedBuffer(new byte[] {'\n'}));
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
      return r;
    };
  }

  /** MLflow's {@code GET /version}: the server's version as text. */
  Reply version() {
    return alloc -> {
      FullHttpResponse r =
          Responses.full(
              HttpResponseStatus.OK, Unpooled.copiedBuffer(version, StandardCharsets.UTF_8));
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
      return r;
    };
  }

  /**
   * Whether an {@code /invocations} body is CSV ({@code Content-Type: text/csv}), else JSON ({@code
   * application/json}, or no type); a parameter such as {@code charset} is ignored (the body is
   * read as UTF-8). Any other type is refused, as MLflow's scoring server refuses it.
   *
   * @throws InferenceException UNSUPPORTED_MEDIA_TYPE (415) for another type
   */
  static boolean isCsv(@Nullable String type) {
    if (type == null) {
      return false;
    }
    int semi = type.indexOf(';');
    String media = (semi < 0 ? type : type.substring(0, semi)).strip().toLowerCase(Locale.ROOT);
    if (media.equals("text/csv")) {
      return true;
    }
    if (media.equals("application/json") || media.isEmpty()) {
      return false;
    }
    throw InferenceException.unsupportedMediaType(
        "/invocations takes the content types application/json and text/csv, not '%s'",
        ClientText.printable(type, 100));
  }
}
