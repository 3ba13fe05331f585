package dev.fulcrum.server.http;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts a port's open connections against a maximum. A connection beyond it is closed as soon as
 * it is accepted, which gives its file descriptor back at once; the connections already open are
 * served as before, and the timeouts of {@link RequestTimeouts} free their places.
 *
 * <p>With {@link #evictingSlowStarts}, a full port first makes room by closing its oldest
 * connection that has been open that long without delivering its first request head (or HTTP/2
 * preface; {@link #started}): slowloris connections then cost the attacker their place instead of
 * costing a real client its connection. A connection that has started is never evicted.
 *
 * <p>Thread-safe: every event loop admits and closes connections concurrently. The count may pass
 * the maximum by the few evicted connections whose close has not completed yet.
 */
public final class ConnectionLimit {
  private static final AttributeKey<Boolean> STARTED =
      AttributeKey.valueOf(ConnectionLimit.class, "started");

  /**
   * How long the REST and metrics ports let a new connection go without a request head before it
   * may be evicted for a newer one at the cap: far more than a client on loopback or a LAN needs.
   */
  public static final Duration EVICT_AFTER = Duration.ofSeconds(1);

  /** A connection admitted at {@code since} (nanoTime), in admission order. */
  private record Admitted(Channel channel, long since) {}

  private final int max;
  private final long evictAfterNanos;
  private final AtomicInteger open = new AtomicInteger();
  private final ConcurrentLinkedDeque<Admitted> admitted = new ConcurrentLinkedDeque<>();

  /** A plain cap: a connection beyond it is refused. */
  public ConnectionLimit(int max) {
    this(max, Duration.ZERO);
  }

  private ConnectionLimit(int max, Duration evictAfter) {
    this.max = max;
    this.evictAfterNanos = evictAfter.toNanos();
  }

  /**
   * A cap that, when full, closes the oldest connection that has been open for {@code after}
   * without starting, to admit the new one; refuses the new one only when there is none.
   */
  public static ConnectionLimit evictingSlowStarts(int max, Duration after) {
    if (after.isNegative() || after.isZero()) {
      throw new IllegalArgumentException("after must be > 0, was " + after);
    }
    return new ConnectionLimit(max, after);
  }

  /**
   * Counts {@code ch} until it closes and returns true, or returns false if the port is full: the
   * caller then closes it.
   */
  public boolean admit(Channel ch) {
    if (open.incrementAndGet() > max && !evictOne()) {
      open.decrementAndGet();
      return false;
    }
    ch.closeFuture().addListener(f -> open.decrementAndGet());
    if (evictAfterNanos > 0) {
      admitted.addLast(new Admitted(ch, System.nanoTime()));
      trim();
    }
    return true;
  }

  /**
   * Marks {@code ch} as started (its first request head or HTTP/2 preface arrived): it is never
   * evicted. Called on the connection's event loop.
   */
  public static void started(Channel ch) {
    ch.attr(STARTED).set(Boolean.TRUE);
  }

  /** Connections open now. */
  public int open() {
    return open.get();
  }

  /** Entries kept for eviction (tests: they do not pile up). */
  int queued() {
    return admitted.size();
  }

  private static boolean evictable(Admitted a) {
    return a.channel().isOpen() && a.channel().attr(STARTED).get() == null;
  }

  /** Closes the oldest connection that has not started within the grace; false if none. */
  private boolean evictOne() {
    if (evictAfterNanos == 0) {
      return false;
    }
    long now = System.nanoTime();
    Admitted a;
    while ((a = admitted.pollFirst()) != null) {
      if (!evictable(a)) {
        continue;
      }
      if (now - a.since() < evictAfterNanos) {
        admitted.offerFirst(a); // the oldest is too young: so are the others
        return false;
      }
      a.channel().close();
      return true;
    }
    return false;
  }

  /**
   * Drops entries of connections that closed or started from the front, two per admission, so the
   * queue holds about the connections admitted within the grace plus those still unstarted.
   */
  private void trim() {
    for (int i = 0; i < 2; i++) {
      Admitted a = admitted.peekFirst();
      if (a == null || evictable(a)) {
        return;
      }
      admitted.remove(a);
    }
  }
}
