package dev.fulcrum.server.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Tensor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/** The streaming JSON request reader: what it builds, and the 400 each mistake gets. */
class InferRequestDecoderTest {
  private static DecodedInferRequest decode(String json) {
    return decode(Unpooled.wrappedBuffer(json.getBytes(StandardCharsets.UTF_8)), null);
  }

  private static DecodedInferRequest decode(ByteBuf body, @Nullable String headerLength) {
    return InferRequestDecoder.decode(
        "m",
        "",
        body,
        headerLength,
        () -> null); // no model: the JSON form's data errors stay the data's own
  }

  private static String input(String type, String shape, String data) {
    return "{\"inputs\":[{\"name\":\"x\",\"datatype\":\""
        + type
        + "\",\"shape\":"
        + shape
        + ",\"data\":"
        + data
        + "}]}";
  }

  private static Tensor only(String json) {
    List<Tensor> inputs = decode(json).request().inputs();
    assertThat(inputs).hasSize(1);
    return inputs.get(0);
  }

  private static void assertInvalid(String json, String... fragments) {
    assertThatThrownBy(() -> decode(json))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
        .message()
        .contains(fragments);
  }

  /**
   * The parser's fast double reader gives the double of {@link Double#parseDouble} for every form
   * of JSON number: random bits printed shortest and long, exponents at the ends of the range,
   * subnormals, overflow to infinity, more digits than a double holds, and halfway cases. (The
   * integer {@code -0} is left out: an integer token is read as a long, so it is 0, not -0.0.)
   */
  @Test
  void floatingPointElementsAreExactlyDoubleParseDouble() {
    SplittableRandom random = new SplittableRandom(18);
    List<String> numbers =
        new ArrayList<>(
            List.of(
                "0",
                "0.0",
                "-0.0",
                "1",
                "1250.0",
                "0.92",
                "410.5",
                "1e400",
                "-1e400",
                "4.9e-324",
                "2.4703282292062327e-324",
                "2.4703282292062328e-324",
                "1e-400",
                "1.7976931348623157e308",
                "1.7976931348623158e308",
                "1.7976931348623159e308",
                "9007199254740993",
                "9007199254740993.0000000000000000000000001",
                "0.1000000000000000055511151231257827021181583404541015625",
                "123456789012345678901234567890",
                "3.4028235677973366e38",
                "1.4e-45",
                "7.0064923216240854e-46",
                "1E+2",
                "1e-2",
                "-12.5E-3"));
    for (int i = 0; i < 3000; i++) {
      double d = Double.longBitsToDouble(random.nextLong());
      if (Double.isFinite(d)) {
        numbers.add(Double.toString(d).replace("E", "e"));
        if (i < 300) {
          numbers.add(new java.math.BigDecimal(d).toString().replace("E", "e")); // exact, long
        }
      }
      float f = Float.intBitsToFloat(random.nextInt());
      if (Float.isFinite(f)) {
        numbers.add(Float.toString(f).replace("E", "e"));
      }
      numbers.add(
          (random.nextBoolean() ? "-" : "")
              + random.nextInt(1000)
              + "."
              + random.nextLong(1L << 62));
    }
    String data = String.join(",", numbers);
    for (String type : List.of("FP64", "FP32")) {
      String json = input(type, "[" + numbers.size() + "]", "[" + data + "]");
      ByteBuf direct = Unpooled.directBuffer().writeBytes(json.getBytes(StandardCharsets.UTF_8));
      try {
        ByteBuffer got = decode(direct, null).request().inputs().get(0).data();
        for (int i = 0; i < numbers.size(); i++) {
          double want = Double.parseDouble(numbers.get(i));
          if (type.equals("FP64")) {
            assertThat(ElementCodec.getDouble(DataType.FP64, got, i))
                .as(numbers.get(i))
                .isEqualTo(want);
          } else {
            assertThat(Float.floatToRawIntBits(ElementCodec.getFloat(got, i)))
                .as(numbers.get(i))
                .isEqualTo(Float.floatToRawIntBits((float) want));
          }
        }
      } finally {
        direct.release();
      }
    }
  }

