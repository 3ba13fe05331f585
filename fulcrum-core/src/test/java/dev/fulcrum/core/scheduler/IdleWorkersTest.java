package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceResponse;
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
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Idle workers (ModelScheduler, "Idle workers"): with a positive worker idle time, an instance's
 * engine thread starts at the first request that needs it, ends after the idle time, starts again
 * for the next request, and the close still drains the queue and closes every instance on its
 * worker's thread. Real threads; no timing assertions (waits for a state are bounded, generously).
 */
class IdleWorkersTest {
  private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
  private final List<ModelScheduler> schedulers = new ArrayList<>();

  @AfterEach
  void close() {
    schedulers.forEach(ModelScheduler::close);
    timer.shutdownNow();
  }

  /** Echoes x + 1 behind a gate; records the threads of its passes and of its close. */
  static final class Echo implements ModelInstance {
    final List<String> passThreads = Collections.synchronizedList(new ArrayList<>());
    final List<String> closeThreads = Collections.synchronizedList(new ArrayList<>());
    final Semaphore gate = new Semaphore(Integer.MAX_VALUE);
    final CountDownLatch entered = new CountDownLatch(1);

    @Override
    public ModelSignature signature() {
      return null;
    }

    @Override
    public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
      passThreads.add(Thread.currentThread().getName());
      entered.countDown();
      gate.acquireUninterruptibly();
      ByteBuffer in = inputs.get(0).data();
      ByteBuffer out = ByteBuffer.allocate(in.remaining()).order(ByteOrder.LITTLE_ENDIAN);
      while (in.hasRemaining()) {
        out.putFloat(in.getFloat() + 1);
      }
      return List.of(Tensor.of("y", DataType.FP32, inputs.get(0).shape(), out.flip()));
    }

