package dev.fulcrum.server.http;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import org.jspecify.annotations.Nullable;

/**
 * A count of request bytes held in memory against a limit: the server-wide budget, one port's or
 * one connection's share of it ({@link #child}), which reserves from its parent as well. The REST
 * port counts request bodies being aggregated, the gRPC port request messages not yet whole; {@code
 * serve} gives both ports one server-wide budget.
 *
 * <p>Thread-safe: every connection's event loop reserves and releases concurrently (lock-free).
 */
public final class BufferBudget {
  private static final AtomicLongFieldUpdater<BufferBudget> REFUSED =
      AtomicLongFieldUpdater.newUpdater(BufferBudget.class, "refused");

  private final long limit;
  private final @Nullable BufferBudget parent;
  private final AtomicLong held = new AtomicLong();

  /**
   * Reservations refused by this budget or one drawn from it: a field, not an object, since a
   * budget is made per connection; written only on a refusal.
   */
  private volatile long refused;

  /** A budget of at most {@code limit} bytes. */
  public BufferBudget(long limit) {
    this(limit, null);
  }

  private BufferBudget(long limit, @Nullable BufferBudget parent) {
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be >= 1, was " + limit);
    }
    this.limit = limit;
    this.parent = parent;
  }

  /** A budget of at most {@code childLimit} bytes that also draws from this one. */
  public BufferBudget child(long childLimit) {
    return new BufferBudget(childLimit, this);
  }

  /**
   * Reserves {@code bytes} if this budget (and its parent) can hold them; all or nothing. A refusal
   * is counted by this budget and its ancestors ({@link #refused()}).
   */
  public boolean tryReserve(long bytes) {
    if (bytes <= 0 || reserve(bytes)) {
      return true;
    }
    for (BufferBudget b = this; b != null; b = b.parent) {
      REFUSED.incrementAndGet(b);
    }
    return false;
  }

  private boolean reserve(long bytes) {
    long now;
    do {
      now = held.get();
      if (now + bytes > limit) {
        return false;
      }
    } while (!held.compareAndSet(now, now + bytes));
    if (parent != null && !parent.reserve(bytes)) {
      held.addAndGet(-bytes);
      return false;
    }
    return true;
  }

  /** Gives back bytes reserved earlier. */
  public void release(long bytes) {
    if (bytes <= 0) {
      return;
    }
    held.addAndGet(-bytes);
    if (parent != null) {
      parent.release(bytes);
    }
  }

  /** Bytes reserved now. */
  public long held() {
    return held.get();
  }

  /**
   * Reservations refused so far by this budget or by one drawn from it ({@link #child}): each is a
   * request refused for its bytes (503, gRPC RESOURCE_EXHAUSTED).
   */
  public long refused() {
    return refused;
  }

  /** The most this budget holds (its parent may allow less). */
  public long limit() {
    return limit;
  }
}
