package dev.fulcrum.tools.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Re-measuring the best few before the choice, on synthetic landscapes whose every measurement
 * draws new noise (5 % Gaussian, and one measurement in ten off by ±15 %, as single short trials on
 * a shared machine are): the choice is judged by the configuration's <em>true</em> value (the
 * landscape without noise) against the true best of the grid, which is what a later, quieter
 * measurement would see.
 */
class RemeasureTest {
  private static final Objective SLO = new Objective(20.0, null, 1.0);
  private static final Objective NONE = new Objective(null, null, 0);

  private record Case(String name, Grid grid, Objective objective, Landscapes.Runner.Model model) {}

  private static List<Case> cases(long seed) {
    List<Case> out = new ArrayList<>();
    for (Grid g : List.of(SearchTest.LARGE, SearchTest.WITH_SLO, SearchTest.SMALL)) {
      out.add(new Case("batching SLO", g, SLO, Landscapes.batching(4, 0.3, 0.05, 20)));
      out.add(new Case("batching", g, NONE, Landscapes.batching(4, 0.2, 0.02, 1e9)));
      out.add(new Case("separable", g, NONE, Landscapes.separable(g, seed)));
      out.add(new Case("ridge", g, NONE, Landscapes.ridge(4)));
    }
    return out;
  }

  /** The true operating throughput of a configuration (0 when it truly misses the constraints). */
  private static double truth(Case c, Knobs k) {
    Trial t = c.objective().judge(k, Landscapes.truth(c.model(), k));
    return t.feasible() ? t.throughput() : 0;
  }

  private static double trueBest(Case c) {
    return c.grid().all().stream().mapToDouble(k -> truth(c, k)).max().orElseThrow();
  }

  /** The chosen configuration's true value as a fraction of the true best. */
  private static double quick(Case c, long seed, Search.Remeasure again, int[] trialsRun)
      throws InterruptedException {
    Landscapes.Runner r =
        new Landscapes.Runner(Landscapes.noisy(c.model(), 0.05, 0.15), seed, true);
    List<Trial> trials =
        new Search(c.grid(), c.objective(), r, (t, d, p) -> {}, again)
            .quick(Search.defaultBudget(c.grid().size()));
    trialsRun[0] = r.trials;
    return truth(c, Frontier.choose(trials).orElseThrow().knobs()) / trueBest(c);
  }

  private static double exhaustive(Case c, long seed, Search.Remeasure again)
      throws InterruptedException {
    Landscapes.Runner r =
        new Landscapes.Runner(Landscapes.noisy(c.model(), 0.05, 0.15), seed, true);
    List<Trial> trials =
        new Search(c.grid(), c.objective(), r, (t, d, p) -> {}, again).exhaustive();
    return truth(c, Frontier.choose(trials).orElseThrow().knobs()) / trueBest(c);
  }

  @Test
  void remeasuringTheBestFewChoosesWithinFivePercentMoreOftenAtTheSameBudget() throws Exception {
    int runs = 0;
    int with = 0;
    int without = 0;
    int[] trials = new int[1];
    for (long seed = 1; seed <= 30; seed++) {
      for (Case c : cases(seed)) {
        runs++;
        without += quick(c, seed, Search.Remeasure.NONE, trials) >= 0.95 ? 1 : 0;
        with += quick(c, seed, Search.Remeasure.QUICK, trials) >= 0.95 ? 1 : 0;
        // The budget holds the re-measurements too.
        assertThat(trials[0]).isLessThanOrEqualTo((int) (0.15 * c.grid().size()));
      }
    }
    System.out.printf(
        Locale.ROOT,
        "quick within 5 %%: %d/%d re-measured, %d/%d not%n",
        with,
        runs,
        without,
        runs);
    assertThat(with).as("re-measured %d vs %d of %d", with, without, runs).isGreaterThan(without);
  }

