package dev.fulcrum.server.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.config.VersionPolicy;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzzes the REST request decoder: whatever the bytes, decoding (and then validating against a
 * model) either succeeds or fails with an {@link InferenceException} whose code is a client
 * mistake; nothing else may escape, and it must not hang.
 *
 * <p>Plain {@code mvn verify} runs only the committed inputs under {@code
 * src/test/resources/dev/fulcrum/server/codec/InferRequestDecoderFuzzTestInputs/<method>/}. To fuzz
 * for real, one method at a time: {@code JAZZER_FUZZ=1 ./mvnw -B -ntp -pl fulcrum-server -am verify
 * -Dtest='InferRequestDecoderFuzzTest#json' -Dsurefire.failIfNoSpecifiedTests=false} (see
 * docs/FUZZING.md); a crashing input is written to that folder and becomes a regression test.
 */
class InferRequestDecoderFuzzTest {
  /** One FP32 input and one BYTES input, batching; the raw form's single input is FP32. */
  static final ModelConfig MODEL =
      new ModelConfig(
          "m",
          "onnxruntime_onnx",
          8,
          List.of(
              new TensorConfig("IN", DataType.FP32, new long[] {-1}),
              new TensorConfig("S", DataType.BYTES, new long[] {-1})),
          List.of(new TensorConfig("OUT", DataType.FP32, new long[] {-1})),
          new VersionPolicy.Latest(1),
          1,
          SessionOptions.defaults(),
          "model.onnx",
          SchedulingConfig.defaults());

  static final ModelConfig RAW_MODEL =
      new ModelConfig(
          "raw",
          "onnxruntime_onnx",
          8,
          List.of(new TensorConfig("IN", DataType.FP16, new long[] {-1, 2})),
          List.of(new TensorConfig("OUT", DataType.FP16, new long[] {-1, 2})),
          new VersionPolicy.Latest(1),
          1,
          SessionOptions.defaults(),
          "model.onnx",
          SchedulingConfig.defaults());

  /** The body is all JSON (no Inference-Header-Content-Length). */
  @FuzzTest(maxDuration = "10m", maxExecutions = 300_000)
  @Timeout(value = 11, unit = TimeUnit.MINUTES) // the build's default of 3 min would cut fuzzing
  void json(byte[] body) {
    decode(body, null, MODEL);
  }

  /**
   * The binary extension: a JSON header of the first {@code n} bytes, then binary data; {@code n ==
   * 0} is the raw form. Free-form, so that the header itself is fuzzed too.
   */
  @FuzzTest(maxDuration = "10m", maxExecutions = 300_000)
  @Timeout(value = 11, unit = TimeUnit.MINUTES) // the build's default of 3 min would cut fuzzing
  void binary(FuzzedDataProvider data) {
    boolean raw = data.consumeBoolean();
    int n = data.consumeInt(0, 4096);
    byte[] body = data.consumeRemainingAsBytes();
    String header = raw ? "0" : Integer.toString(Math.min(n, body.length));
    decode(body, header, raw ? RAW_MODEL : MODEL);
  }

  /**
   * The binary extension with a well-formed header whose datatypes, shapes and {@code
   * binary_data_size}s are fuzzed, so that the fuzzer spends its time on the binary data checks
   * (sizes, BYTES lengths, non-finite values) rather than on JSON syntax.
   */
  @FuzzTest(maxDuration = "10m", maxExecutions = 300_000)
  @Timeout(value = 11, unit = TimeUnit.MINUTES) // the build's default of 3 min would cut fuzzing
  void binaryTensors(FuzzedDataProvider data) {
    StringBuilder h = new StringBuilder("{\"inputs\":[");
    int inputs = data.consumeInt(1, 3);
    for (int i = 0; i < inputs; i++) {
      if (i > 0) {
        h.append(',');
      }
      String name = data.pickValue(List.of("IN", "S", "X"));
      DataType type = data.pickValue(DataType.values());
      h.append("{\"name\":\"").append(name).append("\",\"datatype\":\"").append(type);
      h.append("\",\"shape\":[");
      int rank = data.consumeInt(0, 3);
      for (int d = 0; d < rank; d++) {
        h.append(d > 0 ? "," : "")
            .append(data.consumeBoolean() ? data.consumeLong(0, 8) : data.consumeLong());
      }
      h.append("],\"parameters\":{\"binary_data_size\":")
          .append(data.consumeBoolean() ? data.consumeLong(0, 64) : data.consumeLong())
          .append("}}");
    }
    h.append("]}");
    byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
    byte[] binary = data.consumeRemainingAsBytes();
    byte[] body = new byte[header.length + binary.length];
    System.arraycopy(header, 0, body, 0, header.length);
    System.arraycopy(binary, 0, body, header.length, binary.length);
    decode(body, Integer.toString(header.length), MODEL);
  }

  static void decode(byte[] bytes, String headerLength, ModelConfig config) {
    ByteBuf body = Unpooled.wrappedBuffer(bytes);
    try {
      DecodedInferRequest d =
          InferRequestDecoder.decode(config.name(), "", body, headerLength, () -> config);
      for (Tensor t : d.request().inputs()) {
        assertThat(t.byteSize()).isNotNegative();
      }
      RequestValidator.validate(config, d.request());
    } catch (InferenceException e) {
      assertThat(e.code()).as(e.getMessage()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
      assertThat(e.getMessage()).isNotBlank();
    } finally {
      body.release();
    }
  }
}
