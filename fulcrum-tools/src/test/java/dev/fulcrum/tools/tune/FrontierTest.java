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
  void trialsThatAnsweredNoRequestsAreOnNoFrontier() {
    Trial good = trial(NONE, 8, 600, 4);
    Trial slowButLow = trial(NONE, 1, 200, 1);
    // Refused by the server: one level, 0/s at p99 0 ms, which nothing could dominate.
    Trial refused =
        NONE.judge(new Knobs(2, 0, 0, 1, false), List.of(LevelPoint.failed("instance-count 0")));
    // Loaded, but every request failed.
    Trial allFailed =
        NONE.judge(
            new Knobs(4, 0, 1, 1, false), List.of(new LevelPoint("c=4", 0, 0, 0, 0, 500, 0)));
    // Half of them failed: the answers' p99 is low, but it measured no trade-off.
    Trial halfFailed =
        NONE.judge(
            new Knobs(16, 0, 1, 1, false),
            List.of(new LevelPoint("c=4", 900, 0.1, 0.2, 500, 500, 500)));
    List<Trial> all = List.of(refused, good, allFailed, slowButLow, halfFailed);
    assertThat(Frontier.of(all)).containsExactly(good, slowButLow);
    assertThat(Frontier.of(List.of(refused, allFailed))).isEmpty();
    assertThat(Frontier.choose(all)).contains(good);
  }

  @Test
  void withoutAnSloFailedRequestsBeyondOnePercentMeetNothing() {
    Knobs k = new Knobs(8, 0, 1, 1, false);
    // 2 % failed: not a valid level, with or without constraints.
    Trial twoPercent = NONE.judge(k, List.of(new LevelPoint("c=4", 1000, 1, 2, 980, 20, 980)));
    assertThat(twoPercent.feasible()).isFalse();
    assertThat(twoPercent.answered()).isFalse();
    assertThat(twoPercent.problem()).isEqualTo("2.0 % of requests failed at c=4, 20 of 1000");
    assertThat(Frontier.choose(List.of(twoPercent))).isEmpty();
    // 0.5 %: within what a p99 SLO allows.
    Trial halfPercent = NONE.judge(k, List.of(new LevelPoint("c=4", 1000, 1, 2, 995, 5, 995)));
    assertThat(halfPercent.feasible()).isTrue();
    assertThat(halfPercent.problem()).isNull();
    // A level whose requests failed is no operating point; a clean level of the trial is.
    Trial mixed =
        NONE.judge(
            k,
            List.of(
                new LevelPoint("c=1", 300, 1, 2, 300, 0, 300),
                new LevelPoint("c=4", 900, 1, 2, 450, 450, 450)));
    assertThat(mixed.feasible()).isTrue();
    assertThat(mixed.point().load()).isEqualTo("c=1");
    // Of two infeasible trials, the one with fewer failures scores higher.
    Trial worse = NONE.judge(k, List.of(new LevelPoint("c=4", 1000, 1, 2, 500, 500, 500)));
    assertThat(twoPercent.score()).isGreaterThan(worse.score());
  }

  @Test
  void aTrialSaysWhyItIsNotFeasible() {
    Objective slo = new Objective(10.0, null, 0);
    Knobs k = new Knobs(8, 0, 1, 1, false);
    assertThat(slo.judge(k, List.of(LevelPoint.failed("failed to load 'm': bad"))).problem())
        .isEqualTo("failed: failed to load 'm': bad");
    assertThat(slo.judge(k, List.of(new LevelPoint("c=1", 0, 0, 0, 0, 7, 0))).problem())
        .isEqualTo("every request failed at c=1");
    assertThat(slo.judge(k, List.of(new LevelPoint("c=1", 100, 20, 40, 100, 0, 10))).problem())
        .isEqualTo("misses the constraints");
    assertThat(slo.judge(k, List.of(new LevelPoint("c=1", 100, 1, 2, 100, 0, 100))).problem())
        .isNull();
  }

  @Test
  void constraintsAreValidated() {
    assertThatThrownBy(() -> new Objective(null, 1.0, 0))
        .hasMessageContaining("--max-cost-per-million needs --cost-per-hour");
    assertThatThrownBy(() -> new Objective(-1.0, null, 0)).hasMessageContaining("--slo-p99-ms");
  }
}
