package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.config.SequenceBatchingConfig;
import dev.fulcrum.core.config.StatefulConfigs;
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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The sequence batcher in front of a real scheduler whose one instance is a gated accumulator
 * ({@code OUTPUT = STATE_IN * (1 - START) + INPUT}, its state the output), with a ticker the test
 * moves: requests pile up in the batcher in a known state. No sleeps, no timing assertions.
 */
class SequenceBatcherTest {
  private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final Ticker ticker = now::get;
  private final List<AutoCloseable> open = new ArrayList<>();
  private final ModelStatistics stats = new ModelStatistics(() -> 0L);
  private final GatedAccumulator instance = new GatedAccumulator();

  @AfterEach
  void close() throws Exception {
    instance.gate.release(1_000_000);
    for (AutoCloseable c : open.reversed()) {
      c.close();
    }
    timer.shutdownNow();
  }

  /** Adds INPUT to the sequence's state; each pass waits for a permit of {@link #gate}. */
  static final class GatedAccumulator implements ModelInstance {
    final Semaphore gate = new Semaphore(0);
    final Semaphore started = new Semaphore(0);

    @Override
    public @Nullable ModelSignature signature() {
      return null;
    }

    @Override
    public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
      started.release();
      gate.acquireUninterruptibly();
      float in = 0;
      float state = 0;
      int start = 0;
      for (Tensor t : inputs) {
        switch (t.name()) {
          case "INPUT" -> in = t.data().getFloat(0);
          case "STATE_IN" -> state = t.data().getFloat(0);
          case "START" -> start = t.data().getInt(0);
          default -> {}
        }
      }
      float out = state * (1 - start) + in;
      return List.of(scalar("OUTPUT", out), scalar("STATE_OUT", out));
    }

