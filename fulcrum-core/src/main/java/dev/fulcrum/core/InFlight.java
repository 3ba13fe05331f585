package dev.fulcrum.core;

import java.time.Duration;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Counts the requests a transport is answering, from the moment it takes one until it reports the
 * response written to the socket, so that a drain waits for flushed responses rather than for
 * computed results. Thread-safe: any thread may {@link #enter} and {@link #exit}; {@link
 * #awaitIdle} blocks its caller only.
 */
public final class InFlight {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition idle = lock.newCondition();
  private int count;

  /** A request was taken. */
  public void enter() {
    lock.lock();
    try {
      count++;
    } finally {
      lock.unlock();
    }
  }

  /** A request's response was written (or its connection closed); pairs with one {@link #enter}. */
  public void exit() {
    lock.lock();
    try {
      if (--count <= 0) {
        count = 0;
        idle.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Requests taken and not yet answered on the wire. */
  public int count() {
    lock.lock();
    try {
      return count;
    } finally {
      lock.unlock();
    }
  }

  /** Waits until no request is in flight or {@code timeout} passes; true when none is left. */
  public boolean awaitIdle(Duration timeout) throws InterruptedException {
    long left = timeout.toNanos();
    lock.lock();
    try {
      while (count > 0) {
        if (left <= 0) {
          return false;
        }
        left = idle.awaitNanos(left);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }
}
