package dev.fulcrum.core.inference;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Where one request's time and money went, for a request that asked ({@code timing: true}): set by
 * the core on its {@link InferenceResponse}, written by each transport's codec as response
 * parameters (the names below) and, over REST, as a {@code Server-Timing} header. Times are on the
 * scheduler's clock, in whole microseconds, from the request's admission (after the transport read
 * and decoded it); the read and decode before that and the write of the answer after it are in none
 * of them. Immutable.
 *
 * @param queueMicros {@code queue_us}: admission to the start of the pass it rode in (0 for a
 *     response-cache hit); a deferred pipeline request's steps before the model are not in it
 * @param computeMicros {@code compute_us}: the wall time of that pass (joining the batch's inputs,
 *     the forward pass, splitting its outputs), shared by every request in it; 0 for a cache hit
 * @param stepsMicros {@code steps_us}: a pipeline model's steps before and after its model
 *     (tokenize, pool), 0 for a plain model (and not written for one)
 * @param batchRows {@code batch_rows}: the rows of the pass it rode in (0 for a cache hit); a
 *     pipeline request whose rows ran alone counts the rows of all its passes
 * @param requestRows {@code request_rows}: its own rows (its predictions)
 * @param totalMicros {@code total_us}: admission to its answer being ready to encode
 * @param cacheHit {@code cache_hit}: answered from the version's response cache, without a pass
 * @param costUsd {@code cost_usd}: its share of the machine's price, {@code request_rows} times the
 *     version's cost per prediction over the last 10 seconds (what {@code /slo} reports as the
 *     {@code 10s} window's {@code cost_per_million_usd} / 10^6, refreshed at most once a second);
 *     NaN (not written) when no price is configured
 * @param ensembleSteps an ensemble's request: the steps it ran, in the configuration's order, each
 *     with its model's own timing (written as {@code step.<i>.<name>}, {@code i} the step's index
 *     in the ensemble's configuration); empty for any other model's request. For an ensemble the
 *     fields above are its steps' added up ({@code queue_us}, {@code compute_us}, {@code cost_usd};
 *     {@code cache_hit} when every step was a hit), {@code batch_rows} 0 (it runs no pass of its
 *     own) and {@code total_us} its own
 * @param phases {@code compute_us}'s three phases in nanoseconds, as the statistics count them
 *     (Triton's compute_input, compute_infer, compute_output); an ensemble's are its steps' added
 *     up, so that its statistics split its compute as its composing models' do. Not a response
 *     parameter: {@code compute_us} is their sum
 */
public record RequestTiming(
    long queueMicros,
    long computeMicros,
    long stepsMicros,
    int batchRows,
    int requestRows,
    long totalMicros,
    boolean cacheHit,
    double costUsd,
    List<EnsembleStep> ensembleSteps,
    Phases phases) {

  /** The response parameter names. */
  public static final String QUEUE_US = "queue_us";

  public static final String COMPUTE_US = "compute_us";
  public static final String STEPS_US = "steps_us";
  public static final String BATCH_ROWS = "batch_rows";
  public static final String REQUEST_ROWS = "request_rows";
  public static final String TOTAL_US = "total_us";
  public static final String CACHE_HIT = "cache_hit";
  public static final String COST_USD = "cost_usd";

  /** The prefix of an ensemble step's parameters: {@code step.<i>.}. */
  public static final String STEP = "step";

  public static final String MODEL = "model";
  public static final String VERSION = "version";
  public static final String START_US = "start_us";

  public RequestTiming {
    ensembleSteps = List.copyOf(ensembleSteps);
    Objects.requireNonNull(phases, "phases");
  }

  /**
   * A pass's compute in its three phases, in nanoseconds on the scheduler's clock: joining the
   * batch's inputs ({@code compute_input}), the forward pass ({@code compute_infer}) and splitting
   * its outputs ({@code compute_output}); several passes' (or an ensemble's steps') added up.
   * Immutable.
   */
  public record Phases(long inputNanos, long inferNanos, long outputNanos) {
    /** No pass: a response-cache hit, or a timing made without its phases. */
    public static final Phases NONE = new Phases(0, 0, 0);

    /** These and {@code other}'s added up. */
    public Phases plus(Phases other) {
      return new Phases(
          inputNanos + other.inputNanos,
          inferNanos + other.inferNanos,
          outputNanos + other.outputNanos);
    }
  }

  /**
   * The timing of a request that is not an ensemble's (no steps), with its phases: {@code
   * computeMicros} all in {@code compute_infer} (a timing written by hand, or a test's).
   */
  public RequestTiming(
      long queueMicros,
      long computeMicros,
      long stepsMicros,
      int batchRows,
      int requestRows,
      long totalMicros,
      boolean cacheHit,
      double costUsd) {
    this(
        queueMicros,
        computeMicros,
        stepsMicros,
        batchRows,
        requestRows,
        totalMicros,
        cacheHit,
        costUsd,
        List.of(),
        new Phases(0, Math.max(0, computeMicros) * 1000, 0));
  }

  /**
   * One step of an ensemble's request, as it ran. Immutable.
   *
   * @param step the step's index in the ensemble's configuration ({@code ensemble_scheduling.step})
   * @param model the model it called
   * @param version the version of that model that answered
   * @param startMicros {@code start_us}: the ensemble request's admission to this step's request
   *     being submitted to its model (the steps before it, and the ensemble's own hand-offs)
   * @param timing the step's own timing, as its model measured it (an ensemble's, with its steps)
   */
  public record EnsembleStep(
      int step, String model, String version, long startMicros, RequestTiming timing) {
    public EnsembleStep {
      Objects.requireNonNull(model, "model");
      Objects.requireNonNull(version, "version");
      Objects.requireNonNull(timing, "timing");
    }
  }

  /**
   * The timing of an ensemble's request from its steps': queue, compute (and its phases) and cost
   * added up (NaN when no step was priced), {@code batch_rows} 0.
   *
   * @param requestRows the ensemble request's rows
   * @param totalNanos its admission to its answer
   * @param steps the steps it ran, in the configuration's order
   */
  public static RequestTiming ofEnsemble(
      int requestRows, long totalNanos, List<EnsembleStep> steps) {
    long queue = 0;
    long compute = 0;
    boolean allHit = !steps.isEmpty();
    double cost = Double.NaN;
    Phases phases = Phases.NONE;
    for (EnsembleStep s : steps) {
      RequestTiming t = s.timing();
      queue += t.queueMicros;
      compute += t.computeMicros;
      phases = phases.plus(t.phases);
      allHit &= t.cacheHit;
      if (t.priced()) {
        cost = Double.isNaN(cost) ? t.costUsd : cost + t.costUsd;
      }
    }
    return new RequestTiming(
        queue, compute, 0, 0, requestRows, micros(totalNanos), allHit, cost, steps, phases);
  }

  /**
   * A request answered by a pass, its times in nanoseconds on the scheduler's clock; the pass's
   * compute all in {@code compute_infer} (a test's pass).
   *
   * @param queueNanos admission to the pass's start
   * @param computeNanos the pass's wall time
   * @param batchRows the pass's rows
   * @param requestRows the request's rows
   * @param totalNanos admission to the answer
   */
  public static RequestTiming ofPass(
      long queueNanos, long computeNanos, int batchRows, int requestRows, long totalNanos) {
    return ofPass(
        queueNanos,
        new Phases(0, Math.max(0, computeNanos), 0),
        batchRows,
        requestRows,
        totalNanos);
  }

  /**
   * A request answered by a pass, its times in nanoseconds on the scheduler's clock.
   *
   * @param queueNanos admission to the pass's start
   * @param phases the pass's phases (its wall time is their sum)
   * @param batchRows the pass's rows
   * @param requestRows the request's rows
   * @param totalNanos admission to the answer
   */
  public static RequestTiming ofPass(
      long queueNanos, Phases phases, int batchRows, int requestRows, long totalNanos) {
    return new RequestTiming(
        micros(queueNanos),
        micros(phases.inputNanos() + phases.inferNanos() + phases.outputNanos()),
        0,
        batchRows,
        requestRows,
        micros(totalNanos),
        false,
        Double.NaN,
        List.of(),
        phases);
  }

  /** A request answered from the response cache in {@code lookupNanos}, without a pass. */
  public static RequestTiming ofCacheHit(int requestRows, long lookupNanos) {
    return new RequestTiming(0, 0, 0, 0, requestRows, micros(lookupNanos), true, Double.NaN);
  }

  /**
   * Its response parameters, in the order the transports write them: {@code steps_us} only for a
   * pipeline's request (steps taken), {@code cost_usd} only when priced, then an ensemble's steps,
   * each as {@code step.<i>.model}, {@code .version} (strings), {@code .start_us} and its own
   * timing's parameters under the same prefix (a nested ensemble's steps as {@code
   * step.<i>.step.<j>.*}); values {@code Long}, {@code Integer}, {@code Boolean}, {@code Double}
   * and {@code String}, as each codec writes any parameter.
   */
  public Map<String, Object> parameters() {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put(QUEUE_US, queueMicros);
    p.put(COMPUTE_US, computeMicros);
    if (stepsMicros > 0) {
      p.put(STEPS_US, stepsMicros);
    }
    p.put(BATCH_ROWS, batchRows);
    p.put(REQUEST_ROWS, requestRows);
    p.put(TOTAL_US, totalMicros);
    p.put(CACHE_HIT, cacheHit);
    if (priced()) {
      p.put(COST_USD, costUsd);
    }
    for (EnsembleStep s : ensembleSteps) {
      String prefix = STEP + "." + s.step() + ".";
      p.put(prefix + MODEL, s.model());
      p.put(prefix + VERSION, s.version());
      p.put(prefix + START_US, s.startMicros());
      s.timing().parameters().forEach((k, v) -> p.put(prefix + k, v));
    }
    return p;
  }

  /**
   * Its share of the compute of the passes it rode, in microseconds: each pass's time times its
   * rows over the pass's rows ({@code compute_us * request_rows / batch_rows}); an ensemble's, its
   * steps' shares added up; 0 for a cache hit. What a tenant's compute seconds add up.
   */
  public double computeShareMicros() {
    if (!ensembleSteps.isEmpty()) {
      double sum = 0;
      for (EnsembleStep s : ensembleSteps) {
        sum += s.timing().computeShareMicros();
      }
      return sum;
    }
    return batchRows > 0 ? (double) computeMicros * requestRows / batchRows : 0;
  }

  /** Whether a price was configured: {@link #costUsd} is a number. */
  public boolean priced() {
    return !Double.isNaN(costUsd);
  }

  /** These times with the pipeline steps' time added. */
  public RequestTiming withStepsNanos(long nanos) {
    return new RequestTiming(
        queueMicros,
        computeMicros,
        stepsMicros + micros(nanos),
        batchRows,
        requestRows,
        totalMicros,
        cacheHit,
        costUsd,
        ensembleSteps,
        phases);
  }

  /** These times with the total replaced (a pipeline's, counted from its own admission). */
  public RequestTiming withTotalNanos(long nanos) {
    return new RequestTiming(
        queueMicros,
        computeMicros,
        stepsMicros,
        batchRows,
        requestRows,
        micros(nanos),
        cacheHit,
        costUsd,
        ensembleSteps,
        phases);
  }

  /** These times with the request's cost, from the version's cost per prediction (NaN: none). */
  public RequestTiming withCostPerPrediction(double usdPerPrediction) {
    return new RequestTiming(
        queueMicros,
        computeMicros,
        stepsMicros,
        batchRows,
        requestRows,
        totalMicros,
        cacheHit,
        requestRows * usdPerPrediction,
        ensembleSteps,
        phases);
  }

  /**
   * The timing of a request whose rows ran as passes of their own ({@code batching: alone}
   * pipeline): the times, steps and rows of its passes added up; the total is the longest.
   */
  public RequestTiming plus(RequestTiming other) {
    return new RequestTiming(
        queueMicros + other.queueMicros,
        computeMicros + other.computeMicros,
        stepsMicros + other.stepsMicros,
        batchRows + other.batchRows,
        requestRows + other.requestRows,
        Math.max(totalMicros, other.totalMicros),
        cacheHit && other.cacheHit,
        costUsd + other.costUsd,
        List.of(),
        phases.plus(other.phases));
  }

  private static long micros(long nanos) {
    return Math.max(0, nanos) / 1000;
  }
}
