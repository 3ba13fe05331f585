package dev.fulcrum.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.Int64Value;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.tfserving.DataType;
import dev.fulcrum.server.grpc.tfserving.GetModelMetadataRequest;
import dev.fulcrum.server.grpc.tfserving.GetModelMetadataResponse;
import dev.fulcrum.server.grpc.tfserving.GetModelStatusRequest;
import dev.fulcrum.server.grpc.tfserving.GetModelStatusResponse;
import dev.fulcrum.server.grpc.tfserving.ModelServiceGrpc;
import dev.fulcrum.server.grpc.tfserving.ModelSpec;
import dev.fulcrum.server.grpc.tfserving.ModelVersionStatus;
import dev.fulcrum.server.grpc.tfserving.PredictRequest;
import dev.fulcrum.server.grpc.tfserving.PredictResponse;
import dev.fulcrum.server.grpc.tfserving.PredictionServiceGrpc;
import dev.fulcrum.server.grpc.tfserving.SignatureDef;
import dev.fulcrum.server.grpc.tfserving.SignatureDefMap;
import dev.fulcrum.server.grpc.tfserving.TensorProto;
import dev.fulcrum.server.grpc.tfserving.TensorShapeProto;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.ThrowableAssert;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TF Serving's gRPC API over a real socket, with stubs generated from Fulcrum's copies of its
 * protos, against the demo's models: Predict answers what OIP's ModelInfer answers for the same
 * data, with inputs in {@code tensor_content} or in the typed fields, for {@code fraud_classifier}
 * (one FP32 input, two outputs) and {@code all_minilm_l6_v2} (three INT64 inputs); output_filter;
 * GetModelMetadata and GetModelStatus; the statuses of an unknown model or version, a bad
 * signature, a bad tensor.
 */
class TfServingGrpcE2eTest {
  @AutoClose private static E2eServer server;
  private static E2eServer.GrpcPort grpc;

  @BeforeAll
  static void start() throws Exception {
    server = E2eServer.startMiniLm();
    grpc = server.startGrpc();
  }

  private static PredictionServiceGrpc.PredictionServiceBlockingStub tf() {
    return PredictionServiceGrpc.newBlockingStub(grpc.channel)
        .withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  private static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub oip() {
    return GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
        .withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  private static final float[][] FRAUD = {
    {120.5f, 14, 0.2f, 3.1f, 2, 400, 0, 1},
    {5400f, 3, 0.9f, 850f, 14, 12, 1, 0},
    {42f, 11, 0.1f, 1f, 1, 2000, 0, 1}
  };

  private static TensorShapeProto shape(long... dims) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long d : dims) {
      s.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    }
    return s.build();
  }

  private static ByteString fraudBytes() {
    ByteBuffer b = ByteBuffer.allocate(FRAUD.length * 8 * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float[] row : FRAUD) {
      for (float v : row) {
        b.putFloat(v);
      }
    }
    return ByteString.copyFrom(b.flip());
  }

  private static TensorProto fraudTyped() {
    TensorProto.Builder p =
        TensorProto.newBuilder().setDtype(DataType.DT_FLOAT).setTensorShape(shape(3, 8));
    for (float[] row : FRAUD) {
      for (float v : row) {
        p.addFloatVal(v);
      }
    }
    return p.build();
  }

  private static PredictRequest.Builder predict(String model) {
    return PredictRequest.newBuilder().setModelSpec(ModelSpec.newBuilder().setName(model));
  }

  private static ModelInferResponse oipFraud() {
    return oip()
        .modelInfer(
            ModelInferRequest.newBuilder()
                .setModelName("fraud_classifier")
                .addInputs(
                    ModelInferRequest.InferInputTensor.newBuilder()
                        .setName("features")
                        .setDatatype("FP32")
                        .addAllShape(List.of(3L, 8L)))
                .addRawInputContents(fraudBytes())
                .build());
  }

  /** OIP's raw output {@code name} as the typed field TF Serving answers it in, via its bytes. */
  private static ByteString raw(ModelInferResponse r, String name) {
    for (int i = 0; i < r.getOutputsCount(); i++) {
      if (r.getOutputs(i).getName().equals(name)) {
        return r.getRawOutputContents(i);
      }
    }
    throw new AssertionError("no output " + name);
  }

  private static ByteString floats(TensorProto p) {
    ByteBuffer b = ByteBuffer.allocate(p.getFloatValCount() * 4).order(ByteOrder.LITTLE_ENDIAN);
    p.getFloatValList().forEach(b::putFloat);
    return ByteString.copyFrom(b.flip());
  }

  private static ByteString longs(TensorProto p) {
    ByteBuffer b = ByteBuffer.allocate(p.getInt64ValCount() * 8).order(ByteOrder.LITTLE_ENDIAN);
    p.getInt64ValList().forEach(b::putLong);
    return ByteString.copyFrom(b.flip());
  }

