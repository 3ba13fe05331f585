package dev.fulcrum.core.stats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.fulcrum.core.config.SloConfig;
import dev.fulcrum.core.scheduler.PolicyState;
import dev.fulcrum.core.scheduler.SchedulerObserver.BatchDone;
import dev.fulcrum.core.scheduler.SchedulerObserver.Outcome;
import dev.fulcrum.core.scheduler.SchedulerObserver.RejectReason;
import dev.fulcrum.core.scheduler.SchedulerObserver.Rejected;
import dev.fulcrum.core.scheduler.SchedulerObserver.RequestDone;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The accounting with a hand-moved clock: every figure is exact. */
class SloAccountingTest {
  private static final long MS = 1_000_000;
  private static final long S = 1_000 * MS;
  private static final PolicyState POLICY = new PolicyState("slo", 4, 0, 0, List.of(), 0, 0);

  private final AtomicLong now = new AtomicLong(0);
  private final ComputeLedger ledger = new ComputeLedger(0);

  /**
   * A warm policy whose passes take 2 ms + 0.5 ms a row, planned at 1.2 x the mean (sizes 1 to 32,
   * 10 passes each): at a 20 ms objective, one instance serves 13 rows in 8.5 ms (SloCapacityTest).
   */
  private static PolicyState warmPolicy() {
    List<PolicyState.PassTime> table = new java.util.ArrayList<>();
    for (int b = 1; b <= 32; b++) {
      long mean = 2 * MS + b * MS / 2;
      table.add(new PolicyState.PassTime(b, mean, mean * 12 / 10, 10));
    }
    return new PolicyState("slo", 4, 0, 0, table, 10, 0);
  }

  private static RequestDone success(long latency, long at) {
    return new RequestDone(Outcome.SUCCESS, 1, 4, latency / 2, 0, latency / 2, 0, latency, at);
  }

