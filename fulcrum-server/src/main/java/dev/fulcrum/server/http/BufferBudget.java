package dev.fulcrum.server.http;

import java.util.concurrent.atomic.AtomicLong;
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
  private final long limit;
  private final @Nullable BufferBudget parent;
  private final AtomicLong held = new AtomicLong();

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

  /** Reserves {@code bytes} if this budget (and its parent) can hold them; all or nothing. */
  public boolean tryReserve(long bytes) {
    if (bytes <= 0) {
      return true;
    }
    long now;
    do {
      now = held.get();
      if (now + bytes > limit) {
        return false;
      }
    } while (!held.compareAndSet(now, now + bytes));
    if (parent != null && !parent.tryReserve(bytes)) {
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

  /** The most this budget holds (its parent may allow less). */
  public long limit() {
    return limit;
  }
}
