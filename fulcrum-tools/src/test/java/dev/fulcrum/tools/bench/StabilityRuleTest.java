package dev.fulcrum.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

class StabilityRuleTest {
  private final StabilityRule rule = new StabilityRule(10);

  /** A one-second window with {@code ok} successes whose p99 is about {@code p99Ms}. */
  private static WindowStats window(long ok, long p99Ms) {
    Histogram h = new Histogram(3);
    h.recordValueWithCount(p99Ms * 1_000_000, Math.max(1, ok));
    return new WindowStats(1_000_000_000L, h, h.copy(), Map.of(Outcome.OK, ok), ok, 0, 0);
  }

  @Test
  void needsThreeWindows() {
    assertThat(rule.isStable(List.of(window(100, 5), window(100, 5)))).isFalse();
    assertThat(rule.isStable(List.of(window(100, 5), window(100, 5), window(100, 5)))).isTrue();
  }

  @Test
  void onlyTheLastThreeCount() {
    List<WindowStats> w = new ArrayList<>(List.of(window(10, 50), window(100, 5)));
    w.add(window(104, 5));
    w.add(window(96, 5));
    assertThat(rule.isStable(w)).isTrue();
  }

  @Test
  void throughputOutsideTheBandIsUnstable() {
    assertThat(rule.isStable(List.of(window(100, 5), window(100, 5), window(130, 5)))).isFalse();
  }

  @Test
  void p99OutsideTheBandIsUnstableEvenAtSteadyThroughput() {
    assertThat(rule.isStable(List.of(window(100, 5), window(100, 5), window(100, 8)))).isFalse();
  }

  @Test
  void windowsWithoutSuccessesAreNeverStable() {
    assertThat(rule.isStable(List.of(window(0, 5), window(0, 5), window(0, 5)))).isFalse();
  }

  @Test
  void aWiderBandAcceptsMore() {
    List<WindowStats> w = List.of(window(100, 5), window(100, 5), window(130, 5));
    assertThat(new StabilityRule(20).isStable(w)).isTrue();
  }
}
