package dev.fulcrum.server.http;

import dev.fulcrum.core.tenant.Admission;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.server.TraceParent;
import dev.fulcrum.server.codec.OllamaJson;
import dev.fulcrum.server.codec.OpenAiJson.EmbeddingsRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.EventExecutor;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * Ollama's embedding API on the REST port: {@code POST /api/embed}, the legacy {@code POST
 * /api/embeddings}, {@code GET /api/tags} (the text pipelines as models, each {@code
 * <name>:latest}) and {@code GET /api/version}. The embeddings run as {@code /v1/embeddings} runs
 * ({@link OpenAiHandler}: the same admission, tenants, statistics, tracing and slow log); errors in
 * Ollama's shape, which is OIP's ({@code {"error": "..."}}: 400 bad body, 404 unknown model).
 *
 * <p>Threads: called on the event loop; holds no mutable state.
 */
final class OllamaHandler {
  private final OpenAiHandler openAi;
  private final String version;

  /** When this server started: every model's {@code modified_at}. */
  private final Instant started = Instant.now();

  OllamaHandler(OpenAiHandler openAi, String version) {
    this.openAi = openAi;
    this.version = version;
  }

  /**
   * {@code POST /api/embed} or {@code /api/embeddings}: the vectors, each cut to {@code dimensions}
   * and scaled back to unit length, as Ollama answers it.
   */
  CompletableFuture<Reply> embed(
      OllamaJson.EmbedRequest asked,
      EventExecutor loop,
      @Nullable TraceParent trace,
      @Nullable Tenant tenant,
      @Nullable Admission early) {
    long start = System.nanoTime();
    EmbeddingsRequest run =
        new EmbeddingsRequest(
            asked.model(), asked.input(), false, asked.dimensions(), asked.truncate());
    String named = asked.model() + ":" + OllamaJson.TAG;
    return openAi.embeddings(
        run,
        (alloc, vectors, tokens) ->
            json(
                Responses.full(
                    HttpResponseStatus.OK,
                    OllamaJson.encodeEmbed(
                        alloc, asked, named, vectors, tokens, System.nanoTime() - start))),
        asked.legacy() ? "/api/embeddings" : "/api/embed",
        loop,
        trace,
        tenant,
        early);
  }

  /** {@code GET /api/tags}: the models {@code /api/embed} runs now. */
  Reply tags() {
    return Responses.json(HttpResponseStatus.OK, OllamaJson.tags(openAi.textModels(), started));
  }

  /** {@code GET /api/version}: the server's version. */
  Reply version() {
    return Responses.json(HttpResponseStatus.OK, OllamaJson.version(version));
  }

  private static FullHttpResponse json(FullHttpResponse r) {
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
    return r;
  }
}
