package dev.fulcrum.server.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class OllamaJsonTest {

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
  void embedTakesAStringOrStringsAndTheLatestTagOff() {
    OllamaJson.EmbedRequest one =
        OllamaJson.decodeEmbed(
            body("{\"model\":\"m:latest\",\"input\":\"a\",\"keep_alive\":\"5m\"}"));
    assertThat(one.model()).isEqualTo("m");
    assertThat(one.input()).containsExactly("a");
    assertThat(one.truncate()).isTrue();
    assertThat(one.dimensions()).isZero();
    assertThat(one.legacy()).isFalse();
    OllamaJson.EmbedRequest two =
        OllamaJson.decodeEmbed(
            body(
                "{\"model\":\"m:v2\",\"input\":[\"a\",\"b\"],\"truncate\":false,\"dimensions\":4}"));
    assertThat(two.model()).isEqualTo("m:v2"); // another tag is kept: no such model
    assertThat(two.input()).containsExactly("a", "b");
    assertThat(two.truncate()).isFalse();
    assertThat(two.dimensions()).isEqualTo(4);
  }

  @Test
  void legacyTakesThePrompt() {
    OllamaJson.EmbedRequest r =
        OllamaJson.decodeEmbeddings(body("{\"model\":\"m\",\"prompt\":\"hi\"}"));
    assertThat(r.input()).containsExactly("hi");
    assertThat(r.legacy()).isTrue();
    assertThat(code(() -> OllamaJson.decodeEmbeddings(body("{\"model\":\"m\"}"))))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
  }

  @Test
  void refusesWrongTypesAndEmptyInput() {
    for (String bad :
        List.of(
            "{\"input\":\"a\"}",
            "{\"model\":1,\"input\":\"a\"}",
            "{\"model\":\"m\"}",
            "{\"model\":\"m\",\"input\":[]}",
            "{\"model\":\"m\",\"input\":\"\"}",
            "{\"model\":\"m\",\"input\":[1]}",
            "{\"model\":\"m\",\"input\":\"a\",\"truncate\":1}",
            "{\"model\":\"m\",\"input\":\"a\",\"dimensions\":0}",
            "[]",
            "{")) {
      assertThat(code(() -> OllamaJson.decodeEmbed(body(bad))))
          .as(bad)
          .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    }
  }

  @Test
  void answersAreOllamasShapes() throws Exception {
    OllamaJson.EmbedRequest asked =
        OllamaJson.decodeEmbed(body("{\"model\":\"m\",\"input\":\"a\"}"));
    ByteBuf out =
        OllamaJson.encodeEmbed(
            ByteBufAllocator.DEFAULT, asked, "m:latest", List.of(new float[] {0.5f}), 3, 1234);
    JsonNode e;
    try {
      e = Json.MAPPER.readTree(out.toString(StandardCharsets.UTF_8));
    } finally {
      out.release();
    }
    assertThat(e.get("model").asText()).isEqualTo("m:latest");
    assertThat(e.get("embeddings").get(0).get(0).asDouble()).isEqualTo(0.5);
    assertThat(e.get("total_duration").asLong()).isEqualTo(1234);
    assertThat(e.get("prompt_eval_count").asLong()).isEqualTo(3);
    OllamaJson.EmbedRequest legacy =
        OllamaJson.decodeEmbeddings(body("{\"model\":\"m\",\"prompt\":\"a\"}"));
    ByteBuf old =
        OllamaJson.encodeEmbed(
            ByteBufAllocator.DEFAULT, legacy, "m:latest", List.of(new float[] {0.5f}), 3, 1);
    try {
      assertThat(old.toString(StandardCharsets.UTF_8)).isEqualTo("{\"embedding\":[0.5]}");
    } finally {
      old.release();
    }
    JsonNode tags =
        Json.MAPPER.readTree(
            OllamaJson.tags(List.of("a", "b"), Instant.parse("2026-01-01T00:00:00Z")));
    assertThat(tags.get("models")).hasSize(2);
    assertThat(tags.get("models").get(1).get("model").asText()).isEqualTo("b:latest");
    assertThat(Json.MAPPER.readTree(OllamaJson.version("1.2")).get("version").asText())
        .isEqualTo("1.2");
  }
}