  @Test
  void flatAndNestedDataFillTheSameDirectBuffer() {
    Tensor flat = only(input("FP32", "[2,3]", "[1,2,3,4,5,6.5]"));
    Tensor nested = only(input("FP32", "[2,3]", "[[1,2,3],[4,5,6.5]]"));
    assertThat(flat.data()).isEqualTo(nested.data());
    assertThat(flat.unsafeData().isDirect()).isTrue();
    assertThat(ElementCodec.getFloat(flat.data(), 5)).isEqualTo(6.5f);
    assertThat(flat.shape()).containsExactly(2, 3);
  }

  @Test
  void everyJsonDatatypeIsRead() {
    assertThat(
            ElementCodec.getLong(
                DataType.BOOL, only(input("BOOL", "[2]", "[true,false]")).data(), 0))
        .isEqualTo(1);
    assertThat(ElementCodec.getLong(DataType.INT8, only(input("INT8", "[1]", "[-128]")).data(), 0))
        .isEqualTo(-128);
    assertThat(ElementCodec.getLong(DataType.UINT8, only(input("UINT8", "[1]", "[255]")).data(), 0))
        .isEqualTo(255);
    assertThat(
            ElementCodec.getLong(DataType.INT16, only(input("INT16", "[1]", "[-32768]")).data(), 0))
        .isEqualTo(-32768);
    assertThat(
            ElementCodec.getLong(
                DataType.UINT16, only(input("UINT16", "[1]", "[65535]")).data(), 0))
        .isEqualTo(65535);
    assertThat(
            ElementCodec.getLong(
                DataType.INT32, only(input("INT32", "[1]", "[-2147483648]")).data(), 0))
        .isEqualTo(Integer.MIN_VALUE);
    assertThat(
            ElementCodec.getLong(
                DataType.UINT32, only(input("UINT32", "[1]", "[4294967295]")).data(), 0))
        .isEqualTo(4_294_967_295L);
    assertThat(
            ElementCodec.getLong(
                DataType.INT64, only(input("INT64", "[1]", "[-9223372036854775808]")).data(), 0))
        .isEqualTo(Long.MIN_VALUE);
    assertThat(
            ElementCodec.getLong(
                DataType.UINT64, only(input("UINT64", "[1]", "[18446744073709551615]")).data(), 0))
        .isEqualTo(-1L);
    assertThat(ElementCodec.getDouble(DataType.FP64, only(input("FP64", "[1]", "[0.1]")).data(), 0))
        .isEqualTo(0.1);
    assertThat(only(input("BYTES", "[2]", "[\"h\\u00e9\",\"\"]")).bytesElements())
        .containsExactly("hé".getBytes(StandardCharsets.UTF_8), new byte[0]);
  }

  @Test
  void nonFiniteStringsAndNumbersTooLargeForTheType() {
    ByteBuffer b = only(input("FP32", "[5]", "[\"NaN\",\"Infinity\",\"-inf\",1e39,-1e400]")).data();
    assertThat(Float.isNaN(ElementCodec.getFloat(b, 0))).isTrue();
    assertThat(ElementCodec.getFloat(b, 1)).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(ElementCodec.getFloat(b, 2)).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(ElementCodec.getFloat(b, 3)).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(ElementCodec.getFloat(b, 4)).isEqualTo(Float.NEGATIVE_INFINITY);
    ByteBuffer big = only(input("FP64", "[1]", "[123456789012345678901234567890]")).data();
    assertThat(ElementCodec.getDouble(DataType.FP64, big, 0)).isEqualTo(1.2345678901234568e29);
  }

