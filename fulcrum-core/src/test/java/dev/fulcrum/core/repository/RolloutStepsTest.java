package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.config.RolloutConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.scheduler.Ticker;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A stepped canary ({@code canary-steps}), on a fake clock: the share steps up after each judgement
 * passed at a step, a breach at any step rolls back, a share set by hand holds (until a restart
 * sets the steps going again), and promotion follows the last step. No model, no threads.
 */
class RolloutStepsTest {
  private static final long MS = 1_000_000L;
  private final AtomicLong clock = new AtomicLong(1_000 * MS);
  private final Ticker ticker = clock::get;

  /** Steps 5, 25, 50; 20 canary answers judged at a step; promoted after 30 at the last. */
  private Rollout stepped(long promoteAfter, long promoteNanos) {
    RolloutConfig c =
        new RolloutConfig(List.of(5, 25, 50), 20, 100, 1, 2, MS, 1, promoteAfter, promoteNanos);
    return new Rollout("m", 2, 1, c, 0, ticker, null);
  }

  /** A rollout promoted after 30 at the last step, whose canary has passed its first step. */
  private Rollout atSecondStep() {
    Rollout r = stepped(30, 0);
    answer(r, 1, 100);
    answer(r, 2, 20);
    assertThat(r.step()).isEqualTo(1);
    return r;
  }

  private static void answer(Rollout r, long version, int n) {
    for (int i = 0; i < n; i++) {
      r.record(version, MS, null);
    }
  }

  private static void fail(Rollout r, int n) {
    for (int i = 0; i < n; i++) {
      r.record(2, MS, InferenceException.internal("bad build", null));
    }
  }

  /** Of the next 100 unversioned requests, how many the canary gets. */
  private static int share(Rollout r) {
    int canary = 0;
    for (int i = 0; i < 100; i++) {
      canary += r.toCanary() ? 1 : 0;
    }
    return canary;
  }

  /** The verdict reached, its share, its reason, and that it was counted once. */
  private static void concluded(Rollout r, Rollout.Verdict v, String reason) {
    boolean promoted = v == Rollout.Verdict.PROMOTED;
    assertThat(r.verdict()).isEqualTo(v);
    assertThat(r.percent()).isEqualTo(promoted ? 100 : 0);
    assertThat(r.reason()).contains(reason);
    assertThat(promoted ? r.promotedCount() : r.rolledBackCount()).isEqualTo(1);
  }

  @Test
  void theShareStepsUpAfterEachJudgementPassedAtAStep() {
    Rollout r = stepped(0, 0);
    assertThat(r.step()).isZero();
    assertThat(r.percent()).isEqualTo(5);
    assertThat(share(r)).isEqualTo(5);
    answer(r, 1, 200);
    answer(r, 2, 19);
    assertThat(r.step()).as("min-requests not reached at the step").isZero();
    assertThat(r.stepRequests()).isEqualTo(19);
    answer(r, 2, 1);
    assertThat(r.step()).isEqualTo(1);
    assertThat(r.percent()).isEqualTo(25);
    assertThat(share(r)).isEqualTo(25);
    assertThat(r.stepRequests()).as("a step is judged on its own answers").isZero();
    assertThat(r.canaryStats().windowRequests()).isZero();
    assertThat(r.canaryStats().requests()).as("the totals carry on").isEqualTo(20);
    assertThat(r.stableStats().windowRequests())
        .as("the baseline's window carries on")
        .isEqualTo(100);
    answer(r, 2, 20);
    assertThat(r.step()).isEqualTo(2);
    assertThat(r.percent()).isEqualTo(50);
    answer(r, 2, 500);
    assertThat(r.step()).as("the last step holds").isEqualTo(2);
    assertThat(r.verdict())
        .as("without promote-after-requests only an operator promotes")
        .isEqualTo(Rollout.Verdict.PROGRESSING);
    assertThat(r.reason()).isEmpty();
  }

