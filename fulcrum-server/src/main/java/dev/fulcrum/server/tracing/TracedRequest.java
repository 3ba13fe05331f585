package dev.fulcrum.server.tracing;

import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestTiming;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * One traced inference request: when it began, its parent (the caller's span, or none), and, once
 * answered, its spans: a SERVER span from the handler's start to the answer's encoding, with a
 * {@code queue} and a {@code compute} child placed from the times the core measured ({@link
 * RequestTiming}); an ensemble's request has a {@code step <i> <model>} child per step instead,
 * each with its own {@code queue} and {@code compute} (or, for a step that is itself an ensemble,
 * its steps). Made by the transport's thread (the connection's event loop) when it answers; not
 * shared between threads after that.
 */
public final class TracedRequest {
  /**
   * The most spans one core request makes (server, queue, compute); an embeddings request run as
   * several core requests makes a queue and a compute span for each.
   */
  static final int MAX_SPANS = 3;

  /**
   * How the request arrived: the {@code fulcrum.protocol} attribute, and for gRPC the method
   * ({@code rpc.method}, the span's name).
   */
  public enum Protocol {
    HTTP_JSON("http/json", ""),
    HTTP_BINARY("http/binary", ""),
    /** The OpenAI-compatible embeddings API ({@code POST /v1/embeddings}, JSON). */
    HTTP_OPENAI("http/openai", ""),
    /** TF Serving's and KServe v1's predict ({@code POST v1/models/<m>:predict}, JSON). */
    HTTP_TF_SERVING("http/tfserving", ""),
    /** MLflow's and SageMaker's scoring endpoint ({@code POST /invocations}, JSON or CSV). */
    HTTP_MLFLOW("http/mlflow", ""),
    /** A unary ModelInfer call. */
    GRPC("grpc", "ModelInfer"),
    /** One request of a ModelStreamInfer call: each has a span of its own. */
    GRPC_STREAM("grpc", "ModelStreamInfer"),
    /** TF Serving's gRPC Predict ({@code tensorflow.serving.PredictionService}). */
    GRPC_TF_SERVING("grpc/tfserving", "Predict", TF_SERVING_SERVICE);

    final String attribute;
    final String rpcMethod;
    final String rpcService;

    Protocol(String attribute, String rpcMethod) {
      this(attribute, rpcMethod, GRPC_SERVICE);
    }

    Protocol(String attribute, String rpcMethod, String rpcService) {
      this.attribute = attribute;
      this.rpcMethod = rpcMethod;
      this.rpcService = rpcService;
    }
  }

  static final AttributeKey<String> MODEL_NAME = AttributeKey.stringKey("fulcrum.model.name");
  static final AttributeKey<String> MODEL_VERSION = AttributeKey.stringKey("fulcrum.model.version");
  static final AttributeKey<String> PROTOCOL = AttributeKey.stringKey("fulcrum.protocol");
  static final AttributeKey<Long> REQUEST_ROWS = AttributeKey.longKey("fulcrum.request_rows");
  static final AttributeKey<Long> BATCH_ROWS = AttributeKey.longKey("fulcrum.batch_rows");
  static final AttributeKey<Boolean> CACHE_HIT = AttributeKey.booleanKey("fulcrum.cache_hit");
  static final AttributeKey<Long> STEPS_US = AttributeKey.longKey("fulcrum.steps_us");
  static final AttributeKey<Double> COST_USD = AttributeKey.doubleKey("fulcrum.cost_usd");
  static final AttributeKey<Long> ENSEMBLE_STEP = AttributeKey.longKey("fulcrum.ensemble.step");
  static final AttributeKey<String> HTTP_METHOD = AttributeKey.stringKey("http.request.method");
  static final AttributeKey<String> HTTP_ROUTE = AttributeKey.stringKey("http.route");
  static final AttributeKey<Long> HTTP_STATUS = AttributeKey.longKey("http.response.status_code");
  static final AttributeKey<String> RPC_SYSTEM = AttributeKey.stringKey("rpc.system");
  static final AttributeKey<String> RPC_SERVICE = AttributeKey.stringKey("rpc.service");
  static final AttributeKey<String> RPC_METHOD = AttributeKey.stringKey("rpc.method");
  static final AttributeKey<Long> GRPC_STATUS = AttributeKey.longKey("rpc.grpc.status_code");
  static final AttributeKey<String> ERROR_TYPE = AttributeKey.stringKey("error.type");

  /** The gRPC service traced. */
  public static final String GRPC_SERVICE = "inference.GRPCInferenceService";

  /** TF Serving's gRPC service, whose Predict calls are traced. */
  public static final String TF_SERVING_SERVICE = "tensorflow.serving.PredictionService";

