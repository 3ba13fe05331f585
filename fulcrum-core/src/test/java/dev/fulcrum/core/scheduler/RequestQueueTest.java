package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The batcher's decisions, with time passed in: no threads, no sleeps. */
class RequestQueueTest {
  private static final long US = 1_000;
  private long seq;

  private PendingRequest request(int rows, int width, int level, long arrival, long deadline) {
    Tensor t =
        Tensor.of(
            "x", DataType.FP32, new long[] {rows, width}, ByteBuffer.allocate(rows * width * 4));
    InferenceRequest r = new InferenceRequest("m", "", "r" + seq, null, List.of(t), null);
    return new PendingRequest(r, List.of(t), List.of("y"), rows, level, arrival, deadline, seq++);
  }

  private PendingRequest request(int rows, long arrival) {
    return request(rows, 4, 0, arrival, Long.MAX_VALUE);
  }

  /** A queue policy that holds one request, rejecting on timeout: level 1's own. */
  private static final SchedulingConfig.QueuePolicy LEVEL_ONE =
      new SchedulingConfig.QueuePolicy(1, 0, SchedulingConfig.TimeoutAction.REJECT, false);

  /**
   * Three priority levels (3 for a request that names none), level 1 bounded by a policy of its own
   * ({@link #LEVEL_ONE}: one request), levels 2 and 3 together by the default's two places.
   */
  private static SchedulingConfig levelOneOwnBound() {
    return SchedulingConfig.defaults()
        .withPriorities(3, 3)
        .withMaxQueueSize(2)
        .withPriorityQueuePolicies(java.util.Map.of(1, LEVEL_ONE));
  }

  private static List<Integer> rows(RequestQueue.Plan plan) {
    return plan.batch().stream().map(p -> p.rows).toList();
  }

  @Test
  void aBatchNeverExceedsTheMaximumAndLeavesWhenFull() {
    RequestQueue q = new RequestQueue(SchedulingConfig.defaults(), true, 4);
    for (int i = 0; i < 6; i++) {
      q.offer(request(1, 0));
    }
    assertThat(rows(q.plan(0))).containsExactly(1, 1, 1, 1);
    assertThat(rows(q.plan(0))).containsExactly(1, 1);
    assertThat(q.plan(0)).isEqualTo(RequestQueue.Plan.IDLE);
    assertThat(q.size()).isZero();
  }

  @Test
  void withoutDynamicBatchingEachRequestRunsAlone() {
    RequestQueue q = new RequestQueue(SchedulingConfig.defaults(), false, 4);
    q.offer(request(2, 0));
    q.offer(request(1, 0));
    assertThat(rows(q.plan(0))).containsExactly(2);
    assertThat(rows(q.plan(0))).containsExactly(1);
  }

  @Test
  void theQueueDelayHoldsASmallBatchUntilItExpires() {
    SchedulingConfig c = SchedulingConfig.defaults().withMaxQueueDelayMicros(100);
    RequestQueue q = new RequestQueue(c, true, 8);
    q.offer(request(1, 0));
    q.offer(request(1, 5 * US));
    RequestQueue.Plan wait = q.plan(10 * US);
    assertThat(wait.ready()).isFalse();
    assertThat(wait.waitNanos()).isEqualTo(90 * US);
    assertThat(rows(q.plan(100 * US))).containsExactly(1, 1);
  }

  @Test
  void aPreferredSizeLeavesAtOnceDespiteTheDelay() {
    SchedulingConfig c =
        SchedulingConfig.defaults()
            .withMaxQueueDelayMicros(1_000_000)
            .withPreferredBatchSizes(List.of(2, 4), false);
    RequestQueue q = new RequestQueue(c, true, 8);
    q.offer(request(1, 0));
    assertThat(q.plan(0).ready()).isFalse();
    q.offer(request(1, 0));
    assertThat(rows(q.plan(0))).containsExactly(1, 1);
  }

