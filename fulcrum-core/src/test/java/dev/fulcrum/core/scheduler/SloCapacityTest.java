package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The capacity at the objective from synthetic pass-time tables: every figure is worked by hand.
 */
class SloCapacityTest {
  private static final long MS = 1_000_000;

  /**
   * A table of sizes 1..max with mean a + c·b nanoseconds, planned at {@code spread} times the
   * mean, {@code samples} passes each.
   */
  private static List<PolicyState.PassTime> linear(
      int max, double a, double c, double spread, long samples) {
    List<PolicyState.PassTime> table = new ArrayList<>();
    for (int b = 1; b <= max; b++) {
      double mean = a + c * b;
      table.add(new PolicyState.PassTime(b, Math.round(mean), Math.round(spread * mean), samples));
    }
    return table;
  }

  @Test
  void oneInstanceServesTheLargestBatchWhosePassAheadAndOwnPassFitTheDeadline() {
    // 20 ms objective: deadline 19 ms (the 1 ms margin). Pass 2 ms + 0.5 ms a row, planned at
    // 1.2 x the mean. One instance: mean + 1.2 mean = 2.2 (2 + 0.5 b) <= 19 -> b <= 13.27.
    SloCapacity c = SloCapacity.of(20 * MS, 1, linear(32, 2 * MS, 0.5 * MS, 1.2, 10));
    assertThat(c.state()).isEqualTo(SloCapacity.State.KNOWN);
    assertThat(c.batchSize()).isEqualTo(13);
    assertThat(c.rowsPerSecond()).isCloseTo(13 / 8.5e-3, within(1e-6));
    assertThat(c.stated()).isTrue();
  }

  @Test
  void severalInstancesWaitForAShareOfThePassAheadAndServeInParallel() {
    // Two instances: the pass ahead frees up every mean / 2: 0.5 mean + 1.2 mean = 1.7 mean <= 19
    // -> mean <= 11.18 ms -> b <= 18.35; two instances of 18 rows each 11 ms.
    SloCapacity two = SloCapacity.of(20 * MS, 2, linear(32, 2 * MS, 0.5 * MS, 1.2, 10));
    assertThat(two.batchSize()).isEqualTo(18);
    assertThat(two.rowsPerSecond()).isCloseTo(2 * 18 / 11e-3, within(1e-6));
    // Four: 0.25 + 1.2 = 1.45 mean <= 19 -> mean <= 13.10 ms -> b <= 22.2.
    SloCapacity four = SloCapacity.of(20 * MS, 4, linear(32, 2 * MS, 0.5 * MS, 1.2, 10));
    assertThat(four.batchSize()).isEqualTo(22);
    assertThat(four.rowsPerSecond()).isCloseTo(4 * 22 / 13e-3, within(1e-6));
  }

  @Test
  void aLooseObjectiveIsBoundByTheLargestBatch() {
    SloCapacity c = SloCapacity.of(1000 * MS, 1, linear(8, 2 * MS, 0.5 * MS, 1.2, 20));
    assertThat(c.batchSize()).isEqualTo(8);
    assertThat(c.rowsPerSecond()).isCloseTo(8 / 6e-3, within(1e-6));
    assertThat(c.requestsPerSecond(2)).isCloseTo(4 / 6e-3, within(1e-6));
    assertThat(c.requestsPerSecond(0.5)).as("never more requests than rows").isEqualTo(8 / 6e-3);
  }

  @Test
  void anObjectiveTooTightForOneRowWithAPassAheadHasCapacityZeroAndSaysSo() {
    // 4 ms: deadline 3.8 ms; one row: 2.5 ms ahead + 3 ms its own = 5.5 ms.
    SloCapacity c = SloCapacity.of(4 * MS, 1, linear(32, 2 * MS, 0.5 * MS, 1.2, 10));
    assertThat(c.state()).isEqualTo(SloCapacity.State.TOO_TIGHT);
    assertThat(c.rowsPerSecond()).isZero();
    assertThat(c.batchSize()).isZero();
    assertThat(c.stated()).as("0 is a statement").isTrue();
    assertThat(c.state().label()).isEqualTo("too tight");
  }

