package dev.fulcrum.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzzes the gRPC request decoder from raw message bytes: bytes that parse as a {@code
 * ModelInferRequest} are decoded with {@link GrpcCodec#decode}, which either succeeds or fails with
 * an INVALID_ARGUMENT {@link InferenceException}; nothing else may escape.
 *
 * <p>Plain {@code mvn verify} runs the committed inputs under {@code
 * src/test/resources/dev/fulcrum/server/grpc/GrpcCodecFuzzTestInputs/decode/}; see docs/FUZZING.md
 * to fuzz for real ({@code JAZZER_FUZZ=1 ... -Dtest='GrpcCodecFuzzTest#decode'}).
 */
class GrpcCodecFuzzTest {
  @FuzzTest(maxDuration = "10m", maxExecutions = 300_000)
  @Timeout(value = 11, unit = TimeUnit.MINUTES) // the build's default of 3 min would cut fuzzing
  void decode(byte[] message) {
    ModelInferRequest request;
    try {
      request = ModelInferRequest.parseFrom(message);
    } catch (InvalidProtocolBufferException e) {
      return; // answered INVALID_ARGUMENT by StrictParsing before the codec sees it
    }
    try {
      GrpcCodec.Decoded d = GrpcCodec.decode(request, request.getId().isEmpty() ? -1 : 1_000_000);
      for (Tensor t : d.request().inputs()) {
        assertThat(t.byteSize()).isNotNegative();
      }
    } catch (InferenceException e) {
      assertThat(e.code()).as(e.getMessage()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    }
  }
}
