package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.config.SloConfig;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.LongToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * The SLO policy's decisions in simulated time: a {@link RequestQueue} with the policy, one or more
 * instances whose pass time is a known function of the batch size, and Poisson arrivals from a
 * seeded random source. No threads, no clock: every figure is exact for its seed.
 */
class SloBatchingPolicyTest {
  private static final long MS = 1_000_000;
  private static final long SLO = 10 * MS;

  /** A fake model: a pass of n rows takes fixedMs + perRowMs·n, times a factor that may change. */
  record Model(double fixedMs, double perRowMs) {
    long pass(int rows) {
      return Math.round((fixedMs + perRowMs * rows) * MS);
    }

    /** Rows per second at max batch size. */
    double capacity(int maxBatch) {
      return maxBatch * 1e9 / pass(maxBatch);
    }
  }

  /** What one simulated run saw. */
  static final class Run {
    final List<long[]> answered = new ArrayList<>(); // {arrival, end, batch}
    final List<Long> refusedAt = new ArrayList<>();
    final List<Long> droppedAt = new ArrayList<>();
    final List<Integer> batches = new ArrayList<>();
    long offered;

    double attainment(long from, long to) {
      long ok = 0;
      long all = 0;
      for (long[] a : answered) {
        if (a[0] >= from && a[0] < to) {
          all++;
          ok += a[1] - a[0] <= SLO ? 1 : 0;
        }
      }
      all += refusedAt.stream().filter(t -> t >= from && t < to).count();
      all += droppedAt.stream().filter(t -> t >= from && t < to).count();
      return all == 0 ? 1 : (double) ok / all;
    }

    /** p99 latency of the answered requests that arrived in [from, to). */
    long p99(long from, long to) {
      long[] lat =
          answered.stream()
              .filter(a -> a[0] >= from && a[0] < to)
              .mapToLong(a -> a[1] - a[0])
              .sorted()
              .toArray();
      return lat.length == 0
          ? 0
          : lat[(int) Math.min(lat.length - 1, Math.ceil(lat.length * 0.99) - 1)];
    }

    double answeredPerSecond(long from, long to) {
      return answered.stream().filter(a -> a[1] >= from && a[1] < to).count() * 1e9 / (to - from);
    }

    double meanBatch(long fromEnd) {
      return answered.stream()
          .filter(a -> a[1] >= fromEnd)
          .mapToLong(a -> a[2])
          .average()
          .orElse(0);
    }
  }

  private long seq;

  private PendingRequest request(long arrival, RequestOptions.SloClass sloClass) {
    Tensor t = Tensor.of("x", DataType.FP32, new long[] {1, 4}, ByteBuffer.allocate(16));
    InferenceRequest r =
        new InferenceRequest(
            "m", "", "", Map.of(), List.of(t), List.of(), new RequestOptions(0, 0, sloClass));
    return new PendingRequest(r, List.of(t), List.of("y"), 1, 0, arrival, Long.MAX_VALUE, seq++);
  }

  /**
   * Simulates {@code durationNanos} of Poisson arrivals at {@code rate(t)} per second against
   * {@code instances} workers of {@code model}, whose pass time is multiplied by {@code
   * slowdown(t)}.
   */
  private Run simulate(
      SloBatchingPolicy policy,
      Model model,
      int maxBatch,
      int instances,
      LongToDoubleFunction rate,
      LongToDoubleFunction slowdown,
      long durationNanos,
      long seed) {
    return simulate(policy, model, maxBatch, instances, rate, slowdown, durationNanos, seed, 1);
  }

