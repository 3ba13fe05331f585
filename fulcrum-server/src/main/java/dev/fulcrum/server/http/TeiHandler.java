package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.tenant.Admission;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.server.TraceParent;
import dev.fulcrum.server.codec.OpenAiJson.EmbeddingsRequest;
import dev.fulcrum.server.codec.TeiJson;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.EventExecutor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * Hugging Face Text Embeddings Inference's native routes on the REST port: {@code POST /embed},
 * {@code POST /similarity} and {@code GET /info} over one text pipeline ({@code fulcrum serve
 * --embeddings-model}, else the only one served), run as {@code /v1/embeddings} runs ({@link
 * OpenAiHandler}: the same admission, tenants, statistics, tracing and slow log); {@code
 * /embed_all}, {@code /tokenize} and {@code /decode}, which need the pipeline's tokenizer or token
 * vectors that the server does not hold, refused clearly. Errors in TEI's shape ({@link #error},
 * {@link #shaped}): {@code {"error", "error_type"}} with TEI's statuses.
 *
 * <p>Threads: called on the event loop; holds no mutable state.
 */
final class TeiHandler {
  /** TEI's paths (one segment each), whose errors take TEI's shape. */
  static final List<String> PATHS =
      List.of("/embed", "/embed_all", "/tokenize", "/decode", "/similarity", "/info");

  private final InferenceService service;
  private final OpenAiHandler openAi;
  private final String version;

  /** {@code --embeddings-model}: the model these routes run; "" for the only text pipeline. */
  private final String model;

  TeiHandler(InferenceService service, OpenAiHandler openAi, String version, String model) {
    this.service = service;
    this.openAi = openAi;
    this.version = version;
    this.model = model;
  }

  /**
   * The model the routes run: {@code --embeddings-model}'s, else the only text-embedding pipeline
   * served.
   *
   * @throws InferenceException UNAVAILABLE (TEI's 503 Unhealthy) when none is served,
   *     INVALID_ARGUMENT when several are and none was chosen
   */
  String model() {
    if (!model.isEmpty()) {
      return model;
    }
    List<String> text = openAi.textModels();
    if (text.size() == 1) {
      return text.get(0);
    }
    if (text.isEmpty()) {
      throw InferenceException.unavailable(
          "no text-embedding pipeline is ready: TEI's routes run one (a pipeline that tokenizes"
              + " one text per row into one FP32 vector)");
    }
    throw InferenceException.invalid(
        "several text-embedding pipelines are served (%s): start the server with"
            + " --embeddings-model <name> to choose the one TEI's routes run, or use POST"
            + " /v1/embeddings, which names its model",
        String.join(", ", text));
  }

  /** {@code POST /embed}: one vector per input, normalized unless the pipeline's are not asked. */
  CompletableFuture<Reply> embed(
      TeiJson.EmbedRequest asked,
      String name,
      EventExecutor loop,
      @Nullable TraceParent trace,
      @Nullable Tenant tenant,
      @Nullable Admission early) {
    boolean normalizes = normalizes(name);
    if (!asked.normalize() && normalizes) {
      throw InferenceException.invalid(
          "'normalize': false is not served: pipeline '%s' ends with a normalize step, so its"
              + " vectors are unit length; serve a pipeline without it for raw vectors",
          name);
    }
    boolean scale = asked.normalize() && !normalizes;
    EmbeddingsRequest run = new EmbeddingsRequest(name, asked.inputs(), false, 0, asked.truncate());
    return openAi.embeddings(
        run,
        (alloc, vectors, tokens) -> {
          List<float[]> out = vectors;
          if (scale) {
            out = new ArrayList<>(vectors.size());
            for (float[] v : vectors) {
              out.add(TeiJson.normalized(v));
            }
          }
          return json(Responses.full(HttpResponseStatus.OK, TeiJson.encodeVectors(alloc, out)));
        },
        "/embed",
        loop,
        trace,
        tenant,
        early);
  }

  /** {@code POST /similarity}: the cosine of the source sentence's vector to each sentence's. */
  CompletableFuture<Reply> similarity(
      TeiJson.SimilarityRequest asked,
      String name,
      EventExecutor loop,
      @Nullable TraceParent trace,
      @Nullable Tenant tenant,
      @Nullable Admission early) {
    List<String> texts = new ArrayList<>(asked.sentences().size() + 1);
    texts.add(asked.source());
    texts.addAll(asked.sentences());
    EmbeddingsRequest run = new EmbeddingsRequest(name, texts, false, 0, asked.truncate());
    return openAi.embeddings(
        run,
        (alloc, vectors, tokens) ->
            json(
                Responses.full(
                    HttpResponseStatus.OK,
                    Unpooled.wrappedBuffer(TeiJson.encodeScores(TeiJson.cosines(vectors))))),
        "/similarity",
        loop,
        trace,
        tenant,
        early);
  }

  /** {@code GET /info}: the model the routes run and its limits. */
  Reply info() {
    String name = model();
    ModelVersion served = service.repository().resolve(name, "");
    ModelConfig config = served.config();
    PipelineConfig p = config.pipeline();
    String pooling = "";
    int maxLength = 0;
    if (p != null) {
      for (PipelineConfig.Step s : p.post()) {
        if (s instanceof PipelineConfig.MeanPool) {
          pooling = "mean";
        }
      }
      if (!p.pre().isEmpty()
          && p.pre().get(0) instanceof PipelineConfig.Tokenize t
          && t.maxLength() != null) {
        maxLength = t.maxLength();
      }
    }
    return Responses.json(
        HttpResponseStatus.OK,
        TeiJson.info(
            new TeiJson.ServedModel(
                name, pooling, maxLength, Math.max(1, config.maxBatchSize()), version)));
  }

  /**
   * {@code /embed_all}, {@code /tokenize} and {@code /decode}: not served (501), saying why and
   * what to use.
   */
  static Reply unserved(String path) {
    String why =
        switch (path) {
          case "/embed_all" ->
              "/embed_all is not served: a Fulcrum text pipeline answers one pooled vector per text,"
                  + " not its token vectors; POST /embed gives the pooled vectors, and the"
                  + " pipeline's model (its engine-output) can be run directly on token ids";
          default ->
              path
                  + " is not served: the pipeline's tokenizer runs inside the pipeline, not on the"
                  + " HTTP port";
        };
    return error(new InferenceException(ErrorCode.UNIMPLEMENTED, why));
  }

  private static FullHttpResponse json(FullHttpResponse r) {
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
    return r;
  }

  /** Whether a model's pipeline ends with a normalize step (its vectors are unit length). */
  private boolean normalizes(String name) {
    PipelineConfig p;
    try {
      p = service.repository().resolve(name, "").config().pipeline();
    } catch (InferenceException e) {
      return true; // unknown or unready: the run answers it
    }
    return p != null
        && !p.post().isEmpty()
        && p.post().getLast() instanceof PipelineConfig.Normalize;
  }

  /** Whether a request target is one of TEI's paths (compared in place, as {@link ErrorShape}). */
  static boolean isPath(String uri) {
    int start = Route.absoluteFormPath(uri);
    return Route.pathIn(uri, start, Route.pathEnd(uri, start), PATHS);
  }

  /** TEI's error reply for a failure of a request on its paths. */
  static Reply error(Throwable t) {
    Throwable cause = Responses.cause(t);
    if (cause instanceof InferenceException ie) {
      return error(Responses.status(ie.code()), ie.getMessage(), ie.retryAfter());
    }
    if (cause instanceof CancellationException) {
      return error(Responses.CLIENT_CLOSED, "the request was cancelled", null);
    }
    return error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error: " + cause, null);
  }

  private static Reply error(
      HttpResponseStatus oip, String message, @Nullable Duration retryAfter) {
    HttpResponseStatus status = status(oip);
    byte[] body = TeiJson.error(message, type(oip));
    return alloc -> {
      FullHttpResponse r = Responses.jsonBytes(alloc, status, body);
      Responses.retryHeaders(r.headers(), status, retryAfter);
      return r;
    };
  }

  /**
   * TEI's status for the status the OIP paths answer: 422 for a bad request (TEI's validation
   * error), 424 for an engine failure (TEI's backend error); the rest as they are (413, 429, 503).
   */
  static HttpResponseStatus status(HttpResponseStatus oip) {
    return switch (oip.code()) {
      case 400 -> HttpResponseStatus.UNPROCESSABLE_ENTITY;
      case 500 -> HttpResponseStatus.FAILED_DEPENDENCY;
      default -> oip;
    };
  }

  /** TEI's {@code error_type} for the status the OIP paths answer. */
  static String type(HttpResponseStatus oip) {
    return switch (oip.code()) {
      case 429 -> "Overloaded";
      case 503 -> "Unhealthy";
      case 424, 500, 504 -> "Backend";
      // 501 (a route this server does not serve, e.g. /tokenize) is the request's, not a backend's
      // failure
      default -> "Validation";
    };
  }

  /**
   * A reply with an OIP error body (a refusal made before a handler runs: 401, 403, 404, 405, 413,
   * 415, 429 at the head) rewritten in TEI's shape and status; any other reply as it is.
   */
  static Reply shaped(Reply reply) {
    return alloc -> {
      FullHttpResponse r =
          ErrorShape.rewritten(reply, (status, message) -> TeiJson.error(message, type(status)))
              .render(alloc);
      HttpResponseStatus tei = status(r.status());
      if (r.status().code() >= 400 && !tei.equals(r.status())) {
        r.setStatus(tei);
      }
      return r;
    };
  }
}