    @Override
    public void close() {}
  }

  private static Tensor scalar(String name, float v) {
    ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).flip();
    return Tensor.of(name, DataType.FP32, new long[] {1}, b);
  }

  /** A model that does not batch (one slot), with START and the state, and {@code scheduling}. */
  private static ModelConfig config(SchedulingConfig scheduling) {
    return config(scheduling, SequenceBatchingConfig.Strategy.DIRECT, 0);
  }

  private static ModelConfig config(
      SchedulingConfig scheduling, SequenceBatchingConfig.Strategy strategy, int candidates) {
    return StatefulConfigs.accumulator(
        0,
        scheduling,
        new SequenceBatchingConfig(
            strategy,
            candidates,
            60_000_000L,
            List.of(
                new SequenceBatchingConfig.ControlInput(
                    "START", SequenceBatchingConfig.Kind.START, DataType.INT32)),
            List.of(
                new SequenceBatchingConfig.State(
                    "STATE_IN", "STATE_OUT", DataType.FP32, List.of(1L)))));
  }

  private ModelConfig config;
  private ModelScheduler scheduler;

  private SequenceBatcher batcher(SchedulingConfig scheduling) {
    return batcher(config(scheduling));
  }

  private SequenceBatcher batcher(ModelConfig c) {
    config = c;
    scheduler =
        new ModelScheduler(
            "acc-v1",
            config,
            List.of(instance),
            ModelScheduler.Options.of(timer).withTicker(ticker).withObserver(stats));
    open.add(scheduler::close);
    SequenceBatcher b = new SequenceBatcher(config, scheduler, ticker, timer);
    open.add(b);
    return b;
  }

  private static InferenceRequest request(long id, float input, boolean start, boolean end) {
    return request(id, input, start, end, 0);
  }

  private static InferenceRequest request(
      long id, float input, boolean start, boolean end, long timeoutMicros) {
    Map<String, Object> p = new HashMap<>();
    p.put("sequence_id", id);
    if (start) {
      p.put("sequence_start", true);
    }
    if (end) {
      p.put("sequence_end", true);
    }
    if (timeoutMicros > 0) {
      p.put("timeout", timeoutMicros);
    }
    ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(input).flip();
    Tensor x = Tensor.of("INPUT", DataType.FP32, new long[] {1}, b);
    return new InferenceRequest("acc", "", "r" + id, p, List.of(x), null);
  }

  private CompletableFuture<InferenceResponse> submit(SequenceBatcher b, InferenceRequest r) {
    return b.submit(r, RequestValidator.validate(config, r), null);
  }

  private static float sum(CompletableFuture<InferenceResponse> f) throws Exception {
    return f.get(60, TimeUnit.SECONDS).outputs().get(0).data().getFloat(0);
  }

  private static InferenceException failure(CompletableFuture<InferenceResponse> f) {
    try {
      f.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return (InferenceException) e.getCause();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("answered");
  }

  /**
   * Triton's oldest strategy: an instance holds max-candidate-sequences sequences, more than its
   * batch rows (here one: the model does not batch), each with its own state; the queue takes the
   * oldest ready request of each, one at a time, and a sequence beyond the candidates waits for one
   * to end.
   */
  @Test
  void theOldestStrategyHoldsMoreSequencesThanRowsEachWithItsOwnState() throws Exception {
    SequenceBatcher b =
        batcher(config(SchedulingConfig.defaults(), SequenceBatchingConfig.Strategy.OLDEST, 3));
    assertThat(b.slots()).isEqualTo(3);
    CompletableFuture<InferenceResponse> a1 = submit(b, request(1, 1, true, false));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> b1 = submit(b, request(2, 10, true, false));
    CompletableFuture<InferenceResponse> c1 = submit(b, request(3, 100, true, false));
    CompletableFuture<InferenceResponse> a2 = submit(b, request(1, 2, false, true));
    CompletableFuture<InferenceResponse> d1 = submit(b, request(4, 1000, true, true));
    assertThat(b.activeSequences()).as("three candidates open; the fourth waits").isEqualTo(3);
    assertThat(b.waiting())
        .as("a2 waits its sequence's turn, d1 a candidate; b1 and c1 are in the queue")
        .isEqualTo(2);
    instance.gate.release(1_000_000);
    assertThat(sum(a1)).isEqualTo(1f);
    assertThat(sum(b1)).isEqualTo(10f);
    assertThat(sum(c1)).isEqualTo(100f);
    assertThat(sum(a2)).isEqualTo(3f);
    assertThat(sum(d1)).as("opened when sequence 1 ended, from zeros").isEqualTo(1000f);
    assertThat(sum(submit(b, request(2, 5, false, true)))).isEqualTo(15f);
    assertThat(sum(submit(b, request(3, 5, false, true)))).isEqualTo(105f);
    assertThat(b.activeSequences()).isZero();
  }

  @Test
  void theDefaultConfigBoundsTheRequestsWaitingHereAsItBoundsTheQueue() throws Exception {
    SequenceBatcher b = batcher(SchedulingConfig.defaults());
    CompletableFuture<InferenceResponse> first = submit(b, request(1, 1, true, false));
    instance.started.acquire();
    // The first runs (held at the gate); the next DEFAULT_MAX_QUEUE_SIZE wait for their turn.
    List<CompletableFuture<InferenceResponse>> rest = new ArrayList<>();
    for (int i = 0; i < SchedulingConfig.DEFAULT_MAX_QUEUE_SIZE; i++) {
      rest.add(submit(b, request(1, 1, false, false)));
    }
    assertThat(b.waiting()).isEqualTo(SchedulingConfig.DEFAULT_MAX_QUEUE_SIZE);
    assertThatThrownBy(() -> submit(b, request(1, 1, false, false)))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
              assertThat(e.getMessage())
                  .contains("is overloaded")
                  .contains("max-queue-size " + SchedulingConfig.DEFAULT_MAX_QUEUE_SIZE);
            });
    // A new sequence would wait for the one slot: refused too.
    assertThatThrownBy(() -> submit(b, request(2, 1, true, false)))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("is overloaded");
    assertThat(stats.snapshot().rejected()).as("both refusals count as rejections").isEqualTo(2);
    instance.gate.release(1_000_000);
    assertThat(sum(first)).isEqualTo(1f);
    assertThat(sum(rest.getLast())).isEqualTo(1f + SchedulingConfig.DEFAULT_MAX_QUEUE_SIZE);
    assertThat(b.waiting()).isZero();
  }

  /**
   * Triton's rule: a request of a sequence that does not run ends its sequence. Its state after a
   * skipped step would be wrong (here the sum would silently lack the +10), so the requests behind
   * it are answered without running and the id's next request must be a start.
   */
  @Test
  void aRequestThatTimesOutWaitingEndsItsSequence() throws Exception {
    SequenceBatcher b = batcher(SchedulingConfig.defaults());
    CompletableFuture<InferenceResponse> first = submit(b, request(1, 1, true, false));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> late = submit(b, request(1, 10, false, false, 1_000));
    CompletableFuture<InferenceResponse> after = submit(b, request(1, 100, false, false));
    now.addAndGet(2_000_000);
    b.expireOverdue();
    InferenceException e = failure(late);
    assertThat(e.code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
    assertThat(e.getMessage())
        .isEqualTo("model 'acc': the request timed out after 2000 us in the queue and was not run");
    InferenceException behind = failure(after);
    assertThat(behind.code()).isEqualTo(ErrorCode.UNAVAILABLE);
    assertThat(behind.getMessage())
        .startsWith("sequence 1 of model 'acc' ended: an earlier request of it timed out")
        .contains("timeout of the corresponding sequence has been expired")
        .endsWith("Start the sequence again (parameter 'sequence_start')");
    assertThat(b.waiting()).isZero();
    instance.gate.release(1_000_000);
    assertThat(sum(first)).as("the request that ran is answered").isEqualTo(1f);
    assertThat(b.activeSequences()).isEqualTo(0);
    assertThatThrownBy(() -> submit(b, request(1, 1, false, false)))
        .hasMessageContaining("must specify the START flag");
    assertThat(sum(submit(b, request(1, 5, true, true)))).as("a new start: zeros").isEqualTo(5f);
    assertThat(stats.snapshot().timedOut()).as("the sequence timed out: both").isEqualTo(2);
  }

  /**
   * A later request whose own timeout has passed too when its sequence ends is answered as timed
   * out itself (504), not as ended (503); one still within its timeout is answered as ended.
   */
  @Test
  void aLaterRequestPastItsOwnTimeoutTooIsAnsweredAsTimedOut() throws Exception {
    SequenceBatcher b = batcher(SchedulingConfig.defaults());
    CompletableFuture<InferenceResponse> first = submit(b, request(1, 1, true, false));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> late = submit(b, request(1, 10, false, false, 1_000));
    CompletableFuture<InferenceResponse> lateToo = submit(b, request(1, 20, false, false, 1_500));
    CompletableFuture<InferenceResponse> inTime =
        submit(b, request(1, 30, false, false, 5_000_000));
    now.addAndGet(2_000_000);
    b.expireOverdue();
    assertThat(failure(late).code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
    InferenceException own = failure(lateToo);
    assertThat(own.code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
    assertThat(own.getMessage()).contains("timed out after 2000 us in the queue");
    assertThat(failure(inTime).code()).isEqualTo(ErrorCode.UNAVAILABLE);
    assertThat(stats.snapshot().timedOut()).as("all three count as timed out").isEqualTo(3);
    instance.gate.release(1_000_000);
    assertThat(sum(first)).isEqualTo(1f);
  }

  @Test
  void theRequestsBeforeTheOneThatTimedOutStillRunThenTheSequenceEnds() throws Exception {
    SequenceBatcher b = batcher(SchedulingConfig.defaults());
    CompletableFuture<InferenceResponse> first = submit(b, request(1, 1, true, false));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> ahead = submit(b, request(1, 2, false, false));
    CompletableFuture<InferenceResponse> late = submit(b, request(1, 10, false, false, 1_000));
    CompletableFuture<InferenceResponse> behind = submit(b, request(1, 100, false, true));
    now.addAndGet(2_000_000);
    b.expireOverdue();
    assertThat(failure(late).code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
    assertThat(failure(behind).code()).isEqualTo(ErrorCode.UNAVAILABLE);
    assertThat(b.activeSequences()).as("holds its slot until `ahead` has run").isEqualTo(1);
    instance.gate.release(1_000_000);
    assertThat(sum(first)).isEqualTo(1f);
    assertThat(sum(ahead)).isEqualTo(3f);
    assertThat(b.activeSequences()).isEqualTo(0);
    assertThatThrownBy(() -> submit(b, request(1, 1, false, false)))
        .hasMessageContaining("must specify the START flag");
  }

  @Test
  void aSequenceWaitingForASlotWhoseStartTimesOutLeavesTheBacklog() throws Exception {
    SequenceBatcher b = batcher(SchedulingConfig.defaults());
    CompletableFuture<InferenceResponse> first = submit(b, request(1, 1, true, false));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> start2 = submit(b, request(2, 7, true, false, 1_000));
    CompletableFuture<InferenceResponse> next2 = submit(b, request(2, 8, false, false));
    now.addAndGet(2_000_000);
    b.expireOverdue();
    assertThat(failure(start2).code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
    assertThat(failure(next2).getMessage()).startsWith("sequence 2 of model 'acc' ended");
    assertThat(b.waiting()).isZero();
    assertThatThrownBy(() -> submit(b, request(2, 1, false, false)))
        .hasMessageContaining("must specify the START flag");
    instance.gate.release(1_000_000);
    assertThat(sum(first)).isEqualTo(1f);
    assertThat(sum(submit(b, request(1, 1, false, true)))).as("sequence 1 goes on").isEqualTo(2f);
  }

  /**
   * The batcher's 429 hints when the refused request's turn would have come: its sequence's
   * requests run one per pass here (one open sequence, no batching), so after the one running and
   * the two waiting, its own: 4 passes of the measured 50 ms. A new sequence would wait for a slot,
   * freed when a client ends its sequence: no hint while no sequence has ended to tell how long
   * they hold one.
   */
  @Test
  void aRefusalOfASequencesRequestHintsWhenItsTurnWouldHaveCome() throws Exception {
    SequenceBatcher b = batcher(SchedulingConfig.defaults().withMaxQueueSize(2));
    CompletableFuture<InferenceResponse> first = submit(b, request(1, 1, true, false));
    instance.started.acquire();
    now.addAndGet(50_000_000); // the pass takes 50 ms on the test's clock
    instance.gate.release();
    assertThat(sum(first)).isEqualTo(1f);
    CompletableFuture<InferenceResponse> running = submit(b, request(1, 1, false, false));
    instance.started.acquire();
    submit(b, request(1, 1, false, false));
    submit(b, request(1, 1, false, false));
    assertThatThrownBy(() -> submit(b, request(1, 1, false, false)))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.retryAfter()).isEqualTo(java.time.Duration.ofMillis(200)));
    assertThatThrownBy(() -> submit(b, request(2, 1, true, false)))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
              assertThat(e.retryAfter()).isNull();
            });
    instance.gate.release(1_000_000);
    assertThat(sum(running)).isEqualTo(2f);
  }

  @Test
  void aRequestWithinItsTimeoutIsNotExpired() throws Exception {
    SequenceBatcher b = batcher(SchedulingConfig.defaults());
    CompletableFuture<InferenceResponse> first = submit(b, request(1, 1, true, false));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> inTime =
        submit(b, request(1, 10, false, false, 5_000_000));
    now.addAndGet(1_000_000);
    b.expireOverdue();
    instance.gate.release(1_000_000);
    assertThat(sum(first)).isEqualTo(1f);
    assertThat(sum(inTime)).isEqualTo(11f);
  }

  @Test
  void aCancelledRequestThatWaitsEndsItsSequence() throws Exception {
    SequenceBatcher b = batcher(SchedulingConfig.defaults());
    CompletableFuture<InferenceResponse> first = submit(b, request(1, 1, true, false));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> gone = submit(b, request(1, 10, false, false));
    CompletableFuture<InferenceResponse> after = submit(b, request(1, 100, false, false));
    // A start that waits for the one slot, cancelled: it leaves the backlog.
    CompletableFuture<InferenceResponse> other = submit(b, request(2, 7, true, false));
    assertThat(b.waiting()).isEqualTo(3);
    gone.cancel(true);
    InferenceException behind = failure(after);
    assertThat(behind.code()).isEqualTo(ErrorCode.CANCELLED);
    assertThat(behind.getMessage())
        .startsWith("sequence 1 of model 'acc' ended: an earlier request of it was cancelled");
    other.cancel(true);
    assertThat(b.waiting()).isZero();
    instance.gate.release(1_000_000);
    assertThat(sum(first)).isEqualTo(1f);
    assertThat(stats.snapshot().cancelled()).isEqualTo(3);
    assertThat(b.activeSequences()).isEqualTo(0);
    assertThatThrownBy(() -> submit(b, request(1, 1, false, true)))
        .hasMessageContaining("must specify the START flag");
    // Sequence 2 never opened: its next request is not a start, so it is refused.
    assertThatThrownBy(() -> submit(b, request(2, 1, false, false)))
        .hasMessageContaining("must specify the START flag");
  }

  /**
   * A client that restarts a sequence while the one it ends still runs (a later request of it timed
   * out, an earlier one is in the queue) waits for that one to end, not for any slot: a slot that
   * frees meanwhile goes to the next sequence waiting, and the restart keeps its place for the slot
   * its id's sequence frees. Until session 40 the freed slot went to the backlog's head alone; the
   * restart, blocked, went to the tail and the slot stayed free while sequence 3 waited.
   */
  @Test
  void aRestartWaitingForItsClosingSequenceLetsAFreedSlotGoToTheNextInLine() throws Exception {
    SequenceBatcher b =
        batcher(config(SchedulingConfig.defaults(), SequenceBatchingConfig.Strategy.OLDEST, 2));
    assertThat(b.slots()).isEqualTo(2);
    CompletableFuture<InferenceResponse> q = submit(b, request(2, 1, true, true));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> x1 = submit(b, request(1, 2, true, false));
    CompletableFuture<InferenceResponse> xLate = submit(b, request(1, 3, false, false, 1_000));
    now.addAndGet(2_000_000);
    b.expireOverdue();
    assertThat(failure(xLate).code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
    assertThat(b.activeSequences()).as("sequence 1 closes once x1 has run").isEqualTo(2);
    CompletableFuture<InferenceResponse> y = submit(b, request(1, 5, true, true));
    CompletableFuture<InferenceResponse> z = submit(b, request(3, 100, true, true));
    assertThat(b.backlogSequences()).isEqualTo(2);
    instance.gate.release(); // q runs, ending sequence 2: its slot frees
    assertThat(sum(q)).isEqualTo(1f);
    assertThat(b.activeSequences()).as("z took the slot; y waits for sequence 1").isEqualTo(2);
    assertThat(b.backlogSequences()).isEqualTo(1);
    instance.gate.release(1_000_000);
    assertThat(sum(x1)).isEqualTo(2f);
    assertThat(sum(z)).isEqualTo(100f);
    assertThat(sum(y)).as("sequence 1 anew, from zeros").isEqualTo(5f);
    assertThat(b.activeSequences()).isZero();
    assertThat(b.backlogSequences()).isZero();
  }

  /**
   * A request already in the scheduler's queue when its client leaves is dropped there; its
   * sequence ends as if it had been dropped here.
   */
  @Test
  void aRequestCancelledInTheQueueEndsItsSequence() throws Exception {
    SequenceBatcher b =
        batcher(config(SchedulingConfig.defaults(), SequenceBatchingConfig.Strategy.OLDEST, 2));
    CompletableFuture<InferenceResponse> first = submit(b, request(1, 1, true, false));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> queued = submit(b, request(2, 5, true, false));
    CompletableFuture<InferenceResponse> behind = submit(b, request(2, 6, false, false));
    assertThat(b.waiting()).as("queued is in the scheduler's queue").isEqualTo(1);
    queued.cancel(true);
    assertThat(failure(behind).code()).isEqualTo(ErrorCode.CANCELLED);
    assertThat(b.activeSequences()).isEqualTo(1);
    assertThatThrownBy(() -> submit(b, request(2, 1, false, false)))
        .hasMessageContaining("must specify the START flag");
    instance.gate.release(1_000_000);
    assertThat(sum(first)).isEqualTo(1f);
    assertThat(sum(submit(b, request(1, 1, false, true)))).isEqualTo(2f);
  }

  /**
   * A new sequence refused because every slot is held and the backlog is full hints when a slot
   * would come to it, from how long the sequences that ended held theirs (2 s each here, on the
   * test's clock): the second in line with one slot after 2 × 2 s. Not before {@link
   * SlotTurnover#MIN_ENDED} sequences have ended.
   */
  @Test
  void aRefusedStartHintsWhenASlotWouldComeOnceEnoughSequencesHaveEnded() throws Exception {
    SequenceBatcher b = batcher(SchedulingConfig.defaults().withMaxQueueSize(1));
    instance.gate.release(1_000_000);
    for (int i = 1; i <= SlotTurnover.MIN_ENDED; i++) {
      assertThat(sum(submit(b, request(i, 1, true, false)))).isEqualTo(1f);
      now.addAndGet(2_000_000_000L);
      assertThat(sum(submit(b, request(i, 1, false, i != 1)))).isEqualTo(2f);
      if (i == 1) {
        // Sequence 1 idles out instead (limit 60 s): it held its slot until the idle check, 63 s.
        now.addAndGet(61_000_000_000L);
        b.freeIdle();
        assertThat(b.idleEnded()).isEqualTo(1);
      }
    }
    instance.gate.drainPermits();
    instance.started.drainPermits();
    CompletableFuture<InferenceResponse> holds = submit(b, request(100, 1, true, false));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> next = submit(b, request(101, 1, true, false));
    assertThat(b.backlogSequences()).isEqualTo(1);
    long mean = (63_000_000_000L + 7 * 2_000_000_000L) / SlotTurnover.MIN_ENDED; // 9.625 s
    assertThatThrownBy(() -> submit(b, request(102, 1, true, false)))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
              assertThat(e.retryAfter())
                  .as("second in line for the one slot: 2 x the mean lifetime, clamped to 10 s")
                  .isEqualTo(DrainEstimate.MAX);
            });
    assertThatThrownBy(() -> submit(b, request(101, 1, false, false)))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e ->
                assertThat(e.retryAfter())
                    .as("sequence 101 is first in line: one mean lifetime")
                    .isEqualTo(java.time.Duration.ofNanos(mean)));
    instance.gate.release(1_000_000);
    assertThat(sum(holds)).isEqualTo(1f);
    assertThat(next).isNotDone();
  }

  /**
   * Before {@link SlotTurnover#MIN_ENDED} sequences have ended the refusal of a start that would
   * wait for a slot has no hint (seven here).
   */
  @Test
  void aRefusedStartHasNoHintBeforeEnoughSequencesHaveEnded() throws Exception {
    SequenceBatcher b = batcher(SchedulingConfig.defaults().withMaxQueueSize(1));
    instance.gate.release(1_000_000);
    for (int i = 1; i < SlotTurnover.MIN_ENDED; i++) {
      assertThat(sum(submit(b, request(i, 1, true, true)))).isEqualTo(1f);
    }
    instance.gate.drainPermits();
    instance.started.drainPermits();
    CompletableFuture<InferenceResponse> holds = submit(b, request(100, 1, true, false));
    instance.started.acquire();
    submit(b, request(101, 1, true, false));
    assertThatThrownBy(() -> submit(b, request(102, 1, true, false)))
        .isInstanceOfSatisfying(InferenceException.class, e -> assertThat(e.retryAfter()).isNull());
    instance.gate.release(1_000_000);
    assertThat(sum(holds)).isEqualTo(1f);
  }

  /**
   * A request waiting here meets its priority level's queue policy, as it would in the scheduler's
   * queue (Triton has no such case: a config.pbtxt's sequence_batching excludes dynamic_batching
   * and its priority levels): level 1's own bound (1) and timeout (1 ms) apply to its requests,
   * which do not count against the default bound (2) that level 2's share.
   */
  @Test
  void aRequestWaitingHereMeetsItsPriorityLevelsQueuePolicy() throws Exception {
    SequenceBatcher b =
        batcher(
            SchedulingConfig.defaults()
                .withMaxQueueSize(2)
                .withPriorities(2, 2)
                .withPriorityQueuePolicies(
                    Map.of(
                        1,
                        new SchedulingConfig.QueuePolicy(
                            1, 1_000, SchedulingConfig.TimeoutAction.REJECT, false))));
    CompletableFuture<InferenceResponse> first = submit(b, request(1, 1, true, false));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> high =
        submit(b, prioritized(request(2, 2, true, true), 1));
    assertThatThrownBy(() -> submit(b, prioritized(request(3, 3, true, true), 1)))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
              assertThat(e.getMessage())
                  .contains("1 requests of its sequences at priority level 1 wait")
                  .contains("priority-queue-policy max-queue-size 1");
            });
    CompletableFuture<InferenceResponse> low1 = submit(b, request(4, 4, true, true));
    CompletableFuture<InferenceResponse> low2 =
        submit(b, prioritized(request(5, 5, true, true), 2));
    assertThat(b.waiting()).as("level 1's request is not in the default's count").isEqualTo(3);
    assertThatThrownBy(() -> submit(b, request(6, 6, true, true)))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e ->
                assertThat(e.getMessage())
                    .contains("2 requests of its sequences wait (max-queue-size 2"));
    assertThatThrownBy(() -> submit(b, prioritized(request(7, 7, true, true), 3)))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
              assertThat(e.getMessage()).contains("priority 3 is outside 1..2");
            });
    now.addAndGet(2_000_000);
    b.expireOverdue();
    assertThat(failure(high).code())
        .as("level 1's timeout, not the default's (none)")
        .isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
    assertThat(low1).isNotDone();
    assertThat(low2).isNotDone();
    instance.gate.release(1_000_000);
    assertThat(sum(first)).isEqualTo(1f);
  }

  /** A level whose timeout action is DELAY holds no deadline here, as the default's does not. */
  @Test
  void aLevelWithTimeoutActionDelayDoesNotExpireItsRequestsHere() throws Exception {
    SequenceBatcher b =
        batcher(
            SchedulingConfig.defaults()
                .withTimeout(1_000, SchedulingConfig.TimeoutAction.REJECT, false)
                .withPriorities(2, 2)
                .withPriorityQueuePolicies(
                    Map.of(
                        1,
                        new SchedulingConfig.QueuePolicy(
                            0, 1_000, SchedulingConfig.TimeoutAction.DELAY, false))));
    CompletableFuture<InferenceResponse> first =
        submit(b, prioritized(request(1, 1, true, false), 1));
    instance.started.acquire();
    CompletableFuture<InferenceResponse> delayed =
        submit(b, prioritized(request(1, 2, false, true), 1));
    CompletableFuture<InferenceResponse> rejected = submit(b, request(2, 5, true, true));
    now.addAndGet(2_000_000);
    b.expireOverdue();
    assertThat(failure(rejected).code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
    assertThat(delayed).isNotDone();
    instance.gate.release(1_000_000);
    assertThat(sum(first)).isEqualTo(1f);
    assertThat(sum(delayed)).as("run after its timeout, DELAY").isEqualTo(3f);
  }

  private static InferenceRequest prioritized(InferenceRequest r, long priority) {
    Map<String, Object> p = new HashMap<>(r.parameters());
    p.put("priority", priority);
    return new InferenceRequest(r.modelName(), r.modelVersion(), r.id(), p, r.inputs(), null);
  }
}
