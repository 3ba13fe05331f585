package dev.fulcrum.tools.tune;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Chooses which configurations of a {@link Grid} to measure; confined to the calling thread.
 *
 * <p>Design: {@link #exhaustive} measures every configuration. {@link #quick} is a pattern search
 * for landscapes that are monotone or unimodal along each knob, which is how batching, queue delay,
 * instances and threads behave on a CPU (throughput rises with the batch until a pass costs more
 * than the batch saves or the SLO cuts it off; threads help until the cores are shared):
 *
 * <ol>
 *   <li>start where a person would (middle batch size, no delay, one instance with every thread);
 *   <li>coordinate line search: along each knob in turn, step to the neighbour in the direction
 *       that improves the score and keep walking while it improves; sweep the knobs again until a
 *       whole sweep improves nothing;
 *   <li>refine: try the diagonal neighbours of pairs of knobs (more instances with fewer threads
 *       and the like: ridges a one-knob step cannot climb), and line-search again from any that
 *       improves.
 * </ol>
 *
 * On a unimodal landscape step 2 alone reaches the optimum in about the sum, not the product, of
 * the axes' lengths; step 3 covers the usual coupling between knobs. The search measures every
 * configuration at most once (a cache by normalized {@link Knobs}) and stops at its trial budget,
 * keeping the best it has seen.
 *
 * <p>Both modes then <b>re-measure</b> the best few ({@link Remeasure}): one trial is a few seconds
 * of load on a shared machine, noisier than the differences between the top configurations, and the
 * best single trial of many is more often a lucky draw than the best configuration. The candidates
 * (the best by score, within a margin of the best) are measured again in turns, A, B, C, A, B, C,
 * so that drift of the machine touches them alike, and each is then judged on the median of all its
 * measurements; {@link Frontier#choose} picks among them. In quick mode these trials count against
 * the budget: the search itself gets what they leave.
 */
final class Search {

  /** Hears each trial as it finishes. */
  interface Listener {
    /**
     * @param done trials measured so far
     * @param planned the most trials the search will run
     */
    void trialDone(Trial trial, int done, int planned);

    /**
     * Hears, after each trial's {@link #trialDone}, every configuration measured so far, one trial
     * each in the order first measured (a candidate being re-measured judged on the measurements it
     * has), and the trials run: what a sweep stopped now would have.
     */
    default void measuredSoFar(List<Trial> trials, int trialsRun) {}
  }

  /** A step must beat the current score by this fraction to count as an improvement. */
  static final double MIN_GAIN = 0.01;

  /** A diagonal step this close to the best (as a fraction) also gets its batch size re-tuned. */
  static final double PROMISING = 0.15;

  /**
   * The line search's order of knobs: batch size first (it moves throughput most), then delay,
   * instances, threads, policy.
   */
  private static final int[] ORDER = {0, 1, 2, 3, 4};

  /** Diagonal steps of two knobs, the trade-offs first (one up, the other down). */
  private static final int[][] MOVES = {{+1, -1}, {-1, +1}, {+1, +1}, {-1, -1}};

  /**
   * Pairs of axes, the usual ridges first: instances against threads (they share the cores), then
   * batch size against queue delay and against instances.
   */
  private static final int[][] PAIRS = {
    {2, 3}, {0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {0, 4}, {1, 4}, {2, 4}, {3, 4}
  };

  private final Grid grid;
  private final Objective objective;
  private final TrialRunner runner;
  private final Listener listener;

  /**
   * How the best few configurations are measured again before the choice; immutable.
   *
   * @param candidates at most this many: the best by score, each within {@code margin} of the best
   *     (0: no re-measurement)
   * @param rounds how many more measurements each candidate gets, in turns
   * @param margin how far below the best score (a fraction) a candidate may be
   */
  record Remeasure(int candidates, int rounds, double margin) {
    static final Remeasure NONE = new Remeasure(0, 0, 0);

    /** How far below the best a candidate may be: wider than the noise of one trial here. */
    static final double MARGIN = 0.15;

    /**
     * The quick search's: two candidates, twice more each (three measurements, so the median drops
     * one outlier), four trials out of its budget. On noisy synthetic landscapes this chose within
     * 5 % of the true best more often than three candidates or one round did at the same budget:
     * every trial kept back is one the search does not have (RemeasureTest).
     */
    static final Remeasure QUICK = new Remeasure(2, 2, MARGIN);

    /** The exhaustive sweep's: three candidates, twice more each; a few trials of a hundred. */
    static final Remeasure EXHAUSTIVE = new Remeasure(3, 2, MARGIN);

    Remeasure {
      if (candidates < 0 || rounds < 0 || !(margin >= 0)) {
        throw new IllegalArgumentException("re-measurement needs counts >= 0 and a margin >= 0");
      }
    }

    /**
     * The trials the quick search keeps back from {@code budget}: {@code rounds} per candidate,
     * fewer rounds when they would take more than a third of it, none on small budgets.
     */
    int reserve(int budget) {
      if (candidates == 0) {
        return 0;
      }
      return Math.min(rounds, budget / (3 * candidates)) * candidates;
    }
  }

  private final @Nullable Remeasure remeasure;
  private final Map<Knobs, Trial> measured = new LinkedHashMap<>();

  /** Trials run so far, re-measurements included. */
  private int trials;

  /** The most trials the phase running now may reach. */
  private int limit;

  /** The most trials of the whole run, for the listener. */
  private int planned;

  /** A search that re-measures as each mode does by default. */
  Search(Grid grid, Objective objective, TrialRunner runner, Listener listener) {
    this(grid, objective, runner, listener, null);
  }

  /**
   * @param remeasure how both modes re-measure; null: {@link Remeasure#QUICK} and {@link
   *     Remeasure#EXHAUSTIVE}
   */
  Search(
      Grid grid,
      Objective objective,
      TrialRunner runner,
      Listener listener,
      @Nullable Remeasure remeasure) {
    this.grid = grid;
    this.objective = objective;
    this.runner = runner;
    this.listener = listener;
    this.remeasure = remeasure;
  }

  /** The quick search's default budget: 15 % of the grid (at least 6 trials, or the whole grid). */
  static int defaultBudget(int gridSize) {
    return Math.max(Math.min(gridSize, 6), (int) Math.floor(0.15 * gridSize));
  }

  /**
   * Measures every configuration of the grid, then re-measures the best few; returns one trial per
   * configuration in grid order.
   */
  List<Trial> exhaustive() throws InterruptedException {
    Remeasure again = remeasure != null ? remeasure : Remeasure.EXHAUSTIVE;
    List<Knobs> all = grid.all();
    planned = all.size() + again.candidates() * again.rounds();
    limit = all.size();
    for (Knobs k : all) {
      measure(k);
    }
    remeasureBest(again, planned);
    return List.copyOf(measured.values());
  }

  /**
   * Runs the pattern search, then re-measures the best few, with at most {@code maxTrials} trials
   * in all; returns one trial per configuration in the order first measured.
   */
  List<Trial> quick(int maxTrials) throws InterruptedException {
    Remeasure again = remeasure != null ? remeasure : Remeasure.QUICK;
    planned = Math.max(1, Math.min(maxTrials, grid.size()));
    limit = planned - again.reserve(planned);
    search();
    remeasureBest(again, planned);
    return List.copyOf(measured.values());
  }

  /** How many trials ran, re-measurements included. */
  int trialsRun() {
    return trials;
  }

  private void search() throws InterruptedException {
    int[] cur = grid.start();
    Trial best = eval(cur);
    if (best == null) {
      return;
    }
    try {
      while (true) {
        Step s = lineSearch(cur, best);
        cur = s.at;
        best = s.trial;
        Step r = refine(cur, best);
        if (r == null) {
          r = expand(cur, best);
        }
        if (r == null) {
          break;
        }
        cur = r.at;
        best = r.trial;
      }
    } catch (BudgetSpent e) {
      // keep what was measured
    }
  }

  /**
   * Measures the candidates again in turns until {@code until} trials have run or each has had its
   * rounds, and judges each on all its measurements.
   */
  private void remeasureBest(Remeasure remeasure, int until) throws InterruptedException {
    List<Trial> ranked = new ArrayList<>(measured.values());
    ranked.removeIf(t -> t.point().ok() == 0);
    ranked.sort(Comparator.comparingDouble(Trial::score).reversed());
    if (ranked.isEmpty() || remeasure.candidates() == 0) {
      return;
    }
    Trial best = ranked.get(0);
    List<Trial> candidates =
        ranked.stream()
            .filter(
                t ->
                    !best.feasible()
                        || (t.feasible() && t.score() >= (1 - remeasure.margin()) * best.score()))
            .limit(remeasure.candidates())
            .toList();
    int rounds = Math.min(remeasure.rounds(), (until - trials) / candidates.size());
    List<List<List<LevelPoint>>> all = new ArrayList<>();
    for (Trial t : candidates) {
      all.add(new ArrayList<>(t.measurements()));
    }
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < candidates.size(); i++) {
        Knobs k = candidates.get(i).knobs();
        List<LevelPoint> levels = run(k);
        all.get(i).add(levels);
        trials++;
        listener.trialDone(objective.judge(k, levels), trials, planned);
        Map<Knobs, Trial> soFar = new LinkedHashMap<>(measured);
        for (int j = 0; j < candidates.size(); j++) {
          Knobs c = candidates.get(j).knobs();
          soFar.put(c, objective.judgeAll(c, all.get(j)));
        }
        listener.measuredSoFar(List.copyOf(soFar.values()), trials);
      }
    }
    for (int i = 0; i < candidates.size(); i++) {
      Knobs k = candidates.get(i).knobs();
      measured.put(k, objective.judgeAll(k, all.get(i)));
    }
  }

  private record Step(int[] at, Trial trial) {}

  /** Thrown inside the search when the budget is spent; never leaves this class. */
  private static final class BudgetSpent extends Exception {
    private static final long serialVersionUID = 1L;

    BudgetSpent() {
      super(null, null, false, false);
    }
  }

  /** Coordinate line search from {@code at} until a whole sweep improves nothing. */
  private Step lineSearch(int[] at, Trial trial) throws InterruptedException, BudgetSpent {
    int[] cur = at.clone();
    Trial best = trial;
    boolean improved = true;
    while (improved) {
      improved = false;
      for (int axis : ORDER) {
        for (int dir : new int[] {+1, -1}) {
          boolean stepped = false;
          int[] p = cur.clone();
          while (true) {
            p[axis] += dir;
            if (p[axis] < 0 || p[axis] >= grid.axisSize(axis)) {
              break;
            }
            Trial t = evalOrThrow(p);
            if (!better(t, best)) {
              break;
            }
            cur = p.clone();
            best = t;
            stepped = true;
            improved = true;
          }
          if (stepped) {
            break; // this axis went one way; the other way only looks back
          }
        }
      }
    }
    return new Step(cur, best);
  }

  /** The first diagonal neighbour of two knobs that improves on {@code at}, or null. */
  private @Nullable Step refine(int[] at, Trial trial) throws InterruptedException, BudgetSpent {
    for (int[] m : MOVES) {
      for (int[] pair : PAIRS) {
        int a = pair[0];
        int b = pair[1];
        {
          int[] p = at.clone();
          p[a] += m[0];
          p[b] += m[1];
          if (p[a] < 0 || p[a] >= grid.axisSize(a) || p[b] < 0 || p[b] >= grid.axisSize(b)) {
            continue;
          }
          Trial t = evalOrThrow(p);
          if (better(t, trial)) {
            return new Step(p, t);
          }
          if (a != 0 && t.score() >= (1 - PROMISING) * trial.score()) {
            // Close: the batch size that suits the new pair may differ (more instances see fewer
            // requests each, so smaller batches fill); one step of it either way.
            for (int d : new int[] {-1, +1}) {
              int[] q = p.clone();
              q[0] += d;
              if (q[0] >= 0 && q[0] < grid.axisSize(0)) {
                Trial u = evalOrThrow(q);
                if (better(u, trial)) {
                  return new Step(q, u);
                }
              }
            }
          }
        }
      }
    }
    return null;
  }

  /**
   * Spends what is left of the budget on the configurations nearest the best one (fewest steps
   * away, batch-size steps counting least), which a plateau or noise may have hidden from the line
   * search; the first that improves is returned. Null when none does.
   */
  private @Nullable Step expand(int[] at, Trial trial) throws InterruptedException, BudgetSpent {
    List<int[]> near = new ArrayList<>(grid.coordinates());
    near.removeIf(p -> measured.containsKey(grid.knobs(p)));
    near.sort(Comparator.comparingDouble((int[] p) -> distance(p, at)));
    for (int[] p : near) {
      if (measured.containsKey(grid.knobs(p))) {
        continue; // an earlier coordinate of the same configuration
      }
      Trial t = evalOrThrow(p);
      if (better(t, trial)) {
        return new Step(p, t);
      }
    }
    return null;
  }

  /**
   * Steps between two coordinates, a batch-size step counting least and a queue-delay step next:
   * those two interact most with the rest (the batch that fills depends on everything else).
   */
  private static double distance(int[] a, int[] b) {
    double d = 0;
    for (int i = 0; i < a.length; i++) {
      d += Math.abs(a[i] - b[i]) * (i == 0 ? 1.0 : i == 1 ? 1.2 : 1.5);
    }
    return d;
  }

  private static boolean better(Trial t, Trial best) {
    return t.score() > best.score() + MIN_GAIN * Math.abs(best.score());
  }

  private Trial evalOrThrow(int[] at) throws InterruptedException, BudgetSpent {
    Trial t = eval(at);
    if (t == null) {
      throw new BudgetSpent();
    }
    return t;
  }

  /** The trial at these coordinates: measured once, or null when that would exceed the budget. */
  private @Nullable Trial eval(int[] at) throws InterruptedException {
    Knobs k = grid.knobs(at);
    Trial t = measured.get(k);
    if (t != null) {
      return t;
    }
    if (trials >= limit) {
      return null;
    }
    return measure(k);
  }

  private Trial measure(Knobs k) throws InterruptedException {
    Trial t = objective.judge(k, run(k));
    measured.put(k, t);
    trials++;
    listener.trialDone(t, trials, planned);
    listener.measuredSoFar(List.copyOf(measured.values()), trials);
    return t;
  }

  /** One measurement; a configuration that could not be measured is one failed level. */
  private List<LevelPoint> run(Knobs k) throws InterruptedException {
    try {
      return new ArrayList<>(runner.measure(k));
    } catch (TrialRunner.TrialException e) {
      return List.of(LevelPoint.failed(String.valueOf(e.getMessage())));
    }
  }
}
