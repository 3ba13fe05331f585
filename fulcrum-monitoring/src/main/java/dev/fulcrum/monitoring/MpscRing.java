package dev.fulcrum.monitoring;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.jspecify.annotations.Nullable;

/**
 * A bounded queue for many producers and one consumer, without a lock: the hand-off from the engine
 * threads to the monitor's (and the prediction log's) thread.
 *
 * <p>Design: D. Vyukov's bounded queue. Each slot carries a sequence number: a producer claims the
 * slot at the tail with one compare-and-set on the tail counter when the slot's sequence says it is
 * free, stores the element, then publishes it by advancing the slot's sequence; the consumer takes
 * the slot at the head when its sequence says it is full, clears it and hands it back a lap later.
 * A full queue refuses at once ({@link #offer} returns false); nobody ever waits or is woken: an
 * offer is one CAS and two stores, where {@code ArrayBlockingQueue.offer} takes the lock the
 * consumer's {@code drainTo} holds while it drains (a producer that meets it parks).
 *
 * <p>Threads: {@link #offer} and {@link #accepted} on any thread; {@link #poll} on one consumer
 * thread only.
 */
final class MpscRing<T> {
  private final int mask;
  private final AtomicReferenceArray<@Nullable T> items;
  private final AtomicLongArray sequences;
  private final AtomicLong tail = new AtomicLong();
  private long head; // the consumer's alone

  /**
   * @param capacity at least this many elements fit (rounded up to a power of two, at least 2: with
   *     one slot a full slot's sequence would read as free)
   */
  MpscRing(int capacity) {
    if (capacity < 1 || capacity > 1 << 30) {
      throw new IllegalArgumentException("capacity must be in [1, 2^30], was " + capacity);
    }
    int size = Math.max(2, Integer.highestOneBit(capacity));
    if (size < capacity) {
      size <<= 1;
    }
    this.mask = size - 1;
    this.items = new AtomicReferenceArray<>(size);
    this.sequences = new AtomicLongArray(size);
    for (int i = 0; i < size; i++) {
      sequences.set(i, i);
    }
  }

  /** How many elements fit. */
  int capacity() {
    return mask + 1;
  }

  /** Adds an element; false at once when the queue is full. */
  boolean offer(T element) {
    long pos = tail.get();
    while (true) {
      int slot = (int) pos & mask;
      long seq = sequences.getAcquire(slot);
      long dif = seq - pos;
      if (dif == 0) {
        long witness = tail.compareAndExchange(pos, pos + 1);
        if (witness == pos) {
          items.setPlain(slot, element);
          sequences.setRelease(slot, pos + 1); // publishes the element
          return true;
        }
        pos = witness;
      } else if (dif < 0) {
        return false; // the slot a lap ago is not consumed yet: full
      } else {
        pos = tail.get(); // another producer took this slot
      }
    }
  }

  /** The oldest element, or null when none is published yet. Consumer thread only. */
  @Nullable T poll() {
    long pos = head;
    int slot = (int) pos & mask;
    if (sequences.getAcquire(slot) != pos + 1) {
      return null;
    }
    T element = items.getPlain(slot);
    items.setPlain(slot, null);
    sequences.setRelease(slot, pos + mask + 1); // free for the producers' next lap
    head = pos + 1;
    return element;
  }

  /** Elements accepted so far (offers that returned true). */
  long accepted() {
    return tail.get();
  }
}