  @Test
  void theLoadIsTheOfferedRateOverTheCapacityInRequestsOfTheWindowsRows() {
    // 20 ms objective, one instance, passes of 2 ms + 0.5 ms a row planned at 1.2 x: 13 rows in
    // 8.5 ms (SloCapacityTest), 1,529 rows a second.
    PolicyState policy = warmPolicy();
    SloAccounting a = new SloAccounting(new SloConfig(20 * MS, 99, 0), 1, ledger, now::get);
    now.set(5 * S);
    for (int i = 0; i < 40; i++) {
      a.requestDone(new RequestDone(Outcome.SUCCESS, 2, 8, MS, 0, MS, 0, 2 * MS, 4 * S));
    }
    // Refusals below the observed bound's minimum (SloAccountingTest's next test): the models
    // alone.
    for (int i = 0; i < SloAccounting.MIN_LOAD_MISSES - 1; i++) {
      a.rejected(new Rejected(RejectReason.SLO, 2, 0, 4 * S));
    }
    SloAccounting.Load load = a.snapshot(policy).load();
    assertThat(load.capacity().batchSize()).isEqualTo(13);
    // 2 rows a request (80 rows over the 40 that ran): half the rows' capacity, in requests.
    assertThat(load.capacityPerSecond()).isCloseTo(13 / 8.5e-3 / 2, within(1e-6));
    assertThat(load.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    // 49 requests offered (the refused ones too) over the 5 s the version has lived.
    assertThat(load.offeredPerSecond()).isCloseTo(9.8, within(1e-9));
    assertThat(load.ratio()).isCloseTo(9.8 / (13 / 8.5e-3 / 2), within(1e-9));

    SloAccounting.Load tight =
        new SloAccounting(new SloConfig(4 * MS, 99, 0), 1, ledger, now::get)
            .snapshot(policy)
            .load();
    assertThat(tight.capacityPerSecond()).as("too tight: stated as 0").isZero();
    assertThat(tight.ratio()).as("no ratio: more replicas would not help").isNaN();
    SloAccounting.Load none =
        new SloAccounting(new SloConfig(0, 99, 0), 1, ledger, now::get).snapshot(POLICY).load();
    assertThat(none.capacity().state())
        .isEqualTo(dev.fulcrum.core.scheduler.SloCapacity.State.NONE);
    assertThat(none.capacityPerSecond()).isNaN();
    assertThat(none.ratio()).isNaN();
  }

  @Test
  void refusalsForLoadPastTheAllowanceCapTheCapacityAtWhatWasTaken() {
    // The reproduction's shape: passes that would take 765 requests a second, 15 offered, most of
    // them refused for the objective (the replica waits at each wake-up, which no model sees).
    PolicyState policy = warmPolicy();
    SloAccounting a = new SloAccounting(new SloConfig(20 * MS, 99, 0), 1, ledger, now::get);
    now.set(5 * S);
    for (int i = 0; i < 20; i++) {
      a.requestDone(new RequestDone(Outcome.SUCCESS, 2, 8, MS, 0, MS, 0, 2 * MS, 4 * S));
    }
    // Misses for load: refused at admission or dropped for the objective, the queue full, timed
    // out in the queue.
    for (int i = 0; i < 40; i++) {
      a.rejected(new Rejected(RejectReason.SLO, 2, 0, 4 * S));
    }
    a.rejected(new Rejected(RejectReason.QUEUE_FULL, 2, 0, 4 * S));
    a.requestDone(new RequestDone(Outcome.TIMED_OUT, 2, 0, 9, 0, 0, 0, 9, 4 * S));
    // Not misses for load: a late answer, a failure, best-effort refusals and timeouts.
    a.requestDone(new RequestDone(Outcome.SUCCESS, 2, 8, MS, 0, MS, 0, 30 * MS, 4 * S));
    a.requestDone(new RequestDone(Outcome.FAILED, 2, 8, MS, 0, MS, 0, 2 * MS, 4 * S));
    for (int i = 0; i < 6; i++) {
      a.rejected(new Rejected(RejectReason.SLO, 2, 0, 4 * S, true));
      a.requestDone(new RequestDone(Outcome.TIMED_OUT, 2, 0, 9, 0, 0, 0, 9, 4 * S, true));
    }

    SloAccounting.Window w = a.snapshot(policy).window("10s");
    assertThat(w.requests()).isEqualTo(20 + 42 + 2 + 12);
    assertThat(w.loadMisses()).isEqualTo(42);
    SloAccounting.Load load = a.snapshot(policy).load();
    assertThat(load.observed().requests()).as("the objective's requests").isEqualTo(64);
    assertThat(load.observed().loadMisses()).isEqualTo(42);
    assertThat(load.observed().missed()).isTrue();
    // 76 offered over 5 s; the objective's 64 requests, 22 of them taken: 0.99 x 64 / 22.
    double observed = 0.99 * 64 / 22;
    assertThat(load.bound()).isEqualTo(SloAccounting.Bound.OBSERVED);
    assertThat(load.ratio()).isCloseTo(observed, within(1e-9));
    assertThat(load.observedPerSecond()).isCloseTo(76 / 5.0 / observed, within(1e-9));
    assertThat(load.capacityPerSecond()).isEqualTo(load.observedPerSecond());
    // The pass bound still reported: 42 rows answered over the 22 requests that ran.
    assertThat(load.passesPerSecond()).isCloseTo(13 / 8.5e-3 * 22 / 42, within(1e-6));
    // The dashboard's per-second sample reads the same.
    assertThat(a.recent(policy).load().ratio()).isCloseTo(observed, within(1e-9));

    // Ten seconds on the window has forgotten the refusals, the load has fallen (an autoscaler
    // added replicas): the bound seen is held against the offered rate, 2 a second.
    double seen = 76 / 5.0 / observed;
    now.set(15 * S);
    for (int i = 0; i < 20; i++) {
      a.requestDone(new RequestDone(Outcome.SUCCESS, 2, 8, MS, 0, MS, 0, 2 * MS, 14 * S));
    }
    SloAccounting.Load later = a.snapshot(policy).load();
    assertThat(later.observed().missed()).isFalse();
    // The last window that missed: the whole seconds 4..13, rolled past at 14 s.
    assertThat(later.observed().heldSeconds()).isCloseTo(1, within(1e-9));
    assertThat(later.bound()).isEqualTo(SloAccounting.Bound.OBSERVED);
    assertThat(later.observedPerSecond()).isCloseTo(seen, within(1e-9));
    assertThat(later.ratio()).isCloseTo(2 / seen, within(1e-9));
    // Offered more than that without missing: the bound no longer holds, the models state it.
    now.set(25 * S);
    for (int i = 0; i < 60; i++) {
      a.requestDone(new RequestDone(Outcome.SUCCESS, 2, 8, MS, 0, MS, 0, 2 * MS, 24 * S));
    }
    SloAccounting.Load disproved = a.snapshot(policy).load();
    assertThat(disproved.offeredPerSecond()).isCloseTo(6, within(1e-9)).isGreaterThan(seen);
    assertThat(disproved.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(disproved.observedPerSecond()).isNaN();
    now.set(26 * S);
    assertThat(a.snapshot(policy).load().observedPerSecond()).as("dropped, not hidden").isNaN();
  }

  @Test
  void anObservedBoundIsHeldForTheLongestWindowAfterTheRefusalsThatShowedIt() {
    SloAccounting a = new SloAccounting(new SloConfig(20 * MS, 99, 0), 1, ledger, now::get);
    now.set(5 * S);
    for (int i = 0; i < 20; i++) {
      a.requestDone(success(2 * MS, 4 * S));
      a.rejected(new Rejected(RejectReason.SLO, 1, 0, 4 * S));
    }
    // 40 offered over 5 s, 20 taken: 8 a second, 0.99 x 40 / 20 = 1.98 times what it takes.
    double seen = 8 / 1.98;
    assertThat(a.snapshot(POLICY).observed().missed()).isTrue();
    for (long at : new long[] {100, 200, 5 + SloAccounting.HOLD_SECONDS}) {
      now.set(at * S);
      a.requestDone(success(2 * MS, (at - 1) * S)); // a trickle, within the objective
      SloAccounting.Observed o = a.snapshot(POLICY).observed();
      assertThat(o.heldPerSecond()).as("at %s s", at).isCloseTo(seen, within(1e-9));
      assertThat(o.heldSeconds()).isCloseTo(at - 5, within(1e-9));
    }
    now.set((6 + SloAccounting.HOLD_SECONDS) * S);
    assertThat(a.snapshot(POLICY).observed().heldPerSecond()).isNaN();
    assertThat(a.recent(POLICY).load().observedPerSecond()).isNaN();
  }

  @Test
  void theBoundHeldIsTheHighestOfAnOverloadNotTheWindowSlidingPastItsEnd() {
    SloAccounting a = new SloAccounting(new SloConfig(20 * MS, 99, 0), 1, ledger, now::get);
    // Overloaded for 10 s: each second 20 taken and 20 refused. Read at 10 s (the window 0..10 s):
    // 40 offered a second, 0.99 x 400 / 200 = 1.98, a bound of 40 / 1.98 = 20.2 a second.
    for (int second = 0; second < 10; second++) {
      for (int i = 0; i < 20; i++) {
        a.requestDone(success(2 * MS, second * S));
        a.rejected(new Rejected(RejectReason.SLO, 1, 0, second * S));
      }
    }
    now.set(10 * S);
    double overload = 40 / 1.98;
    assertThat(a.snapshot(POLICY).load().observedPerSecond()).isCloseTo(overload, within(1e-9));
    // It ends. At 15 s the window (5..15 s) holds 5 overloaded seconds and 5 quiet ones: it still
    // misses, and its own bound is what was taken over all 10 s, half that: 20 / 1.98.
    now.set(15 * S);
    SloAccounting.Load tail = a.snapshot(POLICY).load();
    assertThat(tail.observed().missed()).isTrue();
    assertThat(tail.observedPerSecond()).isCloseTo(20 / 1.98, within(1e-9));
    // At 20 s the overload has left the window and a trickle of 5 a second is taken: what is held
    // is the highest bound seen, the overload's, not the tail's. The last window that missed is
    // the whole seconds 9..18, rolled past when the trickle's second 19 began.
    for (int i = 0; i < 50; i++) {
      a.requestDone(success(2 * MS, 19 * S));
    }
    now.set(20 * S);
    SloAccounting.Load after = a.snapshot(POLICY).load();
    assertThat(after.observed().missed()).isFalse();
    assertThat(after.observed().heldPerSecond()).isCloseTo(overload, within(1e-9));
    assertThat(after.observed().heldSeconds()).isCloseTo(1, within(1e-9));
  }

  /**
   * An overload that no read saw (no scrape, no {@code /slo} in those seconds) is held all the
   * same: each second's first event rolls past the window before it. Until session 40 only a read
   * held a bound, and this one was never held.
   */
  @Test
  void anOverloadNoReadSawIsHeldAtTheRollIntoTheNextSecond() {
    SloAccounting a = new SloAccounting(new SloConfig(20 * MS, 99, 0), 1, ledger, now::get);
    for (int second = 0; second < 10; second++) {
      for (int i = 0; i < 20; i++) {
        a.requestDone(success(2 * MS, second * S));
        a.rejected(new Rejected(RejectReason.SLO, 1, 0, second * S));
      }
    }
    a.requestDone(success(2 * MS, 10 * S)); // second 10 begins: the window 0..9 s missed
    now.set(30 * S);
    SloAccounting.Observed o = a.snapshot(POLICY).observed();
    assertThat(o.missed()).as("the window 20..30 s is quiet").isFalse();
    assertThat(o.heldPerSecond()).isCloseTo(40 / 1.98, within(1e-9));
    assertThat(o.heldSeconds()).isCloseTo(20, within(1e-9));
    assertThat(a.snapshot(POLICY).load().observedPerSecond()).isCloseTo(40 / 1.98, within(1e-9));
  }

  @Test
  void bestEffortRequestsCountEverywhereButInAttainment() {
    SloAccounting a = new SloAccounting(new SloConfig(10 * MS, 99, 0), 1, ledger, now::get);
    now.set(5 * S);
    for (int i = 0; i < 9; i++) {
      a.requestDone(success(2 * MS, 4 * S));
    }
    a.requestDone(success(12 * MS, 4 * S)); // a standard request late: a miss
    // A batch job's requests, which wait behind every standard one: late, refused, timed out.
    for (int i = 0; i < 5; i++) {
      a.requestDone(
          new RequestDone(Outcome.SUCCESS, 2, 4, 40 * MS, 0, 10 * MS, 0, 50 * MS, 4 * S, true));
    }
    a.rejected(new Rejected(RejectReason.QUEUE_FULL, 1, 0, 4 * S, true));
    a.requestDone(new RequestDone(Outcome.TIMED_OUT, 1, 0, 9, 0, 0, 0, 9, 4 * S, true));

    SloAccounting.Window w = a.snapshot(POLICY).window("10s");
    assertThat(w.requests()).isEqualTo(17);
    assertThat(w.bestEffort()).isEqualTo(7);
    assertThat(w.withinSlo()).isEqualTo(9);
    assertThat(w.attainment()).as("the standard requests only").isEqualTo(0.9);
    assertThat(w.predictions()).as("every answered row").isEqualTo(10 + 10);
    assertThat(w.rejected()).isEqualTo(1);
    assertThat(w.timedOut()).isEqualTo(1);

    SloAccounting only = new SloAccounting(new SloConfig(10 * MS, 99, 0), 1, ledger, now::get);
    only.requestDone(
        new RequestDone(Outcome.SUCCESS, 1, 1, 0, 0, 50 * MS, 0, 50 * MS, 4 * S, true));
    assertThat(only.snapshot(POLICY).window("10s").attainment())
        .as("no request the objective applies to: not defined")
        .isNaN();
  }

  @Test
  void attainmentCountsRejectionsAndTimeoutsAsMisses() {
    SloAccounting a = new SloAccounting(new SloConfig(10 * MS, 99, 0), 1, ledger, now::get);
    now.set(5 * S);
    for (int i = 0; i < 96; i++) {
      a.requestDone(success(2 * MS, 4 * S));
    }
    a.requestDone(success(12 * MS, 4 * S)); // late
    a.rejected(new Rejected(RejectReason.SLO, 1, 0, 4 * S));
    a.rejected(new Rejected(RejectReason.QUEUE_FULL, 1, 0, 4 * S));
    a.requestDone(new RequestDone(Outcome.TIMED_OUT, 1, 0, 9, 0, 0, 0, 9, 4 * S));
    a.requestDone(new RequestDone(Outcome.CANCELLED, 1, 0, 9, 0, 0, 0, 9, 4 * S)); // not counted

    SloAccounting.Snapshot s = a.snapshot(POLICY);
    SloAccounting.Window w = s.window("10s");
    assertThat(w.requests()).isEqualTo(100);
    assertThat(w.withinSlo()).isEqualTo(96);
    assertThat(w.attainment()).isEqualTo(0.96);
    assertThat(w.rejected()).isEqualTo(2);
    assertThat(w.sloRejected()).isEqualTo(1);
    assertThat(w.timedOut()).isEqualTo(1);
    assertThat(w.p50Ms()).isCloseTo(2, within(0.2));
    assertThat(w.p99Ms()).isCloseTo(12, within(1.2));
    assertThat(s.window("start").requests()).isEqualTo(100);
    assertThat(s.policy()).isEqualTo(POLICY);

    // Ten seconds later the 10 s window has forgotten them; the longer ones have not.
    now.set(15 * S);
    s = a.snapshot(POLICY);
    assertThat(s.window("10s").requests()).isZero();
    assertThat(s.window("10s").attainment()).isNaN();
    assertThat(s.window("60s").requests()).isEqualTo(100);
    assertThat(s.window("start").attainment()).isEqualTo(0.96);
  }

  @Test
  void aResponseCacheHitIsARequestAnsweredInItsLookupTime() {
    SloAccounting a = new SloAccounting(new SloConfig(10 * MS, 99, 0), 1, ledger, now::get);
    now.set(5 * S);
    a.requestDone(success(12 * MS, 5 * S)); // the miss that ran: late
    a.cacheLookup(false, 1, 20_000); // counted by its requestDone, not here
    now.set(5_500 * MS);
    a.cacheLookup(true, 3, 20_000); // two hits of 3 rows, 20 µs each
    a.cacheLookup(true, 3, 20_000);

    SloAccounting.Window w = a.snapshot(POLICY).window("10s");
    assertThat(w.requests()).isEqualTo(3);
    assertThat(w.withinSlo()).isEqualTo(2);
    assertThat(w.p50Ms()).isCloseTo(0.02, within(0.005));
    assertThat(a.snapshot(POLICY).window("start").requests()).isEqualTo(3);
  }

  @Test
  void costIsThePriceOfTheWindowTimesTheModelsShareOverItsPredictions() {
    // $3.60 an hour is $0.001 a second. Two models: A computes 300 ms, B 100 ms in the last 10 s.
    SloAccounting a = new SloAccounting(new SloConfig(10 * MS, 99, 3.6), 2, ledger, now::get);
    SloAccounting b = new SloAccounting(new SloConfig(0, 99, 3.6), 1, ledger, now::get);
    now.set(20 * S);
    for (int i = 0; i < 1000; i++) {
      a.requestDone(success(MS, 15 * S));
    }
    for (int i = 0; i < 3; i++) {
      a.batchDone(new BatchDone(8, 8, 0, 100 * MS, 0, 15 * S));
    }
    b.batchDone(new BatchDone(8, 8, 0, 100 * MS, 0, 16 * S));

    SloAccounting.Window w = a.snapshot(POLICY).window("10s");
    assertThat(w.seconds()).isEqualTo(10);
    assertThat(w.throughput()).isEqualTo(100);
    // 10 s × $0.001 × 3/4 share / 1000 predictions × 1e6 = $7.50 per million.
    assertThat(w.costPerMillionUsd()).isCloseTo(7.5, within(1e-9));
    // 300 ms busy over 10 s of 2 instances.
    assertThat(w.utilization()).isCloseTo(0.015, within(1e-9));
    // Without an objective there is no attainment; without a price, no cost.
    assertThat(b.snapshot(POLICY).window("10s").attainment()).isNaN();
    SloAccounting unpriced = new SloAccounting(SloConfig.NONE, 1, ledger, now::get);
    unpriced.requestDone(success(MS, 19 * S));
    assertThat(unpriced.snapshot(POLICY).window("10s").costPerMillionUsd()).isNaN();
  }

  @Test
  void aPredictionsCostIsThatOfTheLast10WholeSecondsOnceASecond() {
    // $3.60 an hour is $0.001 a second; the model is alone on the machine (share 1).
    SloAccounting a = new SloAccounting(new SloConfig(0, 99, 3.6), 1, ledger, now::get);
    now.set(20 * S + 500 * MS);
    predictions(a, 1000, 15 * S);
    a.batchDone(batch(300 * MS, 15 * S));
    // Seconds 10..19: 10 s × $0.001 / 1000 predictions.
    assertThat(a.costPerPredictionUsd()).isCloseTo(1e-5, within(1e-15));
    // The whole second is charged that rate, whatever is counted meanwhile.
    predictions(a, 1000, 20 * S);
    assertThat(a.costPerPredictionUsd()).isCloseTo(1e-5, within(1e-15));
    // The next second: seconds 11..20 hold 2000 predictions.
    now.set(21 * S);
    assertThat(a.costPerPredictionUsd()).isCloseTo(5e-6, within(1e-15));
    // After 30 idle seconds the 10 s hold none: the 60 s window (seconds 0..50) charges the idle
    // time to the predictions it holds.
    now.set(51 * S + 100 * MS);
    predictions(a, 1, 51 * S);
    assertThat(a.costPerPredictionUsd()).isCloseTo(0.001 * 51 / 2000, within(1e-15));
    // No price, no cost.
    SloAccounting unpriced = new SloAccounting(SloConfig.NONE, 1, ledger, now::get);
    unpriced.requestDone(success(MS, 51 * S));
    assertThat(unpriced.costPerPredictionUsd()).isNaN();
  }

  @Test
  void aVersionsFirstSecondOfTrafficIsChargedAsSloShowsItThen() {
    now.set(30 * S + 200 * MS);
    SloAccounting a = new SloAccounting(new SloConfig(0, 99, 3.6), 1, ledger, now::get);
    now.set(30 * S + 400 * MS);
    predictions(a, 4, 30 * S + 300 * MS);
    a.batchDone(batch(MS, 30 * S + 300 * MS));
    double shown = a.snapshot(POLICY).window("10s").costPerMillionUsd();
    // 200 ms of the machine over 4 predictions.
    assertThat(shown / 1e6).isCloseTo(0.001 * 0.2 / 4, within(1e-15));
    assertThat(a.costPerPredictionUsd()).isCloseTo(shown / 1e6, within(1e-15));
  }

  @Test
  void atTheStartOfASecondSlosWindowAndAPredictionsCostAreTheSameFigure() {
    // With nothing counted yet in the second in progress, the 10 s window that /slo shows (and the
    // metrics export) covers the same time and compute as the 10 whole seconds a request's
    // cost_usd is charged from: the two must agree while the version is younger than the window
    // (both count from its start) and after.
    SloConfig priced = new SloConfig(0, 99, 3.6);
    SloAccounting other = new SloAccounting(priced, 1, ledger, now::get);
    other.batchDone(batch(400 * MS, 3 * S)); // before the version started: in no figure of its
    now.set(4_300 * MS);
    SloAccounting young = new SloAccounting(priced, 1, ledger, now::get);
    other.batchDone(batch(200 * MS, 4_600 * MS)); // in the version's first second, after it
    young.batchDone(batch(100 * MS, 6 * S));
    predictions(young, 500, 6 * S);
    other.batchDone(batch(100 * MS, 8 * S));
    now.set(9 * S);
    // 4.7 s since the start, 100 ms of the machine's 400 ms since then, 500 predictions.
    assertThat(young.snapshot(POLICY).window("10s").costPerMillionUsd())
        .isCloseTo(0.001 * 4.7 / 4 / 500 * 1e6, within(1e-9));
    assertSameFigure(young, 9);
    assertSameFigure(young, 12);
    young.batchDone(batch(100 * MS, 15 * S));
    predictions(young, 500, 15 * S);
    other.batchDone(batch(300 * MS, 16 * S));
    assertSameFigure(young, 20); // seconds 10..19: no longer younger than the window
  }

  private void assertSameFigure(SloAccounting a, long second) {
    now.set(second * S);
    double shown = a.snapshot(POLICY).window("10s").costPerMillionUsd();
    assertThat(shown).as("at %d s", second).isPositive();
    assertThat(a.costPerPredictionUsd())
        .as("at %d s", second)
        .isCloseTo(shown / 1e6, within(1e-15));
  }

  @Test
  void underASteadyLoadTheRequestsCostsAddUpToTheWindowsCost() {
    // A model alone on the machine, 50 requests of 2 rows a second for 40 s, each pass 4 ms; each
    // request is charged when it is answered, as the server charges a timed request.
    SloAccounting a = new SloAccounting(new SloConfig(0, 99, 3.6), 1, ledger, now::get);
    double[] charged = new double[40];
    for (int second = 0; second < 40; second++) {
      for (int i = 0; i < 50; i++) {
        long at = second * S + i * 20 * MS + 10 * MS;
        now.set(at);
        a.batchDone(batch(4 * MS, at));
        a.requestDone(new RequestDone(Outcome.SUCCESS, 2, 2, MS, 0, 4 * MS, 0, 5 * MS, at, false));
        charged[second] += 2 * a.costPerPredictionUsd();
      }
    }
    now.set(40 * S - 1);
    SloAccounting.Window w = a.snapshot(POLICY).window("10s");
    // The window holds seconds 29..39 (the second in progress is 39).
    double sum = 0;
    for (int second = 29; second < 40; second++) {
      sum += charged[second];
    }
    double billed = w.costPerMillionUsd() * w.predictions() / 1e6;
    // $0.001 a second over the window's 11 s of wall time.
    assertThat(billed).isCloseTo(0.011, within(1e-4));
    assertThat(sum).isCloseTo(billed, within(billed * 0.02));
  }

  private static BatchDone batch(long compute, long at) {
    return new BatchDone(8, 8, 0, compute, 0, at);
  }

  private void predictions(SloAccounting a, int n, long at) {
    for (int i = 0; i < n; i++) {
      a.requestDone(success(MS, at));
    }
  }

  /** The share of the machine a window was costed with, from its cost at $3.60 an hour. */
  private static double share(SloAccounting.Window w) {
    return w.costPerMillionUsd() * w.predictions() / 1e6 / (0.001 * w.seconds());
  }

  @Test
  void aVersionYoungerThanTheWindowIsCostedOnTheMachinesComputeSinceItStarted() {
    // "other" stands for the previous version of the model and every other model: it computes
    // 900 ms at 5 s and 500 ms at 20.2 s, before the new version starts at 20.5 s.
    SloConfig priced = new SloConfig(0, 99, 3.6);
    SloAccounting other = new SloAccounting(priced, 1, ledger, now::get);
    other.batchDone(batch(900 * MS, 5 * S));
    other.batchDone(batch(500 * MS, 20_200 * MS));
    now.set(20_500 * MS);
    SloAccounting young = new SloAccounting(priced, 1, ledger, now::get);
    // Since then: the other computes 100 ms (in the very second the version started) and 100 ms,
    // the new version 100 ms: its share is 1/3, in every window, as all are older than it.
    other.batchDone(batch(100 * MS, 20_800 * MS));
    young.batchDone(batch(100 * MS, 22 * S));
    predictions(young, 1000, 22 * S);
    other.batchDone(batch(100 * MS, 25 * S));

    now.set(30 * S);
    SloAccounting.Snapshot s = young.snapshot(POLICY);
    for (String window : List.of("10s", "60s", "300s", "start")) {
      SloAccounting.Window w = s.window(window);
      assertThat(w.seconds()).as(window).isCloseTo(9.5, within(1e-9));
      // 9.5 s × $0.001 × 1/3 / 1000 predictions × 1e6.
      assertThat(w.costPerMillionUsd()).as(window).isCloseTo(9.5 / 3, within(1e-9));
    }

    // Ten seconds later the 10 s window is younger than the version: whole seconds, as before.
    young.batchDone(batch(100 * MS, 35 * S));
    predictions(young, 1000, 35 * S);
    other.batchDone(batch(300 * MS, 36 * S));
    now.set(40 * S);
    s = young.snapshot(POLICY);
    assertThat(s.window("10s").seconds()).isEqualTo(10);
    assertThat(share(s.window("10s"))).isCloseTo(0.25, within(1e-9));
    // Since the start: 200 ms of the machine's 700 ms over 19.5 s and 2000 predictions.
    assertThat(s.window("start").seconds()).isCloseTo(19.5, within(1e-9));
    assertThat(share(s.window("start"))).isCloseTo(2.0 / 7, within(1e-9));
    assertThat(share(s.window("60s"))).isCloseTo(2.0 / 7, within(1e-9));
  }

  @Test
  void onAServerOlderThanTheRingTheSharesSinceStartAreEachModelsComputeShare() {
    SloConfig priced = new SloConfig(0, 99, 3.6);
    SloAccounting a = new SloAccounting(priced, 1, ledger, now::get);
    SloAccounting b = new SloAccounting(priced, 1, ledger, now::get);
    // At 10 s A computes 300 ms and B 100 ms; at 400 s, long after the ledger's ring forgot
    // second 10, each computes 100 ms.
    a.batchDone(batch(300 * MS, 10 * S));
    predictions(a, 1000, 10 * S);
    b.batchDone(batch(100 * MS, 10 * S));
    predictions(b, 1000, 10 * S);
    now.set(400 * S);
    a.batchDone(batch(100 * MS, 400 * S));
    predictions(a, 1000, 400 * S);
    b.batchDone(batch(100 * MS, 405 * S));
    predictions(b, 100, 405 * S);
    assertThat(410 * S).isGreaterThan(ComputeLedger.SECONDS * S);

    now.set(410 * S);
    SloAccounting.Snapshot sa = a.snapshot(POLICY);
    SloAccounting.Snapshot sb = b.snapshot(POLICY);
    // Since start: A 400 ms and B 200 ms of the machine's 600 ms.
    assertThat(share(sa.window("start"))).isCloseTo(2.0 / 3, within(1e-9));
    assertThat(share(sb.window("start"))).isCloseTo(1.0 / 3, within(1e-9));
    for (String window : List.of("10s", "60s", "300s", "start")) {
      double sum = share(sa.window(window)) + share(sb.window(window));
      assertThat(sum).as(window).isLessThanOrEqualTo(1 + 1e-9);
    }
    // The rolling windows hold only the last 100 ms of each.
    assertThat(share(sa.window("300s"))).isCloseTo(0.5, within(1e-9));
  }
}
