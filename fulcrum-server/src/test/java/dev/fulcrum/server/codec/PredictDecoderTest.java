package dev.fulcrum.server.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.config.VersionPolicy;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorBuffers;
import dev.fulcrum.server.codec.PredictDecoder.PredictRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * TF Serving's predict body, row ({@code instances}) and columnar ({@code inputs}), read into the
 * core's tensors: shapes from the rows, types from the model, {@code b64} values, TF Serving's
 * shape rules; and the answer written back per row or whole.
 */
class PredictDecoderTest {

  static ModelConfig model(List<TensorConfig> inputs, List<TensorConfig> outputs) {
    return new ModelConfig(
        "m",
        "onnxruntime_onnx",
        8,
        inputs,
        outputs,
        new VersionPolicy.Latest(1),
        1,
        SessionOptions.defaults(),
        "model.onnx",
        SchedulingConfig.defaults());
  }

  /** One FP32 input of 3 values per row (fraud's shape). */
  static final ModelConfig ONE =
      model(
          List.of(new TensorConfig("x", DataType.FP32, new long[] {3})),
          List.of(new TensorConfig("y", DataType.FP32, new long[] {2})));

  /** Token ids: three INT64 inputs (MiniLM's), one output. */
  static final ModelConfig TOKENS =
      model(
          List.of(
              new TensorConfig("input_ids", DataType.INT64, new long[] {-1}),
              new TensorConfig("attention_mask", DataType.INT64, new long[] {-1}),
              new TensorConfig("token_type_ids", DataType.INT64, new long[] {-1})),
          List.of(new TensorConfig("h", DataType.FP32, new long[] {-1, 2})));

  static final ModelConfig TEXT =
      model(
          List.of(new TensorConfig("text", DataType.BYTES, new long[] {1})),
          List.of(new TensorConfig("v", DataType.FP32, new long[] {2})));

  private static PredictRequest decode(ModelConfig config, String json) {
    ByteBuf body = Unpooled.copiedBuffer(json, StandardCharsets.UTF_8);
    try {
      return PredictDecoder.decode("m", "", config, body, TensorBuffers.UNSHARED);
    } finally {
      body.release();
    }
  }

  private static InferenceException refused(ModelConfig config, String json) {
    try {
      decode(config, json);
    } catch (InferenceException e) {
      assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
      return e;
    }
    throw new AssertionError("accepted: " + json);
  }

  static Tensor input(PredictRequest p, String name) {
    for (Tensor t : p.request().inputs()) {
      if (t.name().equals(name)) {
        return t;
      }
    }
    throw new AssertionError("no input " + name);
  }

  static float[] floats(Tensor t) {
    float[] v = new float[(int) t.elementCount()];
    for (int i = 0; i < v.length; i++) {
      v[i] = ElementCodec.getFloat(t.data(), i);
    }
    return v;
  }

  static long[] longs(Tensor t) {
    long[] v = new long[(int) t.elementCount()];
    for (int i = 0; i < v.length; i++) {
      v[i] = ElementCodec.getLong(t.datatype(), t.data(), i);
    }
    return v;
  }

  static List<String> strings(Tensor t) {
    ByteBuffer b = t.data().order(ByteOrder.LITTLE_ENDIAN);
    List<String> out = new ArrayList<>();
    while (b.hasRemaining()) {
      byte[] e = new byte[b.getInt()];
      b.get(e);
      out.add(new String(e, StandardCharsets.ISO_8859_1));
    }
    return out;
  }

  @Test
  void aLargeBodyBecomesATensorOfExactlyItsSizeAcrossManyChunks() {
    // 3 M INT64 zeros in one columnar value (6 MiB of JSON, a 24 MiB tensor): written into
    // chunks and copied once into a direct buffer of exactly the tensor's size.
    int n = 3 << 20;
    StringBuilder json = new StringBuilder(2 * n + 64).append("{\"inputs\": {\"input_ids\": [");
    for (int i = 0; i < n; i++) {
      json.append(i == 0 ? "" : ",").append(i % 7);
    }
    json.append("], \"attention_mask\": [1], \"token_type_ids\": [0]}}");
    Tensor ids = input(decode(TOKENS, json.toString()), "input_ids");
    assertThat(ids.shape()).containsExactly(n);
    assertThat(ids.data().isDirect()).isTrue();
    assertThat(ids.data().capacity()).isEqualTo(8 * n);
    long[] v = longs(ids);
    for (int i : new int[] {0, 1, 6, 7, n / 2, n - 1}) {
      assertThat(v[i]).as("element %d", i).isEqualTo(i % 7);
    }
  }

