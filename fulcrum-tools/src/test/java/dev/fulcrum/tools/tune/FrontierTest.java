package dev.fulcrum.tools.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class FrontierTest {
  private static final Objective NONE = new Objective(null, null, 0);

  private static Trial trial(Objective o, int batch, double throughput, double p99) {
    return o.judge(
        new Knobs(batch, 0, 1, 1, false),
        List.of(new LevelPoint("c=1", throughput, p99 / 2, p99, 1000, 0, 1000)));
  }

  @Test
  void frontierKeepsExactlyTheUndominatedTrials() {
    Trial fastSlow = trial(NONE, 1, 1000, 10);
    Trial slowFast = trial(NONE, 2, 200, 1);
    Trial middle = trial(NONE, 4, 600, 4);
    Trial dominated = trial(NONE, 8, 500, 5); // middle is faster and lower
    Trial tiedWorse = trial(NONE, 16, 1000, 12); // fastSlow: as fast, lower p99
    List<Trial> frontier = Frontier.of(List.of(dominated, fastSlow, tiedWorse, slowFast, middle));
    assertThat(frontier).containsExactly(fastSlow, middle, slowFast);
  }

  @Test
  void costIsAnAxisWhenTrialsArePricedDifferently() {
    Objective priced = new Objective(null, null, 3.6);
    Trial a = trial(priced, 1, 1000, 10);
    assertThat(a.costPerMillion()).isCloseTo(1.0, within(1e-9)); // 3.6 $/h / 3600 / 1000/s × 1e6
    Trial cheaperButSlower =
        new Trial(a.knobs(), a.levels(), 0, 0.5, true, a.score()); // same point, half the price
    assertThat(Frontier.dominates(cheaperButSlower, a)).isTrue();
    assertThat(Frontier.of(List.of(a, cheaperButSlower))).containsExactly(cheaperButSlower);
  }

  @Test
  void theOperatingPointIsTheFastestLevelThatMeetsTheSlo() {
    Objective slo = new Objective(10.0, null, 0);
    Trial t =
        slo.judge(
            new Knobs(8, 100, 1, 2, false),
            List.of(
                new LevelPoint("c=1", 100, 1, 2, 1000, 0, 1000),
                new LevelPoint("c=4", 350, 3, 8, 1000, 0, 995),
                new LevelPoint("c=16", 500, 9, 30, 1000, 0, 700)));
    assertThat(t.feasible()).isTrue();
    assertThat(t.point().load()).isEqualTo("c=4");
    assertThat(t.score()).isEqualTo(350);
  }

  @Test
  void rejectionsCountAsMissesOfTheSlo() {
    Objective slo = new Objective(10.0, null, 0);
    // Every answered request was fast, but 5 % were refused: 95 % attainment misses a p99 SLO.
    Trial t =
        slo.judge(
            new Knobs(8, 0, 1, 2, true), List.of(new LevelPoint("c=64", 900, 2, 5, 950, 50, 950)));
    assertThat(t.feasible()).isFalse();
    assertThat(t.score()).isNegative();
    assertThat(Frontier.choose(List.of(t))).isEmpty();
  }

  @Test
  void costCeilingRulesOutSlowConfigurations() {
    Objective capped = new Objective(null, 2.0, 3.6); // 1 $/1M at 1000/s
    Trial slow = trial(capped, 1, 400, 1); // 2.5 $/1M
    Trial fast = trial(capped, 2, 800, 3); // 1.25 $/1M
    assertThat(slow.feasible()).isFalse();
    assertThat(fast.feasible()).isTrue();
    assertThat(Frontier.choose(List.of(slow, fast))).contains(fast);
  }

  @Test
  void constraintsAreValidated() {
    assertThatThrownBy(() -> new Objective(null, 1.0, 0))
        .hasMessageContaining("--max-cost-per-million needs --cost-per-hour");
    assertThatThrownBy(() -> new Objective(-1.0, null, 0)).hasMessageContaining("--slo-p99-ms");
  }
}
