package dev.fulcrum.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.http.HttpResponse;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/**
 * What an overload refusal tells its client about when to retry, checked alike by the end-to-end
 * tests that fill a queue: REST's 429 with {@code retry-after-ms} and {@code Retry-After}, gRPC's
 * RESOURCE_EXHAUSTED with gRFC A6's {@code grpc-retry-pushback-ms} trailer, each 100 ms to 10 s.
 *
 * <p>Stateless.
 */
final class RetryHints {
  /** gRFC A6's pushback trailer. */
  static final Metadata.Key<String> PUSHBACK =
      Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);

  private RetryHints() {}

  /** {@code refused} is a 429 with the hint in milliseconds and in whole seconds, rounded up. */
  static void assertRestHint(HttpResponse<byte[]> refused) {
    assertThat(refused.statusCode()).as(E2eServer.text(refused)).isEqualTo(429);
    long ms = Long.parseLong(refused.headers().firstValue("retry-after-ms").orElseThrow());
    assertThat(ms).isBetween(100L, 10_000L);
    assertThat(refused.headers().firstValue("Retry-After"))
        .hasValue(Long.toString((ms + 999) / 1000));
  }

  /** {@code call} is refused RESOURCE_EXHAUSTED with a pushback trailer of 100 ms to 10 s. */
  static void assertPushedBack(String api, ThrowingCallable call) {
    assertThatThrownBy(call)
        .as(api)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
              assertThat(e.getTrailers()).isNotNull();
              String pushback = e.getTrailers().get(PUSHBACK);
              assertThat(pushback).as("grpc-retry-pushback-ms").isNotNull();
              assertThat(Long.parseLong(pushback)).isBetween(100L, 10_000L);
            });
  }
}
