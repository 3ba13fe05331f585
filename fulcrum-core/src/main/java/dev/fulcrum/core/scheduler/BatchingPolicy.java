package dev.fulcrum.core.scheduler;

import java.util.function.IntSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The batching decision of one model version: which requests form the next batch, how long to wait
 * for more, and (for a policy with a latency objective) which requests to refuse because they
 * cannot make it. {@link RequestQueue} asks it once per plan; {@link ModelScheduler} tells it what
 * was admitted and how long each pass took. Not thread-safe: like the queue, it is guarded by its
 * scheduler's lock, and time is passed in.
 */
interface BatchingPolicy {

  /** What the queue does with the request that leads the next batch. */
  sealed interface Decision permits Take, Wait, Shed {}

  /** Run now: the head and the requests that join it, up to {@code maxRows} rows. */
  record Take(int maxRows) implements Decision {}

  /** Run nothing yet: plan again after {@code nanos} (or when a request arrives). */
  record Wait(long nanos) implements Decision {}

  /** Drop the head: it can no longer meet its latency objective. */
  record Shed(String reason) implements Decision {}

  /**
   * Decides for the head of the queue.
   *
   * @param head the request that leads the next batch (the oldest of the highest level)
   * @param joins whether other requests may join it (false when batching is off or the head fills a
   *     batch alone)
   * @param joinable the rows the head's batch would have if it left now (the head's included, at
   *     most max-batch-size); computed on demand, as it walks the queue
   * @param now the scheduler's time
   */
  Decision decide(PendingRequest head, boolean joins, IntSupplier joinable, long now);

  /**
   * Whether requests of class {@code best_effort} wait in a queue level of their own behind every
   * other (the SLO policy: they are served when there is room, so they never delay, and never count
   * ahead of, a request held to the objective).
   */
  default boolean bestEffortLast() {
    return false;
  }

  /**
   * Admission: null to admit {@code p}, or a message saying why it cannot meet its objective.
   *
   * @param queuedRows rows already waiting ahead of it: at its priority level and above (those
   *     behind it are served after it)
   */
  default @Nullable String refusal(PendingRequest p, int queuedRows, long now) {
    return null;
  }

  /** A request was admitted (for the arrival rate). */
  default void admitted(PendingRequest p, long now) {}

  /** Instance {@code instance} started a pass of {@code rows} rows. */
  default void started(int instance, int rows, long now) {}

  /**
   * Instance {@code instance} finished its pass: {@code computeNanos} is the time the batch held
   * it, or negative when the pass was not a clean one (it failed and its members ran alone).
   */
  default void finished(int instance, int rows, long computeNanos, long now) {}

  /** What the policy does now, for the SLO endpoint and the dashboard. */
  PolicyState state(long now);
}
