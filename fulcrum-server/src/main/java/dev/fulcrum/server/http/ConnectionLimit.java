package dev.fulcrum.server.http;

import io.netty.channel.Channel;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts a port's open connections against a maximum. A connection beyond it is closed as soon as
 * it is accepted, which gives its file descriptor back at once; the connections already open are
 * served as before, and the timeouts of {@link RequestTimeouts} free their places.
 *
 * <p>Thread-safe: every event loop admits and closes connections concurrently.
 */
public final class ConnectionLimit {
  private final int max;
  private final AtomicInteger open = new AtomicInteger();

  public ConnectionLimit(int max) {
    this.max = max;
  }

  /**
   * Counts {@code ch} until it closes and returns true, or returns false if the port is full: the
   * caller then closes it.
   */
  public boolean admit(Channel ch) {
    if (open.incrementAndGet() > max) {
      open.decrementAndGet();
      return false;
    }
    ch.closeFuture().addListener(f -> open.decrementAndGet());
    return true;
  }

  /** Connections open now. */
  public int open() {
    return open.get();
  }
}
