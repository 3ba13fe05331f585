package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The scheduler with real threads but no sleeps and no timing assertions: a gated instance holds
 * the worker so that requests pile up in the queue in a known state.
 */
class ModelSchedulerTest {
  private final CountingTimer timer = new CountingTimer();
  private final List<ModelScheduler> schedulers = new ArrayList<>();

  @AfterEach
  void close() {
    schedulers.forEach(ModelScheduler::close);
    timer.shutdownNow();
  }

  /** A real one-thread timer that counts the tasks asked of it and the tasks it ran. */
  static final class CountingTimer extends ScheduledThreadPoolExecutor {
    final AtomicInteger scheduled = new AtomicInteger();
    final Semaphore ran = new Semaphore(0);

    CountingTimer() {
      super(1);
      setRemoveOnCancelPolicy(true);
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable task, long delay, TimeUnit unit) {
      scheduled.incrementAndGet();
      return super.schedule(task, delay, unit);
    }

    @Override
    protected void afterExecute(Runnable task, Throwable t) {
      super.afterExecute(task, t);
      ran.release();
    }

    /** Tasks waiting for their time (a cancelled task leaves at once). */
    int pending() {
      return getQueue().size();
    }
  }

  /** Echoes x to y (+1 per element), blocks each pass on a gate, records batch sizes. */
  static final class GatedEcho implements ModelInstance {
    final Semaphore gate = new Semaphore(0);
    final CountDownLatch started = new CountDownLatch(1);
    final List<Long> batchRows = Collections.synchronizedList(new ArrayList<>());
    final List<Float> firstValues = Collections.synchronizedList(new ArrayList<>());

    /** When set, the output has one row whatever the batch (the graph does not batch on dim 0). */
    volatile boolean collapse;

    @Override
    public ModelSignature signature() {
      return null;
    }

    @Override
    public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
      started.countDown();
      gate.acquireUninterruptibly();
      Tensor x = inputs.get(0);
      batchRows.add(x.dim(0));
      ByteBuffer in = x.data();
      firstValues.add(in.getFloat(0));
      ByteBuffer out = ByteBuffer.allocate(in.remaining()).order(ByteOrder.LITTLE_ENDIAN);
      while (in.hasRemaining()) {
        out.putFloat(in.getFloat() + 1);
      }
      out.flip();
      if (collapse) {
        return List.of(Tensor.of("y", DataType.FP32, new long[] {1, 2}, out.limit(8)));
      }
      return List.of(Tensor.of("y", DataType.FP32, x.shape(), out));
    }

