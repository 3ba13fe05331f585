package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The retry hint from fake pass times: rounds of batches ahead times the mean pass, clamped. */
class DrainEstimateTest {
  private static final long MS = 1_000_000L;

  @Test
  void noHintBeforeAPassIsMeasured() {
    DrainEstimate d = new DrainEstimate(8, 1);
    assertThat(d.untilServed(100)).isNull();
    d.passFinished(-1); // a pass rerun member by member is not a timing
    assertThat(d.untilServed(100)).isNull();
  }

  @Test
  void roundsOfFullBatchesOverTheInstancesTimesThePass() {
    DrainEstimate d = new DrainEstimate(8, 2);
    d.passFinished(400 * MS);
    // 33 rows: 5 batches of 8, over 2 instances: 3 rounds of 400 ms.
    assertThat(d.untilServed(33)).isEqualTo(Duration.ofMillis(1200));
    // One row still waits one pass.
    assertThat(d.untilServed(1)).isEqualTo(Duration.ofMillis(400));
    assertThat(d.untilServed(0)).isEqualTo(Duration.ofMillis(400));
  }

  @Test
  void aSequencesTurnComesOneRoundAfterAnother() {
    DrainEstimate d = new DrainEstimate(8, 2);
    d.passFinished(400 * MS);
    // 20 open sequences: a round is 3 batches over 2 instances, 2 passes; the 3rd round ends at 6.
    assertThat(d.inRounds(3, 20)).isEqualTo(Duration.ofMillis(2400));
    // One open sequence: a pass a round, however empty the batch.
    assertThat(d.inRounds(3, 1)).isEqualTo(Duration.ofMillis(1200));
    assertThat(new DrainEstimate(8, 2).inRounds(3, 1)).as("not measured").isNull();
  }

  @Test
  void withoutBatchingEachRowIsAPass() {
    DrainEstimate d = new DrainEstimate(0, 1);
    d.passFinished(20 * MS);
    assertThat(d.untilServed(6)).isEqualTo(Duration.ofMillis(120));
  }

  @Test
  void thePassIsAMovingAverage() {
    DrainEstimate d = new DrainEstimate(1, 1);
    d.passFinished(100 * MS);
    d.passFinished(200 * MS); // 100 + 0.05 * 100
    assertThat(d.untilServed(1)).isEqualTo(Duration.ofMillis(105));
  }

  @Test
  void clampedToAHundredMillisecondsAndTenSeconds() {
    DrainEstimate d = new DrainEstimate(4, 1);
    d.passFinished(MS);
    assertThat(d.untilServed(4)).isEqualTo(DrainEstimate.MIN).isEqualTo(Duration.ofMillis(100));
    assertThat(d.untilServed(1_000_000)).isEqualTo(DrainEstimate.MAX);
    assertThat(DrainEstimate.MAX).isEqualTo(Duration.ofSeconds(10));
  }
}
