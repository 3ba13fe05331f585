package dev.fulcrum.server.grpc;

import com.google.protobuf.Any;
import com.google.protobuf.Int64Value;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.tenant.Admission;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.server.ClientText;
import dev.fulcrum.server.RequestFailureLog;
import dev.fulcrum.server.SlowRequestLog;
import dev.fulcrum.server.TimedAnswers;
import dev.fulcrum.server.codec.PredictDecoder;
import dev.fulcrum.server.grpc.tfserving.GetModelMetadataRequest;
import dev.fulcrum.server.grpc.tfserving.GetModelMetadataResponse;
import dev.fulcrum.server.grpc.tfserving.ModelSpec;
import dev.fulcrum.server.grpc.tfserving.PredictRequest;
import dev.fulcrum.server.grpc.tfserving.PredictResponse;
import dev.fulcrum.server.grpc.tfserving.PredictionServiceGrpc;
import dev.fulcrum.server.grpc.tfserving.SignatureDef;
import dev.fulcrum.server.grpc.tfserving.SignatureDefMap;
import dev.fulcrum.server.grpc.tfserving.TensorInfo;
import dev.fulcrum.server.grpc.tfserving.TensorShapeProto;
import dev.fulcrum.server.tracing.TracedRequest;
import dev.fulcrum.server.tracing.Tracing;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.netty.util.internal.ThreadExecutorMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.BiConsumer;
import org.jspecify.annotations.Nullable;

/**
 * TF Serving's {@code tensorflow.serving.PredictionService} (Predict, GetModelMetadata) on the one
 * {@link InferenceService}: a Predict call is decoded ({@link TfServingCodec}) into the core's
 * request and run as a ModelInfer call is (admission before decoding, the call's tenant and its
 * early admission, the deadline as timeout, cancellation, statistics, tracing as {@code
 * grpc/tfserving}, the slow-request log as {@code grpc-tfserving}); failures map to gRPC statuses
 * through {@link GrpcStatuses}, as OIP's. Classify, Regress and MultiInference are not declared
 * (UNIMPLEMENTED).
 *
 * <p>Threads: as {@link InferenceGrpcService}: each method runs on the call's event loop and never
 * blocks; a Predict answer is written on that loop when the core's future completes. Holds no
 * mutable state.
 */
final class TfServingPredictionService extends PredictionServiceGrpc.PredictionServiceImplBase {
  private static final String SIGNATURE_DEF = "signature_def";
  private static final String PREDICT_METHOD = "tensorflow/serving/predict";
  private static final SlowRequestLog.Protocol PROTOCOL = SlowRequestLog.Protocol.GRPC_TF_SERVING;

  private final InferenceService service;
  private final RequestFailureLog failures;
  private final @Nullable SlowRequestLog slow;
  private final @Nullable Tracing tracing;
  private final boolean tenants;

  /**
   * @param slow the slow-request log; null: off
   * @param tracing traces Predict calls; null: off
   * @param tenants tenants are on: each request is charged to its call's tenant
   */
  TfServingPredictionService(
      InferenceService service,
      RequestFailureLog failures,
      @Nullable SlowRequestLog slow,
      @Nullable Tracing tracing,
      boolean tenants) {
    this.service = service;
    this.failures = failures;
    this.slow = slow;
    this.tracing = tracing;
    this.tenants = tenants;
  }

