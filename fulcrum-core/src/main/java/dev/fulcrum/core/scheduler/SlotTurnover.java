package dev.fulcrum.core.scheduler;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * How soon a sequence slot frees, from how long the sequences that ended held theirs: the retry
 * hint of the sequence batcher's refusal of a request that would wait for a slot ({@link
 * SequenceBatcher}). A slot frees when a client ends its sequence or the sequence idles out, at a
 * time the server does not know in advance, but it sees how long the sequences that ended held a
 * slot: with {@code S} slots held, each for about {@code L} (the mean of those lifetimes), one
 * frees about every {@code L / S}, so the {@code k}-th sequence to wait for one gets it after about
 * {@code k × L / S}. Clamped to {@link DrainEstimate#MIN} … {@link DrainEstimate#MAX}, as the other
 * hints. None until {@link #MIN_ENDED} sequences have ended: a mean of fewer says little.
 *
 * <p>Not thread-safe: its batcher guards it with its lock.
 */
final class SlotTurnover {
  /** Sequences that must have ended before a hint is given. */
  static final int MIN_ENDED = 8;

  /** The mean is over this many of the latest lifetimes. */
  static final int WINDOW = 64;

  /**
   * A lifetime counts at most this long: far past {@link DrainEstimate#MAX} for any slot count a
   * server has, and the sum of a window cannot overflow.
   */
  private static final long LONGEST_NANOS = Duration.ofDays(1).toNanos();

  private final long[] lifetimes = new long[WINDOW];
  private int next;
  private long ended;
  private long sum;

  /**
   * A sequence that held a slot for {@code nanos} ended (by its end, its idle limit, or a drop).
   */
  void ended(long nanos) {
    long kept = Math.clamp(nanos, 0, LONGEST_NANOS);
    sum += kept - lifetimes[next];
    lifetimes[next] = kept;
    next = (next + 1) % WINDOW;
    ended++;
  }

  /** Sequences that have ended since the version loaded. */
  long ended() {
    return ended;
  }

  /**
   * The hint for a sequence that is the {@code position}-th (1: the next) to wait for one of {@code
   * slots} slots, all held; null while fewer than {@link #MIN_ENDED} sequences have ended.
   */
  @Nullable Duration untilSlot(int position, int slots) {
    if (ended < MIN_ENDED) {
      return null;
    }
    double mean = (double) sum / Math.min(ended, WINDOW);
    double nanos = Math.max(1, position) * mean / Math.max(1, slots);
    if (nanos <= DrainEstimate.MIN.toNanos()) {
      return DrainEstimate.MIN;
    }
    if (nanos >= DrainEstimate.MAX.toNanos()) {
      return DrainEstimate.MAX;
    }
    return Duration.ofNanos((long) nanos);
  }
}
