package dev.fulcrum.core.stats;

import dev.fulcrum.core.scheduler.SchedulerObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Cumulative statistics of one model version in the shape of Triton's statistics extension:
 * success, fail, queue and compute phases as {count, ns}, per-batch-size statistics, inference vs
 * execution counts and the time of the last inference. Updated lock-free from any thread; {@link
 * #snapshot()} reads a consistent-enough copy (each counter is exact, counters are not read
 * atomically together).
 */
public final class ModelStatistics implements SchedulerObserver {

  /** A {count, ns} pair. */
  public record Duration(long count, long ns) {}

  /** Per formed-batch-size statistics (Triton's batch_stats entry). */
  public record BatchStats(
      int batchSize, Duration computeInput, Duration computeInfer, Duration computeOutput) {}

  /**
   * A copy of the counters.
   *
   * @param lastInferenceMillis wall-clock milliseconds of the last completed inference (0: none)
   * @param inferenceCount inferences (batch rows) run
   * @param executionCount forward passes (batches) run
   * @param rejected requests refused without running: the queue was full, or the SLO policy found
   *     their deadline unreachable (Fulcrum's addition)
   * @param sloRejected of {@code rejected}, those the SLO policy refused (the rest: queue full)
   * @param timedOut requests whose queue timeout passed (counted in fail too)
   * @param cancelled requests dropped because the client went away (also in fail, as in Triton,
   *     whose failure counter carries them as reason CANCELED)
   * @param invalid requests whose input was refused as they ran, a 400 the client caused: a
   *     pipeline step's (a text over max-length) or the pass's own check (also in fail; reason
   *     OTHER, not BACKEND)
   * @param cacheHit requests answered from the response cache (counted in success too), with the
   *     time of their lookups
   * @param cacheMiss lookups in the response cache that found nothing
   * @param preprocess a pipeline's steps before the model (Fulcrum's addition; not in queue or
   *     compute)
   * @param postprocess a pipeline's steps after the model (Fulcrum's addition)
   */
  public record Snapshot(
      long lastInferenceMillis,
      long inferenceCount,
      long executionCount,
      Duration success,
      Duration fail,
      Duration queue,
      Duration computeInput,
      Duration computeInfer,
      Duration computeOutput,
      long rejected,
      long sloRejected,
      long timedOut,
      long cancelled,
      long invalid,
      List<BatchStats> batchStats,
      Duration cacheHit,
      Duration cacheMiss,
      Duration preprocess,
      Duration postprocess) {}

  private static final class Pair {
    final LongAdder count = new LongAdder();
    final LongAdder ns = new LongAdder();

    void add(long nanos) {
      count.increment();
      ns.add(nanos);
    }

    Duration read() {
      return new Duration(count.sum(), ns.sum());
    }
  }

  private static final class PerBatch {
    final Pair input = new Pair();
    final Pair infer = new Pair();
    final Pair output = new Pair();
  }

  private final LongSupplier wallClockMillis;
  private final Pair success = new Pair();
  private final Pair fail = new Pair();
  private final Pair queue = new Pair();
  private final Pair computeInput = new Pair();
  private final Pair computeInfer = new Pair();
  private final Pair computeOutput = new Pair();
  private final LongAdder inferences = new LongAdder();
  private final LongAdder executions = new LongAdder();
  private final LongAdder rejected = new LongAdder();
  private final LongAdder sloRejected = new LongAdder();
  private final LongAdder timedOut = new LongAdder();
  private final LongAdder cancelled = new LongAdder();
  private final LongAdder invalid = new LongAdder();
  private final Pair cacheHit = new Pair();
  private final Pair cacheMiss = new Pair();
  private final Pair preprocess = new Pair();
  private final Pair postprocess = new Pair();
  private final Map<Integer, PerBatch> batches = new ConcurrentHashMap<>();
  private volatile long lastInference;

  /**
   * @param wallClockMillis the clock of {@code last_inference} (System::currentTimeMillis)
   */
  public ModelStatistics(LongSupplier wallClockMillis) {
    this.wallClockMillis = wallClockMillis;
  }

  @Override
  public void rejected(Rejected e) {
    rejected.increment();
    if (e.reason() == SchedulerObserver.RejectReason.SLO) {
      sloRejected.increment();
    }
    fail.add(e.queueNanos());
  }

  @Override
  public void requestDone(RequestDone e) {
    switch (e.outcome()) {
      case SUCCESS -> {
        success.add(e.totalNanos());
        queue.add(e.queueNanos());
        computeInput.add(e.computeInputNanos());
        computeInfer.add(e.computeInferNanos());
        computeOutput.add(e.computeOutputNanos());
      }
      case FAILED -> fail.add(e.totalNanos());
      case INVALID -> {
        invalid.increment();
        fail.add(e.totalNanos());
      }
      case TIMED_OUT -> {
        timedOut.increment();
        fail.add(e.totalNanos());
      }
      case CANCELLED -> {
        cancelled.increment();
        fail.add(e.totalNanos());
      }
    }
  }

  @Override
  public void batchDone(BatchDone e) {
    inferences.add(e.rows());
    executions.increment();
    PerBatch b = batches.computeIfAbsent(e.rows(), k -> new PerBatch());
    b.input.add(e.computeInputNanos());
    b.infer.add(e.computeInferNanos());
    b.output.add(e.computeOutputNanos());
    lastInference = wallClockMillis.getAsLong();
  }

  /**
   * An ensemble's request succeeded, as Triton counts one: one execution of {@code rows}
   * inferences, whose compute phases are its steps' (their models' passes' compute_input,
   * compute_infer and compute_output, each added up), under its batch size. Not a {@link
   * SchedulerObserver} event: an ensemble's request holds no instance, so the live accounting must
   * not count that compute as the machine's time a second time (its composing models' passes are
   * counted there).
   */
  public void ensembleDone(
      int rows, long computeInputNanos, long computeInferNanos, long computeOutputNanos) {
    inferences.add(rows);
    executions.increment();
    PerBatch b = batches.computeIfAbsent(rows, k -> new PerBatch());
    b.input.add(computeInputNanos);
    b.infer.add(computeInferNanos);
    b.output.add(computeOutputNanos);
    lastInference = wallClockMillis.getAsLong();
  }

  @Override
  public void stagesDone(long preprocessNanos, long postprocessNanos) {
    preprocess.add(preprocessNanos);
    postprocess.add(postprocessNanos);
  }

  @Override
  public void cacheLookup(boolean hit, int rows, long lookupNanos) {
    if (hit) {
      cacheHit.add(lookupNanos);
      success.add(lookupNanos);
    } else {
      cacheMiss.add(lookupNanos);
    }
  }

  public Snapshot snapshot() {
    List<BatchStats> perBatch = new ArrayList<>();
    new ConcurrentSkipListMap<>(batches)
        .forEach(
            (size, b) ->
                perBatch.add(
                    new BatchStats(size, b.input.read(), b.infer.read(), b.output.read())));
    return new Snapshot(
        lastInference,
        inferences.sum(),
        executions.sum(),
        success.read(),
        fail.read(),
        queue.read(),
        computeInput.read(),
        computeInfer.read(),
        computeOutput.read(),
        rejected.sum(),
        sloRejected.sum(),
        timedOut.sum(),
        cancelled.sum(),
        invalid.sum(),
        List.copyOf(perBatch),
        cacheHit.read(),
        cacheMiss.read(),
        preprocess.read(),
        postprocess.read());
  }
}