    @Override
    public void close() {}
  }

  private ModelScheduler scheduler(SchedulingConfig s, ModelInstance instance, ModelStatistics st) {
    ModelScheduler sch =
        new ModelScheduler(
            "m-v1",
            SchedulerFixtures.config(s),
            List.of(instance),
            ModelScheduler.Options.of(timer).withObserver(st));
    schedulers.add(sch);
    return sch;
  }

  private static InferenceRequest request(
      String id, Map<String, Object> params, float... rowPairs) {
    ByteBuffer b = ByteBuffer.allocate(rowPairs.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : rowPairs) {
      b.putFloat(f);
    }
    Tensor x = Tensor.of("x", DataType.FP32, new long[] {rowPairs.length / 2, 2}, b.flip());
    return new InferenceRequest("m", "", id, params, List.of(x), null);
  }

  private static CompletableFuture<InferenceResponse> submit(ModelScheduler s, InferenceRequest r) {
    return s.submit(
        r, RequestValidator.validate(SchedulerFixtures.config(SchedulingConfig.defaults()), r));
  }

  private static CompletableFuture<InferenceResponse> submit(
      ModelScheduler s, InferenceRequest r, Executor answerOn) {
    return s.submit(
        r,
        RequestValidator.validate(SchedulerFixtures.config(SchedulingConfig.defaults()), r),
        answerOn);
  }

  private static float[] floats(Tensor t) {
    ByteBuffer b = t.data();
    float[] out = new float[b.remaining() / 4];
    for (int i = 0; i < out.length; i++) {
      out[i] = b.getFloat();
    }
    return out;
  }

  @Test
  void queuedRequestsShareOneBatchAndEachGetsItsOwnRows() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 42L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, stats);
    CompletableFuture<InferenceResponse> first = submit(s, request("a", null, 0, 0));
    echo.started.await();
    // The worker is busy with "a": these three wait and then run as one batch of 4 rows.
    var b = submit(s, request("b", null, 1, 1));
    var c = submit(s, request("c", null, 2, 2, 3, 3));
    var d = submit(s, request("d", null, 4, 4));
    assertThat(s.queued()).isEqualTo(3);
    echo.gate.release(2);
    assertThat(floats(first.get().outputs().get(0))).containsExactly(1, 1);
    assertThat(floats(b.get().outputs().get(0))).containsExactly(2, 2);
    assertThat(floats(c.get().outputs().get(0))).containsExactly(3, 3, 4, 4);
    assertThat(c.get().outputs().get(0).shape()).containsExactly(2, 2);
    assertThat(d.get().id()).isEqualTo("d");
    assertThat(echo.batchRows).containsExactly(1L, 4L);
    ModelStatistics.Snapshot snap = stats.snapshot();
    assertThat(snap.inferenceCount()).isEqualTo(5);
    assertThat(snap.executionCount()).isEqualTo(2);
    assertThat(snap.success().count()).isEqualTo(4);
    assertThat(snap.batchStats())
        .extracting(ModelStatistics.BatchStats::batchSize)
        .containsExactly(1, 4);
    assertThat(snap.lastInferenceMillis()).isEqualTo(42L);
  }

  @Test
  void aRequestThatAsksGetsItsPassesTimingAndOneThatDoesNotGetsNone() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    Map<String, Object> timing = Map.of("timing", true);
    var first = submit(s, request("a", timing, 0, 0));
    echo.started.await();
    // These wait behind "a" and run as one batch of 4 rows.
    var b = submit(s, request("b", timing, 1, 1));
    var c = submit(s, request("c", timing, 2, 2, 3, 3));
    var d = submit(s, request("d", null, 4, 4));
    echo.gate.release(2);

    RequestTiming alone = first.get().timing();
    assertThat(alone).isNotNull();
    assertThat(alone.batchRows()).isEqualTo(1);
    assertThat(alone.requestRows()).isEqualTo(1);
    for (var f : List.of(b, c)) {
      RequestTiming t = f.get().timing();
      assertThat(t).as(f.get().id()).isNotNull();
      assertThat(t.batchRows()).isEqualTo(4);
      assertThat(t.queueMicros() + t.computeMicros()).isLessThanOrEqualTo(t.totalMicros());
      assertThat(t.batchRows()).isGreaterThanOrEqualTo(t.requestRows());
      assertThat(t.cacheHit()).isFalse();
      assertThat(t.stepsMicros()).isZero();
      assertThat(t.priced()).as("the scheduler does not price: the service does").isFalse();
    }
    assertThat(c.get().timing().requestRows()).isEqualTo(2);
    assertThat(b.get().timing().computeMicros())
        .as("one pass: the same compute time for each of its requests")
        .isEqualTo(c.get().timing().computeMicros());
    assertThat(d.get().timing()).as("not asked").isNull();
    assertThat(d.get().parameters()).isEmpty();
  }

  /**
   * An executor that keeps the tasks it is given, to be run by the test (an event loop's queue).
   */
  static final class HeldTasks implements Executor {
    final BlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>();

    @Override
    public void execute(Runnable task) {
      tasks.add(task);
    }
  }

  @Test
  void aPassHandsItsAnswersToEachRequestsExecutorAsOneTask() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    HeldTasks loop1 = new HeldTasks();
    HeldTasks loop2 = new HeldTasks();
    Executor refusing =
        task -> {
          throw new RejectedExecutionException("shut down");
        };
    CompletableFuture<InferenceResponse> first = submit(s, request("a", null, 0, 0));
    echo.started.await();
    // "a" holds the worker: these four wait and run as one pass.
    var b = submit(s, request("b", null, 1, 1), loop1);
    var c = submit(s, request("c", null, 2, 2), loop2);
    var d = submit(s, request("d", null, 3, 3), loop1);
    var e = submit(s, request("e", null, 4, 4), refusing);
    echo.gate.release(2);
    assertThat(first.get().id()).isEqualTo("a");
    // A refused hand-off is completed on the worker, after the others were handed out.
    assertThat(e.get().id()).isEqualTo("e");
    assertThat(echo.batchRows).containsExactly(1L, 4L);
    Runnable one = loop1.tasks.poll(10, TimeUnit.SECONDS);
    Runnable two = loop2.tasks.poll(10, TimeUnit.SECONDS);
    assertThat(one).isNotNull();
    assertThat(two).isNotNull();
    assertThat(loop1.tasks).isEmpty();
    assertThat(loop2.tasks).isEmpty();
    // Nothing completes before its executor runs the task.
    assertThat(b).isNotDone();
    assertThat(c).isNotDone();
    assertThat(d).isNotDone();
    one.run();
    assertThat(b).isDone();
    assertThat(d).isDone();
    assertThat(c).isNotDone();
    two.run();
    assertThat(floats(b.get().outputs().get(0))).containsExactly(2, 2);
    assertThat(floats(c.get().outputs().get(0))).containsExactly(3, 3);
    assertThat(floats(d.get().outputs().get(0))).containsExactly(4, 4);
  }

  @Test
  void aPassListenerIsToldOncePerPassWithTheJoinedTensorsAfterTheAnswers() throws Exception {
    // allMatch over a synchronized list from the worker: copy it first.
    GatedEcho echo = new GatedEcho();
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    List<PassListener.Pass> passes = Collections.synchronizedList(new ArrayList<>());
    List<Boolean> answeredFirst = Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<InferenceResponse>> futures =
        Collections.synchronizedList(new ArrayList<>());
    assertThat(s.passListenerUndecided()).isTrue();
    assertThat(
            s.passListener(
                p -> {
                  answeredFirst.add(
                      List.copyOf(futures).stream().allMatch(CompletableFuture::isDone));
                  passes.add(p);
                }))
        .isTrue();
    // Decided for good: a later asker cannot replace or remove it.
    assertThat(s.passListener(null)).isTrue();
    futures.add(submit(s, request("a", null, 0, 0)));
    echo.started.await();
    futures.add(submit(s, request("b", null, 1, 1)));
    futures.add(submit(s, request("c", null, 2, 2, 3, 3)));
    echo.gate.release(2);
    for (var f : List.copyOf(futures)) {
      f.get();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (passes.size() < 2 && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    assertThat(passes).hasSize(2);
    PassListener.Pass joined = passes.get(1);
    assertThat(joined.requests()).isEqualTo(2);
    assertThat(joined.totalRows()).isEqualTo(3);
    assertThat(joined.rows(0)).isEqualTo(1);
    assertThat(joined.rows(1)).isEqualTo(2);
    assertThat(joined.uniform()).isTrue();
    assertThat(floats(joined.inputs().get(0))).containsExactly(1, 1, 2, 2, 3, 3);
    assertThat(floats(joined.outputs().get(0))).containsExactly(2, 2, 3, 3, 4, 4);
    assertThat(passes.get(0).totalRows()).isEqualTo(1);
    assertThat(answeredFirst.get(1)).isTrue();
  }

  @Test
  void aSchedulerWhoseFirstAskerWantedNoListenerTellsNone() {
    ModelScheduler s =
        scheduler(SchedulingConfig.defaults(), new GatedEcho(), new ModelStatistics(() -> 0L));
    assertThat(s.passListener(null)).isFalse();
    assertThat(s.passListenerUndecided()).isFalse();
    assertThat(s.passListener(p -> {})).isFalse();
  }

  /**
   * The echo behind a check that fails a whole pass, as ONNX Runtime does on one out-of-range
   * index, when any of its values is negative: the input's fault (INVALID_ARGUMENT).
   */
  private static ModelInstance picky(GatedEcho echo) {
    return new ModelInstance() {
      @Override
      public ModelSignature signature() {
        return null;
      }

      @Override
      public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
        List<Tensor> out = echo.execute(inputs, outputNames);
        ByteBuffer b = inputs.get(0).data();
        while (b.hasRemaining()) {
          if (b.getFloat() < 0) {
            throw new InferenceException(
                ErrorCode.INVALID_ARGUMENT, "indices element out of data bounds");
          }
        }
        return out;
      }

      @Override
      public void close() {}
    };
  }

  @Test
  void aFailedBatchIsRetriedMemberByMemberSoOnlyTheBadRequestFails() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), picky(echo), stats);
    var first = submit(s, request("a", null, 0, 0));
    echo.started.await();
    var good = submit(s, request("b", null, 1, 1));
    var bad = submit(s, request("c", null, -1, 2));
    var alsoGood = submit(s, request("d", null, 3, 3));
    assertThat(s.queued()).isEqualTo(3);
    echo.gate.release(100);
    assertThat(floats(first.get().outputs().get(0))).containsExactly(1, 1);
    assertThat(floats(good.get().outputs().get(0))).containsExactly(2, 2);
    assertThat(floats(alsoGood.get().outputs().get(0))).containsExactly(4, 4);
    assertThatThrownBy(bad::get)
        .cause()
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    // one pass for "a", the failed batch of 3, then each member alone
    assertThat(echo.batchRows).containsExactly(1L, 3L, 1L, 1L, 1L);
    ModelStatistics.Snapshot snap = stats.snapshot();
    assertThat(snap.success().count()).isEqualTo(3);
    assertThat(snap.fail().count()).isEqualTo(1);
    assertThat(snap.inferenceCount()).isEqualTo(3);
    assertThat(snap.executionCount()).isEqualTo(3);
  }

  @Test
  void aDeferredRequestIsPreparedOnTheWorkerJustBeforeItRunsAlone() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, stats);
    assertThat(s.hasIdleWorker()).isTrue();
    var first = submit(s, request("a", null, 0, 0));
    echo.started.await();
    assertThat(s.hasIdleWorker()).isFalse();
    InferenceRequest raw = request("b", null, 5, 5);
    List<String> preparedOn = Collections.synchronizedList(new ArrayList<>());
    var deferred =
        s.submitDeferred(
            raw,
            1,
            () -> {
              preparedOn.add(Thread.currentThread().getName());
              return RequestValidator.validate(
                  SchedulerFixtures.config(SchedulingConfig.defaults()), raw);
            });
    var plain = submit(s, request("c", null, 1, 1));
    var refused =
        s.submitDeferred(
            request("d", null, 7, 7),
            1,
            () -> {
              throw InferenceException.invalid("sentence %d is too long", 0);
            });
    assertThat(s.queued()).isEqualTo(3);
    assertThat(preparedOn).isEmpty();
    echo.gate.release(100);
    assertThat(floats(first.get().outputs().get(0))).containsExactly(1, 1);
    assertThat(floats(deferred.get().outputs().get(0))).containsExactly(6, 6);
    assertThat(floats(plain.get().outputs().get(0))).containsExactly(2, 2);
    assertThatThrownBy(refused::get)
        .cause()
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
              assertThat(e.getMessage()).contains("too long");
            });
    assertThat(preparedOn).containsExactly("fulcrum-exec-m-v1-0");
    // "b" never joined "c": a deferred request runs in a pass of its own; "d" never ran.
    assertThat(echo.batchRows).containsExactly(1L, 1L, 1L);
    ModelStatistics.Snapshot snap = stats.snapshot();
    assertThat(snap.success().count()).isEqualTo(3);
    assertThat(snap.fail().count()).isEqualTo(1);
    assertThat(snap.executionCount()).isEqualTo(3);
  }

  @Test
  void aLoneRequestThatFailsIsNotRetried() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), picky(echo), stats);
    echo.gate.release(100);
    var bad = submit(s, request("c", null, -1, 2));
    assertThatThrownBy(bad::get).cause().isInstanceOf(InferenceException.class);
    assertThat(echo.batchRows).containsExactly(1L);
    assertThat(stats.snapshot().fail().count()).isEqualTo(1);
  }

  @Test
  void closeAnswersQueuedAndRunningRequestsBeforeItClosesTheInstance() throws Exception {
    GatedEcho echo = new GatedEcho();
    AtomicInteger closedWhileRunning = new AtomicInteger();
    CountDownLatch closed = new CountDownLatch(1);
    List<CompletableFuture<InferenceResponse>> answered = new ArrayList<>();
    ModelInstance instance =
        new ModelInstance() {
          @Override
          public ModelSignature signature() {
            return null;
          }

          @Override
          public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
            return echo.execute(inputs, outputNames);
          }

          @Override
          public void close() {
            synchronized (answered) {
              closedWhileRunning.addAndGet(
                  (int) answered.stream().filter(f -> !f.isDone()).count());
            }
            closed.countDown();
          }
        };
    ModelScheduler s =
        scheduler(SchedulingConfig.defaults(), instance, new ModelStatistics(() -> 0L));
    synchronized (answered) {
      answered.add(submit(s, request("a", null, 0, 0)));
    }
    echo.started.await();
    synchronized (answered) {
      answered.add(submit(s, request("b", null, 1, 1)));
    }
    CompletableFuture<Boolean> closing =
        CompletableFuture.supplyAsync(() -> s.close(Duration.ofSeconds(60)));
    // closing: new requests are refused, but nothing queued or running is dropped
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!submit(s, request("late", null, 0, 0)).isCompletedExceptionally()) {
      assertThat(System.nanoTime() - giveUp).as("the scheduler refuses new requests").isNegative();
      Thread.sleep(5);
    }
    assertThat(closed.getCount()).isEqualTo(1);
    echo.gate.release(100);
    assertThat(closing.get(60, TimeUnit.SECONDS)).isTrue();
    assertThat(floats(answered.get(0).get().outputs().get(0))).containsExactly(1, 1);
    assertThat(floats(answered.get(1).get().outputs().get(0))).containsExactly(2, 2);
    assertThat(closed.await(60, TimeUnit.SECONDS)).isTrue();
    assertThat(closedWhileRunning.get()).isZero();
    assertThat(s.isTerminated()).isTrue();
  }

  @Test
  void aFullQueueRejectsAtOnceWithResourceExhausted() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults().withMaxQueueSize(2), echo, stats);
    var running = submit(s, request("a", null, 0, 0));
    echo.started.await();
    var q1 = submit(s, request("b", null, 0, 0));
    var q2 = submit(s, request("c", null, 0, 0));
    var refused = submit(s, request("d", null, 0, 0));
    assertThat(refused).isCompletedExceptionally();
    assertThatThrownBy(refused::get)
        .cause()
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
              assertThat(e.getMessage()).contains("max-queue-size 2");
            });
    echo.gate.release(10);
    running.get();
    q1.get();
    q2.get();
    assertThat(stats.snapshot().rejected()).isEqualTo(1);
  }

  @Test
  void aFullQueuesRefusalCarriesARetryHintOnceAPassWasMeasured() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults().withMaxQueueSize(1), echo, stats);
    var first = submit(s, request("a", null, 0, 0));
    echo.started.await();
    var queued = submit(s, request("b", null, 0, 0));
    // No pass has ended yet: the server cannot tell when there will be room.
    assertThat(hint(submit(s, request("c", null, 0, 0)))).isNull();
    assertThatThrownBy(s::refuseIfFull)
        .isInstanceOfSatisfying(InferenceException.class, e -> assertThat(e.retryAfter()).isNull());
    echo.gate.release(2);
    first.get();
    queued.get();
    var running = submit(s, request("d", null, 0, 0));
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (s.queued() > 0) { // the worker takes "d" into a pass
      assertThat(System.nanoTime() - giveUp).as("the worker takes a request").isNegative();
      Thread.sleep(5);
    }
    var waiting = submit(s, request("e", null, 0, 0));
    // Two passes measured: both refusals say when a retry could be served, within the clamp.
    Duration admitted = hint(submit(s, request("f", null, 0, 0)));
    assertThat(admitted).isBetween(DrainEstimate.MIN, DrainEstimate.MAX);
    assertThatThrownBy(s::refuseIfFull)
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.retryAfter()).isBetween(DrainEstimate.MIN, DrainEstimate.MAX));
    echo.gate.release(10);
    running.get();
    waiting.get();
  }

  /** The retry hint of a request refused at once. */
  private static @Nullable Duration hint(CompletableFuture<InferenceResponse> refused) {
    assertThat(refused).isCompletedExceptionally();
    try {
      refused.join();
      throw new AssertionError("not refused");
    } catch (CompletionException e) {
      InferenceException ie = (InferenceException) e.getCause();
      assertThat(ie.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
      return ie.retryAfter();
    }
  }

  @Test
  void refuseIfFullAnswersOverloadBeforeAnyDecodingAndCountsIt() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults().withMaxQueueSize(1), echo, stats);
    s.refuseIfFull(); // empty queue: passes
    var running = submit(s, request("a", null, 0, 0));
    echo.started.await();
    s.refuseIfFull(); // running is not queued: still room for one
    var queued = submit(s, request("b", null, 0, 0));
    assertThatThrownBy(s::refuseIfFull)
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
              assertThat(e.getMessage()).contains("max-queue-size 1");
            });
    assertThat(stats.snapshot().rejected()).isEqualTo(1);
    echo.gate.release(10);
    running.get();
    queued.get();
    s.refuseIfFull(); // drained: passes again
    assertThat(stats.snapshot().rejected()).isEqualTo(1);
  }

  @Test
  void aRequestWhoseTimeoutPassesInTheQueueIsAnsweredAndNeverRun() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, stats);
    var running = submit(s, request("a", null, 0, 0));
    echo.started.await();
    var late = submit(s, request("late", Map.of("timeout", 1_000L), 9, 9));
    // The worker is still held: only the deadline timer can answer it.
    assertThatThrownBy(late::get)
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
              assertThat(e.getMessage()).contains("timed out").contains("not run");
            });
    echo.gate.release(10);
    running.get();
    assertThat(echo.batchRows).containsExactly(1L);
    assertThat(stats.snapshot().timedOut()).isEqualTo(1);
  }

  @Test
  void aCancelledRequestIsDroppedFromTheQueue() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, stats);
    var running = submit(s, request("a", null, 0, 0));
    echo.started.await();
    var gone = submit(s, request("gone", null, 5, 5));
    var kept = submit(s, request("kept", null, 6, 6));
    assertThat(gone.cancel(true)).isTrue();
    assertThat(s.queued()).isEqualTo(1);
    echo.gate.release(10);
    running.get();
    assertThat(floats(kept.get().outputs().get(0))).containsExactly(7, 7);
    assertThat(echo.batchRows).containsExactly(1L, 1L);
    assertThat(stats.snapshot().cancelled()).isEqualTo(1);
    // As Triton counts it: a cancelled request is a failure (reason CANCELED in its metric).
    assertThat(stats.snapshot().fail().count()).isEqualTo(1);
    assertThat(stats.snapshot().success().count()).isEqualTo(2);
  }

  @Test
  void preserveOrderingReleasesResponsesInArrivalOrder() throws Exception {
    GatedEcho echo = new GatedEcho();
    SchedulingConfig c =
        SchedulingConfig.defaults()
            .withPreferredBatchSizes(List.of(), true)
            .withTimeout(0, SchedulingConfig.TimeoutAction.REJECT, false);
    ModelScheduler s = scheduler(c, echo, new ModelStatistics(() -> 0L));
    List<String> order = Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<InferenceResponse>> all = new ArrayList<>();
    var first = submit(s, request("0", null, 0, 0));
    echo.started.await();
    for (int i = 1; i < 6; i++) {
      all.add(submit(s, request(Integer.toString(i), null, i, i)));
    }
    List<CompletableFuture<Void>> recorded = new ArrayList<>();
    recorded.add(first.thenAccept(r -> order.add(r.id())));
    all.forEach(f -> recorded.add(f.thenAccept(r -> order.add(r.id()))));
    echo.gate.release(10);
    CompletableFuture.allOf(recorded.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
    assertThat(order).containsExactly("0", "1", "2", "3", "4", "5");
  }

  /**
   * Triton's {@code priority_queue_policy} in the scheduler: level 1's own bound refuses its second
   * request while lower levels still queue, and level 2's own timeout answers its request while
   * level 3 (the default policy: no timeout) waits and runs.
   */
  @Test
  void eachPriorityLevelGetsItsOwnQueuePolicy() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    SchedulingConfig c =
        SchedulingConfig.defaults()
            .withPriorities(3, 3)
            .withPriorityQueuePolicies(
                Map.of(
                    1,
                    new SchedulingConfig.QueuePolicy(
                        1, 0, SchedulingConfig.TimeoutAction.REJECT, false),
                    2,
                    new SchedulingConfig.QueuePolicy(
                        0, 1_000, SchedulingConfig.TimeoutAction.REJECT, false)));
    ModelScheduler s = scheduler(c, echo, stats);
    var running = submit(s, request("a", null, 0, 0));
    echo.started.await();
    var high = submit(s, request("h1", Map.of("priority", 1L), 1, 1));
    var refused = submit(s, request("h2", Map.of("priority", 1L), 2, 2));
    assertThatThrownBy(refused::get)
        .cause()
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
              assertThat(e.getMessage())
                  .contains("priority level 1")
                  .contains("priority-queue-policy max-queue-size 1");
            });
    var late = submit(s, request("m", Map.of("priority", 2L), 3, 3));
    var low = submit(s, request("l", Map.of("priority", 3L), 4, 4));
    assertThatThrownBy(late::get)
        .cause()
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED));
    echo.gate.release(10);
    running.get();
    assertThat(floats(high.get().outputs().get(0))).containsExactly(2, 2);
    assertThat(floats(low.get().outputs().get(0))).containsExactly(5, 5);
    assertThat(stats.snapshot().timedOut()).isEqualTo(1);
    assertThat(stats.snapshot().rejected()).isEqualTo(1);
  }

  /**
   * With levels of their own policy the early refusal (before the body is decoded, the request's
   * level unknown) refuses only when every bound is full: level 1's own and the default's.
   */
  @Test
  void withOwnLevelPoliciesTheEarlyRefusalWaitsForEveryBoundToBeFull() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    SchedulingConfig c =
        SchedulingConfig.defaults()
            .withPriorities(2, 2)
            .withMaxQueueSize(1)
            .withPriorityQueuePolicies(
                Map.of(
                    1,
                    new SchedulingConfig.QueuePolicy(
                        1, 0, SchedulingConfig.TimeoutAction.REJECT, false)));
    ModelScheduler s = scheduler(c, echo, stats);
    var running = submit(s, request("a", null, 0, 0));
    echo.started.await();
    var low = submit(s, request("l", Map.of("priority", 2L), 1, 1));
    s.refuseIfFull(); // the default's bound is full, level 1's is not: submit decides
    assertThat(stats.snapshot().rejected()).isZero();
    var high = submit(s, request("h", Map.of("priority", 1L), 2, 2));
    assertThatThrownBy(s::refuseIfFull)
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
              assertThat(e.getMessage()).contains("full at every priority level");
            });
    assertThat(stats.snapshot().rejected()).isEqualTo(1);
    echo.gate.release(10);
    running.get();
    low.get();
    high.get();
    s.refuseIfFull(); // drained: passes again
  }

  @Test
  void priorityOutsideTheLevelsIsAClientError() {
    ModelScheduler s =
        scheduler(
            SchedulingConfig.defaults().withPriorities(2, 1),
            new GatedEcho(),
            new ModelStatistics(() -> 0L));
    assertThatThrownBy(() -> submit(s, request("p", Map.of("priority", 3L), 0, 0)))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
  }

  @Test
  void aModelWhoseOutputsDoNotFollowTheBatchRunsRequestsAlone() throws Exception {
    GatedEcho echo = new GatedEcho();
    echo.collapse = true;
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    var first = submit(s, request("a", null, 0, 0));
    echo.started.await();
    var b = submit(s, request("b", null, 1, 1));
    var c = submit(s, request("c", null, 2, 2));
    echo.gate.release(10);
    assertThat(floats(first.get().outputs().get(0))).containsExactly(1, 1);
    assertThat(floats(b.get().outputs().get(0))).containsExactly(2, 2);
    assertThat(floats(c.get().outputs().get(0))).containsExactly(3, 3);
    // The joined pass of b and c could not be split: each ran again alone, and no more joining.
    assertThat(echo.batchRows).containsExactly(1L, 2L, 1L, 1L);
    var d = submit(s, request("d", null, 4, 4));
    assertThat(floats(d.get().outputs().get(0))).containsExactly(5, 5);
  }

  private static final long HOUR_MICROS = 3_600_000_000L;

  private static void assertTimedOut(CompletableFuture<InferenceResponse> f) {
    assertThatThrownBy(f::get)
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED));
  }

  @Test
  void requestsWithOneDefaultTimeoutShareOneExpiryTask() throws Exception {
    GatedEcho echo = new GatedEcho();
    SchedulingConfig c =
        SchedulingConfig.defaults()
            .withTimeout(HOUR_MICROS, SchedulingConfig.TimeoutAction.REJECT, false);
    ModelScheduler s = scheduler(c, echo, new ModelStatistics(() -> 0L));
    var running = submit(s, request("a", null, 0, 0));
    echo.started.await();
    List<CompletableFuture<InferenceResponse>> queued = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      queued.add(submit(s, request(Integer.toString(i), null, i, i)));
    }
    assertThat(s.queued()).isEqualTo(100);
    // Every later request's deadline is after the armed one: no task per request.
    assertThat(timer.scheduled).hasValue(1);
    assertThat(timer.pending()).isEqualTo(1);
    echo.gate.release(1_000);
    running.get();
    for (var f : queued) {
      f.get();
    }
    assertThat(timer.scheduled).hasValue(1);
    s.close();
    assertThat(timer.pending()).isZero();
  }

  @Test
  void anEarlierPerRequestTimeoutArmsEarlierAndExpiresWhileALaterOneWaits() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    SchedulingConfig c =
        SchedulingConfig.defaults()
            .withTimeout(HOUR_MICROS, SchedulingConfig.TimeoutAction.REJECT, true);
    ModelScheduler s = scheduler(c, echo, stats);
    var running = submit(s, request("a", null, 0, 0));
    echo.started.await();
    var older = submit(s, request("older", null, 5, 5));
    assertThat(timer.scheduled).hasValue(1);
    var urgent = submit(s, request("urgent", Map.of("timeout", 1_000L), 9, 9));
    // The worker is held: only the expiry task, armed again for the earlier deadline, answers it.
    assertTimedOut(urgent);
    assertThat(older).isNotDone();
    assertThat(s.queued()).isEqualTo(1);
    // Armed for "a", then for "urgent", then (when that fired) for "older"; one waits.
    assertThat(timer.scheduled).hasValue(3);
    assertThat(timer.pending()).isEqualTo(1);
    echo.gate.release(10);
    running.get();
    assertThat(floats(older.get().outputs().get(0))).containsExactly(6, 6);
    assertThat(echo.batchRows).containsExactly(1L, 1L);
    assertThat(stats.snapshot().timedOut()).isEqualTo(1);
  }

  @Test
  void withDelayAnOverdueRequestRunsAfterThoseOnTime() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    SchedulingConfig c =
        SchedulingConfig.defaults()
            .withDynamicBatching(false)
            .withTimeout(HOUR_MICROS, SchedulingConfig.TimeoutAction.DELAY, true);
    ModelScheduler s = scheduler(c, echo, stats);
    var running = submit(s, request("a", null, 0, 0));
    echo.started.await();
    var late = submit(s, request("late", Map.of("timeout", 1_000L), 1, 1));
    var onTime = submit(s, request("onTime", null, 2, 2));
    // The expiry task armed for "late" (the one for "a" was replaced, never ran) moves it back.
    timer.ran.acquire();
    assertThat(s.queued()).isEqualTo(2);
    echo.gate.release(10);
    running.get();
    assertThat(floats(onTime.get().outputs().get(0))).containsExactly(3, 3);
    assertThat(floats(late.get().outputs().get(0))).containsExactly(2, 2);
    assertThat(echo.firstValues).containsExactly(0f, 2f, 1f);
    assertThat(stats.snapshot().timedOut()).isZero();
  }

  /**
   * preserve-ordering with timeout-action DELAY and no default timeout (what a configuration may
   * have: with a default timeout the load refuses it, as Triton does), a request whose own {@code
   * timeout} passes: it runs after those on time, as without preserve-ordering, but its answer
   * keeps its arrival place; the answers of the requests that passed it wait for it.
   */
  @Test
  void withPreserveOrderingADelayedRequestIsAnsweredInItsArrivalPlace() throws Exception {
    GatedEcho echo = new GatedEcho();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    SchedulingConfig c =
        SchedulingConfig.defaults()
            .withDynamicBatching(false)
            .withPreferredBatchSizes(List.of(), true)
            .withTimeout(0, SchedulingConfig.TimeoutAction.DELAY, false);
    ModelScheduler s = scheduler(c, echo, stats);
    List<String> order = Collections.synchronizedList(new ArrayList<>());
    var running = submit(s, request("a", null, 0, 0));
    echo.started.await();
    var late = submit(s, request("late", Map.of("timeout", 1_000L), 1, 1));
    var onTime = submit(s, request("onTime", null, 2, 2));
    var alsoOnTime = submit(s, request("alsoOnTime", null, 3, 3));
    timer.ran.acquire(); // "late" moved behind the requests on time
    List<CompletableFuture<Void>> recorded = new ArrayList<>();
    for (var f : List.of(running, late, onTime, alsoOnTime)) {
      recorded.add(f.thenAccept(r -> order.add(r.id())));
    }
    echo.gate.release(10);
    CompletableFuture.allOf(recorded.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
    assertThat(echo.firstValues).as("run: late last").containsExactly(0f, 2f, 3f, 1f);
    assertThat(order)
        .as("answered: arrival order")
        .containsExactly("a", "late", "onTime", "alsoOnTime");
    assertThat(stats.snapshot().timedOut()).isZero();
  }
}
