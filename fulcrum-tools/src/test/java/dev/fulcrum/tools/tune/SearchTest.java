package dev.fulcrum.tools.tune;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Quick mode against the exhaustive sweep on synthetic landscapes: within 5 % of the exhaustive
 * best under the constraints, with at most 15 % of the trials, on grids of at least 100
 * configurations. The grids are built as {@code fulcrum tune} builds its own: at most as many
 * threads per instance as the landscape's machine has cores.
 *
 * <p>Each configuration here measures the same every time (its noise drawn once), so measuring it
 * again tells nothing: the search's own quality is tested with its whole budget and no
 * re-measurement, and the defaults (which keep four trials of the budget back to re-measure) are
 * tested for what they cost on such quiet landscapes. What re-measurement buys on noisy ones is
 * RemeasureTest's.
 */
class SearchTest {
  /** 7 × 4 × 3 × 3 = 252 coordinates, 225 distinct configurations. */
  static final Grid LARGE =
      new Grid(
          List.of(1, 2, 4, 8, 16, 32, 64),
          List.of(0L, 100L, 500L, 2000L),
          List.of(1, 2, 4),
          List.of(1, 2, 4),
          List.of(false));

  /** 7 × 3 × 2 × 3 × 2 coordinates with the SLO policy, 156 distinct configurations. */
  static final Grid WITH_SLO =
      new Grid(
          List.of(1, 2, 4, 8, 16, 32, 64),
          List.of(0L, 200L, 1000L),
          List.of(1, 2),
          List.of(1, 2, 4),
          List.of(false, true));

  /** 7 × 3 × 2 × 3 = 126 coordinates, 114 distinct: the smallest grid the goal speaks of. */
  static final Grid SMALL =
      new Grid(
          List.of(1, 2, 4, 8, 16, 32, 64),
          List.of(0L, 200L, 1000L),
          List.of(1, 2),
          List.of(1, 2, 4),
          List.of(false));

