package dev.fulcrum.tools.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

class WarmUpTest {
  /** Passes that return these rates in order. */
  private static WarmUp.Pass rates(Double... r) {
    Iterator<Double> it = List.of(r).iterator();
    return it::next;
  }

  @Test
  void keepsPassingWhileTheServerGetsFaster() throws Exception {
    // the image model's first trials in session 22: 4.5k, 9.8k, 18.2k, then level
    assertThat(WarmUp.run(rates(4469.0, 9848.0, 18166.0, 18500.0, 30000.0), 8))
        .containsExactly(4469.0, 9848.0, 18166.0, 18500.0);
  }

  @Test
  void threePassesAtLeastEvenWhenTheSecondLooksLevel() throws Exception {
    // a second pass no faster than the first is not yet a plateau
    assertThat(WarmUp.run(rates(20000.0, 19000.0, 19500.0, 40000.0), 8)).hasSize(3);
    // the image model's exhaustive sweep in session 22: still rising at the third pass
    assertThat(WarmUp.run(rates(14941.0, 25238.0, 31645.0, 44697.0, 41832.0, 90000.0), 8))
        .containsExactly(14941.0, 25238.0, 31645.0, 44697.0, 41832.0);
  }

  @Test
  void aGainOfFivePercentOrLessEndsIt() throws Exception {
    assertThat(WarmUp.run(rates(100.0, 100.0, 105.0, 200.0), 8)).hasSize(3);
    assertThat(WarmUp.run(rates(100.0, 100.0, 105.1, 106.0), 8)).hasSize(4);
  }

  @Test
  void stopsAtTheCap() throws Exception {
    assertThat(WarmUp.run(rates(1.0, 2.0, 4.0, 8.0, 16.0), 3)).containsExactly(1.0, 2.0, 4.0);
    assertThat(WarmUp.run(rates(1.0, 2.0), 1)).containsExactly(1.0);
    assertThatThrownBy(() -> WarmUp.run(rates(1.0), 0))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