  @Test
  void requestsWithDifferentNonBatchShapesNeverShareABatch() {
    RequestQueue q = new RequestQueue(SchedulingConfig.defaults(), true, 8);
    q.offer(request(1, 4, 0, 0, Long.MAX_VALUE));
    q.offer(request(1, 5, 0, 0, Long.MAX_VALUE));
    q.offer(request(1, 4, 0, 0, Long.MAX_VALUE));
    RequestQueue.Plan first = q.plan(0);
    assertThat(first.batch()).extracting(p -> p.inputs.get(0).dim(1)).containsExactly(4L, 4L);
    assertThat(q.plan(0).batch()).extracting(p -> p.inputs.get(0).dim(1)).containsExactly(5L);
  }

  @Test
  void multiRowRequestsAreKeptWholeWithinTheMaximum() {
    RequestQueue q = new RequestQueue(SchedulingConfig.defaults(), true, 4);
    q.offer(request(3, 0));
    q.offer(request(2, 0));
    q.offer(request(1, 0));
    q.offer(request(2, 0));
    assertThat(rows(q.plan(0))).containsExactly(3, 1);
    assertThat(rows(q.plan(0))).containsExactly(2, 2);
  }

  @Test
  void higherPriorityLeadsAndFillsFirst() {
    SchedulingConfig c = SchedulingConfig.defaults().withPriorities(2, 2);
    RequestQueue q = new RequestQueue(c, true, 2);
    PendingRequest low1 = request(1, 4, 1, 0, Long.MAX_VALUE);
    PendingRequest low2 = request(1, 4, 1, 0, Long.MAX_VALUE);
    PendingRequest high = request(1, 4, 0, 10, Long.MAX_VALUE);
    q.offer(low1);
    q.offer(low2);
    q.offer(high);
    assertThat(q.plan(20).batch()).containsExactly(high, low1);
    assertThat(q.plan(20).batch()).containsExactly(low2);
  }

  @Test
  void admissionCountsTheRowsAtARequestsLevelAndAboveAndBestEffortWaitsLast() {
    SchedulingConfig c = SchedulingConfig.defaults().withPriorities(2, 2);
    BatchingPolicy slo =
        new BatchingPolicy() {
          private final BatchingPolicy plain = new StaticBatchingPolicy(c, 8);

          @Override
          public Decision decide(
              PendingRequest head,
              boolean joins,
              java.util.function.IntSupplier joinable,
              long now) {
            return plain.decide(head, joins, joinable, now);
          }

          @Override
          public PolicyState state(long now) {
            return plain.state(now);
          }

          @Override
          public boolean bestEffortLast() {
            return true;
          }
        };
    RequestQueue q = new RequestQueue(c, true, 8, slo);
    int bestEffort = q.bestEffortLevel();
    assertThat(bestEffort).isEqualTo(2); // behind both priority levels
    PendingRequest background = request(3, 4, bestEffort, 0, Long.MAX_VALUE);
    PendingRequest low = request(2, 4, 1, 0, Long.MAX_VALUE);
    PendingRequest high = request(1, 4, 0, 0, Long.MAX_VALUE);
    q.offer(background);
    q.offer(low);
    q.offer(high);
    assertThat(q.rows()).isEqualTo(6);
    assertThat(q.rowsAhead(0)).isEqualTo(1); // a high-priority newcomer waits behind 'high' only
    assertThat(q.rowsAhead(1)).isEqualTo(3);
    assertThat(q.rowsAhead(bestEffort)).isEqualTo(6);
    // Served in level order, best effort last even though it came first.
    assertThat(q.plan(0).batch()).containsExactly(high, low, background);
    assertThat(q.rowsAhead(bestEffort)).isZero();
  }

