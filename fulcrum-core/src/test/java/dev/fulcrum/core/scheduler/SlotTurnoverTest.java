package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The slot hint's arithmetic: {@code position × mean lifetime / slots}, clamped; none too soon. */
class SlotTurnoverTest {
  private static final long SECOND = 1_000_000_000L;

  @Test
  void noHintUntilEnoughSequencesHaveEnded() {
    SlotTurnover t = new SlotTurnover();
    for (int i = 1; i < SlotTurnover.MIN_ENDED; i++) {
      t.ended(2 * SECOND);
      assertThat(t.untilSlot(1, 1)).as("after %d ended", i).isNull();
    }
    t.ended(2 * SECOND);
    assertThat(t.untilSlot(1, 1)).isEqualTo(Duration.ofSeconds(2));
  }

  @Test
  void theKthWaitingSequenceGetsASlotAfterKMeanLifetimesOverTheSlots() {
    SlotTurnover t = new SlotTurnover();
    for (int i = 0; i < SlotTurnover.MIN_ENDED; i++) {
      t.ended((i % 2 == 0 ? 1 : 3) * SECOND); // mean 2 s
    }
    assertThat(t.untilSlot(1, 4)).isEqualTo(Duration.ofMillis(500));
    assertThat(t.untilSlot(3, 4)).isEqualTo(Duration.ofMillis(1500));
    assertThat(t.untilSlot(3, 1)).isEqualTo(Duration.ofSeconds(6));
  }

  @Test
  void clampedAsTheOtherHints() {
    SlotTurnover t = new SlotTurnover();
    for (int i = 0; i < SlotTurnover.MIN_ENDED; i++) {
      t.ended(SECOND / 1000);
    }
    assertThat(t.untilSlot(1, 8)).isEqualTo(DrainEstimate.MIN);
    assertThat(t.untilSlot(1_000_000, 1)).isEqualTo(DrainEstimate.MAX);
  }

  @Test
  void theMeanIsOverTheLatestWindowOfLifetimes() {
    SlotTurnover t = new SlotTurnover();
    for (int i = 0; i < SlotTurnover.WINDOW; i++) {
      t.ended(9 * SECOND);
    }
    for (int i = 0; i < SlotTurnover.WINDOW; i++) {
      t.ended(SECOND);
    }
    assertThat(t.ended()).isEqualTo(2L * SlotTurnover.WINDOW);
    assertThat(t.untilSlot(1, 1))
        .as("the 9 s lifetimes left the window")
        .isEqualTo(Duration.ofSeconds(1));
    t.ended(Long.MAX_VALUE); // a day at most: the sum does not overflow
    assertThat(t.untilSlot(1, 1)).isEqualTo(DrainEstimate.MAX);
  }
}
