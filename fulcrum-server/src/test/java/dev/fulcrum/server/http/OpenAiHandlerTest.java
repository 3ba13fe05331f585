package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.codec.OpenAiJson;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** The OpenAI error shapes: a failure's, and an OIP refusal's rewritten with its headers kept. */
class OpenAiHandlerTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private record Rendered(int status, JsonNode body, FullHttpResponse response) {}

  private static Rendered render(Reply reply) throws Exception {
    FullHttpResponse r = reply.render(UnpooledByteBufAllocator.DEFAULT);
    try {
      return new Rendered(
          r.status().code(), JSON.readTree(r.content().toString(StandardCharsets.UTF_8)), r);
    } finally {
      r.release();
    }
  }

  @Test
  void aFailureHasTheStatusInfersWouldAndOpenAisFields() throws Exception {
    record Case(ErrorCode code, int status, String type, String openAiCode) {}
    for (Case c :
        new Case[] {
          new Case(ErrorCode.INVALID_ARGUMENT, 400, "invalid_request_error", ""),
          new Case(ErrorCode.NOT_FOUND, 404, "invalid_request_error", "model_not_found"),
          new Case(ErrorCode.UNAVAILABLE, 503, "server_error", ""),
          new Case(ErrorCode.RESOURCE_EXHAUSTED, 429, "rate_limit_exceeded", "rate_limit_exceeded"),
          new Case(ErrorCode.DEADLINE_EXCEEDED, 504, "server_error", ""),
          new Case(ErrorCode.INTERNAL, 500, "server_error", "")
        }) {
      Rendered r =
          render(
              OpenAiHandler.error(new CompletionException(new InferenceException(c.code(), "m"))));
      assertThat(r.status()).as(c.code().name()).isEqualTo(c.status());
      JsonNode e = r.body().get("error");
      assertThat(e.get("message").asText()).isEqualTo("m");
      assertThat(e.get("type").asText()).as(c.code().name()).isEqualTo(c.type());
      assertThat(e.get("param").isNull()).isTrue();
      if (c.openAiCode().isEmpty()) {
        assertThat(e.get("code").isNull()).as(c.code().name()).isTrue();
      } else {
        assertThat(e.get("code").asText()).isEqualTo(c.openAiCode());
      }
      assertThat(r.response().headers().get("Retry-After"))
          .as(c.code().name())
          .isEqualTo(c.status() == 429 ? "1" : null);
    }
    JsonNode field =
        render(OpenAiHandler.error(new OpenAiJson.InvalidField("dimensions", "too many")))
            .body()
            .get("error");
    assertThat(field.get("param").asText()).isEqualTo("dimensions");
  }

  @Test
  void aRefusalBeforeTheHandlerIsRewrittenWithItsHeaders() throws Exception {
    Reply refused =
        Responses.refused(
            new AccessPolicy(
                    List.of(new AccessPolicy.Token(Scope.INFERENCE, "a-token-0123456789abcdef")),
                    "127.0.0.1",
                    false)
                .check(Scope.INFERENCE, null));
    Rendered r = render(OpenAiHandler.shaped(refused));
    assertThat(r.status()).isEqualTo(401);
    assertThat(r.response().headers().get("WWW-Authenticate")).startsWith("Bearer");
    JsonNode e = r.body().get("error");
    assertThat(e.get("type").asText()).isEqualTo("invalid_request_error");
    assertThat(e.get("code").asText()).isEqualTo("invalid_api_key");
    assertThat(e.get("message").asText()).isNotEmpty();

    // An answer already in OpenAI's shape, or a success, is left as it is.
    Rendered again = render(OpenAiHandler.shaped(OpenAiHandler.error(new IllegalStateException())));
    assertThat(again.status()).isEqualTo(500);
    assertThat(again.body().get("error").get("type").asText()).isEqualTo("server_error");
    Rendered ok =
        render(
            OpenAiHandler.shaped(
                Responses.json(
                    HttpResponseStatus.OK, "{\"a\":1}".getBytes(StandardCharsets.UTF_8))));
    assertThat(ok.body().toString()).isEqualTo("{\"a\":1}");
  }
}