  @Test
  void nothingIsStatedBeforeThePolicyIsWarmOrWithoutAnObjective() {
    // 3 sizes x 33 passes = 99: one short of the policy's warm-up.
    List<PolicyState.PassTime> cold = linear(3, 2 * MS, 0.5 * MS, 1.2, 33);
    assertThat(SloCapacity.of(20 * MS, 1, cold).state()).isEqualTo(SloCapacity.State.LEARNING);
    assertThat(SloCapacity.of(20 * MS, 1, List.of()).state()).isEqualTo(SloCapacity.State.LEARNING);
    assertThat(SloCapacity.of(20 * MS, 1, linear(3, 2 * MS, 0.5 * MS, 1.2, 34)).state())
        .isEqualTo(SloCapacity.State.KNOWN);
    SloCapacity none = SloCapacity.of(0, 1, linear(8, 2 * MS, 0.5 * MS, 1.2, 100));
    assertThat(none).isEqualTo(SloCapacity.NONE);
    assertThat(none.stated()).isFalse();
  }

  @Test
  void theBestThroughputWinsWhereALargerBatchCostsMorePerRow() {
    // Sizes 1-4 in one 4 ms pass (4 rows: 1,000/s), then a cliff: 5-8 in 10 ms (8 rows: 800/s).
    List<PolicyState.PassTime> table = new ArrayList<>();
    for (int b = 1; b <= 8; b++) {
      long mean = b <= 4 ? 4 * MS : 10 * MS;
      table.add(new PolicyState.PassTime(b, mean, mean, 50));
    }
    SloCapacity c = SloCapacity.of(1000 * MS, 1, table);
    assertThat(c.batchSize()).isEqualTo(4);
    assertThat(c.rowsPerSecond()).isCloseTo(1000, within(1e-9));
  }

  @Test
  void fromAPassTimeModelFedLinearPasses() {
    // The learned table itself: 2 ms + 0.25 ms a row, every size 1..16 run 50 times with a
    // little spread; at 99 % the planned time is the mean plus 2.33 of its deviations.
    PassTimeModel model = new PassTimeModel(16, 99);
    java.util.Random random = new java.util.Random(7);
    for (int i = 0; i < 50; i++) {
      for (int b = 1; b <= 16; b++) {
        double mean = 2 * MS + 0.25 * MS * b;
        model.record(b, Math.round(mean * (1 + 0.02 * (random.nextDouble() - 0.5))));
      }
    }
    List<PolicyState.PassTime> table = model.table();
    SloCapacity loose = SloCapacity.of(1000 * MS, 2, table);
    assertThat(loose.batchSize()).isEqualTo(16);
    assertThat(loose.rowsPerSecond()).isCloseTo(2 * 16 / 6e-3, within(2 * 16 / 6e-3 * 0.02));
    // 12 ms: deadline 11.4 ms; with 2 instances 0.5 mean + planned (about the mean: tiny spread)
    // <= 11.4 -> mean <= about 7.5 ms -> b about 22: bound by 16 still. 8 ms: deadline 7.6 ms ->
    // mean <= about 5 ms -> b about 12.
    SloCapacity tight = SloCapacity.of(8 * MS, 2, table);
    assertThat(tight.state()).isEqualTo(SloCapacity.State.KNOWN);
    assertThat(tight.batchSize()).isBetween(10, 12);
    PolicyState.PassTime at = table.get(tight.batchSize() - 1);
    assertThat(at.meanNanos() / 2.0 + at.quantileNanos()).isLessThanOrEqualTo(7.6 * MS);
    PolicyState.PassTime next = table.get(tight.batchSize());
    assertThat(next.meanNanos() / 2.0 + next.quantileNanos()).isGreaterThan(7.6 * MS);
  }
}
