package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.config.SloConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The scheduler with an SLO: a ticker that runs with real time plus 20 ms per pass of the fake
 * model, so that a pass takes 20 ms to the policy whatever the real machine does.
 */
class SloSchedulerTest {
  private static final long MS = 1_000_000;
  private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
  private final AtomicLong passes = new AtomicLong();
  private final Ticker clock = () -> System.nanoTime() + passes.get();
  private ModelScheduler scheduler;

  @AfterEach
  void close() {
    if (scheduler != null) {
      scheduler.close(Duration.ofSeconds(5));
    }
    timer.shutdownNow();
  }

  /** Echoes x; each pass advances the fake clock by 20 ms and may wait for a permit. */
  final class SlowEcho implements ModelInstance {
    final Semaphore gate = new Semaphore(Integer.MAX_VALUE);
    final Semaphore started = new Semaphore(0);

    @Override
    public ModelSignature signature() {
      return null;
    }

    @Override
    public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
      started.release();
      gate.acquireUninterruptibly();
      passes.addAndGet(20 * MS);
      Tensor x = inputs.get(0);
      return List.of(Tensor.of("y", DataType.FP32, x.shape(), x.data()));
    }

    @Override
    public void close() {}
  }

  private static ModelConfig config(SloConfig slo) {
    return SchedulerFixtures.config(SchedulingConfig.defaults()).withSlo(slo);
  }

  private static InferenceRequest request(Map<String, Object> params) {
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(2);
    Tensor x = Tensor.of("x", DataType.FP32, new long[] {1, 2}, b.flip());
    return new InferenceRequest("m", "", "", params, List.of(x), null);
  }

  private CompletableFuture<InferenceResponse> submit(ModelConfig c, InferenceRequest r) {
    return scheduler.submit(r, RequestValidator.validate(c, r));
  }

  @Test
  void aRequestThatCannotMeetTheObjectiveIsRefusedAtOnceWithReasonSlo() throws Exception {
    ModelConfig c = config(new SloConfig(10 * MS, 99, 0));
    SlowEcho model = new SlowEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    List<SchedulerObserver.Rejected> rejected = new CopyOnWriteArrayList<>();
    SchedulerObserver capture =
        new SchedulerObserver() {
          @Override
          public void rejected(Rejected e) {
            rejected.add(e);
          }
        };
    scheduler =
        new ModelScheduler(
            "m-v1",
            c,
            List.of(model),
            ModelScheduler.Options.of(timer)
                .withTicker(clock)
                .withObserver(SchedulerObserver.all(stats, capture)));

    // The first pass teaches the policy that a pass takes 20 ms.
    submit(c, request(Map.of())).get(10, TimeUnit.SECONDS);
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (scheduler.policyState().passTimes().isEmpty() && System.nanoTime() < until) {
      Thread.sleep(5);
    }
    PolicyState state = scheduler.policyState();
    assertThat(state.policy()).isEqualTo("slo");
    assertThat(state.passTimes().get(0).meanNanos()).isBetween(20 * MS, 1_000 * MS);

    // A second request finds the queue empty and the instance idle: it runs (a probe).
    model.gate.drainPermits();
    CompletableFuture<InferenceResponse> probe = submit(c, request(Map.of()));
    assertThat(model.started.tryAcquire(2, 10, TimeUnit.SECONDS)).isTrue();

    // While it runs, a third cannot finish within 10 ms: refused at once, 429 with reason SLO.
    CompletableFuture<InferenceResponse> refused = submit(c, request(Map.of()));
    assertThat(refused).isCompletedExceptionally();
    InferenceException e = (InferenceException) refused.handle((r, t) -> t).get();
    assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
    assertThat(e.getMessage()).contains("model 'm'", "latency objective", "SLO 10.0 ms at p99");
    // An expected answer under overload: no stack trace is filled in on the refusing thread.
    assertThat(e.getStackTrace()).isEmpty();
    assertThat(rejected)
        .singleElement()
        .satisfies(r -> assertThat(r.reason()).isEqualTo(SchedulerObserver.RejectReason.SLO));

    // A best-effort request is queued instead.
    CompletableFuture<InferenceResponse> bestEffort =
        submit(c, request(Map.of("slo_class", "best_effort")));
    assertThat(bestEffort).isNotDone();

    model.gate.release(Integer.MAX_VALUE / 2);
    probe.get(10, TimeUnit.SECONDS);
    bestEffort.get(10, TimeUnit.SECONDS);
    assertThat(stats.snapshot().rejected()).isEqualTo(1);
    assertThat(stats.snapshot().success().count()).isEqualTo(3);
  }

  @Test
  void bestEffortRequestsFillAtMostHalfTheQueueAndWaitBehindStandardOnes() throws Exception {
    ModelConfig c =
        SchedulerFixtures.config(SchedulingConfig.defaults().withMaxQueueSize(4))
            .withSlo(new SloConfig(10_000 * MS, 99, 0));
    SlowEcho model = new SlowEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    scheduler =
        new ModelScheduler(
            "m-v1",
            c,
            List.of(model),
            ModelScheduler.Options.of(timer).withTicker(clock).withObserver(stats));
    model.gate.drainPermits();
    CompletableFuture<InferenceResponse> running = submit(c, request(Map.of()));
    assertThat(model.started.tryAcquire(1, 10, TimeUnit.SECONDS)).isTrue();

    Map<String, Object> bestEffort = Map.of("slo_class", "best_effort");
    CompletableFuture<InferenceResponse> be1 = submit(c, request(bestEffort));
    CompletableFuture<InferenceResponse> be2 = submit(c, request(bestEffort));
    // Half of max-queue-size 4 is queued: a third best-effort request is turned away...
    CompletableFuture<InferenceResponse> be3 = submit(c, request(bestEffort));
    assertThat(be3).isCompletedExceptionally();
    InferenceException e = (InferenceException) be3.handle((r, t) -> t).get();
    assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
    assertThat(e.getMessage()).contains("best-effort", "less than half full");
    // ... and the rest of the queue is kept for standard requests, which run before them.
    CompletableFuture<InferenceResponse> standard = submit(c, request(Map.of()));
    assertThat(standard).isNotDone();

    model.gate.release(Integer.MAX_VALUE / 2);
    for (CompletableFuture<InferenceResponse> f : List.of(running, be1, be2, standard)) {
      f.get(10, TimeUnit.SECONDS);
    }
    assertThat(stats.snapshot().success().count()).isEqualTo(4);
    assertThat(stats.snapshot().rejected()).isEqualTo(1);
    assertThat(stats.snapshot().sloRejected()).isZero();
  }

  /**
   * The half a best-effort request may fill is of max-queue-size's bound, over the requests it
   * counts: those of a level with its own priority-queue-policy have their own bound and leave the
   * default's room to best-effort requests.
   */
  @Test
  void bestEffortsHalfCountsOnlyTheRequestsOfTheDefaultsBound() throws Exception {
    ModelConfig c =
        SchedulerFixtures.config(
                SchedulingConfig.defaults()
                    .withMaxQueueSize(4)
                    .withPriorities(2, 2)
                    .withPriorityQueuePolicies(
                        Map.of(
                            1,
                            new SchedulingConfig.QueuePolicy(
                                8, 0, SchedulingConfig.TimeoutAction.REJECT, false))))
            .withSlo(new SloConfig(10_000 * MS, 99, 0));
    SlowEcho model = new SlowEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    scheduler =
        new ModelScheduler(
            "m-v1",
            c,
            List.of(model),
            ModelScheduler.Options.of(timer).withTicker(clock).withObserver(stats));
    model.gate.drainPermits();
    CompletableFuture<InferenceResponse> running = submit(c, request(Map.of()));
    assertThat(model.started.tryAcquire(1, 10, TimeUnit.SECONDS)).isTrue();
    List<CompletableFuture<InferenceResponse>> admitted = new java.util.ArrayList<>();
    admitted.add(running);
    for (int i = 0; i < 3; i++) {
      admitted.add(submit(c, request(Map.of("priority", 1L)))); // level 1's own bound
    }
    Map<String, Object> bestEffort = Map.of("slo_class", "best_effort");
    admitted.add(submit(c, request(bestEffort)));
    admitted.add(submit(c, request(bestEffort)));
    CompletableFuture<InferenceResponse> be3 = submit(c, request(bestEffort));
    assertThat(be3)
        .as("half of max-queue-size 4 holds best-effort requests")
        .isCompletedExceptionally();
    InferenceException e = (InferenceException) be3.handle((r, t) -> t).get();
    assertThat(e.getMessage()).contains("less than half full", "max-queue-size 4");
    model.gate.release(Integer.MAX_VALUE / 2);
    for (CompletableFuture<InferenceResponse> f : admitted) {
      f.get(10, TimeUnit.SECONDS);
    }
    assertThat(stats.snapshot().rejected()).isEqualTo(1);
  }

  @Test
  void withoutAnObjectiveTheStaticPolicyRuns() {
    ModelConfig c = config(SloConfig.NONE);
    scheduler =
        new ModelScheduler(
            "m-v1", c, List.of(new SlowEcho()), ModelScheduler.Options.of(timer).withTicker(clock));
    assertThat(scheduler.policyState().policy()).isEqualTo("static");
    assertThat(scheduler.policyState().passTimes()).isEmpty();
  }
}