  @Test
  void aFullQueueRefusesAtOnce() {
    RequestQueue q = new RequestQueue(SchedulingConfig.defaults().withMaxQueueSize(2), true, 4);
    assertThat(q.offer(request(1, 0))).isTrue();
    assertThat(q.offer(request(1, 0))).isTrue();
    assertThat(q.offer(request(1, 0))).isFalse();
    q.plan(0);
    assertThat(q.offer(request(1, 0))).isTrue();
  }

  /**
   * Triton's {@code priority_queue_policy}: a level with a policy of its own has its own bound, and
   * its requests do not count in the default's, which bounds the other levels together.
   */
  @Test
  void aLevelWithItsOwnPolicyHasItsOwnBound() {
    SchedulingConfig c = levelOneOwnBound();
    RequestQueue q = new RequestQueue(c, false, 4);
    assertThat(q.ownPolicy(0)).isTrue();
    assertThat(q.ownPolicy(1)).isFalse();
    assertThat(q.policy(1)).isEqualTo(c.defaultQueuePolicy());
    PendingRequest high = request(1, 4, 0, 0, Long.MAX_VALUE);
    assertThat(q.offer(high)).isTrue();
    assertThat(q.offer(request(1, 4, 0, 0, Long.MAX_VALUE))).as("level 1 holds one").isFalse();
    // Levels 2 and 3 share the default's two places; level 1's request takes none of them.
    assertThat(q.offer(request(1, 4, 1, 0, Long.MAX_VALUE))).isTrue();
    assertThat(q.offer(request(1, 4, 2, 0, Long.MAX_VALUE))).isTrue();
    assertThat(q.offer(request(1, 4, 2, 0, Long.MAX_VALUE))).isFalse();
    assertThat(q.size()).isEqualTo(3);
    assertThat(q.plan(0).batch()).containsExactly(high);
    assertThat(q.offer(request(1, 4, 0, 0, Long.MAX_VALUE))).as("level 1 has room again").isTrue();
    assertThat(q.offer(request(1, 4, 1, 0, Long.MAX_VALUE))).isFalse();
  }

  /**
   * What the early refusal and the best-effort half read: the size at which every bound is full
   * (level 1's 1 and the default's 2), and the requests each level's bound counts.
   */
  @Test
  void theSizeAtWhichEveryBoundIsFullAndWhatEachBoundCounts() {
    SchedulingConfig c = levelOneOwnBound();
    RequestQueue q = new RequestQueue(c, false, 4);
    assertThat(q.fullSize()).isEqualTo(3);
    q.offer(request(1, 4, 0, 0, Long.MAX_VALUE));
    q.offer(request(1, 4, 2, 0, Long.MAX_VALUE));
    assertThat(q.countAgainstBound(0)).isEqualTo(1);
    assertThat(q.countAgainstBound(1)).as("levels 2 and 3 together").isEqualTo(1);
    assertThat(q.countAgainstBound(2)).isEqualTo(1);
    assertThat(q.size()).isLessThan(q.fullSize());
    q.offer(request(1, 4, 1, 0, Long.MAX_VALUE));
    assertThat(q.size()).isEqualTo(q.fullSize());
    // A level without a bound of its own policy: never full.
    SchedulingConfig.QueuePolicy unbounded =
        new SchedulingConfig.QueuePolicy(0, 0, SchedulingConfig.TimeoutAction.REJECT, false);
    assertThat(
            new RequestQueue(c.withPriorityQueuePolicies(java.util.Map.of(1, unbounded)), false, 4)
                .fullSize())
        .isZero();
    // Every level with its own policy: the default bounds none of them.
    assertThat(
            new RequestQueue(
                    c.withPriorities(1, 1)
                        .withPriorityQueuePolicies(java.util.Map.of(1, LEVEL_ONE)),
                    false,
                    4)
                .fullSize())
        .isEqualTo(1);
  }