  /** As above, with arrivals in groups of {@code burst} at once (the groups Poisson). */
  private Run simulate(
      SloBatchingPolicy policy,
      Model model,
      int maxBatch,
      int instances,
      LongToDoubleFunction rate,
      LongToDoubleFunction slowdown,
      long durationNanos,
      long seed,
      int burst) {
    RequestQueue q =
        new RequestQueue(SchedulingConfig.defaults().withMaxQueueSize(0), true, maxBatch, policy);
    Random random = new Random(seed);
    Run run = new Run();
    long[] freeAt = new long[instances];
    long[] wakeAt = new long[instances];
    List<List<PendingRequest>> running = new ArrayList<>();
    for (int i = 0; i < instances; i++) {
      running.add(List.of());
    }
    long now = 0;
    long nextArrival = nextGap(random, rate.applyAsDouble(0));
    while (now < durationNanos) {
      // The next event: an arrival, a pass that ends, or a worker's wait that runs out.
      long next = nextArrival;
      for (int i = 0; i < instances; i++) {
        if (!running.get(i).isEmpty()) {
          next = Math.min(next, freeAt[i]);
        } else if (wakeAt[i] > now) {
          next = Math.min(next, wakeAt[i]);
        }
      }
      now = Math.max(now, next);
      for (int i = 0; i < instances; i++) {
        List<PendingRequest> batch = running.get(i);
        if (!batch.isEmpty() && freeAt[i] <= now) {
          for (PendingRequest p : batch) {
            run.answered.add(new long[] {p.arrivalNanos, freeAt[i], batch.size()});
          }
          policy.finished(i, batch.size(), freeAt[i] - startOf(batch, freeAt[i]), freeAt[i]);
          running.set(i, List.of());
        }
      }
      if (nextArrival <= now) {
        for (int k = 0; k < burst; k++) {
          PendingRequest p = request(nextArrival, RequestOptions.SloClass.STANDARD);
          run.offered++;
          if (policy.refusal(p, q.rows(), now) != null) {
            run.refusedAt.add(now);
          } else {
            q.offer(p);
            policy.admitted(p, now);
          }
        }
        nextArrival = now + nextGap(random, rate.applyAsDouble(now) / burst);
      }
      for (int i = 0; i < instances; i++) {
        if (!running.get(i).isEmpty()) {
          continue;
        }
        while (true) {
          RequestQueue.Plan plan = q.plan(now);
          if (plan.dropped() != null) {
            run.droppedAt.add(plan.dropped().request().arrivalNanos);
            continue;
          }
          if (plan.ready()) {
            List<PendingRequest> batch = plan.batch();
            run.batches.add(batch.size());
            long pass = Math.round(model.pass(batch.size()) * slowdown.applyAsDouble(now));
            freeAt[i] = now + pass;
            starts.put(batch, now);
            policy.started(i, batch.size(), now);
            running.set(i, batch);
            wakeAt[i] = 0;
          } else {
            wakeAt[i] = plan.waitNanos() < 0 ? 0 : now + Math.max(1, plan.waitNanos());
          }
          break;
        }
      }
    }
    return run;
  }

  private final java.util.IdentityHashMap<List<PendingRequest>, Long> starts =
      new java.util.IdentityHashMap<>();

  private long startOf(List<PendingRequest> batch, long end) {
    Long s = starts.remove(batch);
    return s == null ? end : s;
  }

  private static long nextGap(Random random, double perSecond) {
    return Math.max(1, Math.round(-Math.log(1 - random.nextDouble()) / perSecond * 1e9));
  }

  private static SloBatchingPolicy policy(int maxBatch, int instances) {
    return new SloBatchingPolicy("m", new SloConfig(SLO, 99, 0), maxBatch, instances);
  }

  private static final Model MODEL = new Model(1.0, 0.2); // 1.2 ms alone, 4.2 ms for 16
  private static final long SECOND = 1_000 * MS;

  @Test
  void atSteadyLoadItKeepsTheObjectiveWithTheSmallestBatchThatKeepsUp() {
    SloBatchingPolicy p = policy(16, 1);
    // 2000/s: batches of n keep up when n / (1 + 0.2 n) ms >= 2 per ms, i.e. n >= 3.3.
    Run run = simulate(p, MODEL, 16, 1, t -> 2000, t -> 1, 10 * SECOND, 1);
    assertThat(run.attainment(SECOND, 10 * SECOND)).isGreaterThanOrEqualTo(0.999);
    // Once it has learned (the first second), at most a Poisson burst now and then is refused (it
    // plans its own batch with the requests that will join it), and nothing queued is dropped.
    assertThat(run.refusedAt.stream().filter(t -> t >= SECOND).count())
        .isLessThanOrEqualTo(run.offered / 1000);
    assertThat(run.droppedAt.stream().filter(t -> t >= SECOND)).isEmpty();
    assertThat(run.meanBatch(SECOND)).isBetween(3.0, 8.0);
    assertThat(p.state(10 * SECOND).batchSize()).isBetween(3.0, 8.0);
    // Nothing waits longer than the objective allows: the p99 stays well inside it.
    assertThat(run.p99(SECOND, 10 * SECOND)).isLessThan(SLO);
  }

  @Test
  void itLearnsThePassTimeOfEachBatchSizeAndFitsTheOthers() {
    SloBatchingPolicy p = policy(16, 1);
    simulate(p, MODEL, 16, 1, t -> 2000, t -> 1, 5 * SECOND, 2);
    PassTimeModel m = p.passTimes();
    for (int n = 1; n <= 16; n++) {
      assertThat(m.mean(n))
          .as("mean of %d", n)
          .isCloseTo(MODEL.pass(n), within(0.3 * MODEL.pass(n)));
    }
    assertThat(m.quantile(4)).isGreaterThanOrEqualTo(m.mean(4));
  }

