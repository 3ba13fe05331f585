package dev.fulcrum.core.tenant;

import dev.fulcrum.core.config.PlainNumbers;
import dev.fulcrum.core.error.InferenceException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Enforces one tenant's {@link TenantLimits} on the request path, before a request is queued.
 *
 * <p>The rate is a token bucket kept as one number, the bucket's theoretical arrival time (the
 * generic cell rate algorithm): each admitted request moves it one emission interval ({@code
 * 1/rate}) past {@code max(it, now)}, and a request that would move it more than {@code burst}
 * intervals past now is refused, with the time until it would fit as its retry hint. The bucket is
 * read as its backlog ahead of now (a difference of {@code nanoTime}s, as {@link System#nanoTime}
 * wants) and every product and sum saturates, so that no rate or burst wraps it: a tiny rate
 * refuses, it never admits everything. One CAS per request, no lock, no allocation on admission.
 * The concurrency limit is a counter of requests in flight, taken on admission and given back by
 * {@link #release} when the answer is ready.
 *
 * <p>Threads: lock-free; any thread may call {@link #tryAcquire} and {@link #release}.
 */
public final class TenantLimiter {
  /** The smallest retry hint a refusal carries (as the scheduler's). */
  private static final Duration MIN_RETRY = Duration.ofMillis(100);

  private final String tenant;
  private final TenantLimits limits;
  private final LongSupplier clock;
  private final long intervalNanos;

  /** The most backlog a request may find and be admitted: {@code burst - 1} intervals. */
  private final long admitUpToNanos;

  private final AtomicLong theoreticalArrival;
  private final AtomicInteger inFlight = new AtomicInteger();

  /**
   * @param tenant the tenant's name, for the refusal's message
   * @param limits its limits ({@link TenantLimits#limited()})
   * @param clock monotonic nanoseconds (injected by tests)
   */
  public TenantLimiter(String tenant, TenantLimits limits, LongSupplier clock) {
    this.tenant = tenant;
    this.limits = limits;
    this.clock = clock;
    // (long) of a double saturates: an interval past Long.MAX_VALUE ns is Long.MAX_VALUE.
    this.intervalNanos =
        limits.ratePerSecond() > 0 ? Math.max(1, (long) (1e9 / limits.ratePerSecond())) : 0;
    // Capped so that an admitted request's backlog (this plus an interval) never passes
    // Long.MAX_VALUE: such a bucket refuses sooner than its burst says; it never wraps.
    this.admitUpToNanos =
        Math.min(
            saturatedMultiply(intervalNanos, Math.max(0, limits.burst() - 1)),
            Long.MAX_VALUE - intervalNanos);
    this.theoreticalArrival = new AtomicLong(clock.getAsLong());
  }

  /** The limits it enforces. */
  public TenantLimits limits() {
    return limits;
  }

  /** Requests admitted and not yet released. */
  public int inFlight() {
    return inFlight.get();
  }

  /**
   * Admits a request, or says why not. An admitted request must be {@link #release released} once.
   *
   * @return null when admitted; otherwise the refusal (RESOURCE_EXHAUSTED with a retry hint),
   *     naming the tenant and the limit
   */
  public @Nullable InferenceException tryAcquire() {
    int max = limits.maxConcurrent();
    if (max > 0 && inFlight.incrementAndGet() > max) {
      inFlight.decrementAndGet();
      return InferenceException.exhausted(
          "tenant '"
              + tenant
              + "' is over its concurrency limit: "
              + max
              + " requests in flight at once (concurrency="
              + max
              + "); retry when one of them is answered",
          MIN_RETRY);
    }
    if (intervalNanos == 0) {
      return null;
    }
    long now = clock.getAsLong();
    while (true) {
      long tat = theoreticalArrival.get();
      long backlog = Math.max(0, tat - now); // at most Long.MAX_VALUE: see admitUpToNanos
      if (backlog > admitUpToNanos) {
        if (max > 0) {
          inFlight.decrementAndGet();
        }
        // The hint says when a request fits, at least MIN_RETRY (as Retry-After's and the
        // pushback's other hints); the message says the same figure.
        Duration retry = Duration.ofNanos(Math.max(backlog - admitUpToNanos, MIN_RETRY.toNanos()));
        return InferenceException.exhausted(
            "tenant '"
                + tenant
                + "' is over its rate limit: "
                + PlainNumbers.plain(limits.ratePerSecond())
                + " requests/s, burst "
                + limits.burst()
                + " (rate="
                + PlainNumbers.plain(limits.ratePerSecond())
                + " burst="
                + limits.burst()
                + "); retry after "
                + Math.ceilDiv(retry.toNanos(), 1_000_000)
                + " ms",
            retry);
      }
      // backlog + interval <= Long.MAX_VALUE; now + it may wrap, as nanoTime may, and its
      // difference from a later now stays right.
      if (theoreticalArrival.compareAndSet(tat, now + (backlog + intervalNanos))) {
        return null;
      }
    }
  }

  /** {@code a * b} for {@code a, b >= 0}, or Long.MAX_VALUE where that does not fit. */
  private static long saturatedMultiply(long a, long b) {
    return b != 0 && a > Long.MAX_VALUE / b ? Long.MAX_VALUE : a * b;
  }

  /** Gives back an admitted request's place (its answer is ready, or it failed). */
  public void release() {
    if (limits.maxConcurrent() > 0) {
      inFlight.decrementAndGet();
    }
  }
}
