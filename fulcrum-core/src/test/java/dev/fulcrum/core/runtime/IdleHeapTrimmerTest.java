package dev.fulcrum.core.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The trimmer's decision, look by look, with a counted fake trim; no thread, no timing. */
class IdleHeapTrimmerTest {
  private final AtomicLong answered = new AtomicLong();
  private final AtomicBoolean busy = new AtomicBoolean();
  private final AtomicInteger trims = new AtomicInteger();
  private final IdleHeapTrimmer trimmer =
      new IdleHeapTrimmer(Duration.ofSeconds(10), answered::get, busy::get, trims::incrementAndGet);

  @Test
  void aServerUnderLoadIsNeverTrimmed() {
    for (int i = 0; i < 20; i++) {
      answered.addAndGet(200_000); // 20k answers a second between looks
      assertThat(trimmer.look()).isFalse();
    }
    assertThat(trims).hasValue(0);
  }

  @Test
  void theFirstLookOnlyNotesTheCount() {
    assertThat(trimmer.look()).isFalse();
    assertThat(trimmer.look()).isTrue();
  }

  @Test
  void aWholeIntervalWithNothingAnsweredTrimsAndIdleLooksTrimAgain() {
    answered.set(5);
    trimmer.look();
    answered.set(9); // the load ends within this interval: not yet
    assertThat(trimmer.look()).isFalse();
    assertThat(trimmer.look()).isTrue(); // a whole interval with nothing answered
    assertThat(trimmer.look()).isTrue(); // idle still: memory a slow client's body took goes too
    answered.incrementAndGet();
    assertThat(trimmer.look()).isFalse(); // one answer is activity
    assertThat(trims).hasValue(2);
  }

  @Test
  void aRequestInFlightKeepsTheHeapAsItIs() {
    trimmer.look();
    busy.set(true); // a long pass, nothing answered since the last look
    assertThat(trimmer.look()).isFalse();
    busy.set(false);
    assertThat(trimmer.look()).isTrue();
  }

  @Test
  void aCountThatFallsIsActivityToo() {
    answered.set(100);
    trimmer.look();
    answered.set(40); // a version unloaded: its counts left the sum
    assertThat(trimmer.look()).isFalse();
  }

  @Test
  void theIntervalMustBePositive() {
    assertThatThrownBy(() -> new IdleHeapTrimmer(Duration.ZERO, () -> 0, () -> false, () -> {}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("positive");
  }

  @Test
  void theNativeHeapTrimRunsWhereTheCLibraryHasIt() {
    NativeHeap.trim(); // returns, or does nothing where it is not available; never throws
  }
}
