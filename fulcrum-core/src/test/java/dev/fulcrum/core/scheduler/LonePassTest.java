package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.config.SchedulingConfig;
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
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Lone passes: a request that arrives at an idle scheduler of a model with short passes runs on the
 * submitting thread, on the instance it borrows. Time is a counter (each reading advances it by 1
 * us, each pass of the slow model by 1 ms), so that "short" does not depend on this machine.
 */
class LonePassTest {
  private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
  private final List<ModelScheduler> schedulers = new ArrayList<>();
  private final AtomicLong clock = new AtomicLong();
  private final Ticker ticker = () -> clock.addAndGet(1_000);

  private final ExecutorService callers = Executors.newCachedThreadPool();

  @AfterEach
  void close() {
    schedulers.forEach(ModelScheduler::close);
    timer.shutdownNow();
    callers.shutdownNow();
  }

  /** Echoes x + 1; records the threads it ran on and how many passes ran at once. */
  final class Echo implements ModelInstance {
    final List<String> threads = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger running = new AtomicInteger();
    final AtomicInteger mostAtOnce = new AtomicInteger();
    final List<String> events = Collections.synchronizedList(new ArrayList<>());
    volatile long passNanos;
    volatile Semaphore gate = new Semaphore(Integer.MAX_VALUE);
    final CountDownLatch entered = new CountDownLatch(1);

    @Override
    public ModelSignature signature() {
      return null;
    }

    @Override
    public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
      mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
      try {
        threads.add(Thread.currentThread().getName());
        events.add("run");
        entered.countDown();
        gate.acquireUninterruptibly();
        clock.addAndGet(passNanos);
        ByteBuffer in = inputs.get(0).data();
        ByteBuffer out = ByteBuffer.allocate(in.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
          out.putFloat(in.getFloat() + 1);
        }
        return List.of(Tensor.of("y", DataType.FP32, inputs.get(0).shape(), out.flip()));
      } finally {
        running.decrementAndGet();
      }
    }

