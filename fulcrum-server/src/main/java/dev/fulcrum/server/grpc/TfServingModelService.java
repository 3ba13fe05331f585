package dev.fulcrum.server.grpc;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.server.ClientText;
import dev.fulcrum.server.RequestFailureLog;
import dev.fulcrum.server.grpc.tfserving.Code;
import dev.fulcrum.server.grpc.tfserving.GetModelStatusRequest;
import dev.fulcrum.server.grpc.tfserving.GetModelStatusResponse;
import dev.fulcrum.server.grpc.tfserving.ModelServiceGrpc;
import dev.fulcrum.server.grpc.tfserving.ModelSpec;
import dev.fulcrum.server.grpc.tfserving.ModelVersionStatus;
import dev.fulcrum.server.grpc.tfserving.StatusProto;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * TF Serving's {@code tensorflow.serving.ModelService/GetModelStatus}: the state of each version of
 * a model the repository knows (or of the one asked), newest first, from the model manager's
 * per-version states. {@code HandleReloadConfigRequest} is not declared (UNIMPLEMENTED): Fulcrum's
 * repository API loads and unloads.
 *
 * <p>Threads: runs on the call's event loop; a read of the repository's index. Holds no mutable
 * state.
 */
final class TfServingModelService extends ModelServiceGrpc.ModelServiceImplBase {
  private final InferenceService service;
  private final RequestFailureLog failures;

  TfServingModelService(InferenceService service, RequestFailureLog failures) {
    this.service = service;
    this.failures = failures;
  }

  @Override
  public void getModelStatus(
      GetModelStatusRequest request, StreamObserver<GetModelStatusResponse> observer) {
    GetModelStatusResponse response;
    try {
      response = status(request.getModelSpec());
    } catch (RuntimeException e) {
      failures.failed(e);
      observer.onError(GrpcStatuses.exception(GrpcStatuses.of(e), e));
      return;
    }
    observer.onNext(response);
    observer.onCompleted();
  }

  private GetModelStatusResponse status(ModelSpec spec) {
    String model = TfServingCodec.model(spec);
    String version = TfServingCodec.version(spec);
    List<ModelVersionStatus> rows = new ArrayList<>(2);
    for (dev.fulcrum.core.repository.ModelVersionStatus s : service.repository().index()) {
      Long number = TfServingCodec.number(s.version());
      if (!s.name().equals(model)
          || number == null
          || (!version.isEmpty() && !s.version().equals(version))) {
        continue;
      }
      boolean failed = s.state() == ModelState.UNAVAILABLE && !s.reason().isEmpty();
      rows.add(
          ModelVersionStatus.newBuilder()
              .setVersion(number)
              .setState(state(s.state()))
              .setStatus(
                  StatusProto.newBuilder()
                      .setErrorCode(failed ? Code.UNKNOWN : Code.OK)
                      .setErrorMessage(failed ? s.reason() : ""))
              .build());
    }
    if (rows.isEmpty()) {
      String name = ClientText.printable(model, 200);
      throw version.isEmpty()
          ? InferenceException.notFound("Could not find any versions of model %s", name)
          : InferenceException.notFound("Could not find version %s of model %s", version, name);
    }
    rows.sort(Comparator.comparingLong(ModelVersionStatus::getVersion).reversed());
    return GetModelStatusResponse.newBuilder().addAllModelVersionStatus(rows).build();
  }

  /** TF Serving's state of a version's state (its REST status path's, {@code PredictJson}). */
  static ModelVersionStatus.State state(ModelState s) {
    return switch (s) {
      case LOADING, WARMING -> ModelVersionStatus.State.LOADING;
      case READY -> ModelVersionStatus.State.AVAILABLE;
      case UNLOADING -> ModelVersionStatus.State.UNLOADING;
      case UNLOADED, UNAVAILABLE -> ModelVersionStatus.State.END;
    };
  }
}