  @Override
  public void predict(PredictRequest request, StreamObserver<PredictResponse> observer) {
    ServerCallStreamObserver<PredictResponse> call =
        (ServerCallStreamObserver<PredictResponse>) observer;
    Executor loop = ThreadExecutorMap.currentExecutor();
    SlowRequestLog log = slow;
    long start = log == null ? 0 : log.now();
    String model = request.getModelSpec().getName();
    CallContextInterceptor.@Nullable CallInfo info =
        slow == null && tracing == null ? null : CallContextInterceptor.current();
    Tracing t = tracing;
    TracedRequest traced =
        t == null || !t.active()
            ? null
            : t.begin(
                model, info == null ? null : info.trace(), TracedRequest.Protocol.GRPC_TF_SERVING);
    Tenant tenant = tenants ? AuthInterceptor.TENANT.get() : null;
    Admission early = tenant != null ? AuthInterceptor.ADMISSION.get() : null;
    ModelVersion admitted = null;
    String version = "";
    InferenceRequest decoded;
    CompletableFuture<InferenceResponse> future;
    try {
      TfServingCodec.model(request.getModelSpec());
      version = TfServingCodec.version(request.getModelSpec());
      TfServingCodec.checkSignature(request.getModelSpec());
      admitted = service.admissionCheck(model, version); // before the tensors are copied
      decoded =
          TfServingCodec.decode(request, model, version, InferenceGrpcService.deadlineMicros());
      InferenceRequest run =
          TimedAnswers.toRun(decoded, log != null, traced != null).withTenant(tenant);
      future = service.infer(admitted, run, loop, early, null);
    } catch (RuntimeException e) {
      if (early != null) {
        service.failedBeforeAdmission(early, model, e);
      } else {
        service.failedBeforeAdmission(tenant, model, e);
      }
      Status status = failed(e);
      GrpcRecords.ended(traced, model, version, status, null, 0);
      call.onError(GrpcStatuses.exception(status, e));
      if (log != null) {
        GrpcRecords.slowRequest(
            service, log, PROTOCOL, start, model, version, "", admitted, null, e, info);
      }
      return;
    }
    boolean shown = TimedAnswers.shown(service, decoded);
    ModelVersion ran = admitted;
    String asked = version;
    call.setOnCancelHandler(() -> future.cancel(true));
    BiConsumer<InferenceResponse, @Nullable Throwable> reply =
        (response, failure) -> {
          long ready = traced == null ? 0 : System.nanoTime();
          Throwable failed = failure;
          PredictResponse message = null;
          if (failed == null) {
            try {
              message = TfServingCodec.encode(TimedAnswers.toShow(response, shown));
            } catch (RuntimeException e) {
              failed = e;
            }
          }
          if (message != null) {
            call.onNext(message);
            call.onCompleted();
            GrpcRecords.ended(traced, model, asked, Status.OK, response, ready);
          } else if (failed != null) {
            Status status = failed(failed);
            GrpcRecords.ended(traced, model, asked, status, null, ready);
            call.onError(GrpcStatuses.exception(status, failed));
          }
          if (log != null) {
            GrpcRecords.slowRequest(
                service, log, PROTOCOL, start, model, asked, "", ran, response, failed, info);
          }
        };
    // Answered on the call's event loop, as ModelInfer (InferenceGrpcService).
    if (loop == null || future.isDone()) {
      future.whenComplete(reply);
    } else {
      future.whenCompleteAsync(reply, loop);
    }
  }

  /**
   * The model's one signature, {@code serving_default}, as a {@code SignatureDefMap} in {@code
   * metadata["signature_def"]}: each input and output with its dtype and shape (the batch dimension
   * -1 first when the model batches). {@code metadata_field} must ask for {@code signature_def},
   * the one field served (TF Serving's rule).
   */
  @Override
  public void getModelMetadata(
      GetModelMetadataRequest request, StreamObserver<GetModelMetadataResponse> observer) {
    GetModelMetadataResponse response;
    try {
      ModelSpec spec = request.getModelSpec();
      String model = TfServingCodec.model(spec);
      String version = TfServingCodec.version(spec);
      if (request.getMetadataFieldCount() == 0) {
        throw InferenceException.invalid(
            "GetModelMetadataRequest must name at least one metadata_field: '%s'", SIGNATURE_DEF);
      }
      for (String field : request.getMetadataFieldList()) {
        if (!field.equals(SIGNATURE_DEF)) {
          throw InferenceException.invalid(
              "metadata field '%s' is not served; the one served is '%s'",
              ClientText.printable(field, 200), SIGNATURE_DEF);
        }
      }
      ModelVersion mv = service.repository().resolve(model, version);
      ModelSpec.Builder answered = ModelSpec.newBuilder().setName(mv.name());
      Long number = TfServingCodec.number(mv.versionString());
      if (number != null) {
        answered.setVersion(Int64Value.of(number));
      }
      response =
          GetModelMetadataResponse.newBuilder()
              .setModelSpec(answered)
              .putMetadata(SIGNATURE_DEF, Any.pack(signatures(mv.config())))
              .build();
    } catch (RuntimeException e) {
      observer.onError(GrpcStatuses.exception(failed(e), e));
      return;
    }
    observer.onNext(response);
    observer.onCompleted();
  }

  /** A model's signatures: its one, {@code serving_default}. */
  static SignatureDefMap signatures(ModelConfig config) {
    boolean batched = config.maxBatchSize() > 0;
    SignatureDef.Builder s = SignatureDef.newBuilder().setMethodName(PREDICT_METHOD);
    for (TensorConfig t : config.inputs()) {
      s.putInputs(t.name(), info(t, batched));
    }
    for (TensorConfig t : config.outputs()) {
      s.putOutputs(t.name(), info(t, batched));
    }
    return SignatureDefMap.newBuilder()
        .putSignatureDef(PredictDecoder.DEFAULT_SIGNATURE, s.build())
        .build();
  }

  private static TensorInfo info(TensorConfig t, boolean batched) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    if (batched) {
      shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(-1));
    }
    for (long d : t.dims()) {
      shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    }
    return TensorInfo.newBuilder()
        .setName(t.name())
        .setDtype(TfTensors.dtype(t.datatype()))
        .setTensorShape(shape)
        .build();
  }

  /** The status a failed call is closed with; logs the failure (rate-limited). */
  private Status failed(Throwable t) {
    failures.failed(t);
    return GrpcStatuses.of(t);
  }
}