  @Test
  void largeBytesValuesSpanChunksIntact() {
    String big = "x".repeat(3 << 20); // longer than a chunk
    List<String> got =
        strings(input(decode(TEXT, "{\"instances\": [\"a\", \"" + big + "\", \"b\"]}"), "text"));
    assertThat(got).containsExactly("a", big, "b");
  }

  @Test
  void aColumnIsBoundedByWhatItsBodyCanCarry() {
    // As the OIP JSON decoder: a fixed-size element takes at least 2 characters ("0,").
    assertThat(PredictDecoder.columnLimit(DataType.INT64, 64 << 20)).isEqualTo(256L << 20);
    assertThat(PredictDecoder.columnLimit(DataType.FP32, 101)).isEqualTo(51 * 4);
    assertThat(PredictDecoder.columnLimit(DataType.BYTES, 100)).isEqualTo(204);
    // Never past what one direct buffer can hold.
    assertThat(PredictDecoder.columnLimit(DataType.INT64, 1L << 31))
        .isEqualTo(Integer.MAX_VALUE - 8);
  }

  @Test
  void bareRowsOfASingleInputModelStackIntoTheBatchDimension() {
    PredictRequest p = decode(ONE, "{\"instances\": [[1, 2, 3], [4.5, 5, 6]]}");
    assertThat(p.rows()).isTrue();
    assertThat(p.instances()).isEqualTo(2);
    Tensor x = input(p, "x");
    assertThat(x.datatype()).isEqualTo(DataType.FP32);
    assertThat(x.shape()).containsExactly(2, 3);
    assertThat(floats(x)).containsExactly(1, 2, 3, 4.5f, 5, 6);
    assertThat(p.request().outputs()).isEmpty(); // all of the model's outputs
  }

  @Test
  void namedRowsGiveEachInputItsOwnTensorWithTheSameBatch() {
    PredictRequest p =
        decode(
            TOKENS,
            "{\"signature_name\": \"serving_default\", \"instances\": ["
                + "{\"input_ids\": [101, 7, 102], \"attention_mask\": [1, 1, 1],"
                + " \"token_type_ids\": [0, 0, 0]},"
                + "{\"token_type_ids\": [0, 0, 0], \"input_ids\": [101, 8, 102],"
                + " \"attention_mask\": [1, 1, 0]}]}");
    assertThat(p.request().inputs()).hasSize(3);
    Tensor ids = input(p, "input_ids");
    assertThat(ids.datatype()).isEqualTo(DataType.INT64);
    assertThat(ids.shape()).containsExactly(2, 3);
    assertThat(longs(ids)).containsExactly(101, 7, 102, 101, 8, 102);
    assertThat(longs(input(p, "attention_mask"))).containsExactly(1, 1, 1, 1, 1, 0);
    assertThat(input(p, "token_type_ids").shape()).containsExactly(2, 3);
  }

  @Test
  void columnarValuesKeepTheirOwnShapes() {
    PredictRequest p = decode(ONE, "{\"inputs\": [[1, 2, 3]]}");
    assertThat(p.rows()).isFalse();
    assertThat(input(p, "x").shape()).containsExactly(1, 3);
    // Named, each input its own first dimension (TF Serving's columnar format allows it).
    PredictRequest named =
        decode(
            TOKENS,
            "{\"inputs\": {\"input_ids\": [[1, 2]], \"attention_mask\": [[1, 1], [1, 0]],"
                + " \"token_type_ids\": [[0, 0]]}}");
    assertThat(input(named, "input_ids").shape()).containsExactly(1, 2);
    assertThat(input(named, "attention_mask").shape()).containsExactly(2, 2);
    // A scalar is a tensor of no dimensions.
    assertThat(input(decode(ONE, "{\"inputs\": 2.5}"), "x").shape()).isEmpty();
  }

  @Test
  void b64RowsDecodeToTheirBytes() {
    byte[] raw = {(byte) 0xff, 0, 65};
    String b64 = Base64.getEncoder().encodeToString(raw);
    PredictRequest p =
        decode(TEXT, "{\"instances\": [[{\"b64\": \"" + b64 + "\"}], [\"h\u00e9\"]]}");
    Tensor text = input(p, "text");
    assertThat(text.datatype()).isEqualTo(DataType.BYTES);
    assertThat(text.shape()).containsExactly(2, 1);
    List<String> s = strings(text);
    assertThat(s.get(0).getBytes(StandardCharsets.ISO_8859_1)).containsExactly(raw);
    assertThat(s.get(1).getBytes(StandardCharsets.ISO_8859_1))
        .containsExactly("h\u00e9".getBytes(StandardCharsets.UTF_8));
    // A bare {"b64": ...} row is a value of a one-input model, not named inputs.
    PredictRequest bare = decode(TEXT, "{\"inputs\": {\"b64\": \"QQ==\"}}");
    assertThat(input(bare, "text").shape()).isEmpty();
    assertThat(strings(input(bare, "text"))).containsExactly("A");
  }