  @Test
  void aLoadStepIsAbsorbedUpToCapacityAndTheExcessIsRefusedAtOnce() {
    SloBatchingPolicy p = policy(16, 1);
    double capacity = MODEL.capacity(16); // about 3800/s
    // 50 % of capacity for 5 s, then 150 %.
    Run run =
        simulate(
            p,
            MODEL,
            16,
            1,
            t -> t < 5 * SECOND ? 0.5 * capacity : 1.5 * capacity,
            t -> 1,
            15 * SECOND,
            3);
    // Before the step, at most a Poisson burst now and then is refused.
    assertThat(run.refusedAt.stream().filter(t -> t < 5 * SECOND).count())
        .isLessThanOrEqualTo(run.offered / 1000);
    // After 2 s of the step, every 1 s window keeps the admitted requests' p99 within the SLO.
    for (long w = 7; w < 15; w++) {
      assertThat(run.p99(w * SECOND, (w + 1) * SECOND))
          .as("window %d s", w)
          .isLessThanOrEqualTo(SLO);
    }
    // The machine stays busy: at least 90 % of what max-size batches give.
    assertThat(run.answeredPerSecond(7 * SECOND, 15 * SECOND)).isGreaterThan(0.9 * capacity);
    // The excess (a third of the offered load) is refused, at admission rather than dropped late.
    long refused = run.refusedAt.stream().filter(t -> t >= 7 * SECOND).count();
    assertThat(refused).isGreaterThan(0);
    assertThat(run.droppedAt.size()).isLessThan(Math.max(1, (int) refused / 10));
  }

  @Test
  void aColdStartIsNotOverRefused() {
    // The first seconds of a server: passes are 3 times slower at first and speed up over about
    // 2 s (the JIT), and in the first 2 s about one pass in four stalls 4 times longer (JIT
    // compiles, ONNX Runtime's first pass at each shape). At half of the warm capacity the policy
    // must not plan with those cold times and refuse: what it admits still makes the objective.
    // The arrivals come in groups of 32 (a closed-loop client's connections in step, as hey's).
    SloBatchingPolicy p = policy(64, 1);
    Model fraudLike = new Model(0.05, 0.004); // 54 µs alone, 0.3 ms for 64 when warm
    Run run =
        simulate(
            p,
            fraudLike,
            64,
            1,
            t -> 10_000,
            t ->
                (t < 2 * SECOND && (t / 50_000) % 4 == 0 ? 4 : 1) * (1 + 2 * Math.exp(-t / SECOND)),
            8 * SECOND,
            6,
            32);
    long refused = run.refusedAt.size() + run.droppedAt.size();
    assertThat(refused).as("refused or dropped of %d", run.offered).isLessThan(run.offered / 1000);
    assertThat(run.attainment(0, 8 * SECOND)).isGreaterThanOrEqualTo(0.999);
  }

  @Test
  void aColdModelStillShedsWhatCannotMakeItWhenOverloaded() {
    // Overloaded from the first request (3 times what the model can do): while the policy warms
    // up it refuses nothing at admission, but it still drops what can no longer make its deadline,
    // so the queue stays bounded and what runs is on time; once warm it refuses at admission.
    SloBatchingPolicy p = policy(16, 1);
    double capacity = MODEL.capacity(16);
    Run run = simulate(p, MODEL, 16, 1, t -> 3 * capacity, t -> 1, 10 * SECOND, 7);
    long warm = SloBatchingPolicy.WARM_NANOS + SECOND;
    assertThat(run.droppedAt).isNotEmpty();
    assertThat(run.p99(0, 10 * SECOND)).isLessThanOrEqualTo(SLO);
    assertThat(run.refusedAt.stream().filter(t -> t >= warm)).isNotEmpty();
    // Once warm it refuses the excess at admission and runs full batches: the model's capacity.
    assertThat(run.droppedAt.stream().filter(t -> t >= warm + SECOND)).isEmpty();
    assertThat(run.answeredPerSecond(warm, 10 * SECOND)).isGreaterThan(0.9 * capacity);
  }

  @Test
  void batchesNeverExceedMaxBatchSize() {
    SloBatchingPolicy p = policy(8, 2);
    Run run = simulate(p, MODEL, 8, 2, t -> 20_000, t -> 1, 3 * SECOND, 4);
    assertThat(run.batches).isNotEmpty().allSatisfy(b -> assertThat(b).isBetween(1, 8));
    assertThat(run.batches).contains(8);
  }