  @Test
  void fraudPredictAnswersWhatModelInferAnswersInBothEncodings() {
    ModelInferResponse expected = oipFraud();
    for (TensorProto features :
        List.of(
            TensorProto.newBuilder()
                .setDtype(DataType.DT_FLOAT)
                .setTensorShape(shape(3, 8))
                .setTensorContent(fraudBytes())
                .build(),
            fraudTyped())) {
      PredictResponse r =
          tf().predict(predict("fraud_classifier").putInputs("features", features).build());
      assertThat(r.getModelSpec().getName()).isEqualTo("fraud_classifier");
      assertThat(r.getModelSpec().getVersion().getValue()).isEqualTo(1);
      assertThat(r.getModelSpec().getSignatureName()).isEqualTo("serving_default");
      assertThat(r.getOutputsMap()).containsOnlyKeys("probabilities", "label");
      TensorProto p = r.getOutputsOrThrow("probabilities");
      assertThat(p.getDtype()).isEqualTo(DataType.DT_FLOAT);
      assertThat(p.getTensorShape()).isEqualTo(shape(3, 2));
      assertThat(p.getTensorContent().isEmpty()).isTrue(); // typed fields, as TF Serving answers
      assertThat(floats(p)).isEqualTo(raw(expected, "probabilities"));
      TensorProto label = r.getOutputsOrThrow("label");
      assertThat(label.getDtype()).isEqualTo(DataType.DT_INT64);
      assertThat(label.getTensorShape()).isEqualTo(shape(3));
      assertThat(longs(label)).isEqualTo(raw(expected, "label"));
    }
  }

  @Test
  void outputFilterVersionAndSignatureName() {
    PredictResponse r =
        tf().predict(
                PredictRequest.newBuilder()
                    .setModelSpec(
                        ModelSpec.newBuilder()
                            .setName("fraud_classifier")
                            .setVersion(Int64Value.of(1))
                            .setSignatureName("serving_default"))
                    .putInputs("features", fraudTyped())
                    .addOutputFilter("label")
                    .build());
    assertThat(r.getOutputsMap()).containsOnlyKeys("label");
    assertThat(longs(r.getOutputsOrThrow("label"))).isEqualTo(raw(oipFraud(), "label"));
  }

  @Test
  void miniLmPredictAnswersWhatModelInferAnswers() {
    long[] ids = {101, 7592, 2088, 102, 101, 2204, 2851, 102};
    long[] mask = {1, 1, 1, 1, 1, 1, 1, 1};
    long[] types = new long[8];
    PredictRequest.Builder tfReq = predict("all_minilm_l6_v2");
    ModelInferRequest.Builder oipReq =
        ModelInferRequest.newBuilder().setModelName("all_minilm_l6_v2");
    String[] names = {"input_ids", "attention_mask", "token_type_ids"};
    long[][] values = {ids, mask, types};
    for (int i = 0; i < names.length; i++) {
      TensorProto.Builder p =
          TensorProto.newBuilder().setDtype(DataType.DT_INT64).setTensorShape(shape(2, 4));
      ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
      for (long v : values[i]) {
        p.addInt64Val(v);
        b.putLong(v);
      }
      tfReq.putInputs(names[i], p.build());
      oipReq
          .addInputs(
              ModelInferRequest.InferInputTensor.newBuilder()
                  .setName(names[i])
                  .setDatatype("INT64")
                  .addAllShape(List.of(2L, 4L)))
          .addRawInputContents(ByteString.copyFrom(b.flip()));
    }
    PredictResponse r = tf().predict(tfReq.build());
    ModelInferResponse expected = oip().modelInfer(oipReq.build());
    assertThat(r.getOutputsCount()).isEqualTo(expected.getOutputsCount()).isPositive();
    for (int i = 0; i < expected.getOutputsCount(); i++) {
      var o = expected.getOutputs(i);
      TensorProto p = r.getOutputsOrThrow(o.getName());
      assertThat(p.getDtype()).isEqualTo(DataType.DT_FLOAT);
      assertThat(p.getTensorShape().getDimList())
          .extracting(TensorShapeProto.Dim::getSize)
          .isEqualTo(o.getShapeList());
      assertThat(floats(p)).as(o.getName()).isEqualTo(expected.getRawOutputContents(i));
    }
  }

