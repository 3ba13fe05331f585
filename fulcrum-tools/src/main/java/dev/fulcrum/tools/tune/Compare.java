package dev.fulcrum.tools.tune;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * {@code fulcrum tune --compare}: a few whole configurations of one model measured in turns (A, B,
 * A, B, A, B), each trial exactly as the sweep measures one, and each judged on all its
 * measurements; confined to the calling thread.
 *
 * <p>Why in turns: two sweeps run minutes apart see a machine that drifts (other load, heat, the
 * JIT), so a configuration's figure from one sweep and another's from the other compare the moments
 * as much as the configurations. Measured in the same minutes, alternately, the drift touches both
 * alike, and the ratio of their medians compares the configurations.
 */
final class Compare {

  /** Measures one whole configuration (loading it first); as {@link TrialRunner#measure}. */
  interface ConfigRunner {
    List<LevelPoint> measure(ObjectNode config)
        throws TrialRunner.TrialException, InterruptedException;
  }

  /**
   * One configuration to compare.
   *
   * @param name how it is shown (its file)
   * @param config the whole configuration, as sent to the repository's load
   */
  record Entry(String name, ObjectNode config) {
    Knobs knobs() {
      return TrialConfig.knobsOf(config);
    }
  }

  /**
   * What the comparison measured.
   *
   * @param trials one per entry, in the entries' order, each judged on all its measurements
   */
  record Result(List<Entry> entries, List<Trial> trials, int rounds) {

    Result {
      entries = List.copyOf(entries);
      trials = List.copyOf(trials);
    }

    /** Each configuration's figure: its judged throughput, 0 when it missed the constraints. */
    double figure(int i) {
      Trial t = trials.get(i);
      return t.feasible() ? t.throughput() : 0;
    }

    /**
     * How much one trial varies, from every measurement (none was picked for being high: each
     * configuration was measured the same number of times, in turns), or null with one round.
     */
    Sweep.@Nullable Noise noise(Objective objective) {
      return Sweep.Noise.pooled(objective, trials, 0);
    }

    /** compare.json: every measurement of every configuration, the medians and their ratios. */
    ObjectNode toJson(ObjectMapper mapper, Objective objective) {
      ObjectNode root = mapper.createObjectNode();
      root.put("rounds", rounds);
      Sweep.Noise.put(root, noise(objective));
      ArrayNode list = root.putArray("configurations");
      for (int i = 0; i < trials.size(); i++) {
        Trial t = trials.get(i);
        ObjectNode n = list.addObject();
        n.put("name", entries.get(i).name());
        n.put("label", t.knobs().label());
        n.put("throughput_per_second", figure(i));
        n.put("p99_ms", t.p99Ms());
        n.put("load", t.point().load());
        n.put("feasible", t.feasible());
        n.put("ratio_to_first", figure(0) > 0 ? figure(i) / figure(0) : 0);
        ArrayNode ms = n.putArray("measurements");
        for (List<LevelPoint> m : t.measurements()) {
          Trial once = objective.judge(t.knobs(), m);
          ms.addObject()
              .put("throughput_per_second", once.throughput())
              .put("p99_ms", once.p99Ms())
              .put("load", once.point().load())
              .put("feasible", once.feasible());
        }
      }
      return root;
    }
  }

  private Compare() {}

  /**
   * Measures every entry {@code rounds} times, in turns, and judges each on its measurements.
   *
   * @param done hears each measurement as it finishes (the entry's index, the measurement)
   */
  static Result run(
      List<Entry> entries,
      int rounds,
      Objective objective,
      ConfigRunner runner,
      Search.Listener done)
      throws InterruptedException {
    return run(entries, rounds, objective, runner, done, soFar -> {});
  }

  /** Hears the comparison after each complete round (every entry measured as often). */
  @FunctionalInterface
  interface RoundListener {
    void roundDone(Result soFar);
  }

  /**
   * As {@link #run(List, int, Objective, ConfigRunner, Search.Listener)}, telling {@code rounds}
   * the result of the rounds complete so far after each one (for a partial compare.json).
   */
  static Result run(
      List<Entry> entries,
      int rounds,
      Objective objective,
      ConfigRunner runner,
      Search.Listener done,
      RoundListener roundDone)
      throws InterruptedException {
    List<List<List<LevelPoint>>> all = new ArrayList<>();
    for (int i = 0; i < entries.size(); i++) {
      all.add(new ArrayList<>());
    }
    int n = 0;
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < entries.size(); i++) {
        Entry e = entries.get(i);
        List<LevelPoint> levels;
        try {
          levels = runner.measure(e.config());
        } catch (TrialRunner.TrialException ex) {
          levels = List.of(LevelPoint.failed(String.valueOf(ex.getMessage())));
        }
        all.get(i).add(levels);
        done.trialDone(objective.judge(e.knobs(), levels), ++n, rounds * entries.size());
      }
      if (r + 1 < rounds) {
        roundDone.roundDone(judged(entries, objective, all, r + 1));
      }
    }
    return judged(entries, objective, all, rounds);
  }

  private static Result judged(
      List<Entry> entries, Objective objective, List<List<List<LevelPoint>>> all, int rounds) {
    List<Trial> trials = new ArrayList<>();
    for (int i = 0; i < entries.size(); i++) {
      trials.add(objective.judgeAll(entries.get(i).knobs(), List.copyOf(all.get(i))));
    }
    return new Result(entries, trials, rounds);
  }
}