  @Test
  void wrongCountsNameTheCountAndTheLevel() {
    assertInvalid(input("FP32", "[2,2]", "[1,2,3]"), "has 3 data elements but the shape needs 4");
    assertInvalid(
        input("FP32", "[2,2]", "[[1,2],[3]]"),
        "nested 'data' has 1 elements in dimension 1 but the shape [2, 2] says 2");
    assertInvalid(
        input("FP32", "[2,2]", "[[1,2],[3,4],[5,6]]"),
        "nested 'data' has 3 elements in dimension 0");
    assertInvalid(input("FP32", "[2,2]", "[[[1],[2]],[3,4]]"), "deeper than the shape [2, 2]");
    assertInvalid(input("FP32", "[2,2]", "[[1,2],3]"), "a value where dimension 1");
    assertInvalid(input("FP32", "[4]", "[1,[2],3,4]"), "mixes nested arrays and values");
    // A shape larger than the body can hold is counted, never allocated.
    assertInvalid(
        input("FP32", "[1000000000]", "[1]"), "has 1 data elements but the shape needs 1000000000");
  }

  @Test
  void theCountRanksBeforeTheElementsAndTheFirstBadElementIsNamed() {
    assertInvalid(input("INT8", "[3]", "[1,\"a\"]"), "has 2 data elements but the shape needs 3");
    assertInvalid(
        input("INT8", "[3]", "[1,\"a\",true]"), "element 1 is \"a\", not an integer in -128..127");
    assertInvalid(
        input("FP32", "[2,2]", "[[1,{\"k\":1}],[null,4]]"),
        "(FP32): element 1 is {\"k\":1}, not a number");
  }