  @Test
  void metadataIsTheServingDefaultSignatureInAnAny() throws Exception {
    GetModelMetadataResponse r =
        tf().getModelMetadata(
                GetModelMetadataRequest.newBuilder()
                    .setModelSpec(ModelSpec.newBuilder().setName("fraud_classifier"))
                    .addMetadataField("signature_def")
                    .build());
    assertThat(r.getModelSpec().getName()).isEqualTo("fraud_classifier");
    assertThat(r.getModelSpec().getVersion().getValue()).isEqualTo(1);
    var any = r.getMetadataOrThrow("signature_def");
    assertThat(any.getTypeUrl())
        .isEqualTo("type.googleapis.com/tensorflow.serving.SignatureDefMap");
    SignatureDef s = any.unpack(SignatureDefMap.class).getSignatureDefOrThrow("serving_default");
    assertThat(s.getMethodName()).isEqualTo("tensorflow/serving/predict");
    assertThat(s.getInputsOrThrow("features").getDtype()).isEqualTo(DataType.DT_FLOAT);
    assertThat(s.getInputsOrThrow("features").getTensorShape()).isEqualTo(shape(-1, 8));
    assertThat(s.getOutputsOrThrow("label").getDtype()).isEqualTo(DataType.DT_INT64);
    assertThat(s.getOutputsOrThrow("label").getTensorShape()).isEqualTo(shape(-1));

    status(
        () ->
            tf().getModelMetadata(
                    GetModelMetadataRequest.newBuilder()
                        .setModelSpec(ModelSpec.newBuilder().setName("fraud_classifier"))
                        .build()),
        Status.Code.INVALID_ARGUMENT,
        "signature_def");
    status(
        () ->
            tf().getModelMetadata(
                    GetModelMetadataRequest.newBuilder()
                        .setModelSpec(ModelSpec.newBuilder().setName("nope"))
                        .addMetadataField("signature_def")
                        .build()),
        Status.Code.NOT_FOUND,
        "nope");
  }

  @Test
  void modelStatusListsEachVersionsState() {
    var models =
        ModelServiceGrpc.newBlockingStub(grpc.channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    GetModelStatusResponse r =
        models.getModelStatus(
            GetModelStatusRequest.newBuilder()
                .setModelSpec(ModelSpec.newBuilder().setName("fraud_classifier"))
                .build());
    assertThat(r.getModelVersionStatusList()).hasSize(1);
    ModelVersionStatus v = r.getModelVersionStatus(0);
    assertThat(v.getVersion()).isEqualTo(1);
    assertThat(v.getState()).isEqualTo(ModelVersionStatus.State.AVAILABLE);
    assertThat(v.getStatus().getErrorMessage()).isEmpty();
    status(
        () ->
            models.getModelStatus(
                GetModelStatusRequest.newBuilder()
                    .setModelSpec(
                        ModelSpec.newBuilder()
                            .setName("fraud_classifier")
                            .setVersion(Int64Value.of(9)))
                    .build()),
        Status.Code.NOT_FOUND,
        "version 9");
    status(
        () ->
            models.getModelStatus(
                GetModelStatusRequest.newBuilder()
                    .setModelSpec(ModelSpec.newBuilder().setName("nope"))
                    .build()),
        Status.Code.NOT_FOUND,
        "nope");
  }

  private static void status(
      ThrowableAssert.ThrowingCallable call, Status.Code code, String words) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(code);
              assertThat(e.getStatus().getDescription()).contains(words);
            });
  }

  @Test
  void errorsHaveTfServingsStatusesAndSayWhatIsWrong() {
    status(
        () -> tf().predict(predict("nope").putInputs("features", fraudTyped()).build()),
        Status.Code.NOT_FOUND,
        "nope");
    status(
        () ->
            tf().predict(
                    PredictRequest.newBuilder()
                        .setModelSpec(
                            ModelSpec.newBuilder()
                                .setName("fraud_classifier")
                                .setVersion(Int64Value.of(7)))
                        .putInputs("features", fraudTyped())
                        .build()),
        Status.Code.NOT_FOUND,
        "7");
    status(
        () ->
            tf().predict(
                    PredictRequest.newBuilder()
                        .setModelSpec(
                            ModelSpec.newBuilder()
                                .setName("fraud_classifier")
                                .setSignatureName("classify"))
                        .putInputs("features", fraudTyped())
                        .build()),
        Status.Code.INVALID_ARGUMENT,
        "serving_default");
    // A wrong size, a wrong dtype for the model, an unknown input, an unknown output.
    status(
        () ->
            tf().predict(
                    predict("fraud_classifier")
                        .putInputs(
                            "features",
                            fraudTyped().toBuilder().setTensorShape(shape(3, 7)).build())
                        .build()),
        Status.Code.INVALID_ARGUMENT,
        "features");
    status(
        () ->
            tf().predict(
                    predict("fraud_classifier")
                        .putInputs(
                            "features",
                            TensorProto.newBuilder()
                                .setDtype(DataType.DT_DOUBLE)
                                .setTensorShape(shape(1, 8))
                                .addDoubleVal(1)
                                .build())
                        .build()),
        Status.Code.INVALID_ARGUMENT,
        "features");
    status(
        () -> tf().predict(predict("fraud_classifier").putInputs("nope", fraudTyped()).build()),
        Status.Code.INVALID_ARGUMENT,
        "nope");
    status(
        () ->
            tf().predict(
                    predict("fraud_classifier")
                        .putInputs("features", fraudTyped())
                        .addOutputFilter("nope")
                        .build()),
        Status.Code.INVALID_ARGUMENT,
        "nope");
  }
}