  /** Each level's timeout action is its own: DELAY at level 1, the default's REJECT at level 2. */
  @Test
  void aLevelsTimeoutActionIsItsOwn() {
    SchedulingConfig.QueuePolicy delay =
        new SchedulingConfig.QueuePolicy(0, 10, SchedulingConfig.TimeoutAction.DELAY, false);
    SchedulingConfig c =
        SchedulingConfig.defaults()
            .withPriorities(2, 2)
            .withTimeout(10, SchedulingConfig.TimeoutAction.REJECT, false)
            .withPriorityQueuePolicies(java.util.Map.of(1, delay));
    RequestQueue q = new RequestQueue(c, false, 4);
    PendingRequest kept = request(1, 4, 0, 0, 10 * US);
    PendingRequest dropped = request(1, 4, 1, 0, 10 * US);
    PendingRequest onTime = request(1, 4, 1, 5 * US, Long.MAX_VALUE);
    q.offer(kept);
    q.offer(dropped);
    q.offer(onTime);
    assertThat(q.expire(9 * US)).isEmpty();
    assertThat(q.expire(10 * US)).containsExactly(dropped);
    assertThat(q.size()).isEqualTo(2);
    // The delayed level-1 request now waits behind the level-2 request still on time.
    assertThat(q.plan(20 * US).batch()).containsExactly(onTime);
    assertThat(q.plan(20 * US).batch()).containsExactly(kept);
  }

  @Test
  void expiredRequestsAreRejectedAndNeverPlanned() {
    RequestQueue q = new RequestQueue(SchedulingConfig.defaults(), true, 4);
    PendingRequest late = request(1, 4, 0, 0, 50 * US);
    PendingRequest onTime = request(1, 4, 0, 0, Long.MAX_VALUE);
    q.offer(late);
    q.offer(onTime);
    assertThat(q.expire(49 * US)).isEmpty();
    assertThat(q.expire(50 * US)).containsExactly(late);
    assertThat(q.plan(60 * US).batch()).containsExactly(onTime);
  }

  @Test
  void delayedRequestsRunBehindThoseOnTime() {
    SchedulingConfig c =
        SchedulingConfig.defaults().withTimeout(10, SchedulingConfig.TimeoutAction.DELAY, false);
    RequestQueue q = new RequestQueue(c, false, 4);
    PendingRequest late = request(1, 4, 0, 0, 10 * US);
    PendingRequest onTime = request(1, 4, 0, 5 * US, Long.MAX_VALUE);
    q.offer(late);
    q.offer(onTime);
    assertThat(q.expire(20 * US)).isEmpty();
    assertThat(q.size()).isEqualTo(2);
    assertThat(q.plan(20 * US).batch()).containsExactly(onTime);
    assertThat(q.plan(20 * US).batch()).containsExactly(late);
  }

  @Test
  void aCancelledRequestLeavesTheQueue() {
    RequestQueue q = new RequestQueue(SchedulingConfig.defaults(), true, 4);
    PendingRequest gone = request(1, 0);
    PendingRequest stays = request(1, 0);
    q.offer(gone);
    q.offer(stays);
    assertThat(q.remove(gone)).isTrue();
    assertThat(q.remove(gone)).isFalse();
    assertThat(q.plan(0).batch()).containsExactly(stays);
  }

  @Test
  void aRequestLargerThanTheMaximumRunsAlone() {
    RequestQueue q = new RequestQueue(SchedulingConfig.defaults(), true, 4);
    q.offer(request(1, 0));
    q.offer(request(9, 0));
    q.offer(request(1, 0));
    assertThat(rows(q.plan(0))).containsExactly(1, 1);
    assertThat(rows(q.plan(0))).containsExactly(9);
    assertThat(q.size()).isZero();
  }