  @Test
  void rowsOfDifferentShapesAreRefused() {
    assertThat(refused(ONE, "{\"instances\": [[1, 2, 3], [4, 5]]}").getMessage())
        .contains("shape [2] in instance 1 but [3] in instance 0");
    assertThat(
            refused(
                    TOKENS,
                    "{\"instances\": [{\"input_ids\": [1, 2], \"attention_mask\": [1, 1],"
                        + " \"token_type_ids\": [0, 0]}, {\"input_ids\": [1, 2, 3],"
                        + " \"attention_mask\": [1, 1, 1], \"token_type_ids\": [0, 0, 0]}]}")
                .getMessage())
        .contains("'input_ids' has shape [3] in instance 1 but [2] in instance 0");
    assertThat(refused(ONE, "{\"inputs\": [[1, 2, 3], [4, 5]]}").getMessage()).contains("ragged");
    assertThat(
            refused(TEXT, "{\"instances\": [{\"b64\": \"QQ==\"}, \"h\", [{\"b64\": \"QQ==\"}]]}")
                .getMessage())
        .contains("shape [1] in instance 2 but [] in instance 0");
  }

  @Test
  void namedRowsMustNameTheSameKnownInputs() {
    assertThat(
            refused(
                    TOKENS,
                    "{\"instances\": [{\"input_ids\": [1], \"attention_mask\": [1],"
                        + " \"token_type_ids\": [0]}, {\"input_ids\": [1], \"attention_mask\":"
                        + " [1]}]}")
                .getMessage())
        .contains("every instance names the same inputs");
    assertThat(refused(TOKENS, "{\"instances\": [{\"nope\": [1]}]}").getMessage())
        .contains("has no input 'nope'")
        .contains("[input_ids, attention_mask, token_type_ids]");
    assertThat(refused(TOKENS, "{\"instances\": [[1, 2]]}").getMessage())
        .contains("has 3 inputs")
        .contains("must be an object naming them");
    assertThat(refused(ONE, "{\"instances\": [{\"x\": [1, 2, 3]}, [4, 5, 6]]}").getMessage())
        .contains("every instance has the same form");
  }

  @Test
  void typesComeFromTheModel() {
    assertThat(refused(TOKENS, "{\"inputs\": {\"input_ids\": [1.5]}}").getMessage())
        .contains("'input_ids' (INT64)")
        .contains("1.5")
        .contains("not an integer");
    assertThat(refused(ONE, "{\"instances\": [[1, \"a\", 3]]}").getMessage())
        .contains("not a number");
    assertThat(refused(ONE, "{\"instances\": [[{\"b64\": \"QQ==\"}, 2, 3]]}").getMessage())
        .contains("element 0 is an object, not a number");
    assertThat(refused(ONE, "{\"instances\": [{\"b64\": \"QQ==\"}]}").getMessage())
        .contains("only for BYTES");
    assertThat(refused(TEXT, "{\"instances\": [[{\"b64\": \"@@\"}]]}").getMessage())
        .contains("not base64");
    // Non-finite numbers are read (as OIP's decoder reads them) and left to the core's validator.
    Tensor nan = input(decode(ONE, "{\"instances\": [[\"NaN\", 1, \"-Infinity\"]]}"), "x");
    assertThat(nan.firstNonFinite()).isZero();
  }

  @Test
  void theEnvelopeIsChecked() {
    assertThat(refused(ONE, "{}").getMessage()).contains("needs 'instances'");
    assertThat(refused(ONE, "[1]").getMessage()).contains("must be a JSON object");
    assertThat(refused(ONE, "{\"instances\": []}").getMessage()).contains("empty");
    assertThat(refused(ONE, "{\"instances\": [[1,2,3]], \"inputs\": [[1,2,3]]}").getMessage())
        .contains("both 'instances' and 'inputs'");
    assertThat(
            refused(ONE, "{\"instances\": [[1,2,3]], \"signature_name\": \"other\"}").getMessage())
        .contains("no signature 'other'");
    assertThat(refused(ONE, "{\"instances\": [[1,2,3]]} {}").getMessage()).contains("more JSON");
    assertThat(refused(ONE, "{\"instances\": [[1,2,3]").getMessage()).contains("malformed JSON");
    assertThat(refused(ONE, "{\"instances\": {\"x\": [1,2,3]}}").getMessage())
        .contains("must be a list of rows");
  }