  static Stream<Arguments> landscapes() {
    List<Arguments> out = new ArrayList<>();
    for (long seed = 1; seed <= 5; seed++) {
      for (Grid g : List.of(LARGE, WITH_SLO, SMALL)) {
        String name = g == LARGE ? "large" : g == WITH_SLO ? "with-slo" : "small";
        out.add(
            Arguments.of(
                "batching 4 cores SLO 20ms " + name,
                g,
                new Objective(20.0, null, 1.0),
                Landscapes.batching(4, 0.3, 0.05, 20),
                seed));
        out.add(
            Arguments.of(
                "batching no SLO " + name,
                g,
                new Objective(null, null, 0),
                Landscapes.batching(4, 0.2, 0.02, 1e9),
                seed));
        out.add(
            Arguments.of(
                "separable " + name,
                g,
                new Objective(null, null, 0),
                Landscapes.separable(g, seed),
                seed));
        out.add(
            Arguments.of(
                "ridge " + name, g, new Objective(null, null, 0), Landscapes.ridge(4), seed));
        out.add(
            Arguments.of(
                "monotone " + name, g, new Objective(null, null, 0), Landscapes.monotone(), seed));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} seed {4}")
  @MethodSource("landscapes")
  void quickFindsWithinFivePercentOfExhaustiveWithFifteenPercentOfTrials(
      String name, Grid grid, Objective objective, Landscapes.Runner.Model model, long seed)
      throws Exception {
    assertThat(grid.size()).isGreaterThanOrEqualTo(100);
    Landscapes.Runner all = new Landscapes.Runner(model, seed);
    List<Trial> everything =
        new Search(grid, objective, all, (t, d, p) -> {}, Search.Remeasure.NONE).exhaustive();
    Trial best = Frontier.choose(everything).orElseThrow();
    assertThat(all.trials).isEqualTo(grid.size());

    Landscapes.Runner some = new Landscapes.Runner(model, seed);
    List<Trial> quick =
        new Search(grid, objective, some, (t, d, p) -> {}, Search.Remeasure.NONE)
            .quick(Search.defaultBudget(grid.size()));
    Trial found = Frontier.choose(quick).orElseThrow();

    assertThat(some.trials).isLessThanOrEqualTo((int) (0.15 * grid.size()));
    assertThat(found.throughput())
        .as(
            "%s: quick %s %.0f/s (%d trials) vs exhaustive %s %.0f/s",
            name,
            found.knobs().label(),
            found.throughput(),
            some.trials,
            best.knobs().label(),
            best.throughput())
        .isGreaterThanOrEqualTo(0.95 * best.throughput());
  }

  /**
   * With the defaults, four trials of the budget go to re-measuring two candidates, which on these
   * quiet landscapes changes nothing but leaves the search fewer trials: recorded as it is, at most
   * 2 of the 75 runs more than 5 % below the exhaustive best (none with the whole budget).
   */
  @Test
  void theDefaultsCostLittleOnQuietLandscapes() throws Exception {
    int below = 0;
    for (Arguments a : landscapes().toList()) {
      Object[] x = a.get();
      Grid grid = (Grid) x[1];
      Objective objective = (Objective) x[2];
      Landscapes.Runner.Model model = (Landscapes.Runner.Model) x[3];
      long seed = (Long) x[4];
      Landscapes.Runner all = new Landscapes.Runner(model, seed);
      Trial best =
          Frontier.choose(new Search(grid, objective, all, (t, d, p) -> {}).exhaustive())
              .orElseThrow();
      // Every configuration once, then the best few (at most 3) twice more.
      assertThat(all.trials).isBetween(grid.size(), grid.size() + 6);
      Landscapes.Runner some = new Landscapes.Runner(model, seed);
      Trial found =
          Frontier.choose(
                  new Search(grid, objective, some, (t, d, p) -> {})
                      .quick(Search.defaultBudget(grid.size())))
              .orElseThrow();
      assertThat(some.trials).isLessThanOrEqualTo((int) (0.15 * grid.size()));
      below += found.throughput() < 0.95 * best.throughput() ? 1 : 0;
    }
    assertThat(below).isLessThanOrEqualTo(2);
  }

  /**
   * A tight SLO over heavy passes: only a few configurations keep the SLO at the highest load
   * levels, so the landscape has cliffs where noise decides feasibility, and quick mode does not
   * always land on the exhaustive sweep's (partly lucky) best. Recorded as it is, for the search
   * with its whole budget: at least 80 % of the runs within 5 %, every run within 15 %; with the
   * defaults' four trials kept back for re-measurement, at least 60 % within 5 %.
   */
  @ParameterizedTest(name = "re-measure {0}")
  @MethodSource("remeasureOrNot")
  void tightSloWithCliffsIsMostlyWithinFivePercent(
      String name, Search.@Nullable Remeasure again, double share) throws Exception {
    Objective objective = new Objective(5.0, null, 1.0);
    Landscapes.Runner.Model model = Landscapes.batching(4, 0.5, 0.1, 5);
    int runs = 0;
    int within5 = 0;
    double worst = 1;
    for (Grid grid : List.of(LARGE, WITH_SLO, SMALL)) {
      for (long seed = 1; seed <= 10; seed++) {
        Trial best =
            Frontier.choose(
                    new Search(
                            grid,
                            objective,
                            new Landscapes.Runner(model, seed),
                            (t, d, p) -> {},
                            again)
                        .exhaustive())
                .orElseThrow();
        Landscapes.Runner some = new Landscapes.Runner(model, seed);
        Trial found =
            Frontier.choose(
                    new Search(grid, objective, some, (t, d, p) -> {}, again)
                        .quick(Search.defaultBudget(grid.size())))
                .orElseThrow();
        assertThat(some.trials).isLessThanOrEqualTo((int) (0.15 * grid.size()));
        double ratio = found.throughput() / best.throughput();
        runs++;
        within5 += ratio >= 0.95 ? 1 : 0;
        worst = Math.min(worst, ratio);
      }
    }
    assertThat(within5)
        .as("runs within 5 %% of %d", runs)
        .isGreaterThanOrEqualTo((int) (share * runs));
    assertThat(worst).isGreaterThanOrEqualTo(0.85);
  }

  static Stream<Arguments> remeasureOrNot() {
    return Stream.of(
        Arguments.of("none", Search.Remeasure.NONE, 0.8), Arguments.of("defaults", null, 0.6));
  }

  @Test
  void exhaustiveMeasuresEachConfigurationOnce() throws Exception {
    Landscapes.Runner r = new Landscapes.Runner(Landscapes.monotone(), 1);
    List<Trial> trials =
        new Search(
                WITH_SLO, new Objective(null, null, 0), r, (t, d, p) -> {}, Search.Remeasure.NONE)
            .exhaustive();
    assertThat(trials).hasSize(WITH_SLO.size());
    assertThat(r.trials).isEqualTo(WITH_SLO.size());
    assertThat(trials.stream().map(Trial::knobs).distinct()).hasSize(trials.size());
    // Under the SLO policy, or without batching, the queue delay is not a knob of its own.
    assertThat(trials)
        .filteredOn(t -> t.knobs().sloPolicy() || t.knobs().maxBatchSize() == 1)
        .allMatch(t -> t.knobs().maxQueueDelayMicros() == 0);
  }

  @Test
  void quickStopsAtItsBudget() throws Exception {
    Landscapes.Runner r = new Landscapes.Runner(Landscapes.monotone(), 1);
    List<Integer> planned = new ArrayList<>();
    List<Trial> trials =
        new Search(LARGE, new Objective(null, null, 0), r, (t, d, p) -> planned.add(p)).quick(5);
    assertThat(trials).hasSize(5);
    assertThat(r.trials).isEqualTo(5);
    assertThat(planned).containsOnly(5);
  }

  @Test
  void aFailedTrialIsRecordedAndTheSearchGoesOn() throws Exception {
    TrialRunner failsOnTwoInstances =
        k -> {
          if (k.instanceCount() == 2) {
            throw new TrialRunner.TrialException("load refused");
          }
          return List.of(new LevelPoint("c=1", 100, 1, 2, 100, 0, 100));
        };
    Grid g = new Grid(List.of(4), List.of(0L), List.of(1, 2), List.of(1), List.of(false));
    List<Trial> trials =
        new Search(g, new Objective(null, null, 0), failsOnTwoInstances, (t, d, p) -> {})
            .exhaustive();
    assertThat(trials).hasSize(2);
    Trial failed = trials.get(1);
    assertThat(failed.feasible()).isFalse();
    assertThat(failed.point().load()).isEqualTo("failed: load refused");
    assertThat(failed.problem()).isEqualTo("failed: load refused");
    assertThat(Frontier.choose(trials).orElseThrow().knobs().instanceCount()).isEqualTo(1);
    assertThat(Frontier.of(trials)).containsExactly(trials.get(0));
  }

  @Test
  void theListenerHearsEverythingMeasuredSoFarAfterEachTrial() throws Exception {
    // What a sweep stopped after any trial would have: the partial results written as it goes.
    Grid g = new Grid(List.of(4), List.of(0L), List.of(1, 2, 4), List.of(1), List.of(false));
    TrialRunner r = k -> List.of(new LevelPoint("c=1", 100 * k.instanceCount(), 1, 2, 100, 0, 100));
    List<List<Trial>> heard = new ArrayList<>();
    List<Integer> runs = new ArrayList<>();
    Search.Listener listener =
        new Search.Listener() {
          @Override
          public void trialDone(Trial trial, int done, int planned) {}

          @Override
          public void measuredSoFar(List<Trial> trials, int trialsRun) {
            heard.add(trials);
            runs.add(trialsRun);
          }
        };
    List<Trial> done =
        new Search(g, new Objective(null, null, 0), r, listener, new Search.Remeasure(2, 1, 1.0))
            .exhaustive();
    // three configurations, then the best two once more each
    assertThat(runs).containsExactly(1, 2, 3, 4, 5);
    assertThat(heard.get(0)).hasSize(1);
    assertThat(heard.get(2)).hasSize(3);
    // during the re-measurement, the candidate measured again already counts it
    assertThat(heard.get(3).get(2).measurements()).hasSize(2); // i=4, the best
    assertThat(heard.get(3).get(1).measurements()).hasSize(1);
    assertThat(heard.get(4)).isEqualTo(done);
  }
}
