package dev.fulcrum.core.tenant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * An admission taken at a request's headers: its permit is given back and the request counted
 * exactly once, whichever path ends it (answered, failed before a model ran it, the transport's
 * last word, a client gone) and however many of them try.
 */
class AdmissionTest {
  private final AtomicLong now = new AtomicLong(1_000_000_000L);

  private Tenant tenant(TenantLimits limits) {
    return new Tenant("backfill", limits, now::get);
  }

  private static long count(Tenant t, String model, Outcome o) {
    ModelUsage u = t.usage().get(model);
    return u == null ? 0 : u.requests(o);
  }

  @Test
  void anAnsweredAdmissionGivesItsPermitBackOnceAndIsCountedOnce() {
    Tenant t = tenant(new TenantLimits(0, 0, 1));
    Admission a = t.enter("fraud");
    assertThat(t.inFlight()).isEqualTo(1);
    assertThat(a.finished("fraud", new Charge(3, 0.001, 0), null)).isTrue();
    assertThat(t.inFlight()).isZero();
    // Every later end, whatever path, does nothing: no second release, no second count.
    assertThat(a.finished("fraud", new Charge(3, 0.001, 0), null)).isFalse();
    assertThat(a.failed(new CancellationException())).isFalse();
    assertThat(a.ended(Outcome.SERVER_ERROR)).isFalse();
    assertThat(t.inFlight()).isZero();
    assertThat(count(t, "fraud", Outcome.SUCCESS)).isEqualTo(1);
    assertThat(t.usage().get("fraud").predictions()).isEqualTo(3);
    assertThat(count(t, "fraud", Outcome.CLIENT_ERROR)).isZero();
    assertThat(count(t, "fraud", Outcome.SERVER_ERROR)).isZero();
  }

  @Test
  void aFailureBeforeAModelRanItIsCountedUnderTheModelItsHeadersNamed() {
    Tenant t = tenant(new TenantLimits(0, 0, 2));
    Admission decodeError = t.enter("fraud");
    Admission clientGone = t.enter("");
    assertThat(t.inFlight()).isEqualTo(2);
    decodeError.failed(InferenceException.invalid("bad json"));
    clientGone.failed(new CancellationException("gone"));
    assertThat(t.inFlight()).isZero();
    assertThat(count(t, "fraud", Outcome.CLIENT_ERROR)).isEqualTo(1);
    assertThat(count(t, "", Outcome.CLIENT_ERROR)).isEqualTo(1);
  }

  @Test
  void theTransportsLastWordEndsWhatNothingElseEnded() {
    Tenant t = tenant(new TenantLimits(0, 0, 1));
    Admission a = t.enter("fraud");
    assertThat(a.ended(Outcome.REFUSED)).isTrue();
    assertThat(a.isEnded()).isTrue();
    assertThat(t.inFlight()).isZero();
    assertThat(count(t, "fraud", Outcome.REFUSED)).isEqualTo(1);
    // The permit is free again: the next request is admitted.
    t.enter("fraud").ended(Outcome.SUCCESS);
    assertThat(count(t, "fraud", Outcome.SUCCESS)).isEqualTo(1);
    assertThat(t.usage().get("fraud").predictions()).isZero();
  }

  @Test
  void aRequestOverTheConcurrencyIsRefusedAtEntryCountedAndHoldsNothing() {
    Tenant t = tenant(new TenantLimits(0, 0, 1));
    Admission first = t.enter("fraud");
    assertThatThrownBy(() -> t.enter("fraud"))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
              assertThat(e.retryAfter()).isNotNull();
            })
        .hasMessageContaining("concurrency=1");
    assertThat(t.inFlight()).isEqualTo(1);
    assertThat(count(t, "fraud", Outcome.REFUSED)).isEqualTo(1);
    first.failed(new CancellationException());
    assertThat(t.inFlight()).isZero();
    t.enter("fraud").failed(new CancellationException());
    assertThat(t.inFlight()).isZero();
  }

  @Test
  void eachEntrySpendsOneRateTokenWhateverItsBody() {
    // 1 request a second, a burst of 2: two entries pass, the third is refused until the bucket
    // refills; the refused entry spends no token.
    Tenant t = tenant(new TenantLimits(1, 2, 0));
    t.enter("fraud").ended(Outcome.SUCCESS);
    t.enter("fraud").ended(Outcome.SUCCESS);
    assertThatThrownBy(() -> t.enter("fraud")).hasMessageContaining("rate limit");
    now.addAndGet(1_000_000_000L);
    t.enter("fraud").ended(Outcome.SUCCESS);
    assertThat(count(t, "fraud", Outcome.SUCCESS)).isEqualTo(3);
    assertThat(count(t, "fraud", Outcome.REFUSED)).isEqualTo(1);
  }

  @Test
  void racingEndsCountOnce() throws Exception {
    Tenant t = tenant(new TenantLimits(0, 0, 1000));
    for (int round = 0; round < 200; round++) {
      Admission a = t.enter("fraud");
      Thread other = Thread.ofPlatform().start(() -> a.failed(new CancellationException()));
      a.finished("fraud", Charge.NONE, null);
      other.join();
    }
    assertThat(t.inFlight()).isZero();
    assertThat(count(t, "fraud", Outcome.SUCCESS) + count(t, "fraud", Outcome.CLIENT_ERROR))
        .isEqualTo(200);
  }

  @Test
  void aTenantWithoutLimitsAdmitsEveryEntryAndOnlyCounts() {
    Tenant t = new Tenant("online");
    for (int i = 0; i < 5; i++) {
      t.enter("fraud").finished("fraud", new Charge(1, 0, 0), null);
    }
    assertThat(count(t, "fraud", Outcome.SUCCESS)).isEqualTo(5);
    assertThat(t.inFlight()).isZero();
  }
}