  static Tensor fp32(String name, long[] shape, float... v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : v) {
      b.putFloat(f);
    }
    return Tensor.of(name, DataType.FP32, shape, b.flip());
  }

  static Tensor int64(String name, long[] shape, long... v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (long l : v) {
      b.putLong(l);
    }
    return Tensor.of(name, DataType.INT64, shape, b.flip());
  }

  private static String answer(List<Tensor> outputs, boolean rows, int instances) {
    return answer(outputs, rows, instances, false);
  }

  /**
   * The body {@link PredictJson#predictions} writes for {@code outputs}: TF Serving's, or MLflow's
   * ({@code mlflow}).
   */
  static String answer(List<Tensor> outputs, boolean rows, int instances, boolean mlflow) {
    InferenceResponse r = new InferenceResponse("m", "1", "", Map.of(), outputs, null);
    ByteBuf b = PredictJson.predictions(r, rows, instances, mlflow, ByteBufAllocator.DEFAULT);
    try {
      return b.toString(StandardCharsets.UTF_8);
    } finally {
      b.release();
    }
  }

  @Test
  void theAnswerIsSplitPerRowOrWrittenWhole() {
    Tensor p = fp32("probabilities", new long[] {2, 2}, 0.25f, 0.75f, 1, 0);
    Tensor label = int64("label", new long[] {2}, 1, 0);
    assertThat(answer(List.of(p, label), true, 2))
        .isEqualTo(
            "{\"predictions\":[{\"probabilities\":[0.25,0.75],\"label\":1},"
                + "{\"probabilities\":[1.0,0.0],\"label\":0}]}");
    // One output: each row is its bare value.
    assertThat(answer(List.of(label), true, 2)).isEqualTo("{\"predictions\":[1,0]}");
    assertThat(answer(List.of(p), false, 0)).isEqualTo("{\"outputs\":[[0.25,0.75],[1.0,0.0]]}");
    assertThat(answer(List.of(p, label), false, 0))
        .isEqualTo("{\"outputs\":{\"probabilities\":[[0.25,0.75],[1.0,0.0]],\"label\":[1,0]}}");
    // BYTES: a string when UTF-8, else {"b64": ...}; nested to the row's shape [1].
    Tensor text =
        Tensor.ofBytes(
            "t",
            new long[] {2, 1},
            List.of("h\u00e9\"".getBytes(StandardCharsets.UTF_8), new byte[] {(byte) 0xff, 65}));
    assertThat(answer(List.of(text), true, 2))
        .isEqualTo("{\"predictions\":[[\"h\u00e9\\\"\"],[{\"b64\":\"/0E=\"}]]}");
    // An output that does not split into the rows, past the decoder's check: the server's error.
    assertThatThrownBy(() -> answer(List.of(label), true, 3))
        .isInstanceOfSatisfying(
            InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL))
        .hasMessageContaining("columnar");
  }

  @Test
  void rowsAreRefusedBeforeRunningForAnUnbatchedModelWhoseOutputsDoNotSplit() {
    ModelConfig unbatched =
        new ModelConfig(
            "m",
            "onnxruntime_onnx",
            0,
            List.of(new TensorConfig("x", DataType.FP32, new long[] {-1, 3})),
            List.of(
                new TensorConfig("y", DataType.FP32, new long[] {-1, 2}),
                new TensorConfig("total", DataType.FP32, new long[] {1})),
            new VersionPolicy.Latest(1),
            1,
            SessionOptions.defaults(),
            "model.onnx",
            SchedulingConfig.defaults());
    assertThat(refused(unbatched, "{\"instances\": [[1, 2, 3], [4, 5, 6]]}"))
        .hasMessageContaining("output 'total'")
        .hasMessageContaining("columnar");
    // One row matches the fixed first dimension 1; the columnar format is always taken.
    assertThat(decode(unbatched, "{\"instances\": [[1, 2, 3]]}").instances()).isEqualTo(1);
    assertThat(decode(unbatched, "{\"inputs\": [[1, 2, 3], [4, 5, 6]]}").rows()).isFalse();
  }

  @Test
  void anInputNamedTwiceInTheColumnarFormatIsTheClientsError() {
    assertThat(
            refused(
                TOKENS,
                "{\"inputs\": {\"input_ids\": [1], \"input_ids\": [2], \"attention_mask\":"
                    + " [1], \"token_type_ids\": [0]}}"))
        .hasMessageContaining("input_ids"); // the parser's duplicate check, or the column's
  }
}