  private final Tracing tracing;
  private final Context parent;
  private final long startNanos;
  private final Protocol protocol;

  TracedRequest(Tracing tracing, Context parent, long startNanos, Protocol protocol) {
    this.tracing = tracing;
    this.parent = parent;
    this.startNanos = startNanos;
    this.protocol = protocol;
  }

  /** The REST route of an infer request, as {@code http.route} and the span's name write it. */
  public static String restRoute(boolean versioned) {
    return versioned ? "/v2/models/{model}/versions/{version}/infer" : "/v2/models/{model}/infer";
  }

  /** The REST route of a TF Serving predict request, as {@code http.route} writes it. */
  public static String tfServingRoute(boolean versioned) {
    return versioned
        ? "/v1/models/{model}/versions/{version}:predict"
        : "/v1/models/{model}:predict";
  }

  /** The route of MLflow's and SageMaker's scoring endpoint, as {@code http.route} writes it. */
  public static final String INVOCATIONS_ROUTE = "/invocations";

  /** The route of the OpenAI-compatible embeddings API, as {@code http.route} writes it. */
  public static final String OPENAI_EMBEDDINGS_ROUTE = "/v1/embeddings";

  /**
   * Ends a REST request (success or error) now.
   *
   * @param versioned whether the path named a version
   * @param status the answer's HTTP status
   * @param response the answer, when there is one (its timing places the children)
   * @param readyNanos when the core's answer reached the transport ({@code System.nanoTime()})
   * @param errorType the error's code name ({@code error.type}), null on success
   * @param message the error's message, null on success
   */
  public void endHttp(
      String model,
      String version,
      boolean versioned,
      int status,
      @Nullable InferenceResponse response,
      long readyNanos,
      @Nullable String errorType,
      @Nullable String message) {
    endHttp(
        restRoute(versioned),
        model,
        version,
        status,
        response == null ? List.of() : List.of(response),
        readyNanos,
        errorType,
        message);
  }

  /**
   * Ends a REST request on {@code route} (success or error) now; a request the transport ran as
   * several core requests (an embeddings request longer than the model's max-batch-size) gets a
   * {@code queue} and a {@code compute} child for each.
   *
   * @param responses the core's answers, in order; empty when there is none
   */
  public void endHttp(
      String route,
      String model,
      String version,
      int status,
      List<InferenceResponse> responses,
      long readyNanos,
      @Nullable String errorType,
      @Nullable String message) {
    SpanBuilder b =
        start("POST " + route)
            .setAttribute(HTTP_METHOD, "POST")
            .setAttribute(HTTP_ROUTE, route)
            .setAttribute(HTTP_STATUS, (long) status);
    // OpenTelemetry's HTTP conventions: a server span is an error for a 5xx, not for a client's
    // 4xx (error.type names it either way).
    end(b, model, version, responses, readyNanos, errorType, message, status >= 500);
  }

  /**
   * Ends a gRPC ModelInfer call, or one request of a ModelStreamInfer call (its span named after
   * that method, its status the one its answer carries in the stream), now.
   *
   * @param code the call's gRPC status code ({@code io.grpc.Status.Code#value()})
   * @param serverFault whether the code is one OpenTelemetry's RPC conventions count as the
   *     server's error (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
   *     DATA_LOSS)
   */
  public void endGrpc(
      String model,
      String version,
      int code,
      boolean serverFault,
      @Nullable InferenceResponse response,
      long readyNanos,
      @Nullable String errorType,
      @Nullable String message) {
    SpanBuilder b =
        start(protocol.rpcService + "/" + protocol.rpcMethod)
            .setAttribute(RPC_SYSTEM, "grpc")
            .setAttribute(RPC_SERVICE, protocol.rpcService)
            .setAttribute(RPC_METHOD, protocol.rpcMethod)
            .setAttribute(GRPC_STATUS, (long) code);
    end(
        b,
        model,
        version,
        response == null ? List.of() : List.of(response),
        readyNanos,
        errorType,
        message,
        serverFault);
  }

  private SpanBuilder start(String name) {
    return tracing
        .tracer()
        .spanBuilder(name)
        .setSpanKind(SpanKind.SERVER)
        .setParent(parent)
        .setStartTimestamp(tracing.epochNanos(startNanos), TimeUnit.NANOSECONDS)
        .setAttribute(PROTOCOL, protocol.attribute);
  }

