package dev.fulcrum.server.http;

import static io.netty.handler.codec.http.HttpHeaderNames.CONTENT_LENGTH;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tenant.Admission;
import dev.fulcrum.core.tenant.Outcome;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tensor.TensorBuffers;
import dev.fulcrum.server.ClientText;
import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.RequestFailureLog;
import dev.fulcrum.server.SlowRequestLog;
import dev.fulcrum.server.TraceParent;
import dev.fulcrum.server.codec.OllamaJson;
import dev.fulcrum.server.codec.OpenAiJson;
import dev.fulcrum.server.codec.TeiJson;
import dev.fulcrum.server.dashboard.DashboardFeed;
import dev.fulcrum.server.logging.LogControl;
import dev.fulcrum.server.protocol.TenantJson;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import dev.fulcrum.server.tracing.Tracing;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of a connection: routes each aggregated request to its handler and writes the
 * replies, one request at a time and in arrival order (HTTP/1.1 pipelining), honouring keep-alive
 * and {@code Connection: close}.
 *
 * <p>Threads: everything here runs on the channel's event loop. A handler that goes to the engine
 * returns a future; when it completes (on an engine thread, or on this loop in the task an engine
 * pass hands its answers over in) the reply is handed to the event loop as a task, rendered into
 * buffers there and written. Nothing here blocks.
 *
 * <p>Ownership: the dispatcher owns each queued {@link FullHttpRequest} and releases it right after
 * its handler returns (handlers copy what they keep). Rendered responses belong to Netty once
 * written.
 */
