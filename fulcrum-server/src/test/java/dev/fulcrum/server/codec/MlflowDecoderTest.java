package dev.fulcrum.server.codec;

import static dev.fulcrum.server.codec.PredictDecoderTest.ONE;
import static dev.fulcrum.server.codec.PredictDecoderTest.TEXT;
import static dev.fulcrum.server.codec.PredictDecoderTest.TOKENS;
import static dev.fulcrum.server.codec.PredictDecoderTest.floats;
import static dev.fulcrum.server.codec.PredictDecoderTest.fp32;
import static dev.fulcrum.server.codec.PredictDecoderTest.input;
import static dev.fulcrum.server.codec.PredictDecoderTest.int64;
import static dev.fulcrum.server.codec.PredictDecoderTest.longs;
import static dev.fulcrum.server.codec.PredictDecoderTest.strings;
import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorBuffers;
import dev.fulcrum.server.codec.PredictDecoder.PredictRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * MLflow's scoring protocol read into the core's tensors: {@code dataframe_split}, {@code
 * dataframe_records} and CSV frames (one input: the frame's values; several: a column per input),
 * {@code instances} and {@code inputs} tensors, {@code params} ignored; the refusals of a bad body;
 * the answer in MLflow's {@code predictions}, per row for a frame, whole for a tensor.
 */
class MlflowDecoderTest {

  private static PredictRequest decode(ModelConfig config, String body, boolean csv) {
    ByteBuf b = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
    try {
      return MlflowDecoder.decode("m", "", config, b, csv, TensorBuffers.UNSHARED);
    } finally {
      b.release();
    }
  }

  private static PredictRequest json(ModelConfig config, String body) {
    return decode(config, body, false);
  }

  private static InferenceException refused(ModelConfig config, String body, boolean csv) {
    try {
      decode(config, body, csv);
    } catch (InferenceException e) {
      assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
      return e;
    }
    throw new AssertionError("accepted: " + body);
  }

  private static String refusedJson(ModelConfig config, String body) {
    return refused(config, body, false).getMessage();
  }

  private static void isFrameOfOneInput(PredictRequest p) {
    assertThat(p.rows()).isTrue();
    assertThat(p.splitAnswer()).isTrue();
    assertThat(p.mlflow()).isTrue();
    assertThat(p.instances()).isEqualTo(2);
    Tensor x = input(p, "x");
    assertThat(x.shape()).containsExactly(2, 3);
    assertThat(floats(x)).containsExactly(1, 2, 3, 4, 5.5f, 6);
  }

  @Test
  void aSplitFrameOfAModelOfOneInputIsItsValues() {
    // pandas' to_json(orient="split") order, and MLflow's client's (index first), alike.
    isFrameOfOneInput(
        json(
            ONE,
            "{\"dataframe_split\": {\"columns\": [\"a\", \"b\", \"c\"], \"index\": [0, 1],"
                + " \"data\": [[1, 2, 3], [4, 5.5, 6]]}}"));
    isFrameOfOneInput(
        json(
            ONE,
            "{\"dataframe_split\": {\"index\": [7, 8], \"columns\": [\"a\", \"b\", \"c\"],"
                + " \"data\": [[1, 2, 3], [4, 5.5, 6]]}, \"params\": {\"threshold\": 0.5}}"));
    // The columns after the data: the rows are still the input's.
    isFrameOfOneInput(
        json(
            ONE,
            "{\"dataframe_split\": {\"data\": [[1, 2, 3], [4, 5.5, 6]], \"columns\": [0, 1, 2]}}"));
  }

  @Test
  void recordsOfAModelOfOneInputAreItsValuesInColumnOrder() {
    isFrameOfOneInput(
        json(
            ONE,
            "{\"dataframe_records\": [{\"a\": 1, \"b\": 2, \"c\": 3},"
                + " {\"a\": 4, \"b\": 5.5, \"c\": 6}]}"));
  }

  @Test
  void aCsvFrameIsReadAsPandasReadsIt() {
    isFrameOfOneInput(decode(ONE, "a,b,c\n1,2,3\n4,5.5,6\n", true));
    isFrameOfOneInput(decode(ONE, "a,b,c\r\n1, 2 ,3\r\n\r\n4,5.5e0,6", true));
    PredictRequest nan = decode(ONE, "a,b,c\nnan,inf,\n", true);
    float[] v = floats(input(nan, "x"));
    assertThat(v[0]).isNaN();
    assertThat(v[1]).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(v[2]).isNaN(); // an empty cell: NaN, which the core refuses unless allowed
  }

  @Test
  void aCsvBodyWithoutAHeaderRowIsRefusedNotReadLessItsFirstRow() {
    // SageMaker's usual text/csv: no header row. Read as pandas reads it, the first row would
    // become the column names and be lost.
    assertThat(refused(ONE, "1,2,3\n4,5.5,6\n", true).getMessage())
        .contains("first line (1,2,3) is all numbers")
        .contains("header row");
    // One row and no header at all: the same refusal, not "no rows".
    assertThat(refused(ONE, " 1.5 ,-2,3e1\n", true).getMessage()).contains("all numbers");
    // Column names that merely hold digits are names; a model of text takes numbers as names.
    isFrameOfOneInput(decode(ONE, "a1,2,3\n1,2,3\n4,5.5,6\n", true));
    assertThat(strings(input(decode(TEXT, "1\nhello\n", true), "text"))).containsExactly("hello");
  }

  @Test
  void aCsvBodysByteOrderMarkAndLastEmptyCellAreReadAsPandasReadsThem() {
    PredictRequest bom =
        decode(TOKENS, "\uFEFFinput_ids,attention_mask,token_type_ids\n101,1,0\n", true);
    assertThat(longs(input(bom, "input_ids"))).containsExactly(101);
    assertThat(refused(ONE, "\uFEFF1,2,3\n", true).getMessage()).contains("all numbers");
    // A comma ending the body without a final line break: the last cell is empty, not missing.
    PredictRequest p = decode(ONE, "a,b,c\n1,2,", true);
    float[] v = floats(input(p, "x"));
    assertThat(v).hasSize(3);
    assertThat(v[2]).isNaN();
  }

  @Test
  void aCsvFrameOfTextTakesQuotedValues() {
    PredictRequest p =
        decode(TEXT, "text\n\"hello, world\"\n\"say \"\"hi\"\"\nthen\"\nplain\n", true);
    Tensor t = input(p, "text");
    assertThat(t.shape()).containsExactly(3, 1);
    assertThat(strings(t)).containsExactly("hello, world", "say \"hi\"\nthen", "plain");
  }

  @Test
  void emptyCsvCellsAreNotRefusedAsTooLarge() {
    // ",,\n": three empty texts (12 bytes of lengths) from three characters; a JSON body's bound
    // (two bytes of a column per byte of body) would refuse it.
    PredictRequest p = decode(TEXT, "a,b,c\n" + ",,\n".repeat(20), true);
    Tensor t = input(p, "text");
    assertThat(t.shape()).containsExactly(20, 3);
    assertThat(strings(t)).hasSize(60).containsOnly("");
  }

  @Test
  void aModelOfSeveralInputsTakesAColumnPerInput() {
    String columns = "[\"input_ids\", \"attention_mask\", \"token_type_ids\"]";
    PredictRequest split =
        json(
            TOKENS,
            "{\"dataframe_split\": {\"columns\": "
                + columns
                + ", \"data\": [[[101, 7, 102], [1, 1, 1], [0, 0, 0]],"
                + " [[101, 8, 102], [1, 1, 0], [0, 0, 0]]]}}");
    assertThat(input(split, "input_ids").shape()).containsExactly(2, 3);
    assertThat(longs(input(split, "input_ids"))).containsExactly(101, 7, 102, 101, 8, 102);
    assertThat(longs(input(split, "attention_mask"))).containsExactly(1, 1, 1, 1, 1, 0);
    PredictRequest records =
        json(
            TOKENS,
            "{\"dataframe_records\": [{\"input_ids\": [101, 7, 102], \"attention_mask\": [1, 1,"
                + " 1], \"token_type_ids\": [0, 0, 0]}, {\"token_type_ids\": [0, 0, 0],"
                + " \"input_ids\": [101, 8, 102], \"attention_mask\": [1, 1, 0]}]}");
    assertThat(longs(input(records, "input_ids"))).containsExactly(101, 7, 102, 101, 8, 102);
    assertThat(longs(input(records, "attention_mask"))).containsExactly(1, 1, 1, 1, 1, 0);
    PredictRequest csv =
        decode(TOKENS, "input_ids,attention_mask,token_type_ids\n101,1,0\n102,1,0\n", true);
    assertThat(input(csv, "input_ids").shape()).containsExactly(2);
    assertThat(longs(input(csv, "input_ids"))).containsExactly(101, 102);
  }

  @Test
  void aScalarCellOrAOneColumnListFitsTheInputsRow() {
    // One text per row, the input's dims [1]: [rows, 1].
    PredictRequest split =
        json(
            TEXT, "{\"dataframe_split\": {\"columns\": [\"text\"], \"data\": [[\"a\"], [\"b\"]]}}");
    assertThat(input(split, "text").shape()).containsExactly(2, 1);
    PredictRequest records = json(TEXT, "{\"dataframe_records\": [{\"text\": \"a\"}]}");
    assertThat(input(records, "text").shape()).containsExactly(1, 1);
    // A frame of one column whose cells are the input's rows: [rows, 3], not [rows, 1, 3].
    PredictRequest lists =
        json(
            ONE,
            "{\"dataframe_split\": {\"columns\": [\"x\"], \"data\": [[[1, 2, 3]], [[4, 5.5,"
                + " 6]]]}}");
    isFrameOfOneInput(lists);
    assertThat(MlflowDecoder.fitted(4, new long[] {}, new long[] {1})).containsExactly(4, 1);
    assertThat(MlflowDecoder.fitted(4, new long[] {1, 8}, new long[] {8})).containsExactly(4, 8);
    assertThat(MlflowDecoder.fitted(4, new long[] {1, 8}, new long[] {-1})).containsExactly(4, 8);
    assertThat(MlflowDecoder.fitted(4, new long[] {2, 8}, new long[] {-1}))
        .containsExactly(4, 2, 8);
    assertThat(MlflowDecoder.fitted(4, new long[] {7}, new long[] {8})).containsExactly(4, 7);
  }

  @Test
  void tensorsAreTfServingsFormatsAnsweredWhole() {
    PredictRequest instances = json(ONE, "{\"instances\": [[1, 2, 3], [4, 5.5, 6]]}");
    assertThat(instances.rows()).isTrue();
    assertThat(instances.splitAnswer()).isFalse();
    assertThat(input(instances, "x").shape()).containsExactly(2, 3);
    PredictRequest inputs = json(ONE, "{\"inputs\": [[1, 2, 3]]}");
    assertThat(inputs.rows()).isFalse();
    assertThat(inputs.splitAnswer()).isFalse();
    assertThat(input(inputs, "x").shape()).containsExactly(1, 3);
    PredictRequest named =
        json(
            TOKENS,
            "{\"inputs\": {\"input_ids\": [[101, 102]], \"attention_mask\": [[1, 1]],"
                + " \"token_type_ids\": [[0, 0]]}}");
    assertThat(input(named, "attention_mask").shape()).containsExactly(1, 2);
    PredictRequest instancesObject =
        json(
            TOKENS,
            "{\"instances\": {\"input_ids\": [[101, 102]], \"attention_mask\": [[1, 1]],"
                + " \"token_type_ids\": [[0, 0]]}}");
    assertThat(input(instancesObject, "input_ids").shape()).containsExactly(1, 2);
  }

  @Test
  void aBadBodyIsRefusedNamingWhatIsWrong() {
    assertThat(refusedJson(ONE, "[1, 2, 3]")).contains("exactly one of 'dataframe_split'");
    assertThat(refusedJson(ONE, "{\"params\": {}}")).contains("needs exactly one of");
    assertThat(refusedJson(ONE, "{\"data\": [[1, 2, 3]]}")).contains("the field 'data'");
    assertThat(
            refusedJson(ONE, "{\"instances\": [[1, 2, 3]], \"dataframe_records\": [{\"a\": 1}]}"))
        .contains("both 'instances' and 'dataframe_records'");
    // Ragged rows, a wrong count of values, an unknown column, a value that is not a number.
    assertThat(
            refusedJson(
                ONE,
                "{\"dataframe_split\": {\"columns\": [\"a\", \"b\", \"c\"], \"data\": [[1, 2, 3],"
                    + " [4, 5]]}}"))
        .contains("row 1 has 2 values but the frame has 3 columns");
    assertThat(refusedJson(ONE, "{\"dataframe_split\": {\"data\": [[1, 2, 3], [4, 5]]}}"))
        .contains("shape [2] in instance 1 but [3] in instance 0");
    assertThat(refusedJson(ONE, "{\"dataframe_split\": {\"data\": [[1, [2], 3]]}}"))
        .contains("row 0 has values of shapes");
    assertThat(
            refusedJson(
                TOKENS,
                "{\"dataframe_split\": {\"columns\": [\"input_ids\", \"words\"], \"data\": [[[1],"
                    + " [2]]]}}"))
        .contains("has no input 'words'");
    assertThat(
            refusedJson(
                TOKENS, "{\"dataframe_split\": {\"data\": [[[1]]], \"columns\": [\"input_ids\"]}}"))
        .contains("before its 'data'");
    assertThat(
            refusedJson(ONE, "{\"dataframe_split\": {\"columns\": [\"a\", \"a\"], \"data\": []}}"))
        .contains("names a column twice");
    assertThat(refusedJson(ONE, "{\"dataframe_split\": {\"columns\": [\"a\"], \"data\": []}}"))
        .contains("'data' is empty");
    assertThat(refusedJson(ONE, "{\"dataframe_split\": {\"data\": [[1, \"two\", 3]]}}"))
        .contains("element 1 is \"two\", not a number");
    assertThat(
            refusedJson(
                ONE,
                "{\"dataframe_records\": [{\"a\": 1, \"b\": 2, \"c\": 3}, {\"b\": 2, \"a\": 1,"
                    + " \"c\": 3}]}"))
        .contains("record 1 names the columns [b, a, c] but record 0 names [a, b, c]");
    assertThat(
            refusedJson(
                TOKENS,
                "{\"dataframe_records\": [{\"input_ids\": [1], \"attention_mask\": [1], \"x\":"
                    + " [0]}]}"))
        .contains("has no input 'x'");
    assertThat(refusedJson(ONE, "{\"dataframe_split\": {\"columns\": [\"a\"], \"dtypes\": {}}}"))
        .contains("the field 'dtypes'");
  }

  @Test
  void aBadCsvBodyIsRefusedNamingWhatIsWrong() {
    assertThat(refused(ONE, "a,b,c\n1,2,3\n4,5\n", true).getMessage())
        .contains("row 1 has 2 values but the frame has 3 columns");
    assertThat(refused(ONE, "a,b,c\n1,x,3\n", true).getMessage())
        .contains("element 1 is \"x\", not a number");
    assertThat(refused(TOKENS, "input_ids,words\n1,2\n", true).getMessage())
        .contains("has no input 'words' (a column of the CSV)");
    assertThat(refused(TOKENS, "input_ids,attention_mask\n1.5,1\n", true).getMessage())
        .contains("element 0 is \"1.5\", not an integer");
    assertThat(refused(ONE, "", true).getMessage()).contains("the CSV body is empty");
    assertThat(refused(ONE, "a,b,c\n", true).getMessage()).contains("no rows");
    assertThat(refused(TEXT, "text\n\"open\n", true).getMessage()).contains("no closing quote");
    assertThat(refused(TEXT, "text\n\"a\"b\n", true).getMessage()).contains("after a quoted");
    ModelConfig half =
        PredictDecoderTest.model(
            List.of(new TensorConfig("x", DataType.FP16, new long[] {2})),
            List.of(new TensorConfig("y", DataType.FP32, new long[] {2})));
    assertThat(refused(half, "a,b\n1,2\n", true).getMessage())
        .contains("is FP16, which cannot travel as CSV");
    assertThat(refusedJson(half, "{\"inputs\": [[1, 2]]}"))
        .contains("is FP16, which cannot travel as JSON");
  }

  private static String answer(List<Tensor> outputs, boolean split, int rows) {
    return PredictDecoderTest.answer(outputs, split, rows, true);
  }

  @Test
  void theAnswerIsMlflowsPredictionsPerRowForAFrameAndWholeForATensor() {
    Tensor p = fp32("probabilities", new long[] {2, 2}, 0.25f, 0.75f, 1, 0);
    Tensor label = int64("label", new long[] {2}, 1, 0);
    // A frame: a DataFrame's records, one per row.
    assertThat(answer(List.of(p, label), true, 2))
        .isEqualTo(
            "{\"predictions\":[{\"probabilities\":[0.25,0.75],\"label\":1},"
                + "{\"probabilities\":[1.0,0.0],\"label\":0}]}");
    // A tensor: a dict of outputs, each whole.
    assertThat(answer(List.of(p, label), false, 2))
        .isEqualTo("{\"predictions\":{\"probabilities\":[[0.25,0.75],[1.0,0.0]],\"label\":[1,0]}}");
    // One output: its rows as a list, either way.
    assertThat(answer(List.of(p), true, 2)).isEqualTo("{\"predictions\":[[0.25,0.75],[1.0,0.0]]}");
    assertThat(answer(List.of(p), false, 2)).isEqualTo("{\"predictions\":[[0.25,0.75],[1.0,0.0]]}");
  }
}
