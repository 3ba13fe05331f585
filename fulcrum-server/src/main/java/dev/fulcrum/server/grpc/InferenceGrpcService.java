package dev.fulcrum.server.grpc;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.OutputDelivery;
import dev.fulcrum.core.repository.LoadRequestBody;
import dev.fulcrum.core.repository.ModelFiles;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.repository.ModelVersionStatus;
import dev.fulcrum.core.tenant.Admission;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.server.ClientText;
import dev.fulcrum.server.RequestFailureLog;
import dev.fulcrum.server.SlowRequestLog;
import dev.fulcrum.server.TimedAnswers;
import dev.fulcrum.server.codec.Json;
import dev.fulcrum.server.grpc.proto.CudaSharedMemoryRegisterRequest;
import dev.fulcrum.server.grpc.proto.CudaSharedMemoryRegisterResponse;
import dev.fulcrum.server.grpc.proto.CudaSharedMemoryStatusRequest;
import dev.fulcrum.server.grpc.proto.CudaSharedMemoryStatusResponse;
import dev.fulcrum.server.grpc.proto.CudaSharedMemoryUnregisterRequest;
import dev.fulcrum.server.grpc.proto.CudaSharedMemoryUnregisterResponse;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.LogSettingsRequest;
import dev.fulcrum.server.grpc.proto.LogSettingsResponse;
import dev.fulcrum.server.grpc.proto.ModelConfigRequest;
import dev.fulcrum.server.grpc.proto.ModelConfigResponse;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelMetadataRequest;
import dev.fulcrum.server.grpc.proto.ModelMetadataResponse;
import dev.fulcrum.server.grpc.proto.ModelReadyRequest;
import dev.fulcrum.server.grpc.proto.ModelReadyResponse;
import dev.fulcrum.server.grpc.proto.ModelRepositoryParameter;
import dev.fulcrum.server.grpc.proto.ModelStatisticsRequest;
import dev.fulcrum.server.grpc.proto.ModelStatisticsResponse;
import dev.fulcrum.server.grpc.proto.ModelStreamInferResponse;
import dev.fulcrum.server.grpc.proto.RepositoryIndexRequest;
import dev.fulcrum.server.grpc.proto.RepositoryIndexResponse;
import dev.fulcrum.server.grpc.proto.RepositoryModelLoadRequest;
import dev.fulcrum.server.grpc.proto.RepositoryModelLoadResponse;
import dev.fulcrum.server.grpc.proto.RepositoryModelUnloadRequest;
import dev.fulcrum.server.grpc.proto.RepositoryModelUnloadResponse;
import dev.fulcrum.server.grpc.proto.ServerLiveRequest;
import dev.fulcrum.server.grpc.proto.ServerLiveResponse;
import dev.fulcrum.server.grpc.proto.ServerMetadataRequest;
import dev.fulcrum.server.grpc.proto.ServerMetadataResponse;
import dev.fulcrum.server.grpc.proto.ServerReadyRequest;
import dev.fulcrum.server.grpc.proto.ServerReadyResponse;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryRegisterRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryRegisterResponse;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryStatusRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryStatusResponse;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryUnregisterRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryUnregisterResponse;
import dev.fulcrum.server.grpc.proto.TraceSettingRequest;
import dev.fulcrum.server.grpc.proto.TraceSettingResponse;
import dev.fulcrum.server.logging.LogControl;
import dev.fulcrum.server.logging.LogSettings;
import dev.fulcrum.server.logging.LogSettingsUpdate;
import dev.fulcrum.server.protocol.LoadParameters;
import dev.fulcrum.server.protocol.ModelJson;
import dev.fulcrum.server.protocol.SharedMemory;
import dev.fulcrum.server.shm.SharedMemoryOutput;
import dev.fulcrum.server.shm.SharedMemoryRegion;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import dev.fulcrum.server.tracing.TraceSettings;
import dev.fulcrum.server.tracing.TraceSettingsStore;
import dev.fulcrum.server.tracing.TracedRequest;
import dev.fulcrum.server.tracing.Tracing;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.netty.util.internal.ThreadExecutorMap;
import java.io.IOException;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * {@code inference.GRPCInferenceService} on the one {@link InferenceService} every transport
 * shares.
 *
 * <p>Threads: every method runs on the call's Netty event loop (grpc-java's direct executor, {@link
 * GrpcServer}) and returns without blocking: metadata calls are map lookups, and inference hands
 * the request to the core; {@code ModelInfer} answers on the same event loop once the engine thread
 * completes its future (in place when it completed inline). gRPC serialises a call's outbound
 * messages itself; a stream's responses, which complete on several engine threads, are sent from
 * those threads under the stream's lock.
 *
 * <p>Deadlines and cancellation: the remaining time of the client's deadline becomes the request's
 * {@code timeout} parameter (microseconds) unless the request asks for less, and a cancelled call
 * (client cancel, disconnect or expired deadline) cancels the core's future.
 */
