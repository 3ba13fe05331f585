package dev.fulcrum.server.grpc;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.HttpServer;
import dev.fulcrum.server.NettyTransport;
import dev.fulcrum.server.RateLimitedLog;
import dev.fulcrum.server.RequestFailureLog;
import dev.fulcrum.server.SlowRequestLog;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.http.BufferBudget;
import dev.fulcrum.server.http.ConnectionLimit;
import dev.fulcrum.server.logging.FixedLogControl;
import dev.fulcrum.server.logging.LogControl;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import dev.fulcrum.server.tracing.Tracing;
import io.grpc.DecompressorRegistry;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.InternalNettyServerCredentials;
import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Open Inference Protocol gRPC transport ({@code inference.GRPCInferenceService}, with Triton's
 * extensions), plus the standard {@code grpc.health.v1.Health} service (the server by "" or the
 * inference service's name, each model by its name) and server reflection, on grpc-netty over the
 * same Netty 4.2 as the HTTP transport.
 *
 * <p>Threads: one Netty accept thread ({@code fulcrum-grpc-accept}, which also closes connections
 * beyond the cap: {@link LimitedServerChannels}) and Netty's default count of I/O event loops
 * ({@code fulcrum-grpc-io-N}), on the transport {@link GrpcServerConfig#transport()} chooses (epoll
 * first, as on the REST port). Calls run directly on the event loop that read them (grpc-java's
 * direct executor): message parsing, request decoding and the service methods never block
 * (inference completes on the engine's threads), so a hop to another executor would only add
 * latency.
 *
 * <p>Memory: the bytes of request messages not yet whole count against each connection's share of a
 * buffered-bytes budget, the port's or one shared with the REST port ({@link #bufferBudget}); a
 * call beyond it ends with RESOURCE_EXHAUSTED at once ({@link InboundMessageBudget}).
 *
 * <p>Lifecycle: {@link #start()} binds and returns once the port is open; {@link #port()} is the
 * bound port. For a graceful shutdown call {@link InferenceService#beginDrain()} and {@link
 * InferenceService#awaitIdle} first (health turns NOT_SERVING, new requests get UNAVAILABLE), then
 * {@link #close()}.
 */
public final class GrpcServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GrpcServer.class);

  /**
   * grpc-java's stream logger (java.util.logging), held so that its level stays set (JUL keeps its
   * loggers weakly): it writes a WARNING with a ~40-line stack trace for every message over the
   * size limit, which the client is already answered RESOURCE_EXHAUSTED for; a client could flood
   * the log with them. Its errors still show.
   */
  private static final java.util.logging.Logger GRPC_STREAM_LOG =
      java.util.logging.Logger.getLogger("io.grpc.netty.NettyServerStream");

  /**
   * RST_STREAM frames one connection may send in {@link #RST_WINDOW_SECONDS} before it is sent
   * GOAWAY {@code ENHANCE_YOUR_CALM} ("too_many_rststreams"): HTTP/2's rapid reset
   * (CVE-2023-44487), calls opened and reset at once, each of which still costs the port a call's
   * set-up (~75 µs), outside the concurrent-calls cap. grpc-java sets no limit by default. 1,000 a
   * second on average is far more than a client's cancellations and expired deadlines on one
   * connection; the REST port's h2c keeps Netty's stricter default (200 in 30 s), where cancelling
   * is rarer.
   */
  public static final int MAX_RST_STREAMS_PER_WINDOW = 10_000;

  static final int RST_WINDOW_SECONDS = 10;

  /** The health service name of the inference service; "" is the whole server. */
  public static final String SERVICE_NAME = GRPCInferenceServiceGrpc.SERVICE_NAME;

  private final InferenceService service;
  private final GrpcServerConfig config;
  private @Nullable EventLoopGroup boss;
  private @Nullable EventLoopGroup workers;
  private @Nullable ScheduledExecutorService healthPoller;
  private @Nullable HealthStatusManager health;

  /** The health Watch calls open now, so that {@link #close(Duration)} can end them. */
  private final Set<WatchCall> watches = ConcurrentHashMap.newKeySet();

  private volatile boolean endingWatches;

  /** The model names the health service reported at the last refresh (the poller's thread only). */
  private java.util.Set<String> watchedModels = java.util.Set.of();

  private @Nullable Server server;
  private @Nullable InferenceGrpcService inference;
  private int port = -1;
  private @Nullable NettyTransport transport;
  private final ConnectionLimit connections;

  /** The bytes of request messages not yet whole, all connections together (set by start()). */
  private @Nullable BufferBudget budget;

  private @Nullable BufferBudget sharedBudget;
  private @Nullable SlowRequestLog slowRequests;

  private @Nullable Tracing tracing;

  private SharedMemoryRegistry sharedMemory = SharedMemoryRegistry.devShm(false);
  private LogControl logControl = FixedLogControl.INSTANCE;

  public GrpcServer(InferenceService service, GrpcServerConfig config) {
    this.service = service;
    this.config = config;
    this.connections = new ConnectionLimit(config.limits().maxConnections());
  }

  /**
   * Traces ModelInfer calls and each request of a ModelStreamInfer call with {@code tracing} (the
   * call's {@code traceparent} metadata read); call before {@link #start()}. Without it no trace
   * metadata is read.
   */
  public GrpcServer tracing(Tracing tracing) {
    this.tracing = tracing;
    return this;
  }

  /**
   * Serves Triton's system shared memory extension from {@code registry}, which the REST port
   * shares; call before {@link #start()}. Without it the port has a registry of its own that
   * refuses registration (Triton's default).
   */
  public GrpcServer sharedMemory(SharedMemoryRegistry registry) {
    this.sharedMemory = registry;
    return this;
  }

  /**
   * Serves Triton's LogSettings RPC from {@code control}, the process's logging back end; call
   * before {@link #start()}. Without it the settings read fixed and a change is refused
   * (UNIMPLEMENTED).
   */
  public GrpcServer logging(LogControl control) {
    this.logControl = control;
    return this;
  }

  /**
   * Counts this port's unfinished request messages against {@code serverWide} too (one budget for
   * the REST and gRPC ports); call before {@link #start()}. Without it the port has a budget of its
   * own, of {@link GrpcServerConfig.Limits#maxBufferedBytes()}.
   */
  public synchronized GrpcServer bufferBudget(BufferBudget serverWide) {
    if (server != null) {
      throw new IllegalStateException("already started");
    }
    this.sharedBudget = serverWide;
    return this;
  }

  /**
   * Logs this port's slow and refused inference requests to {@code log} ({@code fulcrum serve
   * --log-slow-requests-ms}); call before {@link #start()}. Without it nothing is timed for it.
   */
  public synchronized GrpcServer slowRequests(SlowRequestLog log) {
    if (server != null) {
      throw new IllegalStateException("already started");
    }
    this.slowRequests = log;
    return this;
  }

  /** Binds the port; blocks until bound. */
  public synchronized GrpcServer start() throws IOException {
    if (server != null) {
      throw new IllegalStateException("already started");
    }
    GRPC_STREAM_LOG.setLevel(java.util.logging.Level.SEVERE);
    ClientStreamErrorLog.install();
    NettyTransport io = NettyTransport.choose(config.transport());
    transport = io;
    boss =
        new MultiThreadIoEventLoopGroup(
            1, new DefaultThreadFactory("fulcrum-grpc-accept", true), io.ioHandlers());
    workers =
        new MultiThreadIoEventLoopGroup(
            0, new DefaultThreadFactory("fulcrum-grpc-io", true), io.ioHandlers());
    health = new HealthStatusManager();
    refreshHealth();
    healthPoller =
        Executors.newSingleThreadScheduledExecutor(
            new DefaultThreadFactory("fulcrum-grpc-health", true));
    healthPoller.scheduleWithFixedDelay(this::refreshHealth, 200, 200, TimeUnit.MILLISECONDS);
    GrpcServerConfig.Limits limits = config.limits();
    BufferBudget budget =
        sharedBudget == null
            ? new BufferBudget(limits.maxBufferedBytes())
            : sharedBudget.child(limits.maxBufferedBytes());
    this.budget = budget;
    InferenceGrpcService inference =
        new InferenceGrpcService(
            service,
            HttpServer.version(),
            new RequestFailureLog(LoggerFactory.getLogger(InferenceGrpcService.class)),
            slowRequests,
            tracing,
            sharedMemory,
            !config.security().access().tenants().isEmpty(),
            logControl);
    this.inference = inference;
    // TF Serving's gRPC API beside OIP's, on the same core, port, TLS and tokens.
    TfServingPredictionService tfServing =
        new TfServingPredictionService(
            service,
            new RequestFailureLog(LoggerFactory.getLogger(TfServingPredictionService.class)),
            slowRequests,
            tracing,
            !config.security().access().tenants().isEmpty());
    TfServingModelService tfModels =
        new TfServingModelService(
            service, new RequestFailureLog(LoggerFactory.getLogger(TfServingModelService.class)));
    try {
      InternalProtocolNegotiator.ProtocolNegotiator negotiator =
          config
              .security()
              .tls()
              .map(tls -> InternalProtocolNegotiators.serverTls(tls.grpcContext()))
              .orElseGet(InternalProtocolNegotiators::serverPlaintext);
      NettyServerBuilder builder =
          NettyServerBuilder.forAddress(
                  new InetSocketAddress(config.host(), config.port()),
                  InternalNettyServerCredentials.create(
                      new BudgetedNegotiator(
                          negotiator,
                          budget,
                          limits.maxBufferedBytesPerConnection(),
                          config.maxMessageSize(),
                          config.maxMetadataSize(),
                          new RateLimitedLog(log, Duration.ofSeconds(10)))))
              .bossEventLoopGroup(boss)
              .workerEventLoopGroup(workers)
              .channelFactory(new LimitedServerChannels(io, connections))
              .directExecutor()
              .maxInboundMessageSize(config.maxMessageSize())
              // far above the limit InboundMetadataLimit applies, with a gRPC status, on its own
              .maxInboundMetadataSize(InboundMetadataLimit.decoderLimit(config.maxMetadataSize()))
              // gzip, and the C-core's deflate (Triton's clients offer both)
              .decompressorRegistry(
                  DecompressorRegistry.getDefaultInstance().with(DeflateCodec.INSTANCE, true))
              .handshakeTimeout(limits.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS)
              .maxConnectionIdle(limits.maxConnectionIdle().toMillis(), TimeUnit.MILLISECONDS)
              .keepAliveTime(limits.keepAliveTime().toMillis(), TimeUnit.MILLISECONDS)
              .keepAliveTimeout(limits.keepAliveTimeout().toMillis(), TimeUnit.MILLISECONDS)
              .permitKeepAliveTime(limits.permitKeepAliveTime().toMillis(), TimeUnit.MILLISECONDS)
              .permitKeepAliveWithoutCalls(limits.permitKeepAliveWithoutCalls())
              .maxConcurrentCallsPerConnection(limits.maxConcurrentCallsPerConnection())
              .maxRstFramesPerWindow(MAX_RST_STREAMS_PER_WINDOW, RST_WINDOW_SECONDS)
              .addService(
                  StrictParsing.of(
                      inference.bindService(),
                      GRPCInferenceServiceGrpc.getModelStreamInferMethod().getFullMethodName(),
                      GrpcCodec::malformed))
              .addService(StrictParsing.of(tfServing.bindService()))
              .addService(StrictParsing.of(tfModels.bindService()))
              .addService(healthService())
              .addService(ProtoReflectionServiceV1.newInstance())
              .intercept(new AuthInterceptor(config.security().access(), service));
      if (slowRequests != null || tracing != null) {
        // Only then: with neither on, a call pays nothing for them.
        builder.intercept(new CallContextInterceptor());
      }
      server = builder.build().start();
    } catch (IOException | RuntimeException e) {
      server = null;
      shutdownResources();
      throw e;
    }
    port = server.getPort();
    log.info(
        "gRPC (Open Inference Protocol, TF Serving) listening on {}:{} ({} transport){}",
        config.host(),
        port,
        io.describe(),
        config.security().tls().isPresent() ? " (TLS)" : "");
    return this;
  }

  /** Starts the server, turning a bind failure into an unchecked exception. */
  public GrpcServer startUnchecked() {
    try {
      return start();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot bind gRPC to " + config.host() + ":" + config.port(), e);
    }
  }

  /** Connections open now on the gRPC port. */
  public int openConnections() {
    return connections.open();
  }

  /**
   * Bytes of request messages received but not yet whole, all connections together (counted against
   * {@link GrpcServerConfig.Limits#maxBufferedBytes()}); 0 before {@link #start()}.
   */
  public synchronized long bufferedBytes() {
    return budget == null ? 0 : budget.held();
  }

  /**
   * The I/O transport the port runs on (epoll, io_uring or NIO: {@link NettyTransport}, the same
   * choice as the REST port's), or empty before {@link #start()}.
   */
  public synchronized Optional<NettyTransport> transport() {
    return Optional.ofNullable(transport);
  }

  /** The bound port, or -1 before {@link #start()}. */
  public synchronized int port() {
    return port;
  }

  /**
   * The health service: Check reads the server's readiness at the moment of the call; Watch is
   * grpc-services' implementation, fed by a poller that copies readiness into it every 200 ms while
   * a Watch call is open, and a watched name's at once when its request comes.
   */
  private ServerServiceDefinition healthService() {
    HealthStatusManager health = Objects.requireNonNull(this.health, "set by start()");
    ServerServiceDefinition watch = health.getHealthService().bindService();
    ServerServiceDefinition check =
        new HealthGrpc.HealthImplBase() {
          @Override
          public void check(
              HealthCheckRequest request, StreamObserver<HealthCheckResponse> observer) {
            String name = request.getService();
            ServingStatus status;
            if (name.isEmpty() || name.equals(SERVICE_NAME)) {
              status = status();
            } else if (service.modelNames().contains(name)) {
              status = modelStatus(name);
            } else {
              observer.onError(
                  io.grpc.Status.NOT_FOUND
                      .withDescription("unknown service or model '" + name + "'")
                      .asRuntimeException());
              return;
            }
            observer.onNext(HealthCheckResponse.newBuilder().setStatus(status).build());
            observer.onCompleted();
          }
        }.bindService();
    @SuppressWarnings("unchecked") // the Watch method's own definition
    ServerCallHandler<HealthCheckRequest, HealthCheckResponse> watchHandler =
        (ServerCallHandler<HealthCheckRequest, HealthCheckResponse>)
            Objects.requireNonNull(
                    watch.getMethod(HealthGrpc.getWatchMethod().getFullMethodName()),
                    "grpc-services serves Watch")
                .getServerCallHandler();
    return ServerServiceDefinition.builder(HealthGrpc.getServiceDescriptor())
        .addMethod(check.getMethod(HealthGrpc.getCheckMethod().getFullMethodName()))
        .addMethod(HealthGrpc.getWatchMethod(), endableWatch(watchHandler))
        .build();
  }

  /**
   * grpc-services' Watch, with each call held in {@link #watches} while it is open, so that {@link
   * #close(Duration)} can end it: a Watch call stays open for as long as the client likes
   * (grpc-java's client-side health checking, {@code healthCheckConfig} in a service config, keeps
   * one open per connection), and would otherwise hold the shutdown for its whole budget and then
   * be reset (CANCELLED). Only Watch calls pass here.
   */
  private ServerCallHandler<HealthCheckRequest, HealthCheckResponse> endableWatch(
      ServerCallHandler<HealthCheckRequest, HealthCheckResponse> next) {
    return (call, headers) -> {
      WatchCall watch = new WatchCall(call);
      watches.add(watch);
      ServerCall.Listener<HealthCheckRequest> listener = next.startCall(watch, headers);
      if (endingWatches) {
        watch.end(); // opened after close() looked
      }
      return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
        @Override
        public void onMessage(HealthCheckRequest request) {
          // The poller skips the models while no Watch is open: the name's status is made current
          // before grpc-services reads it for the first answer (the poller covers it from now on).
          refreshOne(request.getService());
          super.onMessage(request);
        }

        @Override
        public void onCancel() {
          watches.remove(watch);
          super.onCancel();
        }

        @Override
        public void onComplete() {
          watches.remove(watch);
          super.onComplete();
        }
      };
    };
  }

  /**
   * A Watch call that {@link #end()} can close from another thread: grpc's {@link ServerCall} is
   * not thread-safe, so what the health service sends (on the event loop or the health poller) and
   * the end (on the thread closing the server) take turns, and nothing is sent after the end.
   */
  private static final class WatchCall
      extends ForwardingServerCall.SimpleForwardingServerCall<
          HealthCheckRequest, HealthCheckResponse> {
    private boolean closed;

    WatchCall(ServerCall<HealthCheckRequest, HealthCheckResponse> call) {
      super(call);
    }

    @Override
    public synchronized void sendHeaders(Metadata headers) {
      if (!closed) {
        super.sendHeaders(headers);
      }
    }

    @Override
    public synchronized void sendMessage(HealthCheckResponse message) {
      if (!closed) {
        super.sendMessage(message);
      }
    }

    @Override
    public synchronized void close(Status status, Metadata trailers) {
      if (!closed) {
        closed = true;
        super.close(status, trailers);
      }
    }

    /** UNAVAILABLE, as an open ModelStreamInfer call ends: clients retry it elsewhere. */
    void end() {
      close(Status.UNAVAILABLE.withDescription("the server is shutting down"), new Metadata());
    }
  }

  private ServingStatus status() {
    return service.isReady() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  /** A model's health: SERVING while the version policy's choice can take requests. */
  private ServingStatus modelStatus(String model) {
    if (service.isLeaving()) {
      return ServingStatus.NOT_SERVING;
    }
    try {
      return service.isModelReady(model, "") ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    } catch (InferenceException e) {
      return ServingStatus.SERVICE_UNKNOWN;
    }
  }

  private void refreshHealth() {
    HealthStatusManager health = this.health;
    if (health == null) {
      return;
    }
    if (watches.isEmpty()) {
      // Nobody watches (Check computes its answer itself): no pass over every model five times a
      // second (the server's readiness reads them all too), which with 300 models was the idle
      // server's busiest thread, ~9 ms of CPU a second (docs/DEPLOYMENT.md, "Many models"). A
      // Watch's request makes its own name's status current first.
      return;
    }
    try {
      ServingStatus s = status();
      health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, s);
      health.setStatus(SERVICE_NAME, s);
      java.util.Set<String> models = service.modelNames();
      for (String model : models) {
        health.setStatus(model, modelStatus(model));
      }
      for (String gone : watchedModels) {
        if (!models.contains(gone)) {
          health.clearStatus(gone);
        }
      }
      watchedModels = models;
    } catch (RuntimeException e) {
      log.warn("cannot refresh gRPC health status", e);
    }
  }

  /**
   * Makes one watched name's status current in the health service (a model's, or the server's for
   * "" and the inference service): on the Watch call's thread, when its request comes. A name the
   * repository does not know is cleared, never added, so a client cannot grow the table.
   */
  private void refreshOne(String name) {
    HealthStatusManager health = this.health;
    if (health == null) {
      return;
    }
    try {
      if (name.isEmpty() || name.equals(SERVICE_NAME)) {
        health.setStatus(name, status());
        return;
      }
      ServingStatus s = modelStatus(name);
      if (s == ServingStatus.SERVICE_UNKNOWN) {
        health.clearStatus(name);
      } else {
        health.setStatus(name, s);
      }
    } catch (RuntimeException e) {
      log.warn("cannot refresh gRPC health status", e);
    }
  }

  /** {@link #close(Duration)} with 5 s for the calls in progress. */
  @Override
  public void close() {
    close(Duration.ofSeconds(5));
  }

  /**
   * Stops accepting calls (each connection gets GOAWAY; new calls are refused), waits up to {@code
   * drain} for the calls in progress to finish and their connections to close — a call is done when
   * its response and status are sent; a ModelStreamInfer call ends with UNAVAILABLE once its
   * pending requests are answered, a health Watch call with UNAVAILABLE after its NOT_SERVING —
   * then cancels what is left and releases the threads.
   *
   * @return true when every call finished within {@code drain}
   */
  public synchronized boolean close(Duration drain) {
    boolean clean = true;
    if (server != null) {
      if (health != null) {
        health.enterTerminalState(); // every Watch call is sent NOT_SERVING
      }
      // A Watch call is open until the client ends it: end each now, after its NOT_SERVING, so
      // that none holds the drain for its whole budget and is then reset (CANCELLED).
      endingWatches = true;
      for (WatchCall watch : java.util.List.copyOf(watches)) {
        watch.end();
      }
      // Streams open between requests would otherwise hold the drain until its end, and then be
      // reset (CANCELLED); they end with UNAVAILABLE once their pending requests are answered.
      if (inference != null) {
        inference.endStreams();
      }
      server.shutdown();
      try {
        if (!server.awaitTermination(Math.max(0, drain.toNanos()), TimeUnit.NANOSECONDS)) {
          clean = false;
          server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        clean = false;
        server.shutdownNow();
        Thread.currentThread().interrupt();
      }
      server = null;
    }
    shutdownResources();
    return clean;
  }

  private void shutdownResources() {
    if (healthPoller != null) {
      healthPoller.shutdownNow();
      healthPoller = null;
    }
    if (boss != null) {
      boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
      boss = null;
    }
    if (workers != null) {
      workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly();
      workers = null;
    }
  }
}
