package dev.fulcrum.core.scheduler;

import static dev.fulcrum.core.scheduler.SchedulerFixtures.submit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Which idle instance a pass goes to, with two instances and real worker threads; requests are
 * submitted one at a time once both workers are parked, so the choice is the scheduler's alone. No
 * timing assertions: the waits are bounded polls of the scheduler's state.
 */
class InstanceChoiceTest {
  private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
  private final List<ModelScheduler> schedulers = new ArrayList<>();

  @AfterEach
  void close() {
    schedulers.forEach(ModelScheduler::close);
    timer.shutdownNow();
  }

  /** Echoes x + 1, counts its passes, and holds a pass on its gate while the test closes it. */
  static final class Counted implements ModelInstance {
    final AtomicInteger passes = new AtomicInteger();
    volatile Semaphore gate = new Semaphore(Integer.MAX_VALUE);
    volatile CountDownLatch entered = new CountDownLatch(1);

    @Override
    public ModelSignature signature() {
      return null;
    }

    @Override
    public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
      passes.incrementAndGet();
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
    public void close() {}
  }

  private ModelScheduler scheduler(InstanceChoice choice, Counted a, Counted b) {
    ModelScheduler s =
        new ModelScheduler(
            "m-v1",
            SchedulerFixtures.config(SchedulingConfig.defaults()),
            List.of(a, b),
            ModelScheduler.Options.of(timer)
                .withObserver(new ModelStatistics(() -> 0L))
                .withInstanceChoice(choice));
    schedulers.add(s);
    return s;
  }

  /** Waits (bounded) until {@code n} workers are parked with nothing to run. */
  private static void awaitParked(ModelScheduler s, int n) throws InterruptedException {
    for (int i = 0; i < 10_000 && s.parkedWorkers() != n; i++) {
      Thread.sleep(1);
    }
    assertThat(s.parkedWorkers()).as("workers parked").isEqualTo(n);
  }

  /** Runs {@code n} requests one at a time, each submitted with both workers parked. */
  private static void oneAtATime(ModelScheduler s, int n) throws Exception {
    for (int i = 0; i < n; i++) {
      awaitParked(s, 2);
      assertThat(submit(s, i).get(10, TimeUnit.SECONDS).outputs()).hasSize(1);
    }
  }

  @Test
  void requestsThatArriveAloneAllRunOnTheInstanceThatRanLast() throws Exception {
    Counted a = new Counted();
    Counted b = new Counted();
    ModelScheduler s = scheduler(InstanceChoice.MOST_RECENT, a, b);
    oneAtATime(s, 20);
    assertThat(a.passes.get() + b.passes.get()).isEqualTo(20);
    assertThat(List.of(a.passes.get(), b.passes.get())).containsExactlyInAnyOrder(20, 0);
  }

  @Test
  void theLongestIdleChoiceAlternatesRequestsThatArriveAlone() throws Exception {
    Counted a = new Counted();
    Counted b = new Counted();
    ModelScheduler s = scheduler(InstanceChoice.LONGEST_IDLE, a, b);
    oneAtATime(s, 20);
    assertThat(a.passes.get()).isEqualTo(10);
    assertThat(b.passes.get()).isEqualTo(10);
  }

  @Test
  void aRequestThatArrivesWhileTheHotInstanceIsBusyWakesTheOther() throws Exception {
    Counted a = new Counted();
    Counted b = new Counted();
    ModelScheduler s = scheduler(InstanceChoice.MOST_RECENT, a, b);
    oneAtATime(s, 3); // instance a is the hot one (ties go to the first)
    assertThat(a.passes.get()).isEqualTo(3);
    a.gate = new Semaphore(0);
    a.entered = new CountDownLatch(1);
    CompletableFuture<InferenceResponse> held = submit(s, 1);
    assertThat(a.entered.await(10, TimeUnit.SECONDS)).isTrue();
    // a's pass is held: the next request must not wait for it
    submit(s, 2).get(10, TimeUnit.SECONDS);
    assertThat(b.passes.get()).isEqualTo(1);
    assertThat(held).isNotDone();
    // b's answer is out before its worker notes the pass's end: wait until b is parked, or a's
    // pass could end first and b's end be noted after it
    awaitParked(s, 1);
    a.gate.release(Integer.MAX_VALUE / 2);
    held.get(10, TimeUnit.SECONDS);
    // a's pass ended after b's: a is the most recent again, and takes the next lone request
    awaitParked(s, 2);
    submit(s, 3).get(10, TimeUnit.SECONDS);
    assertThat(a.passes.get()).isEqualTo(5);
    assertThat(b.passes.get()).isEqualTo(1);
  }

  @Test
  void theInstanceWhosePassEndedLastIsChosenNotTheFirst() throws Exception {
    Counted a = new Counted();
    Counted b = new Counted();
    ModelScheduler s = scheduler(InstanceChoice.MOST_RECENT, a, b);
    oneAtATime(s, 1);
    a.gate = new Semaphore(0);
    a.entered = new CountDownLatch(1);
    b.gate = new Semaphore(0);
    b.entered = new CountDownLatch(1);
    CompletableFuture<InferenceResponse> onA = submit(s, 1);
    assertThat(a.entered.await(10, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<InferenceResponse> onB = submit(s, 2);
    assertThat(b.entered.await(10, TimeUnit.SECONDS)).isTrue();
    a.gate.release(Integer.MAX_VALUE / 2);
    onA.get(10, TimeUnit.SECONDS);
    awaitParked(s, 1); // a parked; b still in its pass
    b.gate.release(Integer.MAX_VALUE / 2);
    onB.get(10, TimeUnit.SECONDS);
    // b's pass ended last: the lone requests that follow run on b
    oneAtATime(s, 5);
    assertThat(a.passes.get()).isEqualTo(2);
    assertThat(b.passes.get()).isEqualTo(6);
  }

  @Test
  void aRequestThatArrivesWhileTheLastPassIsBeingAnsweredWaitsForThatWorker() throws Exception {
    Counted a = new Counted();
    Counted b = new Counted();
    ModelScheduler s = scheduler(InstanceChoice.MOST_RECENT, a, b);
    CountDownLatch inListener = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger listened = new AtomicInteger();
    s.passListener(
        pass -> {
          if (listened.incrementAndGet() == 2) { // a's second pass: its answer is out, not parked
            inListener.countDown();
            try {
              release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        });
    oneAtATime(s, 1);
    CompletableFuture<InferenceResponse> answered = submit(s, 1);
    assertThat(inListener.await(10, TimeUnit.SECONDS)).isTrue();
    answered.get(10, TimeUnit.SECONDS);
    // b is parked and idle, but a is finishing: the next request is a's, not a wake-up of b
    CompletableFuture<InferenceResponse> next = submit(s, 2);
    assertThat(s.parkedWorkers()).isEqualTo(1);
    release.countDown();
    next.get(10, TimeUnit.SECONDS);
    assertThat(a.passes.get()).isEqualTo(3);
    assertThat(b.passes.get()).isZero();
  }

  @Test
  void choicesParseFromTheirConfigurationWords() {
    assertThat(InstanceChoice.parse("most-recent")).isEqualTo(InstanceChoice.MOST_RECENT);
    assertThat(InstanceChoice.parse(" Longest-Idle ")).isEqualTo(InstanceChoice.LONGEST_IDLE);
    assertThat(InstanceChoice.DEFAULT.word()).isEqualTo("most-recent");
    assertThatThrownBy(() -> InstanceChoice.parse("lifo"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("most-recent or longest-idle")
        .hasMessageContaining("lifo");
  }
}
