package dev.fulcrum.tools.tune;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * A finished sweep: every trial, the frontier and the recommendation; immutable.
 *
 * @param mode {@code quick} or {@code exhaustive}
 * @param gridSize distinct configurations in the grid
 * @param trialsRun every measurement taken, re-measurements of the candidates included (what the
 *     quick search's budget counts)
 * @param sloPolicyAvailable whether the server accepted {@code slo:} (the SLO policy was a knob)
 * @param chosen the recommendation, null when no trial met the constraints or the sweep is partial
 * @param partial whether the sweep was stopped before it finished (Ctrl-C): the trials measured so
 *     far, written as it goes, with no recommendation, since the search had not done its work (the
 *     configurations it had not reached, the re-measurement of the best)
 * @param notABatch why the server found that the model's dynamic first dimension is not a batch
 *     (the model was then tuned as one that does not batch), or null
 */
record Sweep(
    String model,
    String mode,
    int gridSize,
    int trialsRun,
    Objective objective,
    boolean sloPolicyAvailable,
    List<Trial> trials,
    List<Trial> frontier,
    @Nullable Trial chosen,
    boolean partial,
    @Nullable String notABatch) {

  Sweep {
    trials = List.copyOf(trials);
    frontier = List.copyOf(frontier);
  }

  /** A finished sweep of a model whose first dimension is what its configuration says. */
  static Sweep of(
      String model,
      String mode,
      int gridSize,
      int trialsRun,
      Objective objective,
      boolean sloPolicyAvailable,
      List<Trial> trials) {
    return of(model, mode, gridSize, trialsRun, objective, sloPolicyAvailable, trials, false, null);
  }

  static Sweep of(
      String model,
      String mode,
      int gridSize,
      int trialsRun,
      Objective objective,
      boolean sloPolicyAvailable,
      List<Trial> trials,
      boolean partial,
      @Nullable String notABatch) {
    return new Sweep(
        model,
        mode,
        gridSize,
        trialsRun,
        objective,
        sloPolicyAvailable,
        trials,
        Frontier.of(trials),
        partial ? null : Frontier.choose(trials).orElse(null),
        partial,
        notABatch);
  }

  /**
   * Why there is no recommendation, in one line: the sweep did not finish; every trial failed to
   * load (the first one's reason: usually they all share it); every configuration's requests failed
   * (the first such trial's count), when no constraint could be what ruled them out; else that none
   * met the constraints. Null when there is a recommendation.
   */
  @Nullable String whyNone() {
    if (chosen != null) {
      return null;
    }
    if (partial) {
      return "the sweep did not finish";
    }
    if (trials.isEmpty()) {
      return "no configuration was measured";
    }
    List<Trial> loadFailed = trials.stream().filter(t -> t.point().loadFailed()).toList();
    if (loadFailed.size() == trials.size()) {
      String first = loadFailed.get(0).point().load().substring(LevelPoint.FAILED.length());
      return "every trial failed, the first with: " + first;
    }
    List<Trial> unanswered =
        trials.stream().filter(t -> !t.point().loadFailed() && !t.answered()).toList();
    if (trials.stream().noneMatch(Trial::answered)) {
      return "no configuration answered its requests: "
          + (loadFailed.isEmpty() ? "" : loadFailed.size() + " failed to load, ")
          + unanswered.size()
          + " had more than "
          + Math.round(100 * Objective.MAX_FAILED)
          + " % of requests fail (first: "
          + unanswered.get(0).knobs().label()
          + ", "
          + unanswered.get(0).problem()
          + ")";
    }
    return "no configuration met the constraints";
  }

  /**
   * How much one trial's throughput varies on this machine: the pooled coefficient of variation of
   * the operating throughputs of configurations measured more than once (each configuration's
   * sample variance over its mean squared, weighted by its degrees of freedom; square root).
   *
   * @param configurations the configurations it comes from
   * @param degreesOfFreedom measurements used less one per configuration: with the quick search's
   *     default of two candidates measured twice more, 2, so a rough figure
   */
  record Noise(double cv, int configurations, int degreesOfFreedom) {

    /**
     * From every configuration's measurements after its first {@code skip}, or null when no
     * configuration has two of them.
     */
    static @Nullable Noise pooled(Objective objective, List<Trial> trials, int skip) {
      double sum = 0;
      int freedom = 0;
      int configurations = 0;
      for (Trial t : trials) {
        int n = t.measurements().size() - skip;
        if (n < 2) {
          continue;
        }
        double[] x = new double[n];
        double mean = 0;
        for (int i = 0; i < n; i++) {
          x[i] = objective.judge(t.knobs(), t.measurements().get(i + skip)).throughput();
          mean += x[i] / n;
        }
        if (!(mean > 0)) {
          continue;
        }
        double squares = 0;
        for (double v : x) {
          squares += (v - mean) * (v - mean);
        }
        sum += squares / (mean * mean); // (n - 1) times this configuration's relative variance
        freedom += n - 1;
        configurations++;
      }
      return freedom == 0 ? null : new Noise(Math.sqrt(sum / freedom), configurations, freedom);
    }

    /** The figure and what it rests on, as the command prints it after a sweep or a comparison. */
    String describe() {
      return String.format(
          Locale.ROOT,
          "measurement noise: one trial's throughput varies by about %.1f %% (from %d"
              + " configurations, %d degrees of freedom)",
          100 * cv,
          configurations,
          degreesOfFreedom);
    }

    /** measurement_noise in results.json and compare.json; returns that object. */
    static ObjectNode put(ObjectNode parent, @Nullable Noise noise) {
      ObjectNode n = parent.putObject("measurement_noise");
      putNullable(n, "throughput_cv", noise == null ? null : noise.cv());
      n.put("configurations", noise == null ? 0 : noise.configurations());
      n.put("degrees_of_freedom", noise == null ? 0 : noise.degreesOfFreedom());
      return n;
    }
  }

  /**
   * The noise of this sweep's trials, from the re-measured configurations, or null. A
   * configuration's first measurement is left out: it is the one that made it a candidate, picked
   * for being high, and would inflate the spread.
   */
  @Nullable Noise noise() {
    return Noise.pooled(objective, trials, 1);
  }

  /**
   * The feasible configurations, the recommendation's included, whose throughput lies within twice
   * the {@link #noise} below the recommendation's: what these trials cannot tell apart from it.
   * Empty without a recommendation or a noise figure.
   *
   * @param noise this sweep's {@link #noise}
   */
  List<Trial> withinNoiseOfChosen(@Nullable Noise noise) {
    if (chosen == null || noise == null) {
      return List.of();
    }
    double floor = chosen.throughput() * (1 - 2 * noise.cv());
    return trials.stream().filter(t -> t.feasible() && t.throughput() >= floor).toList();
  }

  /**
   * results.json: the constraints and every configuration measured with its (median) levels and
   * every measurement of it, numbers as JSON numbers.
   */
  ObjectNode toJson(ObjectMapper mapper) {
    ObjectNode root = mapper.createObjectNode();
    root.put("model", model);
    root.put("mode", mode);
    root.put("grid_size", gridSize);
    root.put("trials_run", trialsRun);
    root.put("configurations_measured", trials.size());
    ObjectNode c = root.putObject("constraints");
    putNullable(c, "slo_p99_ms", objective.sloP99Ms());
    putNullable(c, "max_cost_per_million_usd", objective.maxCostPerMillion());
    c.put("cost_per_hour_usd", objective.costPerHour());
    root.put("slo_policy_available", sloPolicyAvailable);
    root.put("partial", partial);
    root.put("first_dimension_not_a_batch", notABatch);
    Noise noise = noise();
    List<Trial> close = withinNoiseOfChosen(noise);
    Noise.put(root, noise).put("within_noise_of_chosen", close.size());
    if (chosen == null) {
      root.putNull("chosen");
    } else {
      root.put("chosen", trials.indexOf(chosen));
    }
    root.put("why_no_recommendation", whyNone());
    ArrayNode list = root.putArray("trials");
    for (int i = 0; i < trials.size(); i++) {
      Trial t = trials.get(i);
      ObjectNode n = list.addObject();
      n.put("index", i);
      ObjectNode k = n.putObject("config");
      k.put("max-batch-size", t.knobs().maxBatchSize());
      k.put("max-queue-delay-microseconds", t.knobs().maxQueueDelayMicros());
      k.put("instance-count", t.knobs().instanceCount());
      k.put("intra-op-threads", t.knobs().intraOpThreads());
      k.put("slo-policy", t.knobs().sloPolicy());
      n.put("label", t.knobs().label());
      n.put("load", t.point().load());
      n.put("throughput_per_second", round(t.throughput()));
      n.put("p50_ms", round(t.p50Ms()));
      n.put("p99_ms", round(t.p99Ms()));
      putNullable(n, "cost_per_million_usd", t.costPerMillion());
      n.put("feasible", t.feasible());
      n.put("problem", t.problem());
      n.put("on_frontier", frontier.contains(t));
      n.put("chosen", t.equals(chosen));
      n.put("within_noise_of_chosen", close.contains(t));
      putLevels(n.putArray("levels"), t.levels());
      ArrayNode measurements = n.putArray("measurements");
      for (List<LevelPoint> m : t.measurements()) {
        Trial once = objective.judge(t.knobs(), m);
        ObjectNode o = measurements.addObject();
        o.put("load", once.point().load());
        o.put("throughput_per_second", round(once.throughput()));
        o.put("p50_ms", round(once.p50Ms()));
        o.put("p99_ms", round(once.p99Ms()));
        o.put("feasible", once.feasible());
        putLevels(o.putArray("levels"), m);
      }
    }
    return root;
  }

  private static void putLevels(ArrayNode out, List<LevelPoint> levels) {
    for (LevelPoint l : levels) {
      out.addObject()
          .put("load", l.load())
          .put("throughput_per_second", round(l.throughput()))
          .put("p50_ms", round(l.p50Ms()))
          .put("p99_ms", round(l.p99Ms()))
          .put("ok", l.ok())
          .put("failed", l.failed())
          .put("slo_attainment", round(l.attainment()));
    }
  }

  private static void putNullable(ObjectNode n, String field, @Nullable Double v) {
    if (v == null || !Double.isFinite(v)) {
      n.putNull(field);
    } else {
      n.put(field, round(v));
    }
  }

  /** Six significant digits: a cost of $0.00004 per 1M keeps its digits, as 31,234.5 req/s does. */
  private static double round(double v) {
    if (v == 0 || !Double.isFinite(v)) {
      return v;
    }
    return new java.math.BigDecimal(v)
        .round(new java.math.MathContext(6, java.math.RoundingMode.HALF_EVEN))
        .doubleValue();
  }
}
