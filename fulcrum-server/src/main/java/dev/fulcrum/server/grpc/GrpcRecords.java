package dev.fulcrum.server.grpc;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.server.SlowRequestLog;
import dev.fulcrum.server.tracing.TracedRequest;
import io.grpc.Status;
import org.jspecify.annotations.Nullable;

/**
 * What a gRPC inference call leaves behind once answered, the same for OIP's ModelInfer (and each
 * request of its stream) and TF Serving's Predict: its span's end and its slow-request line.
 * Stateless, thread-safe.
 */
final class GrpcRecords {
  private GrpcRecords() {}

  /** Ends a traced call's (or streamed request's) span with its status; nothing when untraced. */
  static void ended(
      @Nullable TracedRequest traced,
      String model,
      String version,
      Status status,
      @Nullable InferenceResponse response,
      long readyNanos) {
    if (traced == null) {
      return;
    }
    Status.Code code = status.getCode();
    boolean fault =
        switch (code) {
          case UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS -> true;
          default -> false;
        };
    traced.endGrpc(
        model,
        version,
        code.value(),
        fault,
        response,
        readyNanos == 0 ? System.nanoTime() : readyNanos,
        status.isOk() ? null : code.name(),
        status.getDescription());
  }

  /**
   * Gives the slow-request log a request whose answer was just handed to gRPC: its time runs from
   * {@code start}, when the service got the parsed message.
   */
  static void slowRequest(
      InferenceService service,
      SlowRequestLog log,
      SlowRequestLog.Protocol protocol,
      long start,
      String model,
      String version,
      String id,
      @Nullable ModelVersion admitted,
      @Nullable InferenceResponse response,
      @Nullable Throwable failure,
      CallContextInterceptor.@Nullable CallInfo info) {
    long total = log.now() - start;
    long modelNanos =
        admitted != null
            ? SlowRequestLog.modelThresholdNanos(admitted.config())
            : SlowRequestLog.modelThresholdOf(service, model, version);
    if (!log.wants(total, modelNanos, failure)) {
      return;
    }
    log.write(
        new SlowRequestLog.SlowRequest(
            protocol,
            model,
            version,
            failure == null ? "OK" : GrpcStatuses.of(failure).getCode().name(),
            total,
            log.thresholdNanos(modelNanos),
            response == null ? null : response.timing(),
            info == null ? null : info.client(),
            info == null ? null : info.forwardedFor(),
            id,
            info == null ? null : info.trace(),
            failure));
  }
}
