package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.handler.codec.http.FullHttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class ResponsesTest {
  private static FullHttpResponse render(Throwable t) {
    return Responses.error(t).render(UnpooledByteBufAllocator.DEFAULT);
  }

  @Test
  void everyErrorCodeHasItsStatus() {
    int[] expected = {400, 404, 503, 409, 429, 504, 499, 501, 500, 413, 415, 507};
    ErrorCode[] codes = ErrorCode.values();
    for (int i = 0; i < codes.length; i++) {
      FullHttpResponse r = render(new InferenceException(codes[i], "m-" + codes[i]));
      try {
        assertThat(r.status().code()).as(codes[i].name()).isEqualTo(expected[i]);
        assertThat(r.content().toString(StandardCharsets.UTF_8))
            .isEqualTo("{\"error\":\"m-" + codes[i] + "\"}");
      } finally {
        r.release();
      }
    }
  }

  @Test
  void resourceExhaustedAsksToRetry() {
    FullHttpResponse r =
        render(
            new CompletionException(
                new InferenceException(ErrorCode.RESOURCE_EXHAUSTED, "queue full")));
    try {
      assertThat(r.status().code()).isEqualTo(429);
      assertThat(r.headers().get("Retry-After")).isEqualTo("1");
    } finally {
      r.release();
    }
  }

  @Test
  void unexpectedFailuresAre500() {
    FullHttpResponse r = render(new IllegalStateException("boom"));
    try {
      assertThat(r.status().code()).isEqualTo(500);
      assertThat(r.content().toString(StandardCharsets.UTF_8)).contains("boom");
    } finally {
      r.release();
    }
  }
}