  @Test
  void theExhaustiveBestIsNotALuckySingleTrial() throws Exception {
    int runs = 0;
    int with = 0;
    int without = 0;
    for (long seed = 1; seed <= 5; seed++) {
      for (Case c : cases(seed)) {
        runs++;
        without += exhaustive(c, seed, Search.Remeasure.NONE) >= 0.95 ? 1 : 0;
        with += exhaustive(c, seed, Search.Remeasure.EXHAUSTIVE) >= 0.95 ? 1 : 0;
      }
    }
    System.out.printf(
        Locale.ROOT,
        "exhaustive within 5 %%: %d/%d re-measured, %d/%d not%n",
        with,
        runs,
        without,
        runs);
    assertThat(with).as("re-measured %d vs %d of %d", with, without, runs).isGreaterThan(without);
  }

  @Test
  void candidatesAreMeasuredInTurnsAndJudgedOnTheMedian() throws Exception {
    List<String> order = new ArrayList<>();
    // Throughput rises with the batch size; the third measurement of each is a 50 % hiccup.
    java.util.Map<Knobs, Integer> times = new java.util.HashMap<>();
    TrialRunner runner =
        k -> {
          order.add(k.label());
          int n = times.merge(k, 1, Integer::sum);
          double f = k.maxBatchSize() * 100.0 * (n == 3 ? 0.5 : n == 2 ? 1.02 : 1);
          return List.of(new LevelPoint("c=8", f, 1, 2, (long) f, 0, (long) f));
        };
    Grid g = new Grid(List.of(1, 2, 4, 8, 16), List.of(0L), List.of(1), List.of(1), List.of(false));
    Search s = new Search(g, NONE, runner, (t, d, p) -> {}, new Search.Remeasure(3, 2, 0.9));
    List<Trial> trials = s.exhaustive();
    // Five trials, then the best three (b=16, 8, 4) twice more, interleaved.
    assertThat(order.subList(5, order.size()))
        .containsExactly(
            "b=16 d=0us i=1 t=1",
            "b=8 d=0us i=1 t=1",
            "b=4 d=0us i=1 t=1",
            "b=16 d=0us i=1 t=1",
            "b=8 d=0us i=1 t=1",
            "b=4 d=0us i=1 t=1");
    assertThat(s.trialsRun()).isEqualTo(11);
    Trial best = Frontier.choose(trials).orElseThrow();
    assertThat(best.knobs().maxBatchSize()).isEqualTo(16);
    assertThat(best.measurements()).hasSize(3);
    assertThat(best.throughput()).isCloseTo(1600, within(1e-9)); // median of 1600, 1632, 800
    assertThat(trials.get(0).measurements()).hasSize(1);

    // results.json: every measurement of every trial, the combined figure beside them.
    ObjectMapper m = new ObjectMapper();
    JsonNode json =
        Sweep.of("m", "exhaustive", g.size(), s.trialsRun(), NONE, false, trials).toJson(m);
    assertThat(json.get("trials_run").asInt()).isEqualTo(11);
    assertThat(json.get("configurations_measured").asInt()).isEqualTo(5);
    JsonNode chosen = json.get("trials").get(json.get("chosen").asInt());
    assertThat(chosen.get("label").asText()).isEqualTo("b=16 d=0us i=1 t=1");
    assertThat(chosen.get("throughput_per_second").asDouble()).isEqualTo(1600);
    JsonNode ms = chosen.get("measurements");
    assertThat(ms).hasSize(3);
    assertThat(ms.get(0).get("throughput_per_second").asDouble()).isEqualTo(1600);
    assertThat(ms.get(1).get("throughput_per_second").asDouble()).isEqualTo(1632);
    assertThat(ms.get(2).get("throughput_per_second").asDouble()).isEqualTo(800);
    assertThat(ms.get(2).get("levels").get(0).get("ok").asLong()).isEqualTo(800);
    assertThat(ms.get(0).get("feasible").asBoolean()).isTrue();
    assertThat(chosen.get("levels").get(0).get("ok").asLong()).isEqualTo(1600); // the median's
    assertThat(json.get("trials").get(0).get("measurements")).hasSize(1);
  }