  @Test
  void nothingOverdueExpiresNothingAndLeavesTheOrderAlone() {
    SchedulingConfig c = SchedulingConfig.defaults().withPriorities(2, 2);
    RequestQueue q = new RequestQueue(c, true, 8);
    PendingRequest low1 = request(1, 4, 1, 0, 300 * US);
    PendingRequest high1 = request(1, 4, 0, 1 * US, 200 * US);
    PendingRequest low2 = request(1, 4, 1, 2 * US, Long.MAX_VALUE);
    PendingRequest high2 = request(1, 4, 0, 3 * US, 100 * US);
    q.offer(low1);
    q.offer(high1);
    q.offer(low2);
    q.offer(high2);
    assertThat(q.earliestDeadline()).isEqualTo(100 * US);
    assertThat(q.expire(99 * US)).isEmpty();
    assertThat(q.expire(99 * US)).isEmpty();
    assertThat(q.size()).isEqualTo(4);
    assertThat(q.earliestDeadline()).isEqualTo(100 * US);
    assertThat(q.plan(99 * US).batch()).containsExactly(high1, high2, low1, low2);
    assertThat(q.size()).isZero();
  }

  @Test
  void anEarlierDeadlineBehindTheFrontExpiresFirstAndAlone() {
    RequestQueue q = new RequestQueue(SchedulingConfig.defaults(), true, 8);
    PendingRequest older = request(1, 4, 0, 0, 100 * US);
    PendingRequest urgent = request(1, 4, 0, 1 * US, 20 * US);
    PendingRequest untimed = request(1, 4, 0, 2 * US, Long.MAX_VALUE);
    q.offer(older);
    q.offer(urgent);
    q.offer(untimed);
    assertThat(q.earliestDeadline()).isEqualTo(20 * US);
    assertThat(q.expire(50 * US)).containsExactly(urgent);
    assertThat(q.size()).isEqualTo(2);
    assertThat(q.earliestDeadline()).isEqualTo(100 * US);
    assertThat(q.expire(100 * US)).containsExactly(older);
    assertThat(q.earliestDeadline()).isEqualTo(Long.MAX_VALUE);
    assertThat(q.plan(100 * US).batch()).containsExactly(untimed);
  }

  @Test
  void overdueRequestsExpireEarliestDeadlineFirst() {
    RequestQueue q = new RequestQueue(SchedulingConfig.defaults(), true, 8);
    PendingRequest second = request(1, 4, 0, 0, 30 * US);
    PendingRequest first = request(1, 4, 0, 0, 10 * US);
    PendingRequest onTime = request(1, 4, 0, 0, 90 * US);
    q.offer(second);
    q.offer(first);
    q.offer(onTime);
    assertThat(q.expire(40 * US)).containsExactly(first, second);
    assertThat(q.size()).isEqualTo(1);
  }

  @Test
  void dispatchedOrCancelledRequestsNoLongerExpire() {
    RequestQueue q = new RequestQueue(SchedulingConfig.defaults(), false, 4);
    PendingRequest dispatched = request(1, 4, 0, 0, 10 * US);
    PendingRequest cancelled = request(1, 4, 0, 0, 20 * US);
    PendingRequest waiting = request(1, 4, 0, 0, 30 * US);
    q.offer(dispatched);
    q.offer(cancelled);
    q.offer(waiting);
    assertThat(q.plan(0).batch()).containsExactly(dispatched);
    assertThat(q.remove(cancelled)).isTrue();
    assertThat(q.earliestDeadline()).isEqualTo(30 * US);
    assertThat(q.expire(100 * US)).containsExactly(waiting);
    assertThat(q.remove(waiting)).isFalse();
    assertThat(q.size()).isZero();
  }

