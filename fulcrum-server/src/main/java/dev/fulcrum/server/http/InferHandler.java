package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.tenant.Admission;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tensor.TensorBuffers;
import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.SlowRequestLog;
import dev.fulcrum.server.TimedAnswers;
import dev.fulcrum.server.TraceParent;
import dev.fulcrum.server.codec.DecodedInferRequest;
import dev.fulcrum.server.codec.InferRequestDecoder;
import dev.fulcrum.server.codec.InferResponseEncoder;
import dev.fulcrum.server.codec.MlflowDecoder;
import dev.fulcrum.server.codec.PredictDecoder;
import dev.fulcrum.server.codec.PredictDecoder.PredictRequest;
import dev.fulcrum.server.codec.PredictJson;
import dev.fulcrum.server.shm.SharedMemoryOutput;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import dev.fulcrum.server.tracing.TracedRequest;
import dev.fulcrum.server.tracing.Tracing;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.EventExecutor;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * {@code POST v2/models/<m>[/versions/<v>]/infer}: decode the body on the event loop (one copy of
 * each tensor, see {@link InferRequestDecoder}), hand the request to {@link InferenceService}, and
 * return a reply that the dispatcher renders on the event loop once the engine thread completes the
 * future. With tracing on, a request that is traced ({@link Tracing#begin}) is timed, and its spans
 * made on the event loop once its answer is encoded, or once it fails; with it off no trace header
 * is read. TF Serving's {@code v1/models/<m>:predict} ({@link #predict}) and MLflow's and
 * SageMaker's {@code /invocations} ({@link #invocations}) take the same path with their own body
 * codecs ({@link PredictDecoder}, {@link MlflowDecoder}, {@link PredictJson}).
 *
 * <p>Threads: called on the event loop; holds no mutable state.
 */
final class InferHandler {
  /** Triton's header giving the JSON part's length in a body that carries binary tensors. */
  static final String HEADER_LENGTH = "Inference-Header-Content-Length";

  /** The W3C header a request that asked for its timing gets it in too (browser devtools). */
  static final String SERVER_TIMING = "Server-Timing";

  private final InferenceService service;
  private final TensorBuffers buffers;

  private final AnswerLoops loops;

  /** Whether every request is timed (the slow-request log is on). */
  private final boolean timeAll;

  private final @Nullable Tracing tracing;

  /** The server's shared memory regions, which inputs are read from and outputs written to. */
  private final SharedMemoryRegistry sharedMemory;

  /**
   * @param timeAll time every request, for the slow-request log: its answer shows the timing only
   *     when the request asked (or the server's {@code --request-timing-always})
   * @param tracing traces requests; null: off, no trace header is read
   */
  InferHandler(
      InferenceService service,
      TensorBuffers buffers,
      AnswerLoops loops,
      boolean timeAll,
      @Nullable Tracing tracing,
      SharedMemoryRegistry sharedMemory) {
    this.service = service;
    this.sharedMemory = sharedMemory;
    this.buffers = buffers;
    this.loops = loops;
    this.timeAll = timeAll;
    this.tracing = tracing;
  }

  /**
   * Decodes and submits a request; {@code request} may be released as soon as this returns.
   *
   * @param loop the connection's event loop: a worker's pass completes the request there, in one
   *     task with the pass's other requests of that loop (one wake-up of the loop per pass)
   * @throws dev.fulcrum.core.error.InferenceException for a malformed request
   */
  CompletableFuture<Reply> infer(
      String model,
      String version,
      FullHttpRequest request,
      EventExecutor loop,
      @Nullable TraceParent trace,
      @Nullable Tenant tenant,
      @Nullable Admission early) {
    return run(new Call(model, version, request, loop, trace, tenant, early, Api.OIP));
  }

  /**
   * As {@link #infer}, for TF Serving's and KServe v1's {@code POST
   * v1/models/<m>[/versions/<v>]:predict}: the body read by {@link PredictDecoder} (rows or
   * columns), the answer written by {@link PredictJson}; admitted, charged, timed, traced and
   * counted as an infer request.
   */
  CompletableFuture<Reply> predict(
      String model,
      String version,
      FullHttpRequest request,
      EventExecutor loop,
      @Nullable TraceParent trace,
      @Nullable Tenant tenant,
      @Nullable Admission early) {
    return run(new Call(model, version, request, loop, trace, tenant, early, Api.TF_SERVING));
  }

  /**
   * As {@link #infer}, for MLflow's and SageMaker's {@code POST /invocations} on the model {@code
   * target} chose: the body read by {@link MlflowDecoder} (a frame as JSON or CSV, or a tensor),
   * the answer written by {@link PredictJson} in MLflow's {@code {"predictions": ...}}; admitted,
   * charged, timed, traced and counted as an infer request.
   *
   * @param csv whether the body is CSV, else JSON ({@link InvocationsHandler#isCsv}, told once)
   */
  CompletableFuture<Reply> invocations(
      HttpServerConfig.InvocationsModel target,
      boolean csv,
      FullHttpRequest request,
      EventExecutor loop,
      @Nullable TraceParent trace,
      @Nullable Tenant tenant,
      @Nullable Admission early) {
    return run(
        new Call(
            target.name(),
            target.version(),
            request,
            loop,
            trace,
            tenant,
            early,
            csv ? Api.MLFLOW_CSV : Api.MLFLOW));
  }

  /** Which API a request came in, which picks its body codec, span and route. */
  enum Api {
    /** OIP's {@code v2/models/<m>/infer}. */
    OIP,
    /** TF Serving's and KServe v1's {@code v1/models/<m>:predict}. */
    TF_SERVING,
    /** MLflow's and SageMaker's {@code /invocations}, a JSON body. */
    MLFLOW,
    /** MLflow's and SageMaker's {@code /invocations}, a CSV body ({@code text/csv}). */
    MLFLOW_CSV
  }

  /**
   * One REST inference request as its API's entry point took it, handed down the steps that run it
   * ({@link #run}, {@link #traced}, {@link #submit}).
   *
   * @param model the model its path (or {@code /invocations}' choice) names
   * @param version the version its path names, "" for none
   * @param request the request (released by the dispatcher once {@link #run} returns)
   * @param loop the connection's event loop
   * @param trace its W3C trace context, or null
   * @param tenant its tenant, or null
   * @param early its tenant's admission at its head, or null
   * @param api which API it came in
   */
  private record Call(
      String model,
      String version,
      FullHttpRequest request,
      EventExecutor loop,
      @Nullable TraceParent trace,
      @Nullable Tenant tenant,
      @Nullable Admission early,
      Api api) {}

  private CompletableFuture<Reply> run(Call call) {
    try {
      return traced(call);
    } catch (RuntimeException e) {
      // Refused or malformed before the core admitted it: still the tenant's request (and one
      // admitted at its head ends here, its place given back).
      Admission early = call.early();
      if (early != null) {
        service.failedBeforeAdmission(early, call.model(), e);
      } else {
        service.failedBeforeAdmission(call.tenant(), call.model(), e);
      }
      throw e;
    }
  }

  private CompletableFuture<Reply> traced(Call call) {
    Tracing t = tracing;
    if (t == null || !t.active()) {
      return submit(call, null);
    }
    String model = call.model();
    String version = call.version();
    TracedRequest traced =
        t.begin(
            model,
            call.trace(),
            switch (call.api()) {
              case TF_SERVING -> TracedRequest.Protocol.HTTP_TF_SERVING;
              case MLFLOW, MLFLOW_CSV -> TracedRequest.Protocol.HTTP_MLFLOW;
              case OIP ->
                  call.request().headers().contains(HEADER_LENGTH)
                      ? TracedRequest.Protocol.HTTP_BINARY
                      : TracedRequest.Protocol.HTTP_JSON;
            });
    if (traced == null) {
      return submit(call, null);
    }
    String route = route(call.api(), !version.isEmpty());
    CompletableFuture<Reply> reply;
    try {
      reply = submit(call, traced);
    } catch (RuntimeException e) {
      failed(traced, route, model, version, e);
      throw e;
    }
    reply.whenComplete(
        (r, failure) -> {
          if (failure != null) {
            failed(traced, route, model, version, failure);
          }
        });
    return reply;
  }

  /** The route a traced request's span names ({@code http.route}). */
  private static String route(Api api, boolean versioned) {
    return switch (api) {
      case TF_SERVING -> TracedRequest.tfServingRoute(versioned);
      case MLFLOW, MLFLOW_CSV -> TracedRequest.INVOCATIONS_ROUTE;
      case OIP -> TracedRequest.restRoute(versioned);
    };
  }

  /**
   * The request's W3C trace context, parsed once for tracing and the slow-request log alike, when
   * either reads it ({@code slowLog}: the log is on); null otherwise, or without a valid one.
   */
  @Nullable TraceParent traceOf(FullHttpRequest request, boolean slowLog) {
    Tracing t = tracing;
    if (!slowLog && (t == null || !t.active())) {
      return null;
    }
    String parent = request.headers().get(Tracing.TRACEPARENT);
    return parent == null
        ? null
        : TraceParent.parse(parent, request.headers().get(Tracing.TRACESTATE));
  }

  /** Ends a traced REST request on {@code route} with the error its answer will carry. */
  static void failed(
      TracedRequest traced, String route, String model, String version, Throwable t) {
    Throwable cause = Responses.cause(t);
    HttpResponseStatus status;
    String type;
    if (cause instanceof dev.fulcrum.core.error.InferenceException ie) {
      status = Responses.status(ie.code());
      type = ie.code().name();
    } else if (cause instanceof CancellationException) {
      status = Responses.CLIENT_CLOSED;
      type = "CANCELLED";
    } else {
      status = HttpResponseStatus.INTERNAL_SERVER_ERROR;
      type = cause.getClass().getName();
    }
    traced.endHttp(
        route,
        model,
        version,
        status.code(),
        java.util.List.of(),
        System.nanoTime(),
        type,
        String.valueOf(cause.getMessage()));
  }

  private CompletableFuture<Reply> submit(Call call, @Nullable TracedRequest traced) {
    String model = call.model();
    String version = call.version();
    FullHttpRequest request = call.request();
    Tenant tenant = call.tenant();
    Api api = call.api();
    // An unknown or unready model is reported as such (404/503) before the body is judged, and a
    // full queue refuses (429) before any work is spent decoding it.
    ModelVersion admitted = service.admissionCheck(model, version);
    ModelConfig config = admitted.config();
    // TF Serving's predict (rows or columns) and MLflow's invocations (a frame or a tensor, JSON or
    // CSV), read with the model's input types.
    PredictRequest predicted =
        switch (api) {
          case TF_SERVING ->
              PredictDecoder.decode(model, version, config, request.content(), buffers);
          case MLFLOW, MLFLOW_CSV ->
              MlflowDecoder.decode(
                  model, version, config, request.content(), api == Api.MLFLOW_CSV, buffers);
          case OIP -> null;
        };
    DecodedInferRequest decoded;
    if (predicted != null) {
      checkInstances(model, config, predicted);
      decoded = new DecodedInferRequest(predicted.request(), false, java.util.Map.of());
    } else {
      decoded =
          InferRequestDecoder.decode(
              model,
              version,
              request.content(),
              request.headers().get(HEADER_LENGTH),
              () -> config,
              buffers,
              sharedMemory.forTenant(tenant));
    }
    InferenceRequest asked = decoded.request();
    // The slow-request log and a traced request need the timing; the answer shows it only when
    // asked (TimedAnswers: the one decision, shared with gRPC).
    boolean shown = TimedAnswers.shown(service, asked);
    InferenceRequest run = TimedAnswers.toRun(asked, timeAll, traced != null);
    if (tenant != null) {
      run = run.withTenant(tenant);
    }
    // Outputs asked into shared memory are written before the core counts the request, so that one
    // that does not fit is the request's error (400) and counted as a failure, not a success.
    CompletableFuture<InferenceResponse> inference =
        service.infer(
            admitted,
            run,
            loops.of(call.loop()),
            call.early(),
            SharedMemoryOutput.delivery(decoded.sharedMemoryOutputs()));
    long slowNanos = SlowRequestLog.modelThresholdNanos(config);
    CompletableFuture<Reply> reply =
        inference.thenApply(
            response ->
                (Reply)
                    new Answer(
                        decoded,
                        response,
                        shown,
                        slowNanos,
                        traced == null
                            ? null
                            : new Traced(
                                traced,
                                route(api, !version.isEmpty()),
                                model,
                                version,
                                System.nanoTime()),
                        predicted));
    // The dispatcher cancels the reply when the client goes away: drop the queued work too.
    reply.whenComplete(
        (r, t) -> {
          if (t instanceof CancellationException) {
            inference.cancel(true);
          }
        });
    return reply;
  }

  /**
   * Refuses a predict request in the row format with more instances than the model batches in one
   * pass (its max-batch-size): the client splits it, as it would for TF Serving's batching limit.
   */
  private static void checkInstances(String model, ModelConfig config, PredictRequest predict) {
    int max = config.maxBatchSize();
    if (predict.rows() && max > 0 && predict.instances() > max) {
      throw dev.fulcrum.core.error.InferenceException.invalid(
          "model '%s' takes at most %d instances per request (its max-batch-size); this request"
              + " has %d: send them in requests of at most %d",
          model, max, predict.instances(), max);
    }
  }

  /**
   * A model's answer, rendered on the event loop; the dispatcher reads its timing and objective for
   * the slow-request log.
   *
   * @param shown whether the response carries its timing (the request asked, or the server times
   *     every request): a timing made only for the slow-request log stays in the server
   * @param slowNanos the model's slow-request threshold ({@link
   *     SlowRequestLog#modelThresholdNanos}), 0 for none
   * @param traced the request's trace, null when it is not traced
   * @param predict the TF Serving predict request it answers ({@link #predict}), written in its
   *     shape; null for an OIP infer request
   */
  record Answer(
      DecodedInferRequest decoded,
      InferenceResponse response,
      boolean shown,
      long slowNanos,
      @Nullable Traced traced,
      @Nullable PredictRequest predict)
      implements Reply {
    @Override
    public FullHttpResponse render(ByteBufAllocator alloc) {
      Traced t = traced;
      if (t == null) {
        return encode(alloc);
      }
      FullHttpResponse r;
      try {
        r = encode(alloc);
      } catch (RuntimeException e) {
        failed(t.request(), t.route(), t.model(), t.version(), e);
        throw e;
      }
      t.request()
          .endHttp(
              t.route(),
              t.model(),
              t.version(),
              200,
              java.util.List.of(response),
              t.readyNanos(),
              null,
              null);
      return r;
    }

    private FullHttpResponse encode(ByteBufAllocator alloc) {
      InferenceResponse out = TimedAnswers.toShow(response, shown);
      PredictRequest p = predict;
      if (p != null) {
        FullHttpResponse r =
            Responses.full(
                HttpResponseStatus.OK,
                PredictJson.predictions(out, p.splitAnswer(), p.instances(), p.mlflow(), alloc));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        RequestTiming timing = out.timing();
        if (timing != null) {
          r.headers().set(SERVER_TIMING, InferResponseEncoder.serverTiming(timing));
        }
        return r;
      }
      InferResponseEncoder.EncodedResponse e = InferResponseEncoder.encode(decoded, out, alloc);
      FullHttpResponse r = Responses.full(HttpResponseStatus.OK, e.body());
      if (e.hasBinary()) {
        r.headers()
            .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM)
            .set(HEADER_LENGTH, e.jsonLength());
      } else {
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
      }
      RequestTiming timing = out.timing();
      if (timing != null) {
        r.headers().set(SERVER_TIMING, InferResponseEncoder.serverTiming(timing));
      }
      return r;
    }
  }

  /**
   * A traced request's spans to end once its answer is encoded.
   *
   * @param route the route its span names ({@code http.route})
   * @param readyNanos when the core's answer reached the event loop ({@code System.nanoTime()})
   */
  record Traced(
      TracedRequest request, String route, String model, String version, long readyNanos) {}
}