  @Test
  void aBreachAtTheSecondStepRollsBack() {
    Rollout r = atSecondStep();
    answer(r, 2, 10);
    fail(r, 10);
    concluded(r, Rollout.Verdict.ROLLED_BACK, "failed requests 50.00% on the canary vs 0.00%");
    assertThat(share(r)).isZero();
    assertThat(r.step()).as("the step it was rolled back at").isEqualTo(1);
  }

  @Test
  void promotionFollowsTheLastStepCountedFromItsStart() {
    Rollout r = stepped(30, 10_000 * MS);
    answer(r, 1, 100);
    answer(r, 2, 40); // steps 0 and 1
    assertThat(r.step()).isEqualTo(2);
    clock.addAndGet(60_000 * MS);
    answer(r, 2, 29);
    assertThat(r.verdict())
        .as("29 answers at the last step, whatever passed before it")
        .isEqualTo(Rollout.Verdict.PROGRESSING);
    answer(r, 2, 1);
    concluded(r, Rollout.Verdict.PROMOTED, "30 canary requests without a breach");
  }

  @Test
  void promoteAfterSecondsCountsFromTheLastStepsStart() {
    Rollout r = stepped(30, 10_000 * MS);
    answer(r, 1, 100);
    clock.addAndGet(60_000 * MS); // long before the last step: it does not count
    answer(r, 2, 40);
    assertThat(r.step()).isEqualTo(2);
    answer(r, 2, 50);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
    clock.addAndGet(10_000 * MS);
    answer(r, 2, 10);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROMOTED);
  }

  @Test
  void aShareSetByHandHoldsAndIsJudgedAsALastStep() {
    Rollout r = atSecondStep();
    r.setPercent(10);
    assertThat(r.step()).as("stepping stops").isEqualTo(-1);
    assertThat(r.percent()).isEqualTo(10);
    assertThat(r.reason()).isEqualTo("share set by hand to 10%");
    answer(r, 1, 100);
    answer(r, 2, 29);
    assertThat(r.percent()).as("no step up from a share set by hand").isEqualTo(10);
    answer(r, 2, 1);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROMOTED);
  }

  @Test
  void aShareSetByHandAfterARollbackHoldsToo() {
    Rollout r = stepped(0, 0);
    answer(r, 1, 100);
    fail(r, 20);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.ROLLED_BACK);
    assertThat(r.step()).isZero();
    r.setPercent(5);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
    assertThat(r.step()).as("even at the first step's share: held by hand").isEqualTo(-1);
    answer(r, 1, 100);
    answer(r, 2, 100);
    assertThat(r.percent()).isEqualTo(5);
  }

  @Test
  void aRestartClearsTheShareSetByHandAndStepsAgainFromTheFirstStep() {
    Rollout r = atSecondStep();
    r.setPercent(10);
    answer(r, 2, 5);
    r.restart();
    assertThat(r.step()).isZero();
    assertThat(r.percent()).isEqualTo(5);
    assertThat(r.reason()).isEmpty();
    assertThat(r.stepRequests()).as("judged afresh").isZero();
    assertThat(share(r)).isEqualTo(5);
    answer(r, 1, 100);
    answer(r, 2, 20);
    assertThat(r.step()).as("it steps up again as configured").isEqualTo(1);
    assertThat(r.percent()).isEqualTo(25);

    // after a rollback too (Argo Rollouts' retry of an aborted rollout); the count stays
    fail(r, 20);
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.ROLLED_BACK);
    r.restart();
    assertThat(r.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
    assertThat(r.step()).isZero();
    assertThat(r.percent()).isEqualTo(5);
    assertThat(r.rolledBackCount()).isEqualTo(1);
  }

  @Test
  void oneShareIsALastStepAndSettingItAgainReturnsToIt() {
    Rollout r = new Rollout("m", 2, 1, RolloutConfig.ofPercent(10), 0, ticker, null);
    assertThat(r.step()).isZero();
    r.setPercent(30);
    assertThat(r.step()).isEqualTo(-1);
    r.setPercent(10);
    assertThat(r.step()).isZero();
    assertThat(r.reason()).isEmpty();
  }
}
