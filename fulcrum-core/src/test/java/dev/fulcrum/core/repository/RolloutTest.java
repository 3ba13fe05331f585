package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.RolloutConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.scheduler.Ticker;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The canary split and judgement, on a fake clock: no model, no threads, no randomness. */
class RolloutTest {
  private static final long MS = 1_000_000L;
  private final AtomicLong clock = new AtomicLong(1_000 * MS);
  private final Ticker ticker = clock::get;

  private static RolloutConfig rules(
      int percent, int minRequests, double maxP99Ratio, long promoteAfter, long promoteNanos) {
    return new RolloutConfig(
        List.of(percent), minRequests, 100, 1, maxP99Ratio, MS, 1, promoteAfter, promoteNanos);
  }

  private Rollout rollout(RolloutConfig c, long sloNanos) {
    return new Rollout("m", 2, 1, c, sloNanos, ticker, null);
  }

  private static void answer(Rollout r, long version, int n, long nanos) {
    for (int i = 0; i < n; i++) {
      r.record(version, nanos, null);
    }
  }

  private static void fail(Rollout r, long version, int n, InferenceException e) {
    for (int i = 0; i < n; i++) {
      r.record(version, MS, e);
    }
  }

  @Test
  void tenPercentIsExactlyEveryTenthRequest() {
    Rollout r = rollout(RolloutConfig.ofPercent(10), 0);
    List<Integer> canary = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      if (r.toCanary()) {
        canary.add(i);
      }
    }
    assertThat(canary).containsExactly(9, 19, 29, 39, 49, 59, 69, 79, 89, 99);
  }

  @Test
  void everyShareIsExactOverAHundredRequests() {
    for (int p = 0; p <= 100; p++) {
      Rollout r = rollout(RolloutConfig.ofPercent(p), 0);
      int canary = 0;
      for (int i = 0; i < 1000; i++) {
        canary += r.toCanary() ? 1 : 0;
      }
      assertThat(canary).as("share %d%%", p).isEqualTo(10 * p);
    }
  }

  @Test
  void serverErrorsBeyondTheBoundRollBack() {
    Rollout r = rollout(rules(10, 20, 2, 0, 0), 0);
    answer(r, 1, 200, MS);
    fail(r, 2, 19, InferenceException.internal("engine failed", null));
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING); // min-requests not reached
    fail(r, 2, 1, InferenceException.internal("engine failed", null));
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.ROLLED_BACK);
    assertThat(r.percent()).isZero();
    assertThat(r.reason()).contains("failed requests 100.00% on the canary vs 0.00%");
    assertThat(r.rolledBackCount()).isEqualTo(1);
    for (int i = 0; i < 100; i++) {
      assertThat(r.toCanary()).isFalse();
    }
    assertThat(r.canaryStats().failed()).isEqualTo(20);
    assertThat(r.stableStats().requests()).isEqualTo(200);
  }

  @Test
  void clientErrorsOverloadAndCancellationsSayNothingAboutTheVersion() {
    Rollout r = rollout(rules(10, 20, 2, 0, 0), 0);
    answer(r, 1, 100, MS);
    fail(r, 2, 50, InferenceException.invalid("bad input"));
    fail(
        r,
        2,
        50,
        new InferenceException(dev.fulcrum.core.error.ErrorCode.RESOURCE_EXHAUSTED, "full"));
    for (int i = 0; i < 50; i++) {
      r.record(2, MS, new CompletionException(new CancellationException()));
    }
    assertThat(r.canaryStats().requests()).isZero();
    answer(r, 2, 30, MS);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
    assertThat(r.canaryStats().requests()).isEqualTo(30);
  }

  @Test
  void aFailedShareWithinTheBoundIsNoBreach() {
    Rollout r = rollout(rules(10, 100, 2, 0, 0), 0);
    answer(r, 1, 100, MS);
    answer(r, 2, 99, MS);
    fail(r, 2, 1, InferenceException.internal("once", null)); // 1 % = the bound, not above it
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
  }

  @Test
  void aSlowerCanaryRollsBackOnItsP99() {
    Rollout r = rollout(rules(10, 20, 2, 0, 0), 0);
    answer(r, 1, 100, 2 * MS);
    answer(r, 2, 20, 10 * MS);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.ROLLED_BACK);
    assertThat(r.reason()).contains("p99 latency 10.000 ms on the canary vs 2.000 ms");
  }

  @Test
  void aP99WithinTheSlackIsNoBreachWhateverTheRatio() {
    Rollout r = rollout(rules(10, 20, 2, 0, 0), 0);
    answer(r, 1, 100, MS / 10);
    answer(r, 2, 20, MS / 2); // 5x, but only 0.4 ms more: within p99-slack-ms 1
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
  }

  @Test
  void objectiveMissesRollBackWhereAnObjectiveIsSet() {
    Rollout r = rollout(rules(10, 20, 1000, 0, 0), 5 * MS);
    answer(r, 1, 100, MS);
    answer(r, 2, 20, 6 * MS);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.ROLLED_BACK);
    assertThat(r.reason()).contains("latency objective missed by 100.00%");
    // without an objective the same latencies pass (the p99 bound is lifted here)
    Rollout none = rollout(rules(10, 20, 1000, 0, 0), 0);
    answer(none, 1, 100, MS);
    answer(none, 2, 20, 6 * MS);
    assertThat(none.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
  }

  @Test
  void promotedAfterTheStatedRequestsAndTimeWithoutABreach() {
    Rollout r = rollout(rules(10, 20, 2, 50, 10_000 * MS), 0);
    answer(r, 1, 500, MS);
    answer(r, 2, 50, MS);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING); // 10 s have not passed
    clock.addAndGet(10_000 * MS);
    answer(r, 2, 10, MS);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROMOTED);
    assertThat(r.percent()).isEqualTo(100);
    assertThat(r.reason()).contains("60 canary requests without a breach");
    assertThat(r.promotedCount()).isEqualTo(1);
    // a verdict is final: later failures change nothing until a share is set by hand
    fail(r, 2, 100, InferenceException.internal("late", null));
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROMOTED);
  }

  @Test
  void withoutPromoteAfterRequestsOnlyAnOperatorPromotes() {
    Rollout r = rollout(rules(10, 20, 2, 0, 0), 0);
    answer(r, 1, 1000, MS);
    answer(r, 2, 1000, MS);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
    r.promote("");
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROMOTED);
    assertThat(r.reason()).isEqualTo("promoted by hand");
  }

  @Test
  void settingAShareByHandJudgesAfresh() {
    Rollout r = rollout(rules(10, 20, 2, 0, 0), 0);
    answer(r, 1, 100, MS);
    fail(r, 2, 20, InferenceException.internal("bad build", null));
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.ROLLED_BACK);
    r.setPercent(50);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
    assertThat(r.percent()).isEqualTo(50);
    assertThat(r.canaryStats().windowRequests()).isZero();
    assertThat(r.canaryStats().failed()).isEqualTo(20); // the totals carry on
    answer(r, 1, 100, MS);
    answer(r, 2, 20, MS);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
    r.rollBack("by the on-call");
    assertThat(r.reason()).isEqualTo("by the on-call");
    assertThat(r.rolledBackCount()).isEqualTo(2);
    assertThatThrownBy(() -> r.setPercent(101)).isInstanceOf(InferenceException.class);
  }

  @Test
  void aRepeatedPromoteOrRollbackIsCountedOnce() {
    // an operator's POST retried by its client must not count a second verdict
    Rollout r = rollout(rules(10, 20, 2, 0, 0), 0);
    r.promote("");
    r.promote("again");
    assertThat(r.promotedCount()).isEqualTo(1);
    assertThat(r.reason()).isEqualTo("promoted by hand");
    r.rollBack("");
    r.rollBack("");
    assertThat(r.rolledBackCount()).isEqualTo(1);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.ROLLED_BACK);
  }

  @Test
  void theMetricsCountersReadAsTheFigures() {
    Rollout r = rollout(rules(10, 1000, 2, 0, 0), 0);
    answer(r, 1, 30, MS);
    fail(r, 2, 4, InferenceException.internal("bad build", null));
    answer(r, 2, 6, MS);
    assertThat(r.requests(true)).isEqualTo(r.canaryStats().requests()).isEqualTo(10);
    assertThat(r.failedRequests(true)).isEqualTo(r.canaryStats().failed()).isEqualTo(4);
    assertThat(r.requests(false)).isEqualTo(r.stableStats().requests()).isEqualTo(30);
    assertThat(r.failedRequests(false)).isZero();
  }

  @Test
  void outcomesRecordedFromManyThreadsAreEachCountedAndJudgedOnce() throws Exception {
    // completions arrive on event loops and engine threads at once; each judgement reads a window
    // while others add to it
    Rollout r = rollout(rules(50, 10, 1_000_000, 4_000, 0), 0);
    int threads = 8;
    int each = 1_000;
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    List<Thread> started = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      long version = t % 2 == 0 ? 1 : 2;
      Thread th =
          new Thread(
              () -> {
                try {
                  go.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  return;
                }
                answer(r, version, each, MS);
              });
      th.start();
      started.add(th);
    }
    go.countDown();
    for (Thread th : started) {
      th.join();
    }
    assertThat(r.requests(true)).isEqualTo(threads / 2 * each);
    assertThat(r.requests(false)).isEqualTo(threads / 2 * each);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROMOTED);
    assertThat(r.promotedCount()).as("one verdict, however many threads judged").isEqualTo(1);
    assertThat(r.rolledBackCount()).isZero();
  }

  @Test
  void aVersionOfNeitherArmIsIgnoredAndCountsCarryToTheNextRollout() {
    Rollout r = rollout(rules(10, 20, 2, 0, 0), 0);
    fail(r, 7, 100, InferenceException.internal("elsewhere", null));
    assertThat(r.canaryStats().requests()).isZero();
    r.rollBack("");
    Rollout next = new Rollout("m", 3, 2, rules(10, 20, 2, 0, 0), 0, ticker, r);
    assertThat(next.rolledBackCount()).isEqualTo(1);
    assertThat(next.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
  }
}
