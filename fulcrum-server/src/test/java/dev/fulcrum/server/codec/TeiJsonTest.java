package dev.fulcrum.server.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TeiJsonTest {

  private static ByteBuf body(String json) {
    return Unpooled.copiedBuffer(json, StandardCharsets.UTF_8);
  }

  private static ErrorCode code(Runnable r) {
    try {
      r.run();
    } catch (InferenceException e) {
      return e.code();
    }
    throw new AssertionError("not refused");
  }

  @Test
  void embedTakesAStringOrStringsWithTeisDefaults() {
    TeiJson.EmbedRequest one = TeiJson.decodeEmbed(body("{\"inputs\":\"a b\"}"));
    assertThat(one.inputs()).containsExactly("a b");
    assertThat(one.normalize()).isTrue();
    assertThat(one.truncate()).isFalse();
    TeiJson.EmbedRequest two =
        TeiJson.decodeEmbed(
            body(
                "{\"inputs\":[\"a\",\"b\"],\"normalize\":false,\"truncate\":true,"
                    + "\"truncation_direction\":\"Right\",\"prompt_name\":null}"));
    assertThat(two.inputs()).containsExactly("a", "b");
    assertThat(two.normalize()).isFalse();
    assertThat(two.truncate()).isTrue();
  }

  @Test
  void embedRefusesWrongTypesEmptyInputAndTooMany() {
    assertThat(code(() -> TeiJson.decodeEmbed(body("{\"inputs\":1}"))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> TeiJson.decodeEmbed(body("{}")))).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> TeiJson.decodeEmbed(body("{\"inputs\":[]}"))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> TeiJson.decodeEmbed(body("{\"inputs\":[\"a\",\"\"]}"))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> TeiJson.decodeEmbed(body("{\"inputs\":[[101,102]]}"))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> TeiJson.decodeEmbed(body("{\"inputs\":\"a\",\"normalize\":1}"))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    StringBuilder many = new StringBuilder("{\"inputs\":[\"x\"");
    for (int i = 1; i <= TeiJson.MAX_CLIENT_BATCH_SIZE; i++) {
      many.append(",\"x\"");
    }
    String tooMany = many.append("]}").toString();
    assertThat(code(() -> TeiJson.decodeEmbed(body(tooMany)))).isEqualTo(ErrorCode.TOO_LARGE);
    assertThat(
            code(
                () ->
                    TeiJson.decodeEmbed(
                        body("{\"inputs\":\"a\",\"truncation_direction\":\"Left\"}"))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(code(() -> TeiJson.decodeEmbed(body("{\"inputs\":\"a\",\"prompt_name\":\"q\"}"))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThatThrownBy(() -> TeiJson.decodeEmbed(body("[")))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("not valid JSON");
  }

  @Test
  void similarityTakesTheSourceAndSentences() {
    TeiJson.SimilarityRequest s =
        TeiJson.decodeSimilarity(
            body("{\"inputs\":{\"source_sentence\":\"a\",\"sentences\":[\"b\",\"c\"]}}"));
    assertThat(s.source()).isEqualTo("a");
    assertThat(s.sentences()).containsExactly("b", "c");
    assertThat(code(() -> TeiJson.decodeSimilarity(body("{\"inputs\":\"a\"}"))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(
            code(
                () ->
                    TeiJson.decodeSimilarity(
                        body("{\"inputs\":{\"source_sentence\":\"a\",\"sentences\":[]}}"))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
  }

  @Test
  void vectorsAreArraysOfArraysAndScoresCosines() throws Exception {
    ByteBuf out =
        TeiJson.encodeVectors(
            ByteBufAllocator.DEFAULT, List.of(new float[] {0.5f, -1f}, new float[] {3f, 4f}));
    try {
      assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("[[0.5,-1.0],[3.0,4.0]]");
    } finally {
      out.release();
    }
    float[] scores =
        TeiJson.cosines(
            List.of(
                new float[] {1, 0}, new float[] {2, 0}, new float[] {0, 3}, new float[] {-1, 0}));
    assertThat(scores[0]).isCloseTo(1f, within(1e-6f));
    assertThat(scores[1]).isCloseTo(0f, within(1e-6f));
    assertThat(scores[2]).isCloseTo(-1f, within(1e-6f));
    JsonNode back = Json.MAPPER.readTree(TeiJson.encodeScores(new float[] {0.25f, 1f}));
    assertThat(back.get(0).asDouble()).isEqualTo(0.25);
    float[] unit = TeiJson.normalized(new float[] {3, 4});
    assertThat(unit).containsExactly(0.6f, 0.8f);
  }

  @Test
  void errorIsTeisBody() throws Exception {
    JsonNode e = Json.MAPPER.readTree(TeiJson.error("bad", "Validation"));
    assertThat(e.get("error").asText()).isEqualTo("bad");
    assertThat(e.get("error_type").asText()).isEqualTo("Validation");
    JsonNode info =
        Json.MAPPER.readTree(TeiJson.info(new TeiJson.ServedModel("m", "mean", 0, 16, "1.0")));
    assertThat(info.get("model_id").asText()).isEqualTo("m");
    assertThat(info.get("max_input_length").isNull()).isTrue();
    assertThat(info.get("max_batch_requests").asInt()).isEqualTo(16);
  }
}
