package dev.fulcrum.tools.tune;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Synthetic trial results for the search's tests: each a deterministic function of the
 * configuration with noise from a fixed seed (the same configuration always measures the same, as
 * if measured once), shaped like what a CPU shows.
 */
final class Landscapes {
  private Landscapes() {}

  /** A runner over a landscape that counts the trials it measured. */
  static final class Runner implements TrialRunner {
    interface Model {
      List<LevelPoint> levels(Knobs k, Random noise);
    }

    private final Model model;
    private final long seed;
    private final boolean fresh;
    private final Map<Knobs, Integer> times = new HashMap<>();
    int trials;

    /** Each configuration measures the same every time (its noise drawn once). */
    Runner(Model model, long seed) {
      this(model, seed, false);
    }

    /**
     * @param fresh each measurement of a configuration draws new noise, as a real trial does
     */
    Runner(Model model, long seed, boolean fresh) {
      this.model = model;
      this.seed = seed;
      this.fresh = fresh;
    }

    @Override
    public List<LevelPoint> measure(Knobs knobs) {
      trials++;
      int n = fresh ? times.merge(knobs, 1, Integer::sum) : 0;
      return model.levels(knobs, new Random(seed * 1_000_003L + knobs.hashCode() + 7_919L * n));
    }
  }

  /** What a landscape measures without noise: its true value. */
  static List<LevelPoint> truth(Runner.Model model, Knobs k) {
    return model.levels(k, new Still());
  }

  /** A source of "noise" that is always the expected value: no Gaussian noise, no hiccup. */
  private static final class Still extends Random {
    private static final long serialVersionUID = 1L;

    @Override
    public double nextGaussian() {
      return 0;
    }

    @Override
    public double nextDouble() {
      return 0.5;
    }
  }

  /**
   * A landscape measured the way a shared machine measures: every measurement's throughput scaled
   * by one factor, {@code 1 + sigma·N(0,1)}, and one measurement in ten hit by a hiccup or a lucky
   * spell of {@code ±hiccup}; the latencies as the landscape has them.
   */
  static Runner.Model noisy(Runner.Model base, double sigma, double hiccup) {
    return (k, noise) -> {
      double f = 1 + sigma * noise.nextGaussian();
      if (noise.nextDouble() < 0.1) {
        f *= noise.nextDouble() < 0.5 ? 1 + hiccup : 1 - hiccup;
      }
      List<LevelPoint> out = new ArrayList<>();
      for (LevelPoint l : base.levels(k, noise)) {
        out.add(
            new LevelPoint(
                l.load(),
                l.throughput() * f,
                l.p50Ms(),
                l.p99Ms(),
                (long) (l.ok() * f),
                l.failed(),
                (long) (l.withinSlo() * f)));
      }
      return out;
    };
  }

  static final int[] CONCURRENCIES = {1, 2, 4, 8, 16, 32, 64};

  /**
   * A batching server on {@code cores} cores, closed loop at 1, 2, 4 .. 64 outstanding: a pass of b
   * costs (alpha + beta·b) / threads^0.6, slower when instances × threads oversubscribe; a queue
   * delay fills batches at low load and costs latency; the SLO policy batches like the best delay
   * without waiting for nothing. Latency by Little's law plus a tail.
   */
  static Runner.Model batching(int cores, double alphaMs, double betaMs, double slo) {
    return (k, noise) -> {
      List<LevelPoint> out = new ArrayList<>();
      double oversub = Math.max(1, (double) k.instanceCount() * k.intraOpThreads() / cores);
      for (int c : CONCURRENCIES) {
        double perInstance = (double) c / k.instanceCount();
        int maxBatch = Math.max(1, k.maxBatchSize());
        double fill = k.sloPolicy() || k.maxQueueDelayMicros() > 0 ? 1.0 : 0.6;
        double b = Math.max(1, Math.min(maxBatch, perInstance * fill));
        double passMs =
            (alphaMs + betaMs * b) / Math.pow(k.intraOpThreads(), 0.6) * oversub * oversub;
        double waitMs =
            k.sloPolicy() ? 0 : k.maxQueueDelayMicros() / 1000.0 * (b < maxBatch ? 1 : 0.3);
        double throughput = k.instanceCount() * b / (passMs + waitMs) * 1000;
        if (k.sloPolicy()) {
          throughput *= 0.97;
        }
        throughput *= 1 + 0.02 * noise.nextGaussian();
        double p50 = c / throughput * 1000;
        double p99 = (p50 * 1.4 + passMs) * (1 + 0.02 * noise.nextGaussian());
        long ok = (long) throughput;
        long within = p99 <= slo ? ok : (long) (ok * 0.9);
        out.add(new LevelPoint("c=" + c, throughput, p50, p99, ok, 0, within));
      }
      return out;
    };
  }

  /**
   * One level whose throughput is a product of one unimodal bump per knob, peaks at random places.
   */
  static Runner.Model separable(Grid grid, long seed) {
    Random r = new Random(seed);
    double[] peak = new double[Grid.AXES];
    double[] width = new double[Grid.AXES];
    for (int a = 0; a < Grid.AXES; a++) {
      peak[a] = r.nextDouble() * (grid.axisSize(a) - 1);
      width[a] = 0.5 + r.nextDouble() * 2;
    }
    return (k, noise) -> {
      double[] x = {
        grid.maxBatchSizes().indexOf(k.maxBatchSize()),
        Math.max(0, grid.maxQueueDelaysMicros().indexOf(k.maxQueueDelayMicros())),
        grid.instanceCounts().indexOf(k.instanceCount()),
        grid.intraOpThreads().indexOf(k.intraOpThreads()),
        k.sloPolicy() ? 1 : 0
      };
      double f = 1000;
      for (int a = 0; a < Grid.AXES; a++) {
        double d = (x[a] - peak[a]) / width[a];
        f *= 1 / (1 + d * d);
      }
      f *= 1 + 0.02 * noise.nextGaussian();
      return List.of(new LevelPoint("c=8", f, 1, 2, (long) f, 0, (long) f));
    };
  }

  /**
   * Instances × threads must share {@code cores}: the best splits the cores over more instances,
   * which one knob at a time cannot reach from one instance with every thread (a ridge).
   */
  static Runner.Model ridge(int cores) {
    return (k, noise) -> {
      int total = k.instanceCount() * k.intraOpThreads();
      double useful = Math.min(total, cores);
      double over = Math.max(1, (double) total / cores);
      double f =
          1000
              * Math.pow(k.instanceCount(), 0.3)
              * useful
              / cores
              / Math.pow(over, 2)
              * (1 - 0.3 / (1 + Math.log(Math.max(1, k.maxBatchSize()))))
              * (1 - k.maxQueueDelayMicros() / 1e4);
      f *= 1 + 0.02 * noise.nextGaussian();
      return List.of(new LevelPoint("c=8", f, 1, 2, (long) f, 0, (long) f));
    };
  }

  /** Better in every knob at once: the optimum is the grid's far corner. */
  static Runner.Model monotone() {
    return (k, noise) -> {
      double f =
          Math.log(2 + k.maxBatchSize())
              * (1 + k.maxQueueDelayMicros() / 1000.0)
              * Math.sqrt(k.instanceCount())
              * Math.pow(k.intraOpThreads(), 0.2)
              * (k.sloPolicy() ? 1.1 : 1)
              * 100;
      f *= 1 + 0.02 * noise.nextGaussian();
      return List.of(new LevelPoint("c=8", f, 1, 2, (long) f, 0, (long) f));
    };
  }
}