  @Test
  void delayedRequestsTimeOutOnceAndRunAfterThoseOnTime() {
    SchedulingConfig c =
        SchedulingConfig.defaults().withTimeout(10, SchedulingConfig.TimeoutAction.DELAY, true);
    RequestQueue q = new RequestQueue(c, true, 8);
    PendingRequest late = request(1, 4, 0, 0, 10 * US);
    PendingRequest later = request(1, 4, 0, 1 * US, 15 * US);
    PendingRequest onTime = request(1, 4, 0, 2 * US, 1_000 * US);
    q.offer(late);
    q.offer(later);
    q.offer(onTime);
    assertThat(q.expire(20 * US)).isEmpty();
    assertThat(q.size()).isEqualTo(3);
    // Delayed requests no longer time out; only the one on time still has a deadline to arm.
    assertThat(q.earliestDeadline()).isEqualTo(1_000 * US);
    assertThat(q.expire(999 * US)).isEmpty();
    assertThat(q.size()).isEqualTo(3);
    // Delayed requests still join a batch, behind the others, in the order they timed out.
    assertThat(q.plan(999 * US).batch()).containsExactly(onTime, late, later);
    assertThat(q.earliestDeadline()).isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void theDeadlineHeapDoesNotKeepManyRequestsThatLeft() {
    SchedulingConfig c = SchedulingConfig.defaults().withPriorities(2, 2);
    RequestQueue q = new RequestQueue(c, false, 4);
    // A low-priority request with the earliest deadline waits while many urgent ones pass it.
    PendingRequest waiting = request(1, 4, 1, 0, 10 * US);
    q.offer(waiting);
    for (int i = 0; i < 1_000; i++) {
      PendingRequest urgent = request(1, 4, 0, i, 1_000 * US + i);
      q.offer(urgent);
      assertThat(q.plan(i).batch()).containsExactly(urgent);
    }
    assertThat(q.deadlineEntries()).isLessThanOrEqualTo(2 * 64 + 1);
    assertThat(q.expire(10 * US)).containsExactly(waiting);
    assertThat(q.deadlineEntries()).isZero();
  }

  private static PendingRequest withInputs(Tensor... inputs) {
    InferenceRequest r = new InferenceRequest("m", "", "r", null, List.of(inputs), null);
    return new PendingRequest(r, List.of(inputs), List.of("y"), 1, 0, 0, Long.MAX_VALUE, 0);
  }

  private static Tensor tensor(String name, DataType type, long... shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return Tensor.of(name, type, shape, ByteBuffer.allocate((int) n * type.byteSize()));
  }

  @Test
  void requestsBatchTogetherOnlyWhenTypesAndNonBatchDimsAgreeInOrder() {
    PendingRequest p =
        withInputs(tensor("a", DataType.FP32, 1, 2, 3), tensor("b", DataType.INT64, 1, 4));
    // The batch dimension and the names do not matter.
    assertThat(
            p.batchesWith(
                withInputs(tensor("x", DataType.FP32, 5, 2, 3), tensor("y", DataType.INT64, 2, 4))))
        .isTrue();
    assertThat(
            p.batchesWith(
                withInputs(tensor("a", DataType.FP32, 1, 2, 4), tensor("b", DataType.INT64, 1, 4))))
        .isFalse();
    assertThat(
            p.batchesWith(
                withInputs(tensor("a", DataType.FP32, 1, 2, 3), tensor("b", DataType.INT32, 1, 4))))
        .isFalse();
    assertThat(
            p.batchesWith(
                withInputs(tensor("b", DataType.INT64, 1, 4), tensor("a", DataType.FP32, 1, 2, 3))))
        .isFalse();
    assertThat(p.batchesWith(withInputs(tensor("a", DataType.FP32, 1, 2, 3)))).isFalse();
    assertThat(
            p.batchesWith(
                withInputs(tensor("a", DataType.FP32, 1, 6), tensor("b", DataType.INT64, 1, 4))))
        .isFalse();
    assertThat(
            p.batchesWith(
                withInputs(
                    tensor("a", DataType.FP32, 1, 2, 3, 1), tensor("b", DataType.INT64, 1, 4))))
        .isFalse();
    // As with the string key this replaces: a scalar and a vector both lack non-batch dims.
    assertThat(
            withInputs(tensor("s", DataType.FP32))
                .batchesWith(withInputs(tensor("v", DataType.FP32, 3))))
        .isTrue();
  }
}