final class InferenceGrpcService extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {
  private static final SlowRequestLog.Protocol GRPC = SlowRequestLog.Protocol.GRPC;
  private static final SlowRequestLog.Protocol GRPC_STREAM = SlowRequestLog.Protocol.GRPC_STREAM;

  private final InferenceService service;
  private final ServerMetadataResponse serverMetadata;
  private final RequestFailureLog failures;

  /** The ModelStreamInfer calls open now, so that {@link #endStreams()} can end them. */
  private final Set<InferStream> streams = ConcurrentHashMap.newKeySet();

  private volatile boolean endingStreams;

  /** The slow-request log, or null when it is off (then nothing here is timed). */
  private final @Nullable SlowRequestLog slow;

  /**
   * Traces ModelInfer calls and each request of a ModelStreamInfer call; null: tracing off, no
   * trace context is read.
   */
  private final @Nullable Tracing tracing;

  /** The server's shared memory regions (Triton's system shared memory extension). */
  private final SharedMemoryRegistry sharedMemory;

  /** Whether calls carry a tenant (tokens are configured): else none is looked up. */
  private final boolean tenants;

  /** The log settings LogSettings reads and changes. */
  private final LogControl logControl;

  /**
   * @param slow logs slow and refused inference requests (with {@link CallContextInterceptor} on
   *     the server, for the client's address and traceparent); null: off
   * @param tracing traces ModelInfer calls and streamed requests; null: off
   * @param tenants tenants are on: each inference request is charged to its call's tenant ({@link
   *     AuthInterceptor#TENANT})
   */
  InferenceGrpcService(
      InferenceService service,
      String version,
      RequestFailureLog failures,
      @Nullable SlowRequestLog slow,
      @Nullable Tracing tracing,
      SharedMemoryRegistry sharedMemory,
      boolean tenants,
      LogControl logControl) {
    this.service = service;
    this.sharedMemory = sharedMemory;
    this.tenants = tenants;
    this.logControl = logControl;
    this.tracing = tracing;
    this.failures = failures;
    this.slow = slow;
    this.serverMetadata =
        ServerMetadataResponse.newBuilder()
            .setName(ModelJson.SERVER_NAME)
            .setVersion(version)
            .addAllExtensions(ModelJson.EXTENSIONS)
            .build();
  }

  private <T> void unary(StreamObserver<T> observer, Supplier<T> body) {
    T response;
    try {
      response = body.get();
    } catch (RuntimeException e) {
      observer.onError(GrpcStatuses.exception(failed(e), e));
      return;
    }
    observer.onNext(response);
    observer.onCompleted();
  }

