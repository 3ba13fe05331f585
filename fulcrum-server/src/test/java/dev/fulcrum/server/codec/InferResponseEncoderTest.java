package dev.fulcrum.server.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Tensor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The JSON response body against the Jackson generator it replaced (kept here as the reference):
 * the same bytes for every datatype, strings that need escapes, parameters and the binary
 * extension; and one allocation of the JSON part, never grown.
 */
class InferResponseEncoderTest {
  private static final DecodedInferRequest JSON_OUT =
      new DecodedInferRequest(
          new InferenceRequest("m", "", "", Map.of(), List.of(), List.of()), false, Map.of());

  private static Tensor tensor(String name, DataType type, long[] shape, ByteBuffer data) {
    return Tensor.of(name, type, shape, data);
  }

  private static ByteBuffer buffer(int bytes) {
    return ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Every fixed-size JSON datatype with random bits (non-finite floats included), 3 x 5. */
  private static List<Tensor> everyDatatype(SplittableRandom rnd) {
    List<Tensor> out = new ArrayList<>();
    for (DataType t : DataType.values()) {
      if (!t.isFixedSize() || t.isBinaryOnly()) {
        continue;
      }
      ByteBuffer b = buffer(15 * t.byteSize());
      for (int i = 0; i < 15; i++) {
        switch (t) {
          case FP32 ->
              b.putFloat(
                  i * 4,
                  i % 5 == 0 ? (float) rnd.nextGaussian() : Float.intBitsToFloat(rnd.nextInt()));
          case FP64 ->
              b.putDouble(
                  i * 8, i % 5 == 0 ? rnd.nextDouble() : Double.longBitsToDouble(rnd.nextLong()));
          default -> ElementCodec.putLong(t, b, i, rnd.nextLong());
        }
      }
      out.add(
          tensor("out_" + t.name().toLowerCase(java.util.Locale.ROOT), t, new long[] {3, 5}, b));
    }
    ByteBuffer nonFinite = buffer(16);
    nonFinite.putFloat(0, Float.NaN).putFloat(4, Float.POSITIVE_INFINITY);
    nonFinite.putFloat(8, Float.NEGATIVE_INFINITY).putFloat(12, -0f);
    out.add(tensor("non_finite", DataType.FP32, new long[] {4}, nonFinite));
    ByteBuffer extremes = buffer(32);
    extremes.putLong(0, Long.MIN_VALUE).putLong(8, Long.MAX_VALUE).putLong(16, -1).putLong(24, 0);
    out.add(tensor("extremes", DataType.INT64, new long[] {4}, extremes));
    ByteBuffer u64 = buffer(16);
    u64.putLong(0, -1L).putLong(8, Long.MIN_VALUE);
    out.add(tensor("u64", DataType.UINT64, new long[] {2}, u64));
    out.add(tensor("empty", DataType.FP32, new long[] {0, 384}, buffer(0)));
    return out;
  }

  private static Tensor strings(String name, List<byte[]> elements) {
    int size = 0;
    for (byte[] e : elements) {
      size += 4 + e.length;
    }
    ByteBuffer b = buffer(size);
    for (byte[] e : elements) {
      b.putInt(e.length).put(e);
    }
    b.flip();
    return tensor(name, DataType.BYTES, new long[] {elements.size()}, b);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String encode(DecodedInferRequest request, InferenceResponse response) {
    InferResponseEncoder.EncodedResponse e =
        InferResponseEncoder.encode(request, response, UnpooledByteBufAllocator.DEFAULT);
    try {
      ByteBuf body = e.body();
      int length = e.hasBinary() ? e.jsonLength() : body.readableBytes();
      return body.toString(body.readerIndex(), length, StandardCharsets.UTF_8);
    } finally {
      e.body().release();
    }
  }

  @Test
  void sameBytesAsTheJacksonEncoder() throws IOException {
    SplittableRandom rnd = new SplittableRandom(5);
    for (int round = 0; round < 200; round++) {
      List<Tensor> outputs = everyDatatype(rnd);
      outputs.add(
          strings(
              "text",
              List.of(
                  utf8("plain"),
                  utf8("quote \" backslash \\ slash / tab \t newline \n cr \r"),
                  new byte[] {0, 1, 0x1f, 0x7f, 8, 12},
                  utf8("héllo wörld ✓"),
                  new byte[0])));
      Map<String, Object> parameters = new LinkedHashMap<>();
      parameters.put("flag", true);
      parameters.put("count", 42L);
      parameters.put("small", 7);
      parameters.put("ratio", rnd.nextDouble() * 1e-5);
      parameters.put("big", 1e300);
      parameters.put("note", "a \"quoted\" ünïcode\u0001 note");
      InferenceResponse response =
          new InferenceResponse(
              "model \"x\" ✓", "7", round % 2 == 0 ? "" : "id-\n" + round, parameters, outputs);
      assertThat(encode(JSON_OUT, response)).isEqualTo(jackson(JSON_OUT, response));
    }
  }

  /**
   * A character outside the BMP: Jackson wrote it as an escaped surrogate pair, the writer as its
   * four UTF-8 bytes; both are valid JSON for the same string.
   */
  @Test
  void supplementaryCharactersTravelAsUtf8() throws IOException {
    InferenceResponse response =
        new InferenceResponse(
            "m", "1", "clef 𝄞", Map.of(), List.of(strings("text", List.of(utf8("clef 𝄞 ✓")))));
    String json = encode(JSON_OUT, response);
    assertThat(json).contains("\"clef 𝄞\"", "\"clef 𝄞 ✓\"");
    assertThat(Json.MAPPER.readTree(json))
        .isEqualTo(Json.MAPPER.readTree(jackson(JSON_OUT, response)));
  }

  @Test
  void binaryOutputsFollowTheJson() throws IOException {
    ByteBuffer f = buffer(8);
    f.putFloat(0, 0.5f).putFloat(4, -2.25f);
    Tensor fp = tensor("probabilities", DataType.FP32, new long[] {1, 2}, f);
    Tensor bf = tensor("half", DataType.BF16, new long[] {1}, buffer(2));
    DecodedInferRequest request =
        new DecodedInferRequest(
            new InferenceRequest("m", "", "", Map.of(), List.of(), List.of()),
            false,
            Map.of("probabilities", true));
    InferenceResponse response = new InferenceResponse("m", "1", "", Map.of(), List.of(fp, bf));
    InferResponseEncoder.EncodedResponse e =
        InferResponseEncoder.encode(request, response, UnpooledByteBufAllocator.DEFAULT);
    try {
      assertThat(e.hasBinary()).isTrue();
      ByteBuf body = e.body();
      String json = body.toString(0, e.jsonLength(), StandardCharsets.UTF_8);
      assertThat(json).isEqualTo(jackson(request, response));
      assertThat(body.readableBytes()).isEqualTo(e.jsonLength() + 8 + 2);
      assertThat(body.getFloatLE(e.jsonLength() + 4)).isEqualTo(-2.25f);
    } finally {
      e.body().release();
    }
  }

  @Test
  void theJsonPartIsAllocatedOnceAndNotGrown() {
    SplittableRandom rnd = new SplittableRandom(9);
    ByteBuffer data = buffer(16 * 384 * 4);
    for (int i = 0; i < 16 * 384; i++) {
      // the longest forms: negative subnormal-ish and large exponents
      data.putFloat(
          i * 4, i % 2 == 0 ? -Float.MIN_NORMAL * 1.0000001f : (float) rnd.nextGaussian());
    }
    InferenceResponse response =
        new InferenceResponse(
            "all_minilm_l6_v2",
            "1",
            "",
            Map.of(),
            List.of(tensor("last_hidden_state", DataType.FP32, new long[] {1, 16, 384}, data)));
    int capacity = InferResponseEncoder.capacity(JSON_OUT, response);
    InferResponseEncoder.EncodedResponse e =
        InferResponseEncoder.encode(JSON_OUT, response, PooledByteBufAllocator.DEFAULT);
    try {
      assertThat(e.body().readableBytes()).isLessThanOrEqualTo(capacity);
      assertThat(e.body().capacity()).isEqualTo(capacity);
      JsonNode parsed = Json.MAPPER.readTree(e.body().toString(StandardCharsets.US_ASCII));
      JsonNode values = parsed.get("outputs").get(0).get("data");
      assertThat(values.size()).isEqualTo(16 * 384);
      for (int i = 0; i < 16 * 384; i++) {
        assertThat(Float.parseFloat(values.get(i).asText())).isEqualTo(data.getFloat(i * 4));
      }
    } catch (IOException ex) {
      throw new AssertionError(ex);
    } finally {
      e.body().release();
    }
  }

  /** The encoder as it was: Jackson's generator, the tensors through {@link TensorJson#write}. */
  @Test
  void aTimingIsWrittenAfterTheOtherParametersWithItsCostOnlyWhenPriced() throws Exception {
    Tensor y = tensor("y", DataType.FP32, new long[] {1}, buffer(4));
    RequestTiming priced = new RequestTiming(120, 850, 0, 4, 2, 1020, false, 2.5e-7);
    JsonNode p =
        Json.MAPPER
            .readTree(
                encode(
                    JSON_OUT,
                    new InferenceResponse(
                        "m", "1", "", Map.of("sequence_id", 7L), List.of(y), priced)))
            .get("parameters");
    assertThat(p.get("sequence_id").asLong()).isEqualTo(7);
    assertThat(p.get("queue_us").asLong()).isEqualTo(120);
    assertThat(p.get("compute_us").asLong()).isEqualTo(850);
    assertThat(p.has("steps_us")).as("a plain model's: not written").isFalse();
    assertThat(p.get("batch_rows").asInt()).isEqualTo(4);
    assertThat(p.get("request_rows").asInt()).isEqualTo(2);
    assertThat(p.get("total_us").asLong()).isEqualTo(1020);
    assertThat(p.get("cache_hit").asBoolean()).isFalse();
    assertThat(p.get("cost_usd").asDouble()).isEqualTo(2.5e-7);

    RequestTiming unpriced = new RequestTiming(0, 0, 35, 0, 1, 40, true, Double.NaN);
    JsonNode q =
        Json.MAPPER
            .readTree(
                encode(
                    JSON_OUT, new InferenceResponse("m", "1", "", Map.of(), List.of(y), unpriced)))
            .get("parameters");
    assertThat(q.has("cost_usd")).isFalse();
    assertThat(q.get("steps_us").asLong()).isEqualTo(35);
    assertThat(q.get("cache_hit").asBoolean()).isTrue();
  }

  @Test
  void serverTimingIsInMillisecondsWithThreeDecimals() {
    assertThat(
            InferResponseEncoder.serverTiming(
                new RequestTiming(120, 850, 0, 4, 2, 1020, false, Double.NaN)))
        .isEqualTo("queue;dur=0.120, compute;dur=0.850, total;dur=1.020");
    assertThat(
            InferResponseEncoder.serverTiming(
                new RequestTiming(5, 12_345_678, 7, 1, 1, 12_345_700, false, Double.NaN)))
        .isEqualTo("queue;dur=0.005, compute;dur=12345.678, steps;dur=0.007, total;dur=12345.700");
    assertThat(InferResponseEncoder.serverTiming(new RequestTiming(0, 0, 0, 0, 1, 40, true, 0.1)))
        .isEqualTo("queue;dur=0.000, compute;dur=0.000, total;dur=0.040, cache;desc=hit");
  }

  @Test
  void anEnsemblesStepsFollowItsOwnFiguresInServerTiming() {
    RequestTiming scale = new RequestTiming(100, 400, 0, 4, 2, 600, false, Double.NaN);
    RequestTiming classify = new RequestTiming(200, 300, 0, 2, 2, 550, false, Double.NaN);
    RequestTiming ensemble =
        RequestTiming.ofEnsemble(
            2,
            1_400_000,
            List.of(
                new RequestTiming.EnsembleStep(0, "scale", "1", 0, scale),
                new RequestTiming.EnsembleStep(1, "a\"b", "2", 700, classify)));
    assertThat(InferResponseEncoder.serverTiming(ensemble))
        .isEqualTo(
            "queue;dur=0.300, compute;dur=0.700, total;dur=1.400,"
                + " step0;desc=\"scale v1\";dur=0.600, step1;desc=\"a\\\"b v2\";dur=0.550");
  }

  private static String jackson(DecodedInferRequest request, InferenceResponse response)
      throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (JsonGenerator g = Json.MAPPER.getFactory().createGenerator(bytes)) {
      g.writeStartObject();
      g.writeStringField("model_name", response.modelName());
      g.writeStringField("model_version", response.modelVersion());
      if (!response.id().isEmpty()) {
        g.writeStringField("id", response.id());
      }
      if (!response.parameters().isEmpty()) {
        g.writeFieldName("parameters");
        g.writeStartObject();
        for (Map.Entry<String, Object> e : response.parameters().entrySet()) {
          g.writeFieldName(e.getKey());
          switch (e.getValue()) {
            case Boolean b -> g.writeBoolean(b);
            case Long l -> g.writeNumber(l);
            case Integer i -> g.writeNumber(i);
            case Double d -> g.writeNumber(d);
            case null -> g.writeNull();
            default -> g.writeString(e.getValue().toString());
          }
        }
        g.writeEndObject();
      }
      g.writeArrayFieldStart("outputs");
      for (Tensor t : response.outputs()) {
        g.writeStartObject();
        g.writeStringField("name", t.name());
        g.writeStringField("datatype", t.datatype().name());
        g.writeArrayFieldStart("shape");
        for (long d : t.shape()) {
          g.writeNumber(d);
        }
        g.writeEndArray();
        if (t.datatype().isBinaryOnly() || request.binary(t.name())) {
          g.writeObjectFieldStart("parameters");
          g.writeNumberField(InferRequestDecoder.BINARY_DATA_SIZE, t.byteSize());
          g.writeEndObject();
        } else {
          g.writeFieldName("data");
          TensorJson.write(t.datatype(), t.data(), g);
        }
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeEndObject();
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }
}
