package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.TenantCharges;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.tenant.Admission;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.SlowRequestLog;
import dev.fulcrum.server.TimedAnswers;
import dev.fulcrum.server.TraceParent;
import dev.fulcrum.server.codec.OpenAiJson;
import dev.fulcrum.server.codec.OpenAiJson.EmbeddingsRequest;
import dev.fulcrum.server.tracing.TracedRequest;
import dev.fulcrum.server.tracing.Tracing;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.EventExecutor;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The OpenAI-compatible embeddings API on the REST port: {@code POST /v1/embeddings} runs a text
 * pipeline (text in, one FP32 vector per text out, such as the demo's {@code minilm_text}) through
 * the same {@link InferenceService} door as {@code v2/models/<m>/infer}, so that admission,
 * batching, the SLO policy, statistics, metrics, cost and limits apply as to any request; {@code
 * GET /v1/models[/<id>]} names the models it serves. Decode ({@link OpenAiJson}), hand to the core,
 * encode; errors in OpenAI's shape ({@link #error}, {@link #shaped}).
 *
 * <p>Threads: called on the event loop; its replies are rendered there. Holds no mutable state.
 */
final class OpenAiHandler {
  private final InferenceService service;
  private final AnswerLoops loops;

  /** Whether every request is timed (the slow-request log is on). */
  private final boolean timeAll;

  private final @Nullable Tracing tracing;

  /** The {@code created} of every model object: when this server started (unix seconds). */
  private final long created = System.currentTimeMillis() / 1000;

  /**
   * @param timeAll time every request, for the slow-request log
   * @param tracing traces requests as {@link InferHandler} does; null: off
   */
  OpenAiHandler(
      InferenceService service, AnswerLoops loops, boolean timeAll, @Nullable Tracing tracing) {
    this.service = service;
    this.loops = loops;
    this.timeAll = timeAll;
    this.tracing = tracing;
  }

  /**
   * Whether a request target is on the OpenAI API's paths, whose errors take OpenAI's shape: every
   * {@code /v1} path but TF Serving's ({@link PredictHandler#isPath}).
   */
  static boolean isPath(String uri) {
    int start = Route.absoluteFormPath(uri); // where Route reads the path from
    return (uri.startsWith("/v1/", start)
            || uri.startsWith("/v1?", start)
            || (uri.startsWith("/v1", start) && uri.length() == start + 3))
        && !PredictHandler.isPath(uri); // TF Serving's, whose errors are {"error": "..."}
  }

  /**
   * A model that {@code /v1/embeddings} can run: a pipeline whose first step tokenizes, taking one
   * text per row (BYTES, dims [1]) and giving one FP32 vector per row.
   *
   * @param input the pipeline's text input
   * @param output its vector output
   * @param dimensions the vector's length
   * @param rowsPerRequest the most texts one core request carries (the model's max-batch-size)
   */
  record TextEmbedding(String input, String output, int dimensions, int rowsPerRequest) {

    /** The model's text-embedding shape, or null when it is not such a model. */
    static @Nullable TextEmbedding of(ModelConfig config) {
      PipelineConfig p = config.pipeline();
      if (p == null
          || p.pre().isEmpty()
          || !(p.pre().get(0) instanceof PipelineConfig.Tokenize)
          || config.maxBatchSize() < 1
          || config.inputs().size() != 1) {
        return null;
      }
      TensorConfig in = config.inputs().get(0);
      if (in.datatype() != DataType.BYTES || in.dims().length != 1 || in.dims()[0] != 1) {
        return null;
      }
      TensorConfig vector = null;
      for (TensorConfig out : config.outputs()) {
        if (out.datatype() == DataType.FP32
            && out.dims().length == 1
            && out.dims()[0] > 0
            && (p.output() == null || p.output().equals(out.name()))) {
          if (vector != null) {
            return null; // two vectors: which one is the embedding is not ours to guess
          }
          vector = out;
        }
      }
      return vector == null
          ? null
          : new TextEmbedding(
              in.name(), vector.name(), (int) vector.dims()[0], config.maxBatchSize());
    }
  }

  /**
   * How the vectors of an embeddings request are written: OpenAI's list here, TEI's arrays and
   * scores ({@link TeiHandler}), Ollama's objects ({@link OllamaHandler}).
   */
  @FunctionalInterface
  interface VectorAnswer {
    /**
     * The answer's response.
     *
     * @param vectors one per text, in order, each already cut to the dimensions asked
     * @param tokens how many tokens the pipeline's tokenizer made of all the texts
     */
    FullHttpResponse render(ByteBufAllocator alloc, List<float[]> vectors, long tokens);
  }

  /** OpenAI's answer to {@code asked}: {@code {"object": "list", "data": [...], "usage"}}. */
  static VectorAnswer openAiAnswer(EmbeddingsRequest asked) {
    return (alloc, vectors, tokens) -> {
      FullHttpResponse response =
          Responses.full(
              HttpResponseStatus.OK,
              OpenAiJson.encodeEmbeddings(alloc, asked.model(), vectors, asked.base64(), tokens));
      response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
      return response;
    };
  }

  /**
   * Runs an embeddings request: its texts in requests of at most the model's max-batch-size, each
   * through {@link InferenceService#infer}, joined in order into one answer; the first failure
   * fails the whole (and cancels the rest). Traced and timed as an infer request: with tracing on
   * and the request sampled ({@code trace}: its {@code traceparent}), a SERVER span {@code POST
   * /v1/embeddings} with a queue and a compute child for each core request; with the slow-request
   * log on, each core request is timed ({@link Embeddings#slowTiming}).
   *
   * @throws InferenceException for an unknown or unready model (404/503), one that is not a text
   *     embedding model, or dimensions it cannot give (400), a full queue (429)
   */
  CompletableFuture<Reply> embeddings(
      EmbeddingsRequest asked, EventExecutor loop, @Nullable TraceParent trace) {
    return embeddings(asked, loop, trace, null, null);
  }

  /** As below, answered in OpenAI's shape on {@code /v1/embeddings}. */
  CompletableFuture<Reply> embeddings(
      EmbeddingsRequest asked,
      EventExecutor loop,
      @Nullable TraceParent trace,
      @Nullable Tenant tenant,
      @Nullable Admission early) {
    return embeddings(
        asked,
        openAiAnswer(asked),
        TracedRequest.OPENAI_EMBEDDINGS_ROUTE,
        loop,
        trace,
        tenant,
        early);
  }

  /**
   * As {@link #embeddings(EmbeddingsRequest, EventExecutor, TraceParent)}, charged to {@code
   * tenant}: one request of the tenant however many core requests it is run in, admitted by its
   * limits once and counted once; one refused before that (an unknown model, a bad field, a full
   * queue) is counted as {@code /infer}'s are ({@link InferenceService#failedBeforeAdmission}). The
   * answer is written by {@code answer}; {@code route} names the request in its trace.
   */
  CompletableFuture<Reply> embeddings(
      EmbeddingsRequest asked,
      VectorAnswer answer,
      String route,
      EventExecutor loop,
      @Nullable TraceParent trace,
      @Nullable Tenant tenant,
      @Nullable Admission early) {
    if (tenant == null && early == null) {
      return traced(asked, answer, route, loop, trace, null, null);
    }
    try {
      return traced(asked, answer, route, loop, trace, tenant, early);
    } catch (RuntimeException e) {
      if (early != null) {
        service.failedBeforeAdmission(early, asked.model(), e);
      } else {
        service.failedBeforeAdmission(tenant, asked.model(), e);
      }
      throw e;
    }
  }

  /**
   * Decodes an embeddings request's body; one that does not decode is counted for {@code tenant}
   * under the model {@code ""} (its body names none that can be trusted), and one admitted at its
   * head ({@code early}) ends there.
   */
  EmbeddingsRequest decode(ByteBuf content, @Nullable Tenant tenant, @Nullable Admission early) {
    return decode(() -> OpenAiJson.decodeEmbeddings(content), tenant, early);
  }

  /**
   * Decodes a request's body with {@code decoder} (TEI's, Ollama's), counted as {@link
   * #decode(ByteBuf, Tenant, Admission)} counts.
   */
  <T> T decode(Supplier<T> decoder, @Nullable Tenant tenant, @Nullable Admission early) {
    if (tenant == null && early == null) {
      return decoder.get();
    }
    try {
      return decoder.get();
    } catch (RuntimeException e) {
      if (early != null) {
        early.failed(e);
      } else {
        service.failedBeforeAdmission(tenant, "", e);
      }
      throw e;
    }
  }

  private CompletableFuture<Reply> traced(
      EmbeddingsRequest asked,
      VectorAnswer answer,
      String route,
      EventExecutor loop,
      @Nullable TraceParent trace,
      @Nullable Tenant tenant,
      @Nullable Admission early) {
    Tracing t = tracing;
    TracedRequest traced =
        t == null || !t.active()
            ? null
            : t.begin(asked.model(), trace, TracedRequest.Protocol.HTTP_OPENAI);
    if (traced == null) {
      return run(asked, answer, route, loop, null, tenant, early);
    }
    CompletableFuture<Reply> reply;
    try {
      reply = run(asked, answer, route, loop, traced, tenant, early);
    } catch (RuntimeException e) {
      InferHandler.failed(traced, route, asked.model(), "", e);
      throw e;
    }
    reply.whenComplete(
        (r, failure) -> {
          if (failure != null) {
            InferHandler.failed(traced, route, asked.model(), "", failure);
          }
        });
    return reply;
  }

  private CompletableFuture<Reply> run(
      EmbeddingsRequest asked,
      VectorAnswer answer,
      String route,
      EventExecutor loop,
      @Nullable TracedRequest traced,
      @Nullable Tenant tenant,
      @Nullable Admission early) {
    ModelVersion admitted = service.admissionCheck(asked.model(), "");
    TextEmbedding text = TextEmbedding.of(admitted.config());
    if (text == null) {
      throw new OpenAiJson.InvalidField(
          "model",
          "model '"
              + asked.model()
              + "' is not a text-embedding model (a pipeline that tokenizes one text per row into"
              + " one FP32 vector); GET /v1/models lists those served: "
              + textModels());
    }
    if (asked.dimensions() > text.dimensions()) {
      throw new OpenAiJson.InvalidField(
          "dimensions",
          "model '"
              + asked.model()
              + "' gives "
              + text.dimensions()
              + "-dimensional vectors; 'dimensions' may shorten them (to 1.."
              + text.dimensions()
              + "), not lengthen them to "
              + asked.dimensions());
    }
    String model = admitted.config().name();
    // The client's request is one request of its tenant: admitted once (at its head, or here; its
    // parts run without a tenant), ended once when its reply settles. Past this point nothing
    // throws.
    Admission admission;
    try {
      admission = early != null ? early : tenant != null ? tenant.enter(model) : null;
    } catch (InferenceException over) {
      return CompletableFuture.failedFuture(over); // counted as refused by enter
    }
    long slowNanos = SlowRequestLog.modelThresholdNanos(admitted.config());
    List<String> input = asked.input();
    int parts = (input.size() + text.rowsPerRequest() - 1) / text.rowsPerRequest();
    List<CompletableFuture<InferenceResponse>> running = new ArrayList<>(parts);
    CompletableFuture<Reply> reply = new CompletableFuture<>();
    InferenceResponse[] answers = new InferenceResponse[parts];
    AtomicInteger left = new AtomicInteger(parts);
    for (int p = 0; p < parts && !reply.isDone(); p++) {
      int from = p * text.rowsPerRequest();
      List<String> rows = input.subList(from, Math.min(input.size(), from + text.rowsPerRequest()));
      // Timed for the slow-request log and a trace, and timed and priced for a tenant's
      // chargeback; the answer never shows a timing.
      InferenceRequest run =
          TimedAnswers.toRun(
              request(asked.model(), text, rows, asked.truncate()),
              timeAll,
              traced != null || admission != null);
      CompletableFuture<InferenceResponse> part;
      try {
        part = service.infer(admitted, run, loops.of(loop), null, null);
      } catch (RuntimeException e) {
        part = CompletableFuture.failedFuture(e); // never thrown past the admission
      }
      running.add(part);
      int index = p;
      part.whenComplete(
          (r, t) -> {
            if (t != null) {
              // Counted before the transport sees the failure, as InferenceService counts.
              if (admission != null) {
                admission.finished(model, null, t);
              }
              reply.completeExceptionally(t);
              return;
            }
            answers[index] = r;
            if (left.decrementAndGet() == 0) {
              List<InferenceResponse> all = List.of(answers);
              if (admission != null) {
                admission.finished(model, TenantCharges.sum(all), null);
              }
              reply.complete(
                  new Embeddings(
                      asked,
                      text,
                      all,
                      slowNanos,
                      traced,
                      traced == null ? 0 : System.nanoTime(),
                      answer,
                      route));
            }
          });
    }
    // A failed part, or the dispatcher cancelling the reply (the client went away), drops the
    // parts still queued; a cancelled reply is the tenant's request's end.
    reply.whenComplete(
        (r, t) -> {
          if (t != null) {
            if (admission != null) {
              admission.finished(model, null, t);
            }
            running.forEach(f -> f.cancel(false));
          }
        });
    return reply;
  }

  /**
   * One core request: the texts as a BYTES [n, 1] tensor, asking for the vector and the tokens, and
   * where {@code truncate} is false, that no text be cut.
   */
  private static InferenceRequest request(
      String model, TextEmbedding text, List<String> rows, boolean truncate) {
    List<byte[]> bytes = new ArrayList<>(rows.size());
    for (String s : rows) {
      bytes.add(s.getBytes(StandardCharsets.UTF_8));
    }
    return new InferenceRequest(
        model,
        "",
        "",
        truncate
            ? Map.of(RequestOptions.TOKEN_COUNT, true)
            : Map.of(RequestOptions.TOKEN_COUNT, true, RequestOptions.TRUNCATE, false),
        List.of(Tensor.ofBytes(text.input(), new long[] {rows.size(), 1}, bytes)),
        List.of(RequestedOutput.named(text.output())));
  }

  /**
   * The answer to an embeddings request, rendered on the event loop: each part's vectors in order,
   * cut to the dimensions asked, and the tokens the parts' tokenizer made. The dispatcher reads its
   * timing and threshold for the slow-request log.
   *
   * @param slowNanos the model's slow-request threshold ({@link
   *     SlowRequestLog#modelThresholdNanos}), 0 for none
   * @param traced the request's trace, null when it is not traced; its spans end once rendered
   * @param readyNanos when the last part's answer came ({@code System.nanoTime()}; 0 untraced)
   * @param answer writes the vectors in the request's API's shape
   * @param route the request's route in its trace
   */
  record Embeddings(
      EmbeddingsRequest asked,
      TextEmbedding text,
      List<InferenceResponse> parts,
      long slowNanos,
      @Nullable TracedRequest traced,
      long readyNanos,
      VectorAnswer answer,
      String route)
      implements Reply {

    /**
     * The timing the slow-request log writes: the one core request's, or of several (a list longer
     * than the max-batch-size) the one that took longest from admission to answer, which the answer
     * waited for; null when untimed.
     */
    @Nullable RequestTiming slowTiming() {
      RequestTiming slowest = null;
      for (InferenceResponse r : parts) {
        RequestTiming t = r.timing();
        if (t != null && (slowest == null || t.totalMicros() > slowest.totalMicros())) {
          slowest = t;
        }
      }
      return slowest;
    }

    @Override
    public FullHttpResponse render(ByteBufAllocator alloc) {
      TracedRequest t = traced;
      if (t == null) {
        return encode(alloc);
      }
      FullHttpResponse r;
      try {
        r = encode(alloc);
      } catch (RuntimeException e) {
        InferHandler.failed(t, route, asked.model(), "", e);
        throw e;
      }
      t.endHttp(route, asked.model(), "", 200, parts, readyNanos, null, null);
      return r;
    }

    private FullHttpResponse encode(ByteBufAllocator alloc) {
      List<float[]> vectors = new ArrayList<>(asked.input().size());
      long tokens = 0;
      for (InferenceResponse r : parts) {
        Tensor out = r.outputs().get(0);
        FloatBuffer data = out.data().asFloatBuffer(); // little-endian, as Tensor holds it
        int rows = (int) out.dim(0);
        for (int i = 0; i < rows; i++) {
          float[] v = new float[text.dimensions()];
          data.get(i * v.length, v);
          vectors.add(OpenAiJson.truncated(v, asked.dimensions()));
        }
        if (r.parameters().get(RequestOptions.TOKEN_COUNT) instanceof Long n) {
          tokens += n;
        }
      }
      return answer.render(alloc, vectors, tokens);
    }
  }

  /** The names of the ready models that {@code /v1/embeddings} runs, sorted. */
  List<String> textModels() {
    TreeSet<String> names = new TreeSet<>();
    for (ModelVersion mv : service.repository().served()) {
      if (mv.isReady() && TextEmbedding.of(mv.config()) != null) {
        names.add(mv.name());
      }
    }
    return List.copyOf(names);
  }

  /** {@code GET /v1/models}: the models {@code /v1/embeddings} runs now. */
  Reply models() {
    return Responses.json(HttpResponseStatus.OK, OpenAiJson.models(textModels(), created));
  }

  /**
   * {@code GET /v1/models/<id>}: any model the repository knows, as OpenAI's model object with
   * KServe v1's and TF Serving's status fields ({@link PredictHandler#model}); 404 for an unknown
   * one.
   */
  Reply model(PredictHandler predict, String id) {
    return predict.model(id, created);
  }

  /** The OpenAI error reply for a failure of a request on these paths (as {@link Responses}). */
  static Reply error(Throwable t) {
    Throwable cause = Responses.cause(t);
    if (cause instanceof InferenceException ie) {
      String param = ie instanceof OpenAiJson.InvalidField f ? f.param() : null;
      String code = ie.code() == ErrorCode.NOT_FOUND ? "model_not_found" : null;
      return error(Responses.status(ie.code()), ie.getMessage(), param, code, ie.retryAfter());
    }
    if (cause instanceof CancellationException) {
      return error(Responses.CLIENT_CLOSED, "the request was cancelled", null, null, null);
    }
    return error(
        HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error: " + cause, null, null, null);
  }

  private static Reply error(
      HttpResponseStatus status,
      String message,
      @Nullable String param,
      @Nullable String code,
      @Nullable Duration retryAfter) {
    byte[] body = OpenAiJson.error(message, type(status), param, code(status, code));
    return alloc -> {
      FullHttpResponse r = Responses.jsonBytes(alloc, status, body);
      Responses.retryHeaders(r.headers(), status, retryAfter); // as the OIP paths
      return r;
    };
  }

  /** OpenAI's error {@code type} of a status. */
  private static String type(HttpResponseStatus status) {
    int code = status.code();
    if (code == 429) {
      return "rate_limit_exceeded";
    }
    return code >= 500 ? "server_error" : "invalid_request_error";
  }

  /** OpenAI's error {@code code} where a status has one it names. */
  private static @Nullable String code(HttpResponseStatus status, @Nullable String given) {
    if (given != null) {
      return given;
    }
    return switch (status.code()) {
      case 401 -> "invalid_api_key";
      case 403 -> "permission_denied";
      case 429 -> "rate_limit_exceeded";
      default -> null;
    };
  }

  /**
   * A reply with any OIP error body ({@code {"error": "<message>"}}, from the refusals made before
   * a handler runs: 400 malformed request or undecodable body, 401, 403, 404 no such path, 405,
   * 413, 415, 417, 431, 503 over the body budget) rewritten in OpenAI's shape, its status and
   * headers ({@code Allow}, {@code Accept-Encoding}, {@code WWW-Authenticate}, {@code Retry-After})
   * kept; any other reply as it is.
   */
  static Reply shaped(Reply reply) {
    return ErrorShape.rewritten(
        reply,
        (status, message) -> OpenAiJson.error(message, type(status), null, code(status, null)));
  }
}