  @Override
  public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> observer) {
    unary(observer, () -> ServerLiveResponse.newBuilder().setLive(service.isLive()).build());
  }

  @Override
  public void serverReady(
      ServerReadyRequest request, StreamObserver<ServerReadyResponse> observer) {
    unary(observer, () -> ServerReadyResponse.newBuilder().setReady(service.isReady()).build());
  }

  /** Ready true/false for a known model; NOT_FOUND for an unknown one (as the REST API). */
  @Override
  public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> observer) {
    unary(
        observer,
        () -> {
          boolean ready = service.isModelReady(request.getName(), request.getVersion());
          return ModelReadyResponse.newBuilder().setReady(ready).build();
        });
  }

  @Override
  public void serverMetadata(
      ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> observer) {
    unary(observer, () -> serverMetadata);
  }

  @Override
  public void modelMetadata(
      ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> observer) {
    unary(
        observer,
        () -> {
          return ProtoJson.merge(
                  ModelJson.modelMetadata(
                      service.repository(), request.getName(), request.getVersion()),
                  ModelMetadataResponse.newBuilder())
              .build();
        });
  }

  @Override
  public void modelConfig(
      ModelConfigRequest request, StreamObserver<ModelConfigResponse> observer) {
    unary(
        observer,
        () -> {
          ModelVersion mv = service.repository().resolve(request.getName(), request.getVersion());
          return ModelConfigResponse.newBuilder()
              .setConfig(
                  ProtoJson.merge(
                      ModelJson.tritonConfig(mv.config()),
                      dev.fulcrum.server.grpc.proto.ModelConfig.newBuilder()))
              .build();
        });
  }

  @Override
  public void modelStatistics(
      ModelStatisticsRequest request, StreamObserver<ModelStatisticsResponse> observer) {
    unary(
        observer,
        () ->
            ProtoJson.merge(
                    ModelJson.statistics(
                        service.repository().select(request.getName(), request.getVersion())),
                    ModelStatisticsResponse.newBuilder())
                .build());
  }

  @Override
  public void repositoryIndex(
      RepositoryIndexRequest request, StreamObserver<RepositoryIndexResponse> observer) {
    unary(
        observer,
        () -> {
          RepositoryIndexResponse.Builder b = RepositoryIndexResponse.newBuilder();
          for (ModelVersionStatus s : service.repository().index()) {
            if (request.getReady() && s.state() != ModelState.READY) {
              continue;
            }
            b.addModels(
                RepositoryIndexResponse.ModelIndex.newBuilder()
                    .setName(s.name())
                    .setVersion(s.version())
                    .setState(s.state().tritonName())
                    .setReason(s.reason()));
          }
          return b.build();
        });
  }

  /** Triton's repository load: answers when the model serves, or with the reason it does not. */
  @Override
  public void repositoryModelLoad(
      RepositoryModelLoadRequest request, StreamObserver<RepositoryModelLoadResponse> observer) {
    // As REST reads them (LoadParameters), on the model-load thread: a config that is not a
    // string_param, or a file that is not a bytes_param, is refused; each file's bytes are written
    // from the message, not copied out of it.
    control(
        service.loadRequest(
            request.getModelName(),
            new LoadRequestBody() {
              @Override
              public @Nullable String read(ModelFiles.Push files) throws IOException {
                return LoadParameters.read(
                    request.getParametersMap().entrySet(),
                    p ->
                        p.getParameterChoiceCase()
                                == ModelRepositoryParameter.ParameterChoiceCase.STRING_PARAM
                            ? p.getStringParam()
                            : null,
                    p ->
                        p.getParameterChoiceCase()
                            == ModelRepositoryParameter.ParameterChoiceCase.BYTES_PARAM,
                    (p, out) -> p.getBytesParam().writeTo(out),
                    "string_param",
                    "bytes_param",
                    files);
              }

              @Override
              public void release() {
                // the parsed message holds nothing but heap memory
              }
            }),
        observer,
        RepositoryModelLoadResponse.getDefaultInstance());
  }

  /** Triton's repository unload; {@code unload_dependents} is accepted and has no effect. */
  @Override
  public void repositoryModelUnload(
      RepositoryModelUnloadRequest request,
      StreamObserver<RepositoryModelUnloadResponse> observer) {
    control(
        service.unload(request.getModelName()),
        observer,
        RepositoryModelUnloadResponse.getDefaultInstance());
  }

  @Override
  public void systemSharedMemoryStatus(
      SystemSharedMemoryStatusRequest request,
      StreamObserver<SystemSharedMemoryStatusResponse> observer) {
    unary(
        observer,
        () -> {
          SystemSharedMemoryStatusResponse.Builder b =
              SystemSharedMemoryStatusResponse.newBuilder();
          for (SharedMemoryRegion r : regionsOfCall().status(request.getName())) {
            b.putRegions(
                r.name(),
                SystemSharedMemoryStatusResponse.RegionStatus.newBuilder()
                    .setName(r.name())
                    .setKey(r.key())
                    .setOffset(r.offset())
                    .setByteSize(r.byteSize())
                    .build());
          }
          return b.build();
        });
  }

  @Override
  public void systemSharedMemoryRegister(
      SystemSharedMemoryRegisterRequest request,
      StreamObserver<SystemSharedMemoryRegisterResponse> observer) {
    unary(
        observer,
        () -> {
          regionsOfCall()
              .register(
                  request.getName(),
                  request.getKey(),
                  unsigned("offset", request.getOffset()),
                  unsigned("byte_size", request.getByteSize()));
          return SystemSharedMemoryRegisterResponse.getDefaultInstance();
        });
  }

  /**
   * The shared memory regions the call's tenant sees (every region without tenants): read on the
   * call's thread, where its context holds the tenant.
   */
  private SharedMemoryRegistry regionsOfCall() {
    return sharedMemory.forTenant(tenants ? AuthInterceptor.TENANT.get() : null);
  }

  /** A uint64 field as a long; one past the largest long is refused, not read as negative. */
  private static long unsigned(String field, long value) {
    if (value < 0) {
      throw InferenceException.invalid(
          "%s %s is larger than the largest region", field, Long.toUnsignedString(value));
    }
    return value;
  }

  @Override
  public void systemSharedMemoryUnregister(
      SystemSharedMemoryUnregisterRequest request,
      StreamObserver<SystemSharedMemoryUnregisterResponse> observer) {
    unary(
        observer,
        () -> {
          SharedMemoryRegistry regions = regionsOfCall();
          if (request.getName().isEmpty()) {
            regions.unregisterAll();
          } else {
            regions.unregister(request.getName());
          }
          return SystemSharedMemoryUnregisterResponse.getDefaultInstance();
        });
  }

  /** CUDA shared memory as Triton without GPUs: no region, ever. */
  @Override
  public void cudaSharedMemoryStatus(
      CudaSharedMemoryStatusRequest request,
      StreamObserver<CudaSharedMemoryStatusResponse> observer) {
    unary(
        observer,
        () -> {
          if (!request.getName().isEmpty()) {
            throw InferenceException.notFound(
                "Unable to find cuda shared memory region: '%s'",
                ClientText.printable(request.getName(), 200));
          }
          return CudaSharedMemoryStatusResponse.getDefaultInstance();
        });
  }

  @Override
  public void cudaSharedMemoryRegister(
      CudaSharedMemoryRegisterRequest request,
      StreamObserver<CudaSharedMemoryRegisterResponse> observer) {
    unary(
        observer,
        () -> {
          throw SharedMemory.cudaRegisterRefused(
              ClientText.printable(request.getName(), 200), sharedMemory.allowed());
        });
  }

  @Override
  public void cudaSharedMemoryUnregister(
      CudaSharedMemoryUnregisterRequest request,
      StreamObserver<CudaSharedMemoryUnregisterResponse> observer) {
    unary(
        observer,
        () -> {
          SharedMemory.cudaUnregister(sharedMemory.allowed());
          return CudaSharedMemoryUnregisterResponse.getDefaultInstance();
        });
  }

  /**
   * Triton's trace extension: a request without settings reads those in force (the server's, or the
   * model's), one with some changes them, with REST's validation and words (INVALID_ARGUMENT where
   * REST answers 400), over the same settings.
   */
  @Override
  public void traceSetting(
      TraceSettingRequest request, StreamObserver<TraceSettingResponse> observer) {
    unary(
        observer,
        () -> {
          String model = request.getModelName().isEmpty() ? null : request.getModelName();
          TraceSettings s =
              request.getSettingsMap().isEmpty()
                  ? Tracing.read(tracing, model)
                  : Tracing.update(tracing, model, traceSettingBody(request));
          TraceSettingResponse.Builder b = TraceSettingResponse.newBuilder();
          TraceSettingsStore.json(s)
              .forEach(
                  (name, value) -> {
                    TraceSettingResponse.SettingValue.Builder v =
                        TraceSettingResponse.SettingValue.newBuilder();
                    if (value instanceof List<?> values) {
                      values.forEach(x -> v.addValue(String.valueOf(x)));
                    } else {
                      v.addValue(String.valueOf(value));
                    }
                    b.putSettings(name, v.build());
                  });
          return b.build();
        });
  }

  /**
   * A TraceSetting request's settings as REST's body names them: no value is JSON null (back to the
   * server's), {@code trace_level} an array, every other setting its one value.
   */
  private static ObjectNode traceSettingBody(TraceSettingRequest request) {
    ObjectNode body = Json.MAPPER.createObjectNode();
    request
        .getSettingsMap()
        .forEach(
            (name, value) -> {
              List<String> values = value.getValueList();
              if (values.isEmpty()) {
                body.putNull(name);
              } else if (name.equals(TraceSettings.TRACE_LEVEL)) {
                ArrayNode levels = body.putArray(name);
                values.forEach(levels::add);
              } else if (values.size() == 1) {
                body.put(name, values.get(0));
              } else {
                throw InferenceException.invalid(
                    "%s takes one value, was %s",
                    ClientText.printable(name, 100),
                    ClientText.printable(String.valueOf(values), 200));
              }
            });
    return body;
  }

  /**
   * Triton's logging extension: a request without settings reads those in force, one with some
   * changes them, with REST's validation and words ({@link LogSettingsUpdate}; INVALID_ARGUMENT
   * where REST answers 400). A setting without a value is left as it is, as Triton.
   */
  @Override
  public void logSettings(
      LogSettingsRequest request, StreamObserver<LogSettingsResponse> observer) {
    unary(
        observer,
        () -> {
          Map<String, @Nullable Object> values = new LinkedHashMap<>();
          request
              .getSettingsMap()
              .forEach(
                  (name, v) ->
                      values.put(
                          name,
                          switch (v.getParameterChoiceCase()) {
                            case BOOL_PARAM -> v.getBoolParam();
                            case UINT32_PARAM -> Integer.toUnsignedLong(v.getUint32Param());
                            case STRING_PARAM -> v.getStringParam();
                            case PARAMETERCHOICE_NOT_SET -> null;
                          }));
          LogSettings s =
              values.isEmpty()
                  ? logControl.settings()
                  : LogSettingsUpdate.apply(logControl, values);
          LogSettingsResponse.Builder b = LogSettingsResponse.newBuilder();
          LogSettingsUpdate.json(s)
              .forEach(
                  (name, value) -> {
                    LogSettingsResponse.SettingValue.Builder v =
                        LogSettingsResponse.SettingValue.newBuilder();
                    switch (value) {
                      case Boolean on -> v.setBoolParam(on);
                      case Integer n -> v.setUint32Param(n);
                      default -> v.setStringParam(String.valueOf(value));
                    }
                    b.putSettings(name, v.build());
                  });
          return b.build();
        });
  }

  private static <T> void control(
      CompletableFuture<Void> operation, StreamObserver<T> observer, T done) {
    operation.whenComplete(
        (r, t) -> {
          if (t != null) {
            observer.onError(GrpcStatuses.of(t).asRuntimeException());
          } else {
            observer.onNext(done);
            observer.onCompleted();
          }
        });
  }

  /** Remaining microseconds of the call's deadline, or -1 without one. */
  static long deadlineMicros() {
    Deadline d = Context.current().getDeadline();
    if (d == null) {
      return -1;
    }
    long left = d.timeRemaining(TimeUnit.MICROSECONDS);
    if (left <= 0) {
      throw new InferenceException(
          ErrorCode.DEADLINE_EXCEEDED, "the call's deadline passed before the request was queued");
    }
    return left;
  }

  @Override
  public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> observer) {
    ServerCallStreamObserver<ModelInferResponse> call =
        (ServerCallStreamObserver<ModelInferResponse>) observer;
    GrpcCodec.Decoded decoded;
    CompletableFuture<InferenceResponse> future;
    // The call's event loop (this thread: the direct executor), where the answer is written.
    Executor loop = ThreadExecutorMap.currentExecutor();
    SlowRequestLog log = slow;
    long start = log == null ? 0 : log.now();
    ModelVersion admitted = null;
    CallContextInterceptor.@Nullable CallInfo info = callInfo();
    TracedRequest traced = traced(request.getModelName(), info, TracedRequest.Protocol.GRPC);
    // The call's tenant, which the token check put in its context (null without tenants).
    Tenant tenant = tenants ? AuthInterceptor.TENANT.get() : null;
    // Its admission where its tenant's limits admitted it at its headers (AuthInterceptor).
    Admission early = tenant != null ? AuthInterceptor.ADMISSION.get() : null;
    try {
      admitted = admissionCheck(request);
      decoded = GrpcCodec.decode(request, deadlineMicros(), sharedMemory.forTenant(tenant));
      InferenceRequest run =
          TimedAnswers.toRun(decoded.request(), log != null, traced != null).withTenant(tenant);
      // Outputs asked into shared memory are written before the core counts the request.
      OutputDelivery delivery = SharedMemoryOutput.delivery(decoded.sharedMemoryOutputs());
      future = service.infer(admitted, run, loop, early, delivery);
    } catch (RuntimeException e) {
      if (early != null) {
        service.failedBeforeAdmission(early, request.getModelName(), e);
      } else {
        service.failedBeforeAdmission(tenant, request.getModelName(), e);
      }
      Status status = failed(e);
      ended(traced, request, status, null, 0);
      call.onError(GrpcStatuses.exception(status, e));
      if (log != null) {
        slowRequest(log, GRPC, start, request, admitted, null, e, info);
      }
      return;
    }
    boolean shown = TimedAnswers.shown(service, decoded.request());
    ModelVersion ran = admitted;
    // Also suppresses the exception onNext would throw on a call that is already cancelled.
    call.setOnCancelHandler(() -> future.cancel(true));
    boolean raw = decoded.rawOutput();
    Map<String, SharedMemoryOutput> shm = decoded.sharedMemoryOutputs();
    BiConsumer<InferenceResponse, @Nullable Throwable> reply =
        (response, failure) -> {
          long ready = traced == null ? 0 : System.nanoTime();
          Throwable failed = failure;
          ModelInferResponse message = null;
          if (failed == null) {
            try {
              message = GrpcCodec.encode(TimedAnswers.toShow(response, shown), raw, shm);
            } catch (RuntimeException e) {
              failed = e;
            }
          }
          if (message != null) {
            call.onNext(message);
            call.onCompleted();
            ended(traced, request, Status.OK, response, ready);
          } else if (failed != null) {
            Status status = failed(failed);
            ended(traced, request, status, null, ready);
            call.onError(GrpcStatuses.exception(status, failed));
          }
          if (log != null) {
            slowRequest(log, GRPC, start, request, ran, response, failed, info);
          }
        };
    // Answer on the call's event loop (this thread: the direct executor), not on the engine thread
    // that completes the future: grpc-netty turns a response sent from another thread into queued
    // commands and a hop to the event loop anyway, and encoding, framing and the buffers' pool
    // work there without cross-thread handoffs (docs/PERFORMANCE.md, "Session 9: gRPC at c=1").
    // The engine thread is free for the next pass sooner (a worker's pass completes the future on
    // the loop already, in one task for the pass's requests of this loop: one wake-up per pass).
    // A future already complete (a lone pass run inline) is answered right here.
    if (loop == null || future.isDone()) {
      future.whenComplete(reply);
    } else {
      future.whenCompleteAsync(reply, loop);
    }
  }

  /**
   * The call's trace, when tracing is on and it is traced (its context read by the interceptor).
   */
  private @Nullable TracedRequest traced(
      String model,
      CallContextInterceptor.@Nullable CallInfo info,
      TracedRequest.Protocol protocol) {
    Tracing t = tracing;
    if (t == null || !t.active()) {
      return null;
    }
    return t.begin(model, info == null ? null : info.trace(), protocol);
  }

  /**
   * The call's client and trace context, read once per call when the slow-request log or tracing is
   * on ({@link CallContextInterceptor} is then installed); null with both off.
   */
  private CallContextInterceptor.@Nullable CallInfo callInfo() {
    return slow == null && tracing == null ? null : CallContextInterceptor.current();
  }

  /** Ends a traced call's (or streamed request's) spans with its status. */
  private static void ended(
      @Nullable TracedRequest traced,
      ModelInferRequest request,
      Status status,
      @Nullable InferenceResponse response,
      long readyNanos) {
    GrpcRecords.ended(
        traced, request.getModelName(), request.getModelVersion(), status, response, readyNanos);
  }

  /**
   * Refuses an inference for an unknown or unready model, or one whose queue is full, before its
   * tensors are copied out of the message; refuses one without a model name as the codec would (so
   * that every request that runs took the one path that delivers its shared memory outputs).
   */
  private ModelVersion admissionCheck(ModelInferRequest request) {
    if (request.getModelName().isEmpty()) {
      GrpcCodec.rejectMalformed(request);
      throw GrpcCodec.modelNameRequired();
    }
    return service.admissionCheck(request.getModelName(), request.getModelVersion());
  }

  @Override
  public StreamObserver<ModelInferRequest> modelStreamInfer(
      StreamObserver<ModelStreamInferResponse> observer) {
    ServerCallStreamObserver<ModelStreamInferResponse> call =
        (ServerCallStreamObserver<ModelStreamInferResponse>) observer;
    InferStream stream = new InferStream(call);
    call.setOnCancelHandler(stream::cancelAll);
    streams.add(stream);
    if (endingStreams) {
      stream.endWhenAnswered(); // opened after endStreams() looked
    }
    return stream;
  }

  /**
   * Ends every open ModelStreamInfer call with UNAVAILABLE ("the server is shutting down"), each as
   * soon as the requests it has pending are answered (at once when it has none), so that a client
   * that keeps a stream open between requests, as Triton's clients do, neither holds the server's
   * shutdown for its whole budget nor sees its stream reset (CANCELLED) at the end of it: it sees
   * the status gRPC clients retry on. Called by {@link GrpcServer#close} before it stops accepting
   * calls; any thread.
   */
  void endStreams() {
    endingStreams = true;
    for (InferStream stream : List.copyOf(streams)) {
      stream.endWhenAnswered();
    }
  }

  /**
   * One ModelStreamInfer call: each request is submitted as it arrives and answered when it
   * completes, in completion order; the client matches responses by id. A failed request is
   * answered with {@code error_message} (and the request's id) and the stream goes on. The stream
   * ends after the client half-closes and every request is answered.
   */
  @SuppressWarnings("UndefinedEquals") // pending holds its futures by identity
  private final class InferStream implements StreamObserver<ModelInferRequest> {
    private final ServerCallStreamObserver<ModelStreamInferResponse> call;
    private final Object lock = new Object();
    // By identity: a future is the one request it stands for.
    private final Set<CompletableFuture<InferenceResponse>> pending =
        Collections.newSetFromMap(new IdentityHashMap<>());
    private boolean halfClosed;
    private boolean finished;

    /**
     * The call's client and trace context, for the slow-request log and tracing (null when both are
     * off).
     */
    private final CallContextInterceptor.@Nullable CallInfo info = callInfo();

    /** The server is shutting down: end the call once nothing is pending ({@link #endStreams}). */
    private boolean ending;

    /** The call's tenant, which the token check put in its context (null without tenants). */
    private final @Nullable Tenant tenant = tenants ? AuthInterceptor.TENANT.get() : null;

    InferStream(ServerCallStreamObserver<ModelStreamInferResponse> call) {
      this.call = call;
    }

    @Override
    public void onNext(ModelInferRequest request) {
      GrpcCodec.Decoded decoded;
      CompletableFuture<InferenceResponse> future;
      SlowRequestLog log = slow;
      long start = log == null ? 0 : log.now();
      ModelVersion admitted = null;
      // Each request of the stream is a trace decision and a span of its own, its parent the
      // call's traceparent (one per call: gRPC metadata comes with the call, not the message).
      TracedRequest traced =
          traced(request.getModelName(), info, TracedRequest.Protocol.GRPC_STREAM);
      try {
        GrpcCodec.rejectMalformed(request); // a message that did not parse (StrictParsing)
        admitted = admissionCheck(request);
        decoded = GrpcCodec.decode(request, deadlineMicros(), sharedMemory.forTenant(tenant));
        InferenceRequest run =
            TimedAnswers.toRun(decoded.request(), log != null, traced != null).withTenant(tenant);
        future =
            service.infer(
                admitted,
                run,
                null,
                null,
                SharedMemoryOutput.delivery(decoded.sharedMemoryOutputs()));
      } catch (RuntimeException e) {
        service.failedBeforeAdmission(tenant, request.getModelName(), e);
        send(error(request, e));
        ended(traced, request, GrpcStatuses.of(e), null, 0);
        if (log != null) {
          slowRequest(log, GRPC_STREAM, start, request, admitted, null, e, info);
        }
        return;
      }
      boolean shown = TimedAnswers.shown(service, decoded.request());
      ModelVersion ran = admitted;
      synchronized (lock) {
        if (finished) {
          future.cancel(true);
          if (traced != null) {
            ended(traced, request, Status.CANCELLED, null, 0);
          }
          return;
        }
        pending.add(future);
      }
      boolean raw = decoded.rawOutput();
      Map<String, SharedMemoryOutput> shm = decoded.sharedMemoryOutputs();
      future.whenComplete(
          (response, failure) -> {
            long ready = traced == null ? 0 : System.nanoTime();
            ModelStreamInferResponse message;
            Throwable failed = failure;
            if (failure != null) {
              message = error(request, failure);
            } else {
              try {
                message =
                    ModelStreamInferResponse.newBuilder()
                        .setInferResponse(
                            GrpcCodec.encode(TimedAnswers.toShow(response, shown), raw, shm))
                        .build();
              } catch (RuntimeException e) {
                message = error(request, e);
                failed = e;
              }
            }
            synchronized (lock) {
              pending.remove(future);
              send(message);
              completeIfDone();
            }
            if (traced != null) {
              ended(
                  traced,
                  request,
                  failed == null ? Status.OK : GrpcStatuses.of(failed),
                  failed == null ? response : null,
                  ready);
            }
            if (log != null) {
              slowRequest(log, GRPC_STREAM, start, request, ran, response, failed, info);
            }
          });
    }

    private ModelStreamInferResponse error(ModelInferRequest request, Throwable failure) {
      return ModelStreamInferResponse.newBuilder()
          .setErrorMessage(message(failure))
          .setInferResponse(
              ModelInferResponse.newBuilder()
                  .setModelName(request.getModelName())
                  .setModelVersion(request.getModelVersion())
                  .setId(request.getId()))
          .build();
    }

    private void send(ModelStreamInferResponse message) {
      synchronized (lock) {
        if (!finished) {
          call.onNext(message);
        }
      }
    }

    private void completeIfDone() {
      if ((halfClosed || ending) && pending.isEmpty() && !finished) {
        finished = true;
        streams.remove(this);
        if (halfClosed) {
          call.onCompleted();
        } else {
          call.onError(
              Status.UNAVAILABLE
                  .withDescription("the server is shutting down")
                  .asRuntimeException());
        }
      }
    }

    void endWhenAnswered() {
      synchronized (lock) {
        ending = true;
        completeIfDone();
      }
    }

    @Override
    public void onError(Throwable t) {
      cancelAll();
    }

    @Override
    public void onCompleted() {
      synchronized (lock) {
        halfClosed = true;
        completeIfDone();
      }
    }

    void cancelAll() {
      List<CompletableFuture<InferenceResponse>> toCancel;
      synchronized (lock) {
        finished = true;
        toCancel = List.copyOf(pending);
        pending.clear();
      }
      streams.remove(this);
      toCancel.forEach(f -> f.cancel(true));
    }
  }

  /** Gives the slow-request log a request whose answer was just handed to gRPC. */
  private void slowRequest(
      SlowRequestLog log,
      SlowRequestLog.Protocol protocol,
      long start,
      ModelInferRequest request,
      @Nullable ModelVersion admitted,
      @Nullable InferenceResponse response,
      @Nullable Throwable failure,
      CallContextInterceptor.@Nullable CallInfo info) {
    GrpcRecords.slowRequest(
        service,
        log,
        protocol,
        start,
        request.getModelName(),
        request.getModelVersion(),
        request.getId(),
        admitted,
        response,
        failure,
        info);
  }

  /** The status a failed call is closed with; logs the failure (rate-limited). */
  private Status failed(Throwable t) {
    failures.failed(t);
    return GrpcStatuses.of(t);
  }

  private String message(Throwable t) {
    failures.failed(t);
    return GrpcStatuses.message(t);
  }
}