  @Test
  void queuedRequestsThatCanNoLongerMakeItAreDroppedNotRunLate() {
    SloBatchingPolicy p = policy(16, 1);
    double capacity = MODEL.capacity(16);
    // At 80 % load the model suddenly gets 4 times slower for a second: the work queued under the
    // old estimate cannot make its deadlines any more.
    Run run =
        simulate(
            p,
            MODEL,
            16,
            1,
            t -> 0.8 * capacity,
            t -> t >= 3 * SECOND && t < 4 * SECOND ? 4 : 1,
            6 * SECOND,
            5);
    assertThat(run.droppedAt).isNotEmpty();
    // What ran was still on time, but for the passes already under way when the model slowed.
    long late =
        run.answered.stream()
            .filter(a -> a[1] - a[0] > SLO && a[0] >= 3 * SECOND + 50 * MS)
            .count();
    assertThat(late).isLessThanOrEqualTo(run.answered.size() / 100);
    // And it recovers within a second of the model's return to speed.
    assertThat(run.attainment(5 * SECOND, 6 * SECOND)).isGreaterThanOrEqualTo(0.99);
    assertThat(run.answeredPerSecond(5 * SECOND, 6 * SECOND)).isGreaterThan(0.75 * capacity);
  }

  @Test
  void bestEffortRequestsAreNeverRefusedForTheObjective() {
    SloBatchingPolicy p = policy(4, 1);
    long now = 0;
    for (int i = 0; i <= SloBatchingPolicy.WARM_PASSES; i++) {
      now = i * (SloBatchingPolicy.WARM_NANOS / SloBatchingPolicy.WARM_PASSES);
      p.finished(0, 1, 50 * MS, now); // passes far over the 10 ms objective
    }
    assertThat(p.warm(now)).isTrue();
    PendingRequest standard = request(0, RequestOptions.SloClass.STANDARD);
    PendingRequest bestEffort = request(0, RequestOptions.SloClass.BEST_EFFORT);
    assertThat(p.refusal(standard, 5, now)).contains("latency objective").contains("SLO 10.0 ms");
    assertThat(p.refusal(bestEffort, 5, now)).isNull();
    // Into an empty queue and an idle instance a request is admitted anyway, as a probe: the
    // estimates of a slow spell must be measured again, or nothing would ever be admitted.
    assertThat(p.refusal(standard, 0, now)).isNull();
  }

  @Test
  void beforeAnyPassItBatchesGreedilyAndRefusesNothing() {
    SloBatchingPolicy p = policy(4, 1);
    assertThat(p.refusal(request(0, RequestOptions.SloClass.STANDARD), 1000, 0)).isNull();
    assertThat(p.decide(request(0, RequestOptions.SloClass.STANDARD), true, () -> 3, 0))
        .isEqualTo(new BatchingPolicy.Take(4));
  }

  @Test
  void theNormalQuantileIsRight() {
    assertThat(PassTimeModel.normalQuantile(0.99)).isCloseTo(2.3263, within(1e-3));
    assertThat(PassTimeModel.normalQuantile(0.999)).isCloseTo(3.0902, within(1e-3));
    assertThat(PassTimeModel.normalQuantile(0.9)).isCloseTo(1.2816, within(1e-3));
  }

  @Test
  void oneOutlierMovesTheEstimateLittle() {
    PassTimeModel m = new PassTimeModel(4, 99);
    for (int i = 0; i < 50; i++) {
      m.record(2, (i % 2 == 0 ? 1_000_000 : 1_100_000));
    }
    double before = m.quantile(2);
    m.record(2, 500_000_000); // a 500 ms pause
    assertThat(m.quantile(2)).isLessThan(before * 2);
    assertThat(Arrays.stream(new int[] {1, 3, 4}).mapToDouble(m::mean))
        .allSatisfy(v -> assertThat(v).isPositive());
  }

  @Test
  void oneOddPassAtARareSizeDoesNotTiltTheFit() {
    PassTimeModel m = new PassTimeModel(64, 99);
    for (int i = 0; i < 200; i++) {
      m.record(1, 2 * MS);
    }
    m.record(3, 50 * MS); // one pass of 3 rows while the machine stalled
    // Sizes not measured follow the trusted size 1, at most in proportion to it.
    assertThat(m.mean(2)).isLessThanOrEqualTo(4.0 * MS);
    assertThat(m.mean(64)).isLessThanOrEqualTo(128.0 * MS);
  }
}