  private void end(
      SpanBuilder b,
      String model,
      String version,
      List<InferenceResponse> responses,
      long readyNanos,
      @Nullable String errorType,
      @Nullable String message,
      boolean fault) {
    long endNanos = Math.max(System.nanoTime(), startNanos);
    b.setAttribute(MODEL_NAME, model)
        .setAttribute(
            MODEL_VERSION, responses.isEmpty() ? version : responses.get(0).modelVersion());
    long rows = 0;
    boolean allHit = true;
    long steps = 0;
    double cost = 0;
    boolean priced = false;
    int timed = 0;
    int children = 0;
    for (InferenceResponse r : responses) {
      RequestTiming t = r.timing();
      if (t == null) {
        continue;
      }
      timed++;
      rows += t.requestRows();
      allHit &= t.cacheHit();
      steps += t.stepsMicros();
      if (t.priced()) {
        priced = true;
        cost += t.costUsd();
      }
      children += children(t);
    }
    if (timed > 0) {
      b.setAttribute(REQUEST_ROWS, rows).setAttribute(CACHE_HIT, allHit);
      if (steps > 0) {
        b.setAttribute(STEPS_US, steps);
      }
      if (priced) {
        b.setAttribute(COST_USD, cost);
      }
    }
    if (errorType != null) {
      b.setAttribute(ERROR_TYPE, errorType);
    }
    if (!tracing.queue(1 + children)) {
      return;
    }
    Span server = b.startSpan();
    if (fault) {
      server.setStatus(StatusCode.ERROR, message == null ? "" : message);
    }
    Context inServer = parent.with(server);
    for (InferenceResponse r : responses) {
      RequestTiming t = r.timing();
      if (t == null) {
        continue;
      }
      // The core's times are durations from the request's admission to its answer: admission is
      // placed that long before the answer reached this thread (never before the span's start).
      long ready = Math.min(Math.max(readyNanos, startNanos), endNanos);
      long admitted = Math.max(startNanos, ready - t.totalMicros() * 1000);
      children(t, inServer, admitted, ready);
    }
    server.end(tracing.epochNanos(endNanos), TimeUnit.NANOSECONDS);
  }

  /** How many spans {@link #children(RequestTiming, Context, long, long)} makes for {@code t}. */
  private static int children(RequestTiming t) {
    if (t.ensembleSteps().isEmpty()) {
      return t.cacheHit() ? 0 : 2;
    }
    int n = 0;
    for (RequestTiming.EnsembleStep s : t.ensembleSteps()) {
      n += 1 + children(s.timing());
    }
    return n;
  }

  /**
   * The spans under {@code parent} of a request admitted at {@code admitted} and answered by {@code
   * end}: its {@code queue} and {@code compute} (none for a cache hit), or an ensemble's steps,
   * each placed {@code start_us} after the ensemble's admission for its {@code total_us}, with its
   * own.
   */
  private void children(RequestTiming t, Context parent, long admitted, long end) {
    if (t.ensembleSteps().isEmpty()) {
      if (t.cacheHit()) {
        return;
      }
      long queueEnd = Math.min(admitted + t.queueMicros() * 1000, end);
      long computeEnd = Math.min(queueEnd + t.computeMicros() * 1000, end);
      child("queue", parent, admitted).end(tracing.epochNanos(queueEnd), TimeUnit.NANOSECONDS);
      child("compute", parent, queueEnd)
          .setAttribute(BATCH_ROWS, (long) t.batchRows())
          .setAttribute(REQUEST_ROWS, (long) t.requestRows())
          .end(tracing.epochNanos(computeEnd), TimeUnit.NANOSECONDS);
      return;
    }
    for (RequestTiming.EnsembleStep s : t.ensembleSteps()) {
      RequestTiming st = s.timing();
      long from = Math.min(admitted + s.startMicros() * 1000, end);
      long to = Math.min(from + st.totalMicros() * 1000, end);
      SpanBuilder b =
          tracing
              .tracer()
              .spanBuilder("step " + s.step() + " " + s.model())
              .setSpanKind(SpanKind.INTERNAL)
              .setParent(parent)
              .setStartTimestamp(tracing.epochNanos(from), TimeUnit.NANOSECONDS)
              .setAttribute(ENSEMBLE_STEP, (long) s.step())
              .setAttribute(MODEL_NAME, s.model())
              .setAttribute(MODEL_VERSION, s.version())
              .setAttribute(REQUEST_ROWS, (long) st.requestRows())
              .setAttribute(CACHE_HIT, st.cacheHit());
      if (st.priced()) {
        b.setAttribute(COST_USD, st.costUsd());
      }
      Span step = b.startSpan();
      children(st, parent.with(step), from, to);
      step.end(tracing.epochNanos(to), TimeUnit.NANOSECONDS);
    }
  }

  private Span child(String name, Context parent, long from) {
    return tracing
        .tracer()
        .spanBuilder(name)
        .setSpanKind(SpanKind.INTERNAL)
        .setParent(parent)
        .setStartTimestamp(tracing.epochNanos(from), TimeUnit.NANOSECONDS)
        .startSpan();
  }
}
