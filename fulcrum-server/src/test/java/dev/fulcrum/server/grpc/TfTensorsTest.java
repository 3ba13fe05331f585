package dev.fulcrum.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.Int64Value;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.grpc.tfserving.ModelSpec;
import dev.fulcrum.server.grpc.tfserving.PredictRequest;
import dev.fulcrum.server.grpc.tfserving.TensorProto;
import dev.fulcrum.server.grpc.tfserving.TensorShapeProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * TensorFlow's TensorProto to and from the core's tensors: each dtype, both encodings, refusals.
 */
class TfTensorsTest {
  private static TensorShapeProto shape(long... dims) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long d : dims) {
      s.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    }
    return s.build();
  }

  private static TensorProto.Builder proto(DataType type, long... dims) {
    return TensorProto.newBuilder().setDtype(TfTensors.dtype(type)).setTensorShape(shape(dims));
  }

  /** Values 0, 1, 2 (BOOL: false, true, false; BYTES: "0", "1", "2") in the type's typed field. */
  private static TensorProto typed(DataType type) {
    TensorProto.Builder p = proto(type, 3);
    for (int i = 0; i < 3; i++) {
      switch (type) {
        case FP32 -> p.addFloatVal(i);
        case FP64 -> p.addDoubleVal(i);
        case FP16 -> p.addHalfVal(Float.floatToFloat16(i) & 0xFFFF);
        case BF16 -> p.addHalfVal(Float.floatToRawIntBits(i) >>> 16);
        case INT64 -> p.addInt64Val(i);
        case UINT64 -> p.addUint64Val(i);
        case UINT32 -> p.addUint32Val(i);
        case BOOL -> p.addBoolVal(i == 1);
        case BYTES -> p.addStringVal(ByteString.copyFromUtf8(Integer.toString(i)));
        default -> p.addIntVal(i);
      }
    }
    return p.build();
  }

  private static double element(Tensor t, int i) {
    DataType type = t.datatype();
    ByteBuffer d = t.data().order(ByteOrder.LITTLE_ENDIAN);
    return switch (type) {
      case FP32, FP64, FP16, BF16 -> ElementCodec.getDouble(type, d, i);
      default -> ElementCodec.getLong(type, d, i);
    };
  }

  @ParameterizedTest
  @EnumSource(DataType.class)
  void typedFieldsReadAndWriteBackEachDtype(DataType type) {
    TensorProto in = typed(type);
    Tensor t = TfTensors.read("x", in);
    assertThat(t.datatype()).isEqualTo(type);
    assertThat(t.shape()).containsExactly(3);
    if (type == DataType.BYTES) {
      assertThat(t.bytesElements())
          .extracting(b -> new String(b, StandardCharsets.UTF_8))
          .containsExactly("0", "1", "2");
    } else {
      for (int i = 0; i < 3; i++) {
        assertThat(element(t, i)).isEqualTo(type == DataType.BOOL ? (i == 1 ? 1 : 0) : i);
      }
    }
    // Answered in the same typed field, as TF Serving answers.
    assertThat(TfTensors.write(t)).isEqualTo(in);
  }

  @ParameterizedTest
  @EnumSource(
      value = DataType.class,
      names = {"BYTES"},
      mode = EnumSource.Mode.EXCLUDE)
  void tensorContentIsTheLittleEndianBytesOfEachFixedSizeDtype(DataType type) {
    Tensor fromTyped = TfTensors.read("x", typed(type));
    byte[] raw = new byte[fromTyped.byteSize()];
    fromTyped.data().get(raw);
    Tensor t =
        TfTensors.read("x", proto(type, 3).setTensorContent(ByteString.copyFrom(raw)).build());
    assertThat(t.datatype()).isEqualTo(type);
    assertThat(t.data()).isEqualTo(fromTyped.data());
  }

  @Test
  void oneTypedValueFillsTheShapeAsTensorFlowReadsAConstant() {
    Tensor t = TfTensors.read("x", proto(DataType.FP32, 2, 2).addFloatVal(1.5f).build());
    assertThat(t.shape()).containsExactly(2, 2);
    for (int i = 0; i < 4; i++) {
      assertThat(element(t, i)).isEqualTo(1.5);
    }
    Tensor s =
        TfTensors.read(
            "s", proto(DataType.BYTES, 3).addStringVal(ByteString.copyFromUtf8("ab")).build());
    assertThat(s.bytesElements())
        .hasSize(3)
        .allSatisfy(b -> assertThat(b).containsExactly('a', 'b'));
  }

  @Test
  void scalarsAndEmptyTensors() {
    Tensor scalar = TfTensors.read("x", proto(DataType.INT64).addInt64Val(7).build());
    assertThat(scalar.shape()).isEmpty();
    assertThat(element(scalar, 0)).isEqualTo(7);
    Tensor empty = TfTensors.read("x", proto(DataType.FP32, 0, 8).build());
    assertThat(empty.shape()).containsExactly(0, 8);
    assertThat(empty.byteSize()).isZero();
  }

  private static void refused(TensorProto p, String... words) {
    assertThatThrownBy(() -> TfTensors.read("x", p))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
        .hasMessageContainingAll(words);
  }

  @Test
  void badCountsSizesShapesAndFieldsAreRefusedNamingTheInput() {
    // A count neither the shape's nor one.
    refused(
        proto(DataType.FP32, 3).addFloatVal(1).addFloatVal(2).build(), "'x'", "needs 3", "has 2");
    refused(proto(DataType.FP32, 2).build(), "needs 2 values in float_val", "has 0");
    // tensor_content of the wrong size.
    refused(
        proto(DataType.FP32, 2).setTensorContent(ByteString.copyFrom(new byte[7])).build(),
        "needs 8 bytes of tensor_content",
        "has 7");
    // Both encodings, or another dtype's field.
    refused(
        proto(DataType.FP32, 1)
            .setTensorContent(ByteString.copyFrom(new byte[4]))
            .addFloatVal(1)
            .build(),
        "both tensor_content and float_val");
    refused(proto(DataType.FP32, 1).addInt64Val(1).build(), "float_val", "int64_val is set");
    // Strings travel in string_val only.
    refused(
        proto(DataType.BYTES, 1).setTensorContent(ByteString.copyFromUtf8("abcd")).build(),
        "string_val, not tensor_content");
    // Shapes a request cannot have.
    refused(
        TensorProto.newBuilder()
            .setDtype(dev.fulcrum.server.grpc.tfserving.DataType.DT_FLOAT)
            .setTensorShape(TensorShapeProto.newBuilder().setUnknownRank(true))
            .build(),
        "unknown_rank");
    refused(proto(DataType.FP32, -1, 8).build(), "dim[0].size is -1");
    // One value may not fill a tensor larger than 16 MiB: a small message, a huge allocation.
    refused(proto(DataType.FP32, 1 << 20, 8).addFloatVal(1).build(), "one value filling");
    refused(
        proto(DataType.BYTES, 1 << 20).addStringVal(ByteString.copyFrom(new byte[100])).build(),
        "one value filling");
    // Out of the type's range, and dtypes without a core type.
    refused(proto(DataType.INT8, 1).addIntVal(300).build(), "int_val[0] = 300", "INT8");
    refused(proto(DataType.FP16, 1).addHalfVal(70_000).build(), "half_val[0]");
    refused(
        TensorProto.newBuilder()
            .setDtype(dev.fulcrum.server.grpc.tfserving.DataType.DT_COMPLEX64)
            .setTensorShape(shape(1))
            .addScomplexVal(1)
            .addScomplexVal(0)
            .build(),
        "DT_COMPLEX64 is not served");
    refused(
        TensorProto.newBuilder().setTensorShape(shape(1)).addFloatVal(1).build(),
        "DT_INVALID is not served");
  }

  @Test
  void predictRequestDecodesItsSpecFilterAndDeadline() {
    PredictRequest r =
        PredictRequest.newBuilder()
            .setModelSpec(
                ModelSpec.newBuilder()
                    .setName("m")
                    .setVersion(Int64Value.of(3))
                    .setSignatureName("serving_default"))
            .putInputs("a", proto(DataType.FP32, 1).addFloatVal(1).build())
            .addOutputFilter("y")
            .build();
    InferenceRequest req = checkedDecode(r, 5_000);
    assertThat(req.modelName()).isEqualTo("m");
    assertThat(req.modelVersion()).isEqualTo("3");
    assertThat(req.inputs()).extracting(Tensor::name).containsExactly("a");
    assertThat(req.outputs()).extracting(o -> o.name()).containsExactly("y");
    assertThat(req.parameters()).containsEntry("timeout", 5_000L);

    for (PredictRequest bad :
        List.of(
            r.toBuilder()
                .setModelSpec(r.getModelSpec().toBuilder().setSignatureName("other"))
                .build(),
            r.toBuilder()
                .setModelSpec(r.getModelSpec().toBuilder().setVersionLabel("stable"))
                .build(),
            r.toBuilder().setModelSpec(r.getModelSpec().toBuilder().setName("")).build(),
            r.toBuilder().addOutputFilter("y").build(),
            r.toBuilder().clearInputs().build())) {
      assertThatThrownBy(() -> checkedDecode(bad, -1))
          .isInstanceOfSatisfying(
              InferenceException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }
  }

  /** As the prediction service decodes: the spec checked once, then its values passed on. */
  private static InferenceRequest checkedDecode(PredictRequest r, long deadlineMicros) {
    ModelSpec spec = r.getModelSpec();
    String model = TfServingCodec.model(spec);
    String version = TfServingCodec.version(spec);
    TfServingCodec.checkSignature(spec);
    return TfServingCodec.decode(r, model, version, deadlineMicros);
  }
}