final class HttpDispatcher extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(HttpDispatcher.class);

  /** What a proxy in front says the client was, for the slow-request log's line. */
  private static final String X_FORWARDED_FOR = "x-forwarded-for";

  /** Pipelined requests queued beyond this stop reading from the socket until some are answered. */
  private static final int MAX_QUEUED = 16;

  private final InferenceService service;
  private final ModelHandler models;
  private final InferHandler infer;
  private final OpenAiHandler openAi;
  private final TeiHandler tei;
  private final OllamaHandler ollama;
  private final PredictHandler predict;
  private final RepositoryHandler repository;
  private final TraceSettingHandler traceSettings;
  private final SharedMemoryHandler sharedMemory;
  private final LoggingHandler logging;
  private final AccessPolicy access;
  private final @Nullable DashboardHandler dashboard;
  private final ArrayDeque<Object> queue = new ArrayDeque<>();
  private boolean busy;

  /**
   * The admission of the request being served where its tenant's limits admitted it at its head
   * ({@link AdmittedRequest}): handed to its handler (which hands it to the core or ends it), and
   * ended at the latest when its answer is written or the connection closes.
   */
  private @Nullable Admission admission;

  /**
   * The model of the {@code POST /invocations} being served, as its head chose it for its tenant's
   * admission ({@link AdmittedRequest#invocations}); null otherwise. Event loop only.
   */
  private HttpServerConfig.@Nullable InvocationsModel admittedInvocations;

  /** Whether the request being served is counted in {@link InferenceService#responses()}. */
  private boolean counted;

  /** The reply of the request being served, cancelled if the connection closes first. */
  private @Nullable CompletableFuture<Reply> inFlight;

  /**
   * The last request's path and its route (immutable): a connection mostly asks one endpoint, and
   * matching a path anew allocated its segments' strings on every request (2 % of a fraud request's
   * allocation).
   */
  private @Nullable String lastUri;

  private @Nullable Route lastRoute;

  private final RequestFailureLog failures;

  /** The slow-request log, or null when it is off (then nothing here is timed). */
  private final @Nullable SlowRequestLog slow;

  /**
   * With the slow-request log: when the request being served reached this handler, and, for an
   * inference request, the model and version it named (null for any other request), its headers
   * (binary or JSON), its trace context and what it was answered with when it failed.
   */
  private long slowStart;

  /**
   * The error shape of the API of the request being served ({@link ErrorShape#of}): on the
   * OpenAI-compatible API's paths its errors are written in OpenAI's shape ({@link
   * OpenAiHandler#error}), on MLflow's in MLflow's.
   */
  private ErrorShape errorShape = ErrorShape.OIP;

  /** MLflow's and SageMaker's paths: the model and format of an invocation, /ping, /version. */
  private final InvocationsHandler invocations;

  /** SageMaker's multi-model endpoint's {@code /models} paths. */
  private final MultiModelHandler multiModel;

  private @Nullable String slowModel;
  private String slowVersion = "";
  private @Nullable HttpHeaders slowHeaders;
  private @Nullable TraceParent slowTrace;
  private @Nullable Throwable slowFailure;

  HttpDispatcher(
      InferenceService service,
      String version,
      RequestFailureLog failures,
      AccessPolicy access,
      @Nullable DashboardHandler dashboard,
      TensorBuffers tensorBuffers,
      AnswerLoops answerLoops,
      @Nullable SlowRequestLog slow,
      @Nullable Tracing tracing,
      SharedMemoryRegistry shm,
      LogControl logControl,
      InvocationsTarget invocations,
      String embeddingsModel) {
    this.service = service;
    this.invocations = new InvocationsHandler(invocations, version);
    this.access = access;
    this.dashboard = dashboard;
    this.slow = slow;
    this.models = new ModelHandler(service, version);
    this.infer = new InferHandler(service, tensorBuffers, answerLoops, slow != null, tracing, shm);
    this.sharedMemory = new SharedMemoryHandler(shm);
    this.openAi = new OpenAiHandler(service, answerLoops, slow != null, tracing);
    this.tei = new TeiHandler(service, openAi, version, embeddingsModel);
    this.ollama = new OllamaHandler(openAi, version);
    this.predict = new PredictHandler(service);
    this.traceSettings = new TraceSettingHandler(tracing);
    this.logging = new LoggingHandler(logControl);
    this.repository = new RepositoryHandler(service);
    this.multiModel = new MultiModelHandler(service);
    this.failures = failures;
  }

  /**
   * Set when a handler before this one failed to decode the request stream (a body that is not
   * valid gzip/deflate): the codecs' state is unknown, so the connection is answered 400 and
   * closed, and anything read after it is dropped.
   */
  private boolean failed;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (failed) {
      drop(msg);
      return;
    }
    if (!(msg instanceof FullHttpRequest)
        && !(msg instanceof AdmittedRequest)
        && !(msg instanceof RefusedRequest)
        && !(msg instanceof DeniedRequest)) {
      ctx.fireChannelRead(msg);
      return;
    }
    queue.add(msg);
    if (queue.size() > MAX_QUEUED) {
      ctx.channel().config().setAutoRead(false);
    }
    next(ctx);
  }

  private void next(ChannelHandlerContext ctx) {
    if (busy || queue.isEmpty() || !ctx.channel().isActive()) {
      return;
    }
    Object msg = queue.poll();
    if (!failed && queue.size() <= MAX_QUEUED / 2 && !ctx.channel().config().isAutoRead()) {
      ctx.channel().config().setAutoRead(true);
    }
    busy = true;
    counted = true;
    service.responses().enter();
    if (slow != null) {
      slowStart = slow.now();
      slowModel = null;
    }
    errorShape =
        switch (msg) {
          case FullHttpRequest request -> ErrorShape.of(request.uri());
          case AdmittedRequest a -> ErrorShape.of(a.request().uri());
          case DeniedRequest d -> d.shape();
          case RefusedRequest r -> r.shape();
          case MalformedStream m -> m.shape();
          default -> ErrorShape.OIP;
        };
    if (msg instanceof RefusedRequest r) {
      InferenceException failure = r.failure();
      write(
          ctx,
          failure != null ? Responses.error(failure) : refusal(r.status(), r.message()),
          !r.closeAfter());
      return;
    }
    if (msg instanceof DeniedRequest d) {
      write(ctx, Responses.refused(d.decision()), !d.closeAfter());
      return;
    }
    if (msg instanceof MalformedStream m) {
      write(ctx, Responses.error(m.status(), m.message()), false);
      return;
    }
    FullHttpRequest request;
    if (msg instanceof AdmittedRequest a) {
      request = a.request();
      admission = a.admission();
      admittedInvocations = a.invocations();
    } else {
      request = (FullHttpRequest) msg;
      admittedInvocations = null;
    }
    refuseControlsInTarget(request);
    // After a request the codec could not parse, its state is unknown: answer, then close.
    boolean keepAlive = HttpUtil.isKeepAlive(request) && request.decoderResult().isSuccess();
    CompletableFuture<Reply> reply;
    try {
      reply = dispatch(request, ctx);
    } catch (RuntimeException e) {
      reply = CompletableFuture.completedFuture(error(e));
    } finally {
      request.release();
    }
    if (reply.isDone()) {
      Reply done = reply.handle(this::orError).join();
      if (done instanceof EventStream stream) {
        startEventStream(ctx, stream.gzip());
        return;
      }
      write(ctx, done, keepAlive);
      return;
    }
    boolean ka = keepAlive;
    inFlight = reply;
    reply.whenComplete(
        (r, t) -> {
          if (t instanceof CancellationException && !ctx.channel().isActive()) {
            return; // cancelled by channelInactive: the client is gone, nothing to report
          }
          Reply out = orError(r, t);
          if (ctx.executor().inEventLoop()) {
            // Completed on this connection's loop (its answer executor, AnswerLoops): written
            // now, not queued behind the loop's other tasks (a flood's registrations).
            write(ctx, out, ka);
            return;
          }
          try {
            ctx.executor().execute(() -> write(ctx, out, ka));
          } catch (RejectedExecutionException e) {
            log.debug("event loop shut down before a response could be written");
          }
        });
  }

  /** A request refused at its head; a 415 names the codings taken ({@code Accept-Encoding}). */
  private static Reply refusal(HttpResponseStatus status, String message) {
    Reply error = Responses.error(status, message);
    if (!status.equals(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE)) {
      return error;
    }
    return alloc -> {
      FullHttpResponse r = error.render(alloc);
      r.headers().set(HttpHeaderNames.ACCEPT_ENCODING, KnownCodings.ACCEPTED);
      return r;
    };
  }

  /**
   * The reply of {@code GET /dashboard/events}: not rendered, the connection becomes a stream,
   * compressed when the request accepts gzip.
   */
  private record EventStream(boolean gzip) implements Reply {
    @Override
    public FullHttpResponse render(io.netty.buffer.ByteBufAllocator alloc) {
      throw new IllegalStateException("an event stream is not rendered");
    }
  }

  /**
   * Hands the connection to a dashboard event stream, which holds it until the page, the drain or
   * the connection ends it (requests pipelined behind it stay queued). The stream is not a response
   * in flight: a drain does not wait for it.
   */
  private void startEventStream(ChannelHandlerContext ctx, boolean gzip) {
    DashboardHandler d = dashboard;
    if (d == null || service.isDraining() || !d.stream(ctx, gzip)) {
      write(
          ctx,
          Responses.error(
              HttpResponseStatus.SERVICE_UNAVAILABLE,
              service.isDraining()
                  ? "the server is shutting down"
                  : "too many dashboard pages open (at most "
                      + DashboardFeed.MAX_SUBSCRIBERS
                      + "); close one in another tab or window"),
          false);
      return;
    }
    uncount();
  }

  private Reply orError(Reply r, Throwable t) {
    return t == null ? r : error(t);
  }

  private Reply error(Throwable t) {
    failures.failed(t);
    if (slowModel != null) {
      slowFailure = t;
    }
    return switch (errorShape) {
      case OPENAI -> OpenAiHandler.error(t);
      case TEI -> TeiHandler.error(t);
      case OIP, MLFLOW -> Responses.error(t);
    };
  }

  private CompletableFuture<Reply> dispatch(FullHttpRequest request, ChannelHandlerContext ctx) {
    CompletableFuture<Reply> reply;
    try {
      reply = answerOrRefuse(request, ctx);
    } catch (RuntimeException e) {
      // A lookup that throws (an unknown model or version is a NOT_FOUND exception): its error is
      // the answer, and for HEAD it too goes without content. It was made by the caller, past
      // withoutBody, so HEAD /v2/models/<unknown> on HTTP/2 sent its 404 body in a DATA frame.
      reply = done(error(e));
    }
    // Every answer to HEAD, an error's too, goes without content (on HTTP/2 a HEAD answer with a
    // DATA frame is a protocol error to the client; HTTP/1.1's encoder drops it itself).
    return request.method().equals(HttpMethod.HEAD)
        ? reply.thenApply(HttpDispatcher::withoutBody)
        : reply;
  }

  private CompletableFuture<Reply> answerOrRefuse(
      FullHttpRequest request, ChannelHandlerContext ctx) {
    if (request.decoderResult().isFailure()) {
      HttpUtil.setKeepAlive(request, false);
      Throwable cause = request.decoderResult().cause();
      // A request line or headers over the decoder's limits: RFC 9112's 414, RFC 6585's 431.
      HttpResponseStatus status =
          cause instanceof TooLongHttpLineException
              ? HttpResponseStatus.REQUEST_URI_TOO_LONG
              : cause instanceof TooLongHttpHeaderException
                  ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                  : HttpResponseStatus.BAD_REQUEST;
      String invalidLength = invalidContentLength(request);
      return CompletableFuture.completedFuture(
          Responses.error(
              status,
              invalidLength != null
                  ? "malformed HTTP request: the Content-Length header is invalid ("
                      + invalidLength
                      + "): it must be one decimal number of bytes"
                  : "malformed HTTP request: " + cause.getMessage()));
    }
    Reply badHead = checkHead(request, ctx);
    if (badHead != null) {
      return done(badHead);
    }
    String uri = request.uri();
    Route route = lastRoute;
    if (route == null || !uri.equals(lastUri)) {
      route = Route.match(uri);
      lastUri = uri;
      lastRoute = route;
    }
    if (route.endpoint() == Route.Endpoint.NOT_FOUND) {
      return done(
          Responses.error(
              HttpResponseStatus.NOT_FOUND,
              "no endpoint " + request.method() + " " + pathOf(request.uri())));
    }
    // HEAD: what GET answers, without the body (RFC 9110 9.3.2; load balancers probe with it).
    boolean headToo =
        HttpMethod.GET.equals(route.endpoint().method)
            && route.endpoint() != Route.Endpoint.DASHBOARD_EVENTS;
    if (!request.method().equals(route.endpoint().method)
        && !(headToo && request.method().equals(HttpMethod.HEAD))
        && !(route.endpoint().getToo && request.method().equals(HttpMethod.GET))) {
      Reply error =
          Responses.error(
              HttpResponseStatus.METHOD_NOT_ALLOWED,
              pathOf(request.uri())
                  + " accepts "
                  + route.endpoint().method
                  + (headToo ? " and HEAD" : route.endpoint().getToo ? " and GET" : "")
                  + " only");
      String allow =
          headToo
              ? "GET, HEAD"
              : route.endpoint().getToo
                  ? "GET, " + route.endpoint().method
                  : String.valueOf(route.endpoint().method); // its name()
      return done(
          alloc -> {
            FullHttpResponse r = error.render(alloc);
            r.headers().set(HttpHeaderNames.ALLOW, allow);
            return r;
          });
    }
    // The token, before any handler runs. A request with a body was already checked when its head
    // arrived (LimitedAggregator); one that came whole (an HTTP/2 HEADERS frame that ends the
    // stream) skips the aggregator and is checked only here.
    AccessPolicy.Decision browser = BrowserGuard.check(access, request);
    if (browser != null) {
      return done(Responses.refused(browser));
    }
    // The tenant the request is charged to: its token's, set here after the check and never from
    // anything else the request says; none on a server without tenants.
    Tenant tenant = null;
    if (!access.allowsAll()) {
      AccessPolicy.Decision decision =
          access.check(
              route.endpoint().scope,
              route.endpoint().openWithoutTokens,
              request.headers().get(HttpHeaderNames.AUTHORIZATION));
      if (!decision.allowed()) {
        return done(Responses.refused(decision));
      }
      tenant = decision.tenant();
    }
    return answer(route, request, ctx, tenant);
  }

  /**
   * The trace context of an inference request, parsed once for tracing and the slow-request log
   * alike; with the slow log on, also what its line will name ({@code model}, {@code version}).
   */
  private @Nullable TraceParent traced(FullHttpRequest request, String model, String version) {
    TraceParent trace = infer.traceOf(request, slow != null);
    if (slow != null) {
      slowModel = model;
      slowVersion = version;
      slowHeaders = request.headers();
      slowTrace = trace;
      slowFailure = null;
    }
    return trace;
  }

  private CompletableFuture<Reply> answer(
      Route route, FullHttpRequest request, ChannelHandlerContext ctx, @Nullable Tenant tenant) {
    Admission early = admission;
    return switch (route.endpoint()) {
      case SERVER_METADATA -> done(models.serverMetadata());
      case HEALTH_LIVE -> done(models.live());
      case HEALTH_READY -> done(models.ready());
      case MODEL_METADATA -> done(models.modelMetadata(route.model(), route.version()));
      case MODEL_READY -> done(models.modelReady(route.model(), route.version()));
      case MODEL_CONFIG -> done(models.modelConfig(route.model(), route.version()));
      case MODEL_INFER -> {
        TraceParent trace = traced(request, route.model(), route.version());
        yield infer.infer(
            route.model(), route.version(), request, ctx.executor(), trace, tenant, early);
      }
      case OPENAI_EMBEDDINGS -> {
        OpenAiJson.EmbeddingsRequest asked = openAi.decode(request.content(), tenant, early);
        TraceParent trace = traced(request, asked.model(), "");
        yield openAi.embeddings(asked, ctx.executor(), trace, tenant, early);
      }
      case OPENAI_MODELS ->
          done(route.model().isEmpty() ? openAi.models() : openAi.model(predict, route.model()));
      case TFS_PREDICT -> {
        TraceParent trace = traced(request, route.model(), route.version());
        yield infer.predict(
            route.model(), route.version(), request, ctx.executor(), trace, tenant, early);
      }
      case INVOCATIONS -> {
        // A body neither JSON nor CSV is a 415 before the model is chosen, as MLflow's server.
        boolean csv = InvocationsHandler.isCsv(request.headers().get(HttpHeaderNames.CONTENT_TYPE));
        // The model its head chose for its tenant's admission, else chosen now (once either way).
        HttpServerConfig.InvocationsModel chosen = admittedInvocations;
        HttpServerConfig.InvocationsModel target =
            chosen != null ? chosen : invocations.model(request.headers());
        TraceParent trace = traced(request, target.name(), target.version());
        yield infer.invocations(target, csv, request, ctx.executor(), trace, tenant, early);
      }
      case TEI_EMBED -> {
        String model = openAi.decode(tei::model, tenant, early); // its refusal counted too
        TeiJson.EmbedRequest asked =
            openAi.decode(() -> TeiJson.decodeEmbed(request.content()), tenant, early);
        TraceParent trace = traced(request, model, "");
        yield tei.embed(asked, model, ctx.executor(), trace, tenant, early);
      }
      case TEI_SIMILARITY -> {
        String model = openAi.decode(tei::model, tenant, early); // its refusal counted too
        TeiJson.SimilarityRequest asked =
            openAi.decode(() -> TeiJson.decodeSimilarity(request.content()), tenant, early);
        TraceParent trace = traced(request, model, "");
        yield tei.similarity(asked, model, ctx.executor(), trace, tenant, early);
      }
      case TEI_UNSERVED -> done(TeiHandler.unserved(route.model()));
      case TEI_INFO -> done(tei.info());
      case OLLAMA_EMBED, OLLAMA_EMBEDDINGS -> {
        boolean legacy = route.endpoint() == Route.Endpoint.OLLAMA_EMBEDDINGS;
        OllamaJson.EmbedRequest asked =
            openAi.decode(
                () ->
                    legacy
                        ? OllamaJson.decodeEmbeddings(request.content())
                        : OllamaJson.decodeEmbed(request.content()),
                tenant,
                early);
        TraceParent trace = traced(request, asked.model(), "");
        yield ollama.embed(asked, ctx.executor(), trace, tenant, early);
      }
      case OLLAMA_TAGS -> done(ollama.tags());
      case OLLAMA_VERSION -> done(ollama.version());
      case SAGEMAKER_INVOKE -> {
        boolean csv = InvocationsHandler.isCsv(request.headers().get(HttpHeaderNames.CONTENT_TYPE));
        HttpServerConfig.InvocationsModel target =
            new HttpServerConfig.InvocationsModel(multiModel.invoked(route.model()), "");
        TraceParent trace = traced(request, target.name(), target.version());
        yield infer.invocations(target, csv, request, ctx.executor(), trace, tenant, early);
      }
      case SAGEMAKER_MODELS ->
          request.method().equals(HttpMethod.GET)
              ? done(multiModel.list(request.uri()))
              : multiModel.load(request);
      case SAGEMAKER_MODEL ->
          request.method().equals(HttpMethod.GET)
              ? done(multiModel.describe(route.model()))
              : multiModel.unload(route.model());
      case PING -> done(invocations.ping());
      case MLFLOW_VERSION -> done(invocations.version());
      case TFS_STATUS -> done(predict.status(route.model(), route.version()));
      case TFS_METADATA -> done(predict.metadata(route.model(), route.version()));
      case MODEL_STATS -> done(models.statistics(route.model(), route.version()));
      case MODEL_SLO -> done(models.slo(route.model(), route.version()));
      case MODEL_DRIFT -> done(models.drift(route.model(), route.version()));
      case TRACE_SETTING -> done(traceSettings.answer(route.model(), request));
      case TENANTS ->
          done(Responses.json(HttpResponseStatus.OK, TenantJson.tenants(access.tenants())));
      case LOGGING -> done(logging.answer(request));
      case REPOSITORY_INDEX -> done(repository.index(request));
      case REPOSITORY_LOAD -> repository.load(route.model(), request);
      case REPOSITORY_UNLOAD -> repository.unload(route.model(), request);
      case MODEL_ROLLOUT -> done(repository.rollout(route.model(), request));
      case SHARED_MEMORY_STATUS ->
          done(sharedMemory.status(route.version().equals("cuda"), route.model(), tenant));
      case SHARED_MEMORY_REGISTER ->
          done(
              sharedMemory.register(
                  route.version().equals("cuda"), route.model(), request, tenant));
      case SHARED_MEMORY_UNREGISTER ->
          done(sharedMemory.unregister(route.version().equals("cuda"), route.model(), tenant));
      case DASHBOARD_FILE ->
          done(dashboard == null ? dashboardOff() : dashboard.file(route.model()));
      case DASHBOARD_EVENTS ->
          done(
              dashboard == null
                  ? dashboardOff()
                  : new EventStream(
                      FrameDeflater.acceptsGzip(
                          request.headers().get(HttpHeaderNames.ACCEPT_ENCODING))));
      case NOT_FOUND -> throw new IllegalStateException();
    };
  }

  /** The answer to HEAD: GET's status and headers, its Content-Length, no content. */
  private static Reply withoutBody(Reply get) {
    return alloc -> {
      FullHttpResponse full = get.render(alloc);
      int length = full.content().readableBytes();
      FullHttpResponse head = full.replace(Unpooled.EMPTY_BUFFER);
      full.release();
      HttpUtil.setContentLength(head, length);
      return head;
    };
  }

  private static Reply dashboardOff() {
    return Responses.error(HttpResponseStatus.NOT_FOUND, "the dashboard is not enabled");
  }

  private static CompletableFuture<Reply> done(Reply r) {
    return CompletableFuture.completedFuture(r);
  }

  /**
   * RFC 9112's rules for the request line and {@code Host} that Netty's decoder leaves to the
   * server: a major version other than 1 is 505 (section 2.3); an HTTP/1.1 request has exactly one
   * {@code Host} (section 3.2: 400 otherwise). HTTP/2 requests carry their authority in a
   * pseudo-header, which may be absent; HTTP/1.0 needs no {@code Host}.
   */
  private static @Nullable Reply checkHead(FullHttpRequest request, ChannelHandlerContext ctx) {
    HttpVersion version = request.protocolVersion();
    if (version.majorVersion() != 1) {
      return Responses.error(
          HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED,
          "HTTP/"
              + version.majorVersion()
              + "."
              + version.minorVersion()
              + " is not supported here: send HTTP/1.1, or HTTP/2 by its own framing");
    }
    if (version.minorVersion() == 0 || ctx.channel() instanceof Http2StreamChannel) {
      return null;
    }
    Iterator<String> hosts = request.headers().valueStringIterator(HttpHeaderNames.HOST);
    if (!hosts.hasNext()) {
      return Responses.error(
          HttpResponseStatus.BAD_REQUEST, "an HTTP/1.1 request needs a Host header");
    }
    hosts.next();
    if (hosts.hasNext()) {
      return Responses.error(
          HttpResponseStatus.BAD_REQUEST, "an HTTP/1.1 request has one Host header, not several");
    }
    return null;
  }

  /**
   * Fails a request whose target has a control character (NUL, 0x01-0x1F, DEL) as the codec fails a
   * malformed request line: RFC 9112 3 (a request line that does not match the grammar is 400) and
   * RFC 3986 (no control characters in a URI). Netty's codec accepts them, and the target reached
   * routing: a NUL in a model name was looked up ("unknown model") and the connection kept. The
   * codec's state after such a line is not to be trusted, so the answer closes, as for the codec's
   * own refusals. A target already served on this connection passed the check.
   */
  private void refuseControlsInTarget(FullHttpRequest request) {
    String uri = request.uri();
    if (uri.equals(lastUri) || !request.decoderResult().isSuccess()) {
      return;
    }
    int i = ClientText.firstAsciiControl(uri);
    if (i >= 0) {
      request.setDecoderResult(
          io.netty.handler.codec.DecoderResult.failure(
              new IllegalArgumentException(
                  String.format(
                      "the request target has a control character (0x%02X at offset %d), which"
                          + " a URI may not contain; percent-encode it",
                      (int) uri.charAt(i), i))));
    }
  }

  /**
   * The request's Content-Length values as the client sent them (quotable), when they are not the
   * one non-negative decimal number RFC 9112 6.3 needs; null when the header is absent or valid.
   * The codec refuses such a head (a framing it cannot trust), with an exception that named the
   * Java class in the answer, or blamed the body.
   */
  static @Nullable String invalidContentLength(io.netty.handler.codec.http.HttpMessage request) {
    java.util.List<String> values = request.headers().getAll(CONTENT_LENGTH);
    if (values.isEmpty()) {
      return null;
    }
    String v = values.get(0).strip();
    boolean valid = values.size() == 1 && !v.isEmpty() && v.length() <= 18;
    for (int i = 0; valid && i < v.length(); i++) {
      valid = v.charAt(i) >= '0' && v.charAt(i) <= '9';
    }
    return valid
        ? null
        : "'" + dev.fulcrum.server.ClientText.printable(String.join("', '", values), 100) + "'";
  }

  private static String pathOf(String uri) {
    int q = uri.indexOf('?');
    String p = q < 0 ? uri : uri.substring(0, q);
    return p.length() > 200 ? p.substring(0, 200) + "..." : p;
  }

  private void write(ChannelHandlerContext ctx, Reply answer, boolean keepAlive) {
    if (!ctx.channel().isActive()) {
      return;
    }
    // On the OpenAI API's and MLflow's paths, the refusals made before their handlers (400
    // malformed, 401, 404, 405, 413, 415, 417, 431, 503 over the body budget) too are written in
    // their error shape.
    Reply reply = errorShape.shaped(answer);
    FullHttpResponse response;
    try {
      response = reply.render(ctx.alloc());
    } catch (RuntimeException e) {
      response = error(e).render(ctx.alloc());
    }
    if (response.content().isReadable() || !response.headers().contains(CONTENT_LENGTH)) {
      HttpUtil.setContentLength(response, response.content().readableBytes());
    } // else an answer to HEAD: the length GET's body would have (withoutBody)
    // Once a shutdown is announced or the drain began, each answer ends its connection
    // (Connection: close), so that clients move to another server; on HTTP/2 the header is
    // dropped and GOAWAY does this at the drain.
    boolean again = keepAlive && !service.isLeaving();
    HttpUtil.setKeepAlive(response, again);
    Admission early = admission;
    if (early != null) {
      // Its last word: a request admitted at its head that neither its handler nor the core ended
      // (refused before them: a missing Host, say) ends with what it is answered.
      admission = null;
      early.ended(outcomeOf(response.status().code()));
    }
    if (slowModel != null) {
      slowRequest(ctx, answer, response.status().code());
    }
    ctx.writeAndFlush(response)
        .addListener(
            f -> {
              // Counted until written: a drain waits for the bytes, not for the result.
              uncount();
              if (!again || !f.isSuccess()) {
                end(ctx, f.isSuccess());
              } else {
                busy = false;
                next(ctx);
              }
            });
  }

  /**
   * Ends the connection after an answer (lingering, {@link LingeringClose}, so that a client still
   * sending reads the answer rather than a reset); on an HTTP/2 stream, only the stream. A stream
   * whose request body is still arriving (a request refused at its head) is reset with NO_ERROR,
   * which RFC 9113 §8.1 gives a server for "stop sending, the answer is complete": a plain close
   * would reset it with CANCEL, and clients then report the complete answer as a failure.
   */
  private static void end(ChannelHandlerContext ctx, boolean answered) {
    if (answered && ctx.channel() instanceof Http2StreamChannel) {
      ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    if (answered) {
      LingeringClose.close(ctx.channel()); // the client may still be sending: let it read first
      return;
    }
    ctx.close();
  }

  /**
   * Gives the slow-request log the inference request whose answer is about to be written: its time
   * runs from {@link #next} taking it to now (the answer rendered, about to be handed to Netty).
   */
  private void slowRequest(ChannelHandlerContext ctx, Reply reply, int status) {
    SlowRequestLog log = slow;
    String model = slowModel;
    HttpHeaders headers = slowHeaders;
    TraceParent trace = slowTrace;
    slowModel = null;
    slowHeaders = null;
    slowTrace = null;
    if (log == null || model == null || headers == null) {
      return;
    }
    long total = log.now() - slowStart;
    InferHandler.Answer answer = reply instanceof InferHandler.Answer a ? a : null;
    OpenAiHandler.Embeddings embeddings = reply instanceof OpenAiHandler.Embeddings e ? e : null;
    Throwable failure = slowFailure;
    slowFailure = null;
    Route.Endpoint endpoint = lastRoute == null ? Route.Endpoint.NOT_FOUND : lastRoute.endpoint();
    long modelNanos =
        answer != null
            ? answer.slowNanos()
            : embeddings != null
                ? embeddings.slowNanos()
                : SlowRequestLog.modelThresholdOf(service, model, slowVersion);
    if (!log.wants(total, modelNanos, failure)) {
      return;
    }
    log.write(
        new SlowRequestLog.SlowRequest(
            slowProtocol(endpoint, headers),
            model,
            slowVersion,
            String.valueOf(status),
            total,
            log.thresholdNanos(modelNanos),
            answer != null
                ? answer.response().timing()
                : embeddings != null ? embeddings.slowTiming() : null,
            ctx.channel().remoteAddress(),
            headers.contains(X_FORWARDED_FOR)
                ? String.join(", ", headers.getAll(X_FORWARDED_FOR))
                : null,
            answer == null ? null : answer.decoded().request().id(),
            trace,
            failure));
  }

  /**
   * The protocol a slow request is filed under: the request's own error shape first (an invocation,
   * MLflow's or SageMaker's {@code /models/<m>/invoke}, answered or refused; OpenAI's, TEI's), else
   * the route it was dispatched on (an inference request logged here reached answer(), which set
   * it), else how its body was sent.
   */
  private SlowRequestLog.Protocol slowProtocol(Route.Endpoint endpoint, HttpHeaders headers) {
    return switch (errorShape) {
      case OPENAI -> SlowRequestLog.Protocol.REST_OPENAI;
      case TEI -> SlowRequestLog.Protocol.REST_TEI;
      case MLFLOW -> SlowRequestLog.Protocol.REST_MLFLOW;
      case OIP ->
          switch (endpoint) {
            case OLLAMA_EMBED, OLLAMA_EMBEDDINGS -> SlowRequestLog.Protocol.REST_OLLAMA;
            case TFS_PREDICT -> SlowRequestLog.Protocol.REST_TF_SERVING;
            default ->
                headers.contains(InferHandler.HEADER_LENGTH)
                    ? SlowRequestLog.Protocol.REST_BINARY
                    : SlowRequestLog.Protocol.REST_JSON;
          };
    };
  }

  /**
   * The marker queued for a request whose bytes could not be decoded; {@code shape}: the error
   * shape of the request's API (as far as {@link KnownCodings} saw its head).
   */
  private record MalformedStream(HttpResponseStatus status, String message, ErrorShape shape) {}

  /** The error shape of the request whose bytes just failed. */
  private static ErrorShape failedShape(ChannelHandlerContext ctx) {
    KnownCodings codings = ctx.pipeline().get(KnownCodings.class);
    return codings != null ? codings.lastHeadShape() : ErrorShape.OIP;
  }

  private static String describe(Throwable cause) {
    Throwable c = cause;
    while (c.getCause() != null && c.getMessage() == null) {
      c = c.getCause();
    }
    String m = c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
    return m.length() > 200 ? m.substring(0, 200) + "..." : m;
  }

  private void uncount() {
    if (counted) {
      counted = false;
      service.responses().exit();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    uncount();
    CompletableFuture<Reply> running = inFlight;
    if (running != null && !running.isDone()) {
      // The client is gone: cancel its request so the scheduler drops it if still queued.
      running.cancel(true);
    }
    Admission early = admission;
    if (early != null) {
      admission = null;
      early.failed(new CancellationException("the client closed the connection"));
    }
    Object m;
    while ((m = queue.poll()) != null) {
      drop(m);
    }
    ctx.fireChannelInactive();
  }

  /**
   * Drops a queued message unanswered: releases its buffers and ends the admission of a request
   * admitted at its head (the client is gone, or the connection failed before it was served).
   */
  private static void drop(Object m) {
    if (m instanceof AdmittedRequest a) {
      a.admission().failed(new CancellationException("the request was dropped unanswered"));
      a.request().release();
      return;
    }
    ReferenceCountUtil.release(m);
  }

  /** The tenant's outcome of an answer's HTTP status ({@link Outcome}'s classes). */
  static Outcome outcomeOf(int status) {
    if (status < 400) {
      return Outcome.SUCCESS;
    }
    if (status == 429 || status == 503 || status == 504) {
      return Outcome.REFUSED;
    }
    return status >= 500 ? Outcome.SERVER_ERROR : Outcome.CLIENT_ERROR;
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof DecoderException && !(cause.getCause() instanceof Error)) {
      // HttpContentDecompressor could not inflate the body: a client mistake, answered in order.
      if (failed || !ctx.channel().isActive()) {
        // Already answered (or being answered), or the client is gone: the answer's write ends
        // the connection (end), or it has ended; this is no server fault to log or close on.
        log.debug(
            "{} after the request was refused or the connection ended: {}",
            ctx.channel().remoteAddress(),
            cause.toString());
        return;
      }
      failed = true;
      ctx.channel().config().setAutoRead(false);
      queue.add(
          new MalformedStream(
              HttpResponseStatus.BAD_REQUEST,
              "the request body cannot be decoded: " + describe(cause),
              failedShape(ctx)));
      next(ctx);
      return;
    }
    if (ctx.channel() instanceof Http2StreamChannel
        && Http2CodecUtil.getEmbeddedHttp2Exception(cause)
            instanceof Http2Exception.StreamException) {
      // The client's stream broke HTTP/2's rules for a request (a body longer or shorter than its
      // content-length, a connection-specific field): malformed, a stream error (RFC 9113 8.1.1),
      // no fault of the server's. The multiplexer resets the stream with the error's code
      // (PROTOCOL_ERROR) right after this, which is the answer: it was a 503 "retry later" and a
      // server WARN. (A 400 written here would not get out whole: the reset comes before the
      // connection's flush, and cancels the response's DATA.)
      log.debug("malformed HTTP/2 stream {}: {}", ctx.channel(), cause.toString());
      failed = true; // nothing more of this stream is served
      return;
    }
    if (cause instanceof IOException || cause instanceof PrematureChannelClosureException) {
      // The peer reset or closed the connection (also in the middle of a body: a client that
      // gave up): nothing the operator or the client needs.
      log.debug("closing connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
      ctx.close();
      return;
    }
    // Anything else (an OutOfMemoryError while buffering a body, a bug) is the server's: a WARN
    // line, rate-limited and without a stack trace, and a 503 where no answer is being written.
    boolean answer = !failed && !busy && ctx.channel().isActive();
    failures.connectionFailed(
        String.valueOf(ctx.channel().remoteAddress()), cause, answer ? "answered 503" : "closed");
    if (answer) {
      failed = true; // the pipeline's state is unknown: drop what follows, answer, close
      ctx.channel().config().setAutoRead(false);
      try {
        queue.add(
            new MalformedStream(
                HttpResponseStatus.SERVICE_UNAVAILABLE,
                "the server could not take this request ("
                    + cause.getClass().getSimpleName()
                    + "); retry later",
                failedShape(ctx)));
        next(ctx);
        return;
      } catch (RuntimeException | Error again) {
        log.debug("could not answer {}: {}", ctx.channel().remoteAddress(), again.toString());
      }
    }
    ctx.close();
  }
}