    @Override
    public void close() {
      events.add("close");
    }
  }

  private ModelScheduler scheduler(SchedulingConfig s, Echo echo, ModelStatistics stats) {
    return scheduler(s, echo, stats, ticker);
  }

  private ModelScheduler scheduler(
      SchedulingConfig s, Echo echo, ModelStatistics stats, Ticker ticker) {
    ModelScheduler sch =
        new ModelScheduler(
            "m-v1",
            SchedulerFixtures.config(s),
            List.of(echo),
            ModelScheduler.Options.of(timer)
                .withTicker(ticker)
                .withObserver(stats)
                .withInlineLimit(ModelScheduler.DEFAULT_INLINE_PASS_LIMIT)
                .withPassClock(ticker));
    schedulers.add(sch);
    return sch;
  }

  private static CompletableFuture<InferenceResponse> submit(ModelScheduler s, float v) {
    return SchedulerFixtures.submit(s, v);
  }

  /** Runs {@code n} requests one after another (each answered before the next). */
  private static void sequential(ModelScheduler s, int n) throws Exception {
    for (int i = 0; i < n; i++) {
      submit(s, i).get(10, TimeUnit.SECONDS);
    }
  }

  /** Waits (bounded) until a lone request would be run inline: the worker parked, passes known. */
  private static void awaitLendable(ModelScheduler s) throws InterruptedException {
    for (int i = 0; i < 10_000 && !s.lendable(); i++) {
      Thread.sleep(1);
    }
    assertThat(s.lendable()).as("an instance to lend").isTrue();
  }

  @Test
  void aLoneShortPassRunsOnTheSubmittingThreadOnceItsPassesAreKnown() throws Exception {
    Echo echo = new Echo();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, stats);
    // Unknown passes: the first ones run on the worker, which learns them.
    assertThat(s.lendable()).isFalse();
    sequential(s, ModelScheduler.LEARN_PASSES);
    assertThat(echo.threads).allMatch(t -> t.startsWith("fulcrum-exec-m-v1-"));
    awaitLendable(s);
    CompletableFuture<InferenceResponse> f = submit(s, 41);
    // Answered before submit returned, on this thread, and counted as any pass is.
    assertThat(f).isCompleted();
    assertThat(echo.threads.getLast()).isEqualTo(Thread.currentThread().getName());
    ByteBuffer y = f.get().outputs().get(0).data();
    assertThat(y.getFloat(0)).isEqualTo(42f);
    ModelStatistics.Snapshot snap = stats.snapshot();
    assertThat(snap.success().count()).isEqualTo(ModelScheduler.LEARN_PASSES + 1);
    assertThat(snap.executionCount()).isEqualTo(ModelScheduler.LEARN_PASSES + 1);
    assertThat(s.pending()).isZero();
  }

  @Test
  void aLonePassAnswersOnTheSubmittingThreadNotOnTheRequestsExecutor() throws Exception {
    Echo echo = new Echo();
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    sequential(s, ModelScheduler.LEARN_PASSES);
    awaitLendable(s);
    ModelSchedulerTest.HeldTasks loop = new ModelSchedulerTest.HeldTasks();
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(1);
    Tensor x = Tensor.of("x", DataType.FP32, new long[] {1, 2}, b.flip());
    InferenceRequest r = new InferenceRequest("m", "", "r", null, List.of(x), null);
    CompletableFuture<InferenceResponse> f =
        s.submit(
            r,
            RequestValidator.validate(SchedulerFixtures.config(SchedulingConfig.defaults()), r),
            loop);
    // The submitting thread is where the answer is written: nothing to hand over.
    assertThat(f).isCompleted();
    assertThat(loop.tasks).isEmpty();
  }

  @Test
  void theCpuClockIsReadOnlyAfterAPassThatWasLongInWallTime() throws Exception {
    Echo echo = new Echo();
    AtomicInteger cpuReads = new AtomicInteger();
    Ticker cpu =
        () -> {
          cpuReads.incrementAndGet();
          return clock.get();
        };
    ModelScheduler s =
        new ModelScheduler(
            "m-v1",
            SchedulerFixtures.config(SchedulingConfig.defaults()),
            List.of(echo),
            ModelScheduler.Options.of(timer)
                .withTicker(ticker)
                .withObserver(new ModelStatistics(() -> 0L))
                .withInlineLimit(ModelScheduler.DEFAULT_INLINE_PASS_LIMIT)
                .withPassClock(cpu));
    schedulers.add(s);
    // Short in wall time: short on the CPU clock too, which is never read (a system call).
    sequential(s, ModelScheduler.LEARN_PASSES);
    awaitLendable(s);
    submit(s, 1).get(10, TimeUnit.SECONDS);
    assertThat(cpuReads).hasValue(0);
    // Long in wall time with no CPU reading: judged by its wall time; the next passes are timed
    // on the CPU clock as well (one read before each; a second only after one long in wall
    // time), until CPU_TIMED_PASSES short ones have passed.
    echo.passNanos = 5_000_000;
    submit(s, 2).get(10, TimeUnit.SECONDS);
    assertThat(cpuReads).hasValue(0);
    echo.passNanos = 0;
    submit(s, 3).get(10, TimeUnit.SECONDS);
    assertThat(cpuReads).hasValue(1);
    sequential(s, ModelScheduler.CPU_TIMED_PASSES + 4);
    assertThat(cpuReads).hasValue(ModelScheduler.CPU_TIMED_PASSES);
  }

  @Test
  void aModelWithLongPassesAlwaysRunsOnItsWorker() throws Exception {
    Echo echo = new Echo();
    echo.passNanos = 1_000_000; // 1 ms: above the limit
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    sequential(s, 3 * ModelScheduler.LEARN_PASSES);
    assertThat(s.lendable()).isFalse();
    assertThat(echo.threads).allMatch(t -> t.startsWith("fulcrum-exec-m-v1-"));
  }

  @Test
  void aModelThatTurnsSlowGoesBackToItsWorkerAndAFewOutliersDoNotSendItThere() throws Exception {
    Echo echo = new Echo();
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    sequential(s, ModelScheduler.LEARN_PASSES);
    awaitLendable(s);
    // One preempted pass among short ones: still lent.
    echo.passNanos = 5_000_000;
    submit(s, 1).get(10, TimeUnit.SECONDS);
    echo.passNanos = 0;
    awaitLendable(s);
    // Slow from now on: within a few passes the worker runs them again, and keeps them.
    echo.passNanos = 1_000_000;
    sequential(s, 2 * ModelScheduler.LEARN_PASSES);
    assertThat(s.lendable()).isFalse();
    assertThat(echo.threads.subList(echo.threads.size() - 4, echo.threads.size()))
        .allMatch(t -> t.startsWith("fulcrum-exec-m-v1-"));
  }

  @Test
  void underContentionNothingIsLentAndWhenRequestsArriveAloneAgainLendingResumes()
      throws Exception {
    Echo echo = new Echo();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, stats);
    sequential(s, ModelScheduler.LEARN_PASSES);
    awaitLendable(s);
    // Bursts: one request runs (lent or not) while three more queue behind it and then run as a
    // batch: the worker's batches would be split by lending, so lending stops.
    // Each round's first request must be lent for its pass to meet the burst: wait (bounded) for
    // the worker to park after the last round's batch, until contention has turned lending off.
    for (int round = 0; round < 20; round++) {
      for (int i = 0; i < 10_000 && !s.lendable() && !s.contended(); i++) {
        Thread.sleep(1);
      }
      if (s.contended()) {
        break;
      }
      Semaphore gate = new Semaphore(0);
      echo.gate = gate;
      int before = echo.running.get();
      CompletableFuture<CompletableFuture<InferenceResponse>> first =
          CompletableFuture.supplyAsync(() -> submit(s, 1), callers);
      for (int i = 0; i < 10_000 && echo.running.get() == before; i++) {
        Thread.sleep(1);
      }
      List<CompletableFuture<InferenceResponse>> burst = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        burst.add(submit(s, 2));
      }
      gate.release(Integer.MAX_VALUE);
      first.get(10, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
      for (CompletableFuture<InferenceResponse> f : burst) {
        f.get(10, TimeUnit.SECONDS);
      }
    }
    echo.gate = new Semaphore(Integer.MAX_VALUE);
    assertThat(s.lendable()).isFalse();
    submit(s, 5).get(10, TimeUnit.SECONDS);
    assertThat(echo.threads.getLast()).startsWith("fulcrum-exec-m-v1-");
    // Requests arriving alone again: the worker's passes of one row bring lending back.
    sequential(s, 3 * ModelScheduler.LEARN_PASSES);
    awaitLendable(s);
  }

  @Test
  void batchesTheWorkerFormsWhileBusyDoNotKeepLendingOff() throws Exception {
    Echo echo = new Echo();
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    // While the version learns its passes, every request runs on the worker: one request runs and
    // three that arrive meanwhile run next as one batch (as the worker's wake-up delay joins
    // requests that arrived alone at a moderate rate). Those batches are not contention.
    for (int round = 0; round < ModelScheduler.LEARN_PASSES; round++) {
      Semaphore gate = new Semaphore(0);
      echo.gate = gate;
      int before = echo.threads.size();
      CompletableFuture<InferenceResponse> first = submit(s, 1);
      for (int i = 0; i < 10_000 && echo.threads.size() == before; i++) {
        Thread.sleep(1);
      }
      List<CompletableFuture<InferenceResponse>> burst = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        burst.add(submit(s, 2));
      }
      gate.release(Integer.MAX_VALUE);
      first.get(10, TimeUnit.SECONDS);
      for (CompletableFuture<InferenceResponse> f : burst) {
        f.get(10, TimeUnit.SECONDS);
      }
    }
    echo.gate = new Semaphore(Integer.MAX_VALUE);
    awaitLendable(s);
    CompletableFuture.supplyAsync(() -> submit(s, 5), callers)
        .get(10, TimeUnit.SECONDS)
        .get(10, TimeUnit.SECONDS);
    assertThat(echo.threads.getLast()).doesNotStartWith("fulcrum-exec-");
  }

  @Test
  void aRequestThatArrivesWhileTheInstanceIsLentWaitsForItAndNeverSharesIt() throws Exception {
    Echo echo = new Echo();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, stats);
    sequential(s, ModelScheduler.LEARN_PASSES);
    awaitLendable(s);
    Semaphore gate = new Semaphore(0);
    echo.gate = gate;
    CompletableFuture<CompletableFuture<InferenceResponse>> lentCall =
        CompletableFuture.supplyAsync(() -> submit(s, 1), callers);
    // Wait until the lent pass runs on that thread, then queue a second request behind it.
    for (int i = 0; i < 10_000 && echo.running.get() == 0; i++) {
      Thread.sleep(1);
    }
    assertThat(echo.running.get()).isEqualTo(1);
    CompletableFuture<InferenceResponse> queued = submit(s, 2);
    assertThat(queued).isNotDone();
    assertThat(s.queued()).isEqualTo(1);
    gate.release(Integer.MAX_VALUE);
    assertThat(lentCall.get(10, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS).id()).isEqualTo("r");
    // The worker was woken when the instance came back, and ran the queued request.
    assertThat(queued.get(10, TimeUnit.SECONDS).outputs().get(0).data().getFloat(0)).isEqualTo(3f);
    assertThat(echo.mostAtOnce.get()).isEqualTo(1);
    assertThat(echo.threads.getLast()).startsWith("fulcrum-exec-m-v1-");
    assertThat(stats.snapshot().success().count()).isEqualTo(ModelScheduler.LEARN_PASSES + 2);
  }

  @Test
  void closeWaitsForALentPassAndTheInstanceClosesAfterIt() throws Exception {
    Echo echo = new Echo();
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    sequential(s, ModelScheduler.LEARN_PASSES);
    awaitLendable(s);
    Semaphore gate = new Semaphore(0);
    echo.gate = gate;
    CompletableFuture<CompletableFuture<InferenceResponse>> lentCall =
        CompletableFuture.supplyAsync(() -> submit(s, 1), callers);
    for (int i = 0; i < 10_000 && echo.running.get() == 0; i++) {
      Thread.sleep(1);
    }
    CompletableFuture<Boolean> closing =
        CompletableFuture.supplyAsync(() -> s.close(Duration.ofSeconds(10)), callers);
    // The close cannot finish while the lent pass runs, and refuses new requests meanwhile.
    for (int i = 0; i < 10_000 && !submit(s, 3).isCompletedExceptionally(); i++) {
      Thread.sleep(1);
    }
    assertThat(closing).isNotDone();
    assertThat(echo.events).doesNotContain("close");
    gate.release(Integer.MAX_VALUE);
    assertThat(closing.get(10, TimeUnit.SECONDS)).isTrue();
    assertThat(lentCall.get(10, TimeUnit.SECONDS)).isCompleted();
    assertThat(echo.events.getLast()).isEqualTo("close");
    assertThat(echo.events.subList(0, echo.events.size() - 1)).allMatch("run"::equals);
  }

  @Test
  void aBatcherThatWaitsForMoreKeepsTheRequestQueued() throws Exception {
    Echo echo = new Echo();
    // Real time here: the worker waits 1 ms of it for more requests to join each one.
    SchedulingConfig delayed = SchedulingConfig.defaults().withMaxQueueDelayMicros(1_000);
    ModelScheduler s = scheduler(delayed, echo, new ModelStatistics(() -> 0L), Ticker.system());
    sequential(s, ModelScheduler.LEARN_PASSES + 2);
    // Every request waited for the queue delay on the worker, none ran on this thread.
    assertThat(echo.threads).allMatch(t -> t.startsWith("fulcrum-exec-m-v1-"));
  }

  @Test
  void theDefaultConstructorNeverLends() throws Exception {
    Echo echo = new Echo();
    ModelScheduler s =
        new ModelScheduler(
            "m-v1",
            SchedulerFixtures.config(SchedulingConfig.defaults()),
            List.of(echo),
            ModelScheduler.Options.of(timer)
                .withTicker(ticker)
                .withObserver(new ModelStatistics(() -> 0L)));
    schedulers.add(s);
    sequential(s, 2 * ModelScheduler.LEARN_PASSES);
    assertThat(s.lendable()).isFalse();
    assertThat(echo.threads).allMatch(t -> t.startsWith("fulcrum-exec-m-v1-"));
  }

  /** A loop run by the test thread: tasks wait until {@link #runTasks}, on this thread. */
  static final class TestLoop implements SubmittingLoop {
    final java.util.ArrayDeque<Runnable> tasks = new java.util.ArrayDeque<>();
    final Thread owner = Thread.currentThread();

    @Override
    public boolean inLoop() {
      return Thread.currentThread() == owner;
    }

    @Override
    public synchronized void execute(Runnable task) {
      tasks.add(task);
    }

    /** Runs the queued tasks, and those they queue, as a loop's turn does; returns how many. */
    int runTasks() {
      int n = 0;
      Runnable r;
      while ((r = poll()) != null) {
        r.run();
        n++;
      }
      return n;
    }

    private synchronized Runnable poll() {
      return tasks.poll();
    }
  }

  private static CompletableFuture<InferenceResponse> submit(
      ModelScheduler s, float v, java.util.concurrent.Executor answerOn) {
    InferenceRequest r = SchedulerFixtures.request("r" + v, v);
    return s.submit(
        r,
        RequestValidator.validate(SchedulerFixtures.config(SchedulingConfig.defaults()), r),
        answerOn);
  }

  @Test
  void theRequestsALoopSubmitsInOneTurnRunAsOnePassAtTheEndOfTheTurn() throws Exception {
    Echo echo = new Echo();
    ModelStatistics stats = new ModelStatistics(() -> 0L);
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, stats);
    sequential(s, ModelScheduler.LEARN_PASSES);
    awaitLendable(s);
    TestLoop loop = new TestLoop();
    CompletableFuture<InferenceResponse> a = submit(s, 1, loop);
    CompletableFuture<InferenceResponse> b = submit(s, 2, loop);
    CompletableFuture<InferenceResponse> c = submit(s, 3, loop);
    // Nothing ran yet: the instance waits, lent, for the end of the loop's turn (one task).
    assertThat(List.of(a, b, c)).noneMatch(CompletableFuture::isDone);
    assertThat(loop.tasks).hasSize(1);
    assertThat(s.queued()).isEqualTo(3);
    Thread.sleep(20);
    assertThat(echo.threads).hasSize(ModelScheduler.LEARN_PASSES);
    // The turn: one pass of the three rows on this thread, its answers handed to the loop.
    assertThat(loop.runTasks()).isEqualTo(2);
    assertThat(echo.threads).hasSize(ModelScheduler.LEARN_PASSES + 1);
    assertThat(echo.threads.getLast()).isEqualTo(Thread.currentThread().getName());
    assertThat(a.get().outputs().get(0).data().getFloat(0)).isEqualTo(2f);
    assertThat(b.get().outputs().get(0).data().getFloat(0)).isEqualTo(3f);
    assertThat(c.get().outputs().get(0).data().getFloat(0)).isEqualTo(4f);
    ModelStatistics.Snapshot snap = stats.snapshot();
    assertThat(snap.success().count()).isEqualTo(ModelScheduler.LEARN_PASSES + 3);
    assertThat(snap.executionCount()).isEqualTo(ModelScheduler.LEARN_PASSES + 1);
    // The instance is back: the next lone request is lent again.
    awaitLendable(s);
    CompletableFuture<InferenceResponse> d = submit(s, 4, loop);
    assertThat(loop.runTasks()).isEqualTo(2);
    assertThat(d.get().outputs().get(0).data().getFloat(0)).isEqualTo(5f);
  }

  @Test
  void anotherThreadsRequestQueuedDuringATurnJoinsItsPassAndIsAnsweredOnItsOwnExecutor()
      throws Exception {
    Echo echo = new Echo();
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    sequential(s, ModelScheduler.LEARN_PASSES);
    awaitLendable(s);
    TestLoop loop = new TestLoop();
    ModelSchedulerTest.HeldTasks other = new ModelSchedulerTest.HeldTasks();
    CompletableFuture<InferenceResponse> mine = submit(s, 1, loop);
    CompletableFuture<InferenceResponse> theirs =
        CompletableFuture.supplyAsync(() -> submit(s, 7, other), callers).get(10, TimeUnit.SECONDS);
    // The other thread's request queues behind the turn; the parked worker is not woken for it.
    Thread.sleep(20);
    assertThat(theirs).isNotDone();
    assertThat(echo.threads).hasSize(ModelScheduler.LEARN_PASSES);
    loop.runTasks();
    assertThat(mine.get().outputs().get(0).data().getFloat(0)).isEqualTo(2f);
    assertThat(echo.threads).hasSize(ModelScheduler.LEARN_PASSES + 1);
    assertThat(theirs).isNotDone();
    other.tasks.take().run();
    assertThat(theirs.get().outputs().get(0).data().getFloat(0)).isEqualTo(8f);
  }

  @Test
  void aLoopThatIsNotTheSubmittingThreadGetsALonePass() throws Exception {
    Echo echo = new Echo();
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    sequential(s, ModelScheduler.LEARN_PASSES);
    awaitLendable(s);
    TestLoop loop = CompletableFuture.supplyAsync(TestLoop::new, callers).get(10, TimeUnit.SECONDS);
    CompletableFuture<InferenceResponse> f = submit(s, 1, loop);
    assertThat(f).isCompleted();
    assertThat(loop.tasks).isEmpty();
  }

  @Test
  void closeWithATurnPendingWaitsForItAndAnswersItsRequest() throws Exception {
    Echo echo = new Echo();
    ModelScheduler s = scheduler(SchedulingConfig.defaults(), echo, new ModelStatistics(() -> 0L));
    sequential(s, ModelScheduler.LEARN_PASSES);
    awaitLendable(s);
    TestLoop loop = new TestLoop();
    CompletableFuture<InferenceResponse> f = submit(s, 1, loop);
    CompletableFuture<Boolean> closing =
        CompletableFuture.supplyAsync(() -> s.close(Duration.ofSeconds(10)), callers);
    Thread.sleep(20);
    assertThat(closing).isNotDone();
    assertThat(echo.events).doesNotContain("close");
    // The turn finds the scheduler closing and hands the instance back; the worker drains.
    loop.runTasks();
    assertThat(closing.get(10, TimeUnit.SECONDS)).isTrue();
    loop.runTasks(); // the worker's pass answers on the request's loop
    assertThat(f).isDone();
    assertThat(echo.events.getLast()).isEqualTo("close");
  }
}