  @Test
  void aCandidateThatFallsBelowTheOthersIsNotChosen() throws Exception {
    // b=16 measures 2000 once (a lucky draw), then 1000; b=8 measures 1500 every time.
    java.util.Map<Knobs, Integer> times = new java.util.HashMap<>();
    TrialRunner runner =
        k -> {
          int n = times.merge(k, 1, Integer::sum);
          double f =
              k.maxBatchSize() == 16 ? (n == 1 ? 2000 : 1000) : k.maxBatchSize() == 8 ? 1500 : 100;
          return List.of(new LevelPoint("c=8", f, 1, 2, (long) f, 0, (long) f));
        };
    Grid g = new Grid(List.of(1, 8, 16), List.of(0L), List.of(1), List.of(1), List.of(false));
    List<Trial> trials =
        new Search(g, NONE, runner, (t, d, p) -> {}, new Search.Remeasure(2, 2, 0.5)).exhaustive();
    Trial best = Frontier.choose(trials).orElseThrow();
    assertThat(best.knobs().maxBatchSize()).isEqualTo(8);
    assertThat(best.measurements()).hasSize(3);
  }

  @Test
  void aConfigurationIsJudgedByItsMedianMeasurement() {
    Objective slo = new Objective(10.0, null, 0);
    Knobs k = new Knobs(8, 0, 1, 1, false);
    // Each measurement's operating point: the fastest level within the SLO.
    List<LevelPoint> fast =
        List.of(
            new LevelPoint("c=1", 100, 1, 2, 100, 0, 100),
            new LevelPoint("c=8", 700, 3, 9, 700, 0, 700));
    List<LevelPoint> slower =
        List.of(
            new LevelPoint("c=1", 90, 1, 2, 90, 0, 90),
            new LevelPoint("c=8", 500, 3, 9, 500, 0, 500));
    List<LevelPoint> hiccup = // c=8 misses the SLO this time: c=1 is its operating point
        List.of(
            new LevelPoint("c=1", 80, 1, 2, 80, 0, 80),
            new LevelPoint("c=8", 600, 9, 30, 600, 0, 400));
    Trial t = slo.judgeAll(k, List.of(fast, hiccup, slower));
    assertThat(t.feasible()).isTrue();
    assertThat(t.throughput()).isEqualTo(500); // of 700, 80 and 500
    assertThat(t.point().load()).isEqualTo("c=8");
    assertThat(t.levels()).isEqualTo(slower);
    assertThat(t.measurements()).containsExactly(fast, hiccup, slower);

    List<LevelPoint> failed = List.of(new LevelPoint("failed: refused", 0, 0, 0, 0, 1, 0));
    List<LevelPoint> missed = List.of(new LevelPoint("c=8", 600, 9, 30, 600, 0, 400));
    // Most measurements missed: the configuration misses.
    assertThat(slo.judgeAll(k, List.of(fast, missed, failed)).feasible()).isFalse();
    // Of two, the lower.
    assertThat(slo.judgeAll(k, List.of(fast, slower)).throughput()).isEqualTo(500);
  }

  @Test
  void theQuickSearchKeepsBackItsReserve() {
    Search.Remeasure d = Search.Remeasure.QUICK;
    assertThat(d.reserve(19)).isEqualTo(4); // 128 configurations: 15 search, 4 re-measure
    assertThat(d.reserve(15)).isEqualTo(4); // 100 configurations: 11 search, 4 re-measure
    assertThat(d.reserve(8)).isEqualTo(2); // one round
    assertThat(d.reserve(5)).isZero();
    assertThat(Search.Remeasure.NONE.reserve(100)).isZero();
  }
}