  @Test
  void dataThatDoesNotParseAsTheRequestsDatatypeNamesTheModelsDatatypeWhenTheyDiffer() {
    // An FP32 image sent as INT32 (a new user's first guess): the model's datatype is the mistake.
    String body =
        "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"INT32\",\"shape\":[2],\"data\":[0.5,1]}]}";
    assertThatThrownBy(
            () ->
                InferRequestDecoder.decode(
                    "m",
                    "",
                    Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.UTF_8)),
                    null,
                    () -> InferRequestDecoderFuzzTest.MODEL))
        .isInstanceOf(InferenceException.class)
        .hasMessage("model 'm': input 'IN' must be FP32, got INT32");
    // The same data tree-read (data before datatype) gets the same answer.
    String late =
        "{\"inputs\":[{\"name\":\"IN\",\"data\":[0.5,1],\"shape\":[2],\"datatype\":\"INT32\"}]}";
    assertThatThrownBy(
            () ->
                InferRequestDecoder.decode(
                    "m",
                    "",
                    Unpooled.wrappedBuffer(late.getBytes(StandardCharsets.UTF_8)),
                    null,
                    () -> InferRequestDecoderFuzzTest.MODEL))
        .hasMessage("model 'm': input 'IN' must be FP32, got INT32");
    // When the datatype is the model's, the data's own error stays (here: a non-number).
    String sameType =
        "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[0.5,\"x\"]}]}";
    assertThatThrownBy(
            () ->
                InferRequestDecoder.decode(
                    "m",
                    "",
                    Unpooled.wrappedBuffer(sameType.getBytes(StandardCharsets.UTF_8)),
                    null,
                    () -> InferRequestDecoderFuzzTest.MODEL))
        .hasMessageContaining("element 1 is \"x\"");
    // Without a model (null), the data's own error.
    assertInvalid(input("INT32", "[1]", "[1.5]"), "element 0 is 1.5, not an integer");
  }

  @Test
  void wrongTypesAndRanges() {
    assertInvalid(input("UINT8", "[1]", "[256]"), "element 0 is 256, outside 0..255");
    assertInvalid(input("INT32", "[1]", "[1.5]"), "element 0 is 1.5, not an integer");
    assertInvalid(
        input("INT64", "[1]", "[9223372036854775808]"),
        "element 0 is 9223372036854775808, not an integer");
    assertInvalid(input("UINT64", "[1]", "[-1]"), "(UINT64): element 0 is -1");
    assertInvalid(input("UINT64", "[1]", "[18446744073709551616]"), "not an integer in 0..");
    assertInvalid(input("BOOL", "[1]", "[1]"), "element 0 is 1, not true or false");
    assertInvalid(input("FP32", "[1]", "[\"one\"]"), "element 0 is \"one\", not a number");
    assertInvalid(input("BYTES", "[1]", "[1]"), "BYTES elements must be JSON strings");
    assertInvalid(input("FP16", "[1]", "[1]"), "FP16 data cannot be sent as JSON");
    assertInvalid(input("FP32", "[1]", "{\"a\":1}"), "'data' must be a JSON array, not OBJECT");
  }

  @Test
  void fieldsInAnyOrderGiveTheSameTensorAndTheSameErrors() {
    String dataFirst =
        "{\"inputs\":[{\"data\":[[1,2],[3,4]],\"shape\":[2,2],\"name\":\"x\",\"datatype\":\"INT32\"}]}";
    assertThat(only(dataFirst).data()).isEqualTo(only(input("INT32", "[2,2]", "[1,2,3,4]")).data());
    assertInvalid(
        "{\"inputs\":[{\"data\":[1],\"shape\":[1],\"datatype\":\"INT32\"}]}",
        "an input needs a string 'name'");
    assertInvalid(
        "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"INT32\",\"shape\":[2],\"data\":[1],"
            + "\"parameters\":{\"binary_data_size\":8}}]}",
        "has both 'data' and the parameter binary_data_size");
    // A problem outside the inputs that a reader of the whole document meets first still wins.
    assertInvalid(
        "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"INT32\",\"shape\":[2],\"data\":[1]}],"
            + "\"id\":3}",
        "'id' must be a string");
    assertInvalid(input("INT32", "[2]", "[1]") + " x", "malformed JSON");
    assertInvalid(input("INT32", "[2]", "[1]") + " {}", "more JSON ({) after the request's object");
  }

  @Test
  void theBinaryExtensionTakesBytesAfterTheHeaderInInputOrder() {
    String header =
        "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"INT32\",\"shape\":[1],"
            + "\"parameters\":{\"binary_data_size\":4}},"
            + "{\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[2.5]}],"
            + "\"outputs\":[{\"name\":\"o\",\"parameters\":{\"binary_data\":true}}]}";
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    ByteBuf body = Unpooled.buffer().writeBytes(json).writeIntLE(7);
    DecodedInferRequest d = decode(body, String.valueOf(json.length));
    assertThat(ElementCodec.getLong(DataType.INT32, d.request().inputs().get(0).data(), 0))
        .isEqualTo(7);
    assertThat(ElementCodec.getFloat(d.request().inputs().get(1).data(), 0)).isEqualTo(2.5f);
    assertThat(d.binary("o")).isTrue();
    ByteBuf extra = Unpooled.buffer().writeBytes(json).writeIntLE(7).writeByte(0);
    assertThatThrownBy(() -> decode(extra, String.valueOf(json.length)))
        .hasMessageContaining("the body has 5 bytes of binary data after the JSON header");
  }

  @Test
  void requestFieldsAndParameters() {
    DecodedInferRequest d =
        decode(
            "{\"id\":\"r1\",\"parameters\":{\"binary_data_output\":true,\"priority\":2},"
                + "\"inputs\":[{\"name\":\"x\",\"datatype\":\"INT32\",\"shape\":[1],\"data\":[1],"
                + "\"parameters\":{\"p\":\"v\"}}],\"unknown\":{\"a\":[1]}}");
    assertThat(d.request().id()).isEqualTo("r1");
    assertThat(d.request().parameters()).containsEntry("priority", 2L);
    assertThat(d.binaryByDefault()).isTrue();
    assertInvalid("", "the request body is empty");
    assertInvalid("[1]", "must be a JSON object, not ARRAY");
    assertInvalid("{\"inputs\":[]}", "needs a non-empty 'inputs' array");
  }
}
