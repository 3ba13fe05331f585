package dev.fulcrum.tools.bench;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.TensorSpec;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.fulcrum.server.grpc.proto.InferStatistics;
import dev.fulcrum.server.grpc.proto.ModelConfigRequest;
import dev.fulcrum.server.grpc.proto.ModelMetadataRequest;
import dev.fulcrum.server.grpc.proto.ModelMetadataResponse;
import dev.fulcrum.server.grpc.proto.ModelStatistics;
import dev.fulcrum.server.grpc.proto.ModelStatisticsRequest;
import dev.fulcrum.server.grpc.proto.ModelStatisticsResponse;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * {@link ServerApi}'s admin calls over gRPC (ModelMetadata, ModelConfig, ModelStatistics), so a
 * gRPC run needs only the gRPC port; blocking, thread-safe.
 */
final class GrpcServerApi {
  private static final long DEADLINE_SECONDS = 10;

  private final GrpcChannels channels;
  private final String model;
  private final String version;

  GrpcServerApi(GrpcChannels channels, String model, String version) {
    this.channels = channels;
    this.model = model;
    this.version = version;
  }

  private GRPCInferenceServiceBlockingStub stub() {
    return GRPCInferenceServiceGrpc.newBlockingStub(channels.first())
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  /** Model metadata plus {@code max_batch_size} from ModelConfig (0 when that RPC fails). */
  ModelInfo modelInfo() throws IOException {
    ModelMetadataResponse m;
    try {
      m =
          stub()
              .modelMetadata(
                  ModelMetadataRequest.newBuilder().setName(model).setVersion(version).build());
    } catch (StatusRuntimeException e) {
      throw new IOException(
          "gRPC ModelMetadata of '"
              + model
              + "' at "
              + channels.target()
              + ": "
              + e.getStatus().getCode()
              + (e.getStatus().getDescription() == null ? "" : " " + e.getStatus().getDescription())
              + (e.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE
                  ? " (the server could not be reached; is 'fulcrum serve' running there, and is"
                      + " --grpc-url its gRPC address?)"
                  : ""),
          e);
    }
    List<TensorSpec> inputs = new ArrayList<>();
    for (ModelMetadataResponse.TensorMetadata in : m.getInputsList()) {
      String type = in.getDatatype();
      inputs.add(
          new TensorSpec(
              in.getName(),
              DataType.fromProtocolName(type)
                  .orElseThrow(() -> new IOException("unknown datatype " + type)),
              in.getShapeList().stream().mapToLong(Long::longValue).toArray()));
    }
    List<String> outputs =
        m.getOutputsList().stream().map(ModelMetadataResponse.TensorMetadata::getName).toList();
    int maxBatch = 0;
    try {
      maxBatch =
          stub()
              .modelConfig(
                  ModelConfigRequest.newBuilder().setName(model).setVersion(version).build())
              .getConfig()
              .getMaxBatchSize();
    } catch (StatusRuntimeException e) {
      // As over REST: without a config the model is treated as not batching.
    }
    return new ModelInfo(model, maxBatch, inputs, outputs);
  }

  /** Cumulative server-side counters; empty when ModelStatistics fails or is unimplemented. */
  Optional<ServerStats> stats() {
    try {
      return Optional.of(
          stats(
              stub()
                  .modelStatistics(
                      ModelStatisticsRequest.newBuilder()
                          .setName(model)
                          .setVersion(version)
                          .build())));
    } catch (StatusRuntimeException e) {
      return Optional.empty();
    }
  }

  /** The same sums as {@link ServerStats#parse}, from the protobuf form of Triton's schema. */
  static ServerStats stats(ModelStatisticsResponse r) {
    long success = 0;
    long queue = 0;
    long compute = 0;
    for (ModelStatistics m : r.getModelStatsList()) {
      InferStatistics s = m.getInferenceStats();
      success += s.getSuccess().getCount();
      queue += s.getQueue().getNs();
      compute +=
          s.getComputeInput().getNs() + s.getComputeInfer().getNs() + s.getComputeOutput().getNs();
    }
    return new ServerStats(success, queue, compute);
  }
}
