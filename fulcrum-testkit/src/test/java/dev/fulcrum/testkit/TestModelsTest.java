package dev.fulcrum.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.ModelProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.TensorProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.TensorShapeProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.ValueInfoProto;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TestModelsTest {

  @Test
  void writesEveryModelInTritonLayout(@TempDir Path dir) throws Exception {
    TestModels.writeRepository(dir);
    for (String name : TestModels.modelNames()) {
      Path file = dir.resolve(name).resolve("1").resolve("model.onnx");
      assertThat(file).isRegularFile();
      assertThat(Files.readAllBytes(file)).isEqualTo(TestModels.model(name));
    }
    assertThat(TestModels.modelNames())
        .contains("identity_fp32", "identity_bytes", "identity_bf16", "add_sub_int32")
        .doesNotHaveDuplicates();
  }

  @Test
  void isDeterministic() {
    for (String name : TestModels.modelNames()) {
      assertThat(TestModels.model(name)).isEqualTo(TestModels.model(name));
    }
  }

  @Test
  void identityModelsDeclareTypeAndDynamicDims() throws Exception {
    ModelProto m = ModelProto.parseFrom(TestModels.model("identity_bytes"));
    assertThat(m.getIrVersion()).isEqualTo(OnnxModelBuilder.DEFAULT_IR_VERSION);
    assertThat(m.getOpsetImport(0).getVersion()).isEqualTo(OnnxModelBuilder.DEFAULT_OPSET);
    ValueInfoProto in = m.getGraph().getInput(0);
    assertThat(in.getName()).isEqualTo("INPUT0");
    assertThat(in.getType().getTensorType().getElemType())
        .isEqualTo(TensorProto.DataType.STRING_VALUE);
    assertThat(in.getType().getTensorType().getShape().getDimList())
        .extracting(TensorShapeProto.Dimension::hasDimParam)
        .containsExactly(true, true);
    assertThat(m.getGraph().getNode(0).getOpType()).isEqualTo("Identity");
  }

  @Test
  void staticAndScalarShapes() throws Exception {
    ModelProto s = ModelProto.parseFrom(TestModels.model("identity_fp32_static"));
    assertThat(s.getGraph().getInput(0).getType().getTensorType().getShape().getDimList())
        .extracting(TensorShapeProto.Dimension::getDimValue)
        .containsExactly(2L, 3L);
    ModelProto scalar = ModelProto.parseFrom(TestModels.model("scalar_int64"));
    assertThat(scalar.getGraph().getInput(0).getType().getTensorType().getShape().getDimCount())
        .isZero();
  }

  @Test
  void mapsEveryDataType() {
    for (DataType t : DataType.values()) {
      assertThat(OnnxModelBuilder.onnxType(t)).isNotEqualTo(TensorProto.DataType.UNDEFINED);
    }
    assertThat(OnnxModelBuilder.onnxType(DataType.BYTES)).isEqualTo(TensorProto.DataType.STRING);
    assertThat(OnnxModelBuilder.onnxType(DataType.BF16)).isEqualTo(TensorProto.DataType.BFLOAT16);
  }

  @Test
  void rejectsBadInput() {
    assertThatThrownBy(() -> TestModels.model("nope")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> OnnxModelBuilder.create("g").floatInitializer("w", new long[] {2}, 1f))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> OnnxModelBuilder.create("g").input("x", DataType.FP32, -2))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
