package dev.fulcrum.tools.tune;

import java.util.ArrayList;
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
 * the axes' lengths; step 3 covers the usual coupling between knobs. Every configuration is
 * measured at most once (a cache by normalized {@link Knobs}), and the search stops at its trial
 * budget, keeping the best it has seen.
 */
final class Search {

  /** Hears each trial as it finishes. */
  interface Listener {
    /**
     * @param done trials measured so far
     * @param planned the most trials the search will run
     */
    void trialDone(Trial trial, int done, int planned);
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
  private final Map<Knobs, Trial> measured = new LinkedHashMap<>();
  private int budget;

  Search(Grid grid, Objective objective, TrialRunner runner, Listener listener) {
    this.grid = grid;
    this.objective = objective;
    this.runner = runner;
    this.listener = listener;
  }

  /** The quick search's default budget: 15 % of the grid (at least 6 trials, or the whole grid). */
  static int defaultBudget(int gridSize) {
    return Math.max(Math.min(gridSize, 6), (int) Math.floor(0.15 * gridSize));
  }

  /** Measures every configuration of the grid; returns them in grid order. */
  List<Trial> exhaustive() throws InterruptedException {
    List<Knobs> all = grid.all();
    budget = all.size();
    for (Knobs k : all) {
      measure(k);
    }
    return List.copyOf(measured.values());
  }

  /** Runs the pattern search with at most {@code maxTrials} trials; returns them in run order. */
  List<Trial> quick(int maxTrials) throws InterruptedException {
    budget = Math.max(1, Math.min(maxTrials, grid.size()));
    int[] cur = grid.start();
    Trial best = eval(cur);
    if (best == null) {
      return List.copyOf(measured.values());
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
    return List.copyOf(measured.values());
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
    near.sort(java.util.Comparator.comparingDouble((int[] p) -> distance(p, at)));
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
    if (measured.size() >= budget) {
      return null;
    }
    return measure(k);
  }

  private Trial measure(Knobs k) throws InterruptedException {
    List<LevelPoint> levels;
    try {
      levels = runner.measure(k);
    } catch (TrialRunner.TrialException e) {
      levels = List.of(new LevelPoint("failed: " + e.getMessage(), 0, 0, 0, 0, 1, 0));
    }
    Trial t = objective.judge(k, new ArrayList<>(levels));
    measured.put(k, t);
    listener.trialDone(t, measured.size(), budget);
    return t;
  }
}