    @Override
    public void close() {
      closeThreads.add(Thread.currentThread().getName());
    }
  }

  private ModelScheduler scheduler(Duration idle, Echo... echoes) {
    ModelScheduler s =
        new ModelScheduler(
            "m-v1",
            SchedulerFixtures.config(SchedulingConfig.defaults()),
            List.of(echoes),
            ModelScheduler.Options.of(timer)
                .withObserver(new ModelStatistics(System::currentTimeMillis))
                .withWorkerIdle(idle));
    schedulers.add(s);
    return s;
  }

  private static boolean execThreadAlive() {
    return Thread.getAllStackTraces().keySet().stream()
        .anyMatch(t -> t.getName().startsWith("fulcrum-exec-m-v1-") && t.isAlive());
  }

  /** Waits up to 30 s for {@code state} (a bound against hangs, not a timing). */
  private static void awaitState(BooleanSupplier state) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!state.getAsBoolean()) {
      assertThat(System.nanoTime() - end).as("the state was not reached in 30 s").isNegative();
      Thread.sleep(5);
    }
  }

  private static float answer(CompletableFuture<InferenceResponse> f) {
    return f.join().outputs().get(0).data().order(ByteOrder.LITTLE_ENDIAN).getFloat(0);
  }

  @Test
  void noThreadBeforeTheFirstRequestThenOneStartsForIt() {
    Echo echo = new Echo();
    ModelScheduler s = scheduler(Duration.ofHours(1), echo);

    assertThat(s.workerThreads()).isZero();
    assertThat(s.threadsStarted()).isZero();
    assertThat(execThreadAlive()).isFalse();

    assertThat(answer(SchedulerFixtures.submit(s, 1))).isEqualTo(2f);
    assertThat(answer(SchedulerFixtures.submit(s, 2))).isEqualTo(3f);

    assertThat(s.threadsStarted()).isEqualTo(1);
    assertThat(s.workerThreads()).isEqualTo(1);
    assertThat(echo.passThreads).containsOnly("fulcrum-exec-m-v1-0");
  }

  @Test
  void anIdleThreadEndsAndTheNextRequestStartsAnother() throws Exception {
    Echo echo = new Echo();
    ModelScheduler s = scheduler(Duration.ofMillis(20), echo);
    assertThat(answer(SchedulerFixtures.submit(s, 1))).isEqualTo(2f);

    awaitState(() -> s.workerThreads() == 0);
    awaitState(() -> !execThreadAlive());
    assertThat(echo.closeThreads).as("the instance stays open for the next thread").isEmpty();

    assertThat(answer(SchedulerFixtures.submit(s, 5))).isEqualTo(6f);
    assertThat(s.threadsStarted()).isEqualTo(2);
    assertThat(echo.passThreads).containsOnly("fulcrum-exec-m-v1-0");

    assertThat(s.close(Duration.ofSeconds(30))).isTrue();
    assertThat(echo.closeThreads).containsExactly("fulcrum-exec-m-v1-0");
    assertThat(s.isTerminated()).isTrue();
  }

  @Test
  void closingAVersionThatNeverServedClosesEachInstanceOnItsWorkersThread() {
    Echo a = new Echo();
    Echo b = new Echo();
    ModelScheduler s = scheduler(Duration.ofHours(1), a, b);
    assertThat(s.isTerminated()).isFalse();

    assertThat(s.close(Duration.ofSeconds(30))).isTrue();

    assertThat(a.closeThreads).containsExactly("fulcrum-exec-m-v1-0");
    assertThat(b.closeThreads).containsExactly("fulcrum-exec-m-v1-1");
    assertThat(a.passThreads).isEmpty();
    assertThat(s.isTerminated()).isTrue();
    assertThatThrownBy(() -> SchedulerFixtures.submit(s, 1).join())
        .isInstanceOf(CompletionException.class)
        .hasCauseInstanceOf(InferenceException.class)
        .hasMessageContaining("unloading");
  }

  @Test
  void theCloseDrainsWhatIsQueuedThenClosesTheInstanceOnce() throws Exception {
    Echo echo = new Echo();
    ModelScheduler s = scheduler(Duration.ofMillis(20), echo);
    echo.gate.drainPermits();
    CompletableFuture<InferenceResponse> first = SchedulerFixtures.submit(s, 1);
    assertThat(echo.entered.await(30, TimeUnit.SECONDS)).isTrue();
    List<CompletableFuture<InferenceResponse>> queued = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      queued.add(SchedulerFixtures.submit(s, 10 + i));
    }
    s.beginClose();
    echo.gate.release(Integer.MAX_VALUE / 2);

    assertThat(s.close(Duration.ofSeconds(30))).isTrue();

    assertThat(answer(first)).isEqualTo(2f);
    for (CompletableFuture<InferenceResponse> q : queued) {
      assertThat(q).isCompleted();
      assertThat(q.join().outputs()).hasSize(1);
    }
    assertThat(echo.closeThreads).containsExactly("fulcrum-exec-m-v1-0");
    assertThat(s.threadsStarted()).isEqualTo(1);
  }

  @Test
  void aWorkerThatEndedIdleIsGivenAThreadToCloseItsInstance() throws Exception {
    Echo echo = new Echo();
    ModelScheduler s = scheduler(Duration.ofMillis(20), echo);
    assertThat(answer(SchedulerFixtures.submit(s, 1))).isEqualTo(2f);
    awaitState(() -> s.workerThreads() == 0);

    assertThat(s.close(Duration.ofSeconds(30))).isTrue();

    assertThat(echo.closeThreads).containsExactly("fulcrum-exec-m-v1-0");
    assertThat(s.threadsStarted()).isEqualTo(2);
    assertThat(s.isTerminated()).isTrue();
  }

  @Test
  void withoutAnIdleTimeTheThreadsStartWithTheSchedulerAsBefore() {
    Echo a = new Echo();
    Echo b = new Echo();
    ModelScheduler s = scheduler(Duration.ZERO, a, b);

    assertThat(s.threadsStarted()).isEqualTo(2);
    assertThat(s.workerThreads()).isEqualTo(2);
  }

  @Test
  void aNegativeIdleTimeIsRefused() {
    assertThatThrownBy(() -> scheduler(Duration.ofSeconds(-1), new Echo()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("workerIdle");
  }
}
