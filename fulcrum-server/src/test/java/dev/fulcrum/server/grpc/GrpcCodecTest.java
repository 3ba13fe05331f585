package dev.fulcrum.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import io.grpc.Status;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class GrpcCodecTest {
  private static ModelInferRequest.Builder request() {
    return ModelInferRequest.newBuilder()
        .setModelName("m")
        .addInputs(
            ModelInferRequest.InferInputTensor.newBuilder()
                .setName("IN")
                .setDatatype("UINT8")
                .addShape(1))
        .addRawInputContents(ByteString.copyFrom(new byte[] {7}));
  }

  private static InferParameter int64(long v) {
    return InferParameter.newBuilder().setInt64Param(v).build();
  }

  @Test
  void clientDeadlineBecomesTheTimeoutParameter() {
    var decoded = GrpcCodec.decode(request().build(), 5_000);
    assertThat(decoded.request().parameters()).containsEntry("timeout", 5_000L);
    assertThat(decoded.rawOutput()).isTrue();
  }

  @Test
  void aSmallerRequestTimeoutWinsOverTheDeadline() {
    var smaller = GrpcCodec.decode(request().putParameters("timeout", int64(100)).build(), 5_000);
    assertThat(smaller.request().parameters()).containsEntry("timeout", 100L);
    var larger =
        GrpcCodec.decode(request().putParameters("timeout", int64(9_000_000)).build(), 5_000);
    assertThat(larger.request().parameters()).containsEntry("timeout", 5_000L);
  }

  @Test
  void withoutADeadlineTheRequestTimeoutIsLeftAlone() {
    assertThat(GrpcCodec.decode(request().build(), -1).request().parameters())
        .doesNotContainKey("timeout");
    assertThat(
            GrpcCodec.decode(request().putParameters("timeout", int64(70)).build(), -1)
                .request()
                .parameters())
        .containsEntry("timeout", 70L);
  }

  @Test
  void parametersKeepTheirTypesAndRawOutputIsTheTransports() {
    var d =
        GrpcCodec.decode(
            request()
                .putParameters("s", InferParameter.newBuilder().setStringParam("x").build())
                .putParameters("d", InferParameter.newBuilder().setDoubleParam(0.5).build())
                .putParameters("u", InferParameter.newBuilder().setUint64Param(3).build())
                .putParameters("b", InferParameter.newBuilder().setBoolParam(true).build())
                .putParameters(
                    "raw_output", InferParameter.newBuilder().setBoolParam(false).build())
                .build(),
            -1);
    assertThat(d.request().parameters())
        .containsExactlyInAnyOrderEntriesOf(
            java.util.Map.of("s", "x", "d", 0.5, "u", 3L, "b", true));
    assertThat(d.rawOutput()).isFalse();
  }

  @Test
  void outputsKeepTheirParametersAndThoseWithoutGetNone() {
    var d =
        GrpcCodec.decode(
            request()
                .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("a"))
                .addOutputs(
                    ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                        .setName("b")
                        .putParameters("classification", int64(2)))
                .build(),
            -1);
    assertThat(d.request().outputs())
        .extracting(o -> o.name(), o -> o.parameters())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("a", java.util.Map.of()),
            org.assertj.core.groups.Tuple.tuple("b", java.util.Map.of("classification", 2L)));
    assertThat(d.request().parameters()).isEmpty();
  }

  @Test
  void aParameterWithoutValueIsRefusedOnTheRequestAndOnAnOutput() {
    InferParameter unset = InferParameter.getDefaultInstance();
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> GrpcCodec.decode(request().putParameters("p", unset).build(), -1))
        .hasMessageContaining("request parameter 'p' has no value");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                GrpcCodec.decode(
                    request()
                        .addOutputs(
                            ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                                .setName("o")
                                .putParameters("p", unset))
                        .build(),
                    -1))
        .hasMessageContaining("output 'o' parameter 'p' has no value");
  }

  @Test
  void aMalformedStandInIsRefusedWithItsDescription() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> GrpcCodec.decode(GrpcCodec.malformed("bad bytes"), -1))
        .hasMessageContaining("bad bytes");
  }

  @Test
  void rawInputIsCopiedOnceIntoADirectBuffer() {
    var d = GrpcCodec.decode(request().build(), -1);
    assertThat(d.request().inputs().get(0).unsafeData().isDirect()).isTrue();
  }

  @ParameterizedTest
  @EnumSource(ErrorCode.class)
  void everyErrorCodeMapsToTheSameGrpcCode(ErrorCode code) {
    Status s = GrpcStatuses.of(new CompletionException(new InferenceException(code, "why")));
    // TOO_LARGE has no code of its own: RESOURCE_EXHAUSTED, as grpc-java's message limit answers;
    // nor has UNSUPPORTED_MEDIA_TYPE: INVALID_ARGUMENT; nor NO_CAPACITY: RESOURCE_EXHAUSTED.
    assertThat(s.getCode().name())
        .isEqualTo(
            switch (code) {
              case TOO_LARGE, NO_CAPACITY -> "RESOURCE_EXHAUSTED";
              case UNSUPPORTED_MEDIA_TYPE -> "INVALID_ARGUMENT";
              default -> code.name();
            });
    assertThat(s.getDescription()).isEqualTo("why");
  }

  @Test
  void cancellationIsCancelledAndAnythingElseInternal() {
    assertThat(GrpcStatuses.of(new CancellationException()).getCode())
        .isEqualTo(Status.Code.CANCELLED);
    assertThat(GrpcStatuses.of(new IllegalStateException("bug")).getCode())
        .isEqualTo(Status.Code.INTERNAL);
  }
}
