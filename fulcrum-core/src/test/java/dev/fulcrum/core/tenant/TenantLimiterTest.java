package dev.fulcrum.core.tenant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TenantLimiterTest {
  private long now = 1_000_000_000L;

  private TenantLimiter limiter(TenantLimits limits) {
    return new TenantLimiter("batch", limits, () -> now);
  }

  @Test
  void admitsTheBurstThenOneRequestPerInterval() {
    TenantLimiter l = limiter(new TenantLimits(10, 3, 0)); // 100 ms a request, 3 at once
    for (int i = 0; i < 3; i++) {
      assertThat(l.tryAcquire()).as("request %d of the burst", i).isNull();
    }
    InferenceException refused = l.tryAcquire();
    assertThat(refused).isNotNull();
    assertThat(refused.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
    assertThat(refused.getMessage())
        .contains("tenant 'batch'")
        .contains("rate limit")
        .contains("rate=10 burst=3");
    assertThat(refused.retryAfter()).isEqualTo(Duration.ofMillis(100));
    now += 50_000_000L; // half an interval: still full
    assertThat(l.tryAcquire()).isNotNull();
    now += 50_000_000L; // one interval: one more
    assertThat(l.tryAcquire()).isNull();
    assertThat(l.tryAcquire()).isNotNull();
  }

  @Test
  void aQuietSpellRefillsTheBucketToItsBurstOnly() {
    TenantLimiter l = limiter(new TenantLimits(100, 5, 0));
    now += 3_600_000_000_000L; // an hour idle
    int admitted = 0;
    while (l.tryAcquire() == null) {
      admitted++;
    }
    assertThat(admitted).isEqualTo(5);
  }

  @Test
  void theRetryHintIsTheTimeUntilARequestFits() {
    TenantLimiter l = limiter(new TenantLimits(1, 1, 0));
    assertThat(l.tryAcquire()).isNull();
    now += 250_000_000L;
    InferenceException refused = l.tryAcquire();
    assertThat(refused).isNotNull();
    assertThat(refused.retryAfter()).isEqualTo(Duration.ofMillis(750));
    assertThat(refused.getMessage()).contains("retry after 750 ms");
  }

  @Test
  void concurrencyIsTakenAndGivenBack() {
    TenantLimiter l = limiter(new TenantLimits(0, 0, 2));
    assertThat(l.tryAcquire()).isNull();
    assertThat(l.tryAcquire()).isNull();
    InferenceException refused = l.tryAcquire();
    assertThat(refused).isNotNull();
    assertThat(refused.getMessage()).contains("tenant 'batch'").contains("concurrency=2");
    assertThat(refused.retryAfter()).isNotNull();
    assertThat(l.inFlight()).isEqualTo(2);
    l.release();
    assertThat(l.tryAcquire()).isNull();
    assertThat(l.inFlight()).isEqualTo(2);
  }

  @Test
  void aRateRefusalGivesBackTheConcurrencyPlaceItTook() {
    TenantLimiter l = limiter(new TenantLimits(1, 1, 5));
    assertThat(l.tryAcquire()).isNull();
    assertThat(l.tryAcquire()).isNotNull();
    assertThat(l.inFlight()).isEqualTo(1);
  }

  @Test
  void limitsAreValidatedAndABurstDefaultsToOneSecondsWorth() {
    assertThat(new TenantLimits(2.5, 0, 0).burst()).isEqualTo(3);
    assertThat(new TenantLimits(0, 0, 4).limited()).isTrue();
    assertThat(TenantLimits.NONE.limited()).isFalse();
    assertThat(new TenantLimits(50, 100, 8).toString())
        .isEqualTo("rate=50 burst=100 concurrency=8");
    assertThatThrownBy(() -> new TenantLimits(0, 5, 0)).hasMessageContaining("burst needs a rate");
    assertThatThrownBy(() -> new TenantLimits(Double.NaN, 0, 0)).hasMessageContaining("rate");
  }

  @Test
  void aTinyRateWithAHugeBurstAdmitsItsBurstInsteadOfRefusingEverything() {
    // 1e15 ns an interval times a million: past Long.MAX_VALUE, which once wrapped to refusing all.
    TenantLimiter l = limiter(new TenantLimits(0.000001, 1_000_000, 0));
    for (int i = 0; i < 1000; i++) {
      assertThat(l.tryAcquire()).as("request %d of the burst", i).isNull();
    }
  }

  @Test
  void aRateSoTinyItsIntervalPassesALongAdmitsOneThenRefusesInsteadOfAdmittingEverything() {
    TenantLimiter l = limiter(new TenantLimits(1e-12, 1, 0)); // an interval of 1e21 ns
    assertThat(l.tryAcquire()).isNull();
    InferenceException refused = l.tryAcquire();
    assertThat(refused).isNotNull();
    assertThat(refused.retryAfter()).isPositive();
    assertThat(refused.getMessage()).doesNotContain("retry after -").contains("rate=1.0E-12");
    now += 3_600_000_000_000L;
    assertThat(l.tryAcquire()).as("an hour later: still far from its next request").isNotNull();
  }

  @Test
  void aClockThatWrapsPastLongMaxValueKeepsTheBucket() {
    now = Long.MAX_VALUE - 50_000_000L; // nanoTime may be any long, and wrap
    TenantLimiter l = limiter(new TenantLimits(10, 3, 0));
    for (int i = 0; i < 3; i++) {
      assertThat(l.tryAcquire()).isNull();
    }
    assertThat(l.tryAcquire()).isNotNull();
    now += 100_000_000L; // wraps to a negative nanoTime: one interval later
    assertThat(l.tryAcquire()).isNull();
    assertThat(l.tryAcquire()).isNotNull();
  }
}
