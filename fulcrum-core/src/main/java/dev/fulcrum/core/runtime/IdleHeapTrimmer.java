package dev.fulcrum.core.runtime;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives the native heap's free pages back to the operating system while the server is idle: every
 * interval it looks at a count of answered requests, and when nothing was answered since the last
 * look and nothing is in flight, it calls {@link NativeHeap#trim}.
 *
 * <p>Why: glibc's malloc keeps freed memory mapped (request buffers, the engine's per-pass tensors,
 * a hostile client's bodies), so a server's RSS stays at its high-water mark unless something trims
 * it. The JVM's {@code -XX:TrimNativeHeapInterval}, which the launcher used before, trims under
 * load too: serving the 32×32 image model at c=64 (20k inferences/s) each 10 s trim gave back
 * 29–629 MB (10 of 13 trims over 100 MB) that the next passes faulted in again, with malloc's
 * arenas locked for 13–56 ms, and throughput fell to half for one to two seconds every ten
 * (docs/PERFORMANCE.md, "Native heap trim", session 23). Trimming only when idle keeps what the
 * trim was for (memory back once the clients leave) without taxing a busy server.
 *
 * <p>Concurrency: one daemon thread of its own makes the looks and the trims; {@link #start} and
 * {@link #close} from any thread. {@link #look} is the decision, for tests.
 */
public final class IdleHeapTrimmer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(IdleHeapTrimmer.class);

  private final Duration interval;
  private final LongSupplier answered;
  private final BooleanSupplier busy;
  private final Runnable trim;
  private @Nullable Thread thread;
  private long lastAnswered = Long.MIN_VALUE;

  /**
   * @param interval between looks; a trim needs one whole interval with nothing answered
   * @param answered a count that changes whenever a request is answered (or refused)
   * @param busy whether a request is being answered now
   * @param trim what gives the memory back ({@link NativeHeap#trim})
   */
  public IdleHeapTrimmer(
      Duration interval, LongSupplier answered, BooleanSupplier busy, Runnable trim) {
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("the trim interval must be positive, not " + interval);
    }
    this.interval = interval;
    this.answered = answered;
    this.busy = busy;
    this.trim = trim;
  }

  /** Starts the looks on a daemon thread; once. */
  public synchronized void start() {
    if (thread != null) {
      throw new IllegalStateException("already started");
    }
    thread =
        Thread.ofPlatform()
            .name("fulcrum-heap-trim")
            .daemon(true)
            .start(
                () -> {
                  try {
                    while (true) {
                      Thread.sleep(interval);
                      look();
                    }
                  } catch (InterruptedException e) {
                    // closed
                  }
                });
  }

  /**
   * One look: trims when the count of answered requests is what it was at the last look and nothing
   * is in flight. The first look only notes the count. Returns whether it trimmed.
   */
  boolean look() {
    long now = answered.getAsLong();
    boolean idle = now == lastAnswered && !busy.getAsBoolean();
    lastAnswered = now;
    if (!idle) {
      return false;
    }
    long start = System.nanoTime();
    trim.run();
    log.debug("native heap trimmed in {} µs (idle)", (System.nanoTime() - start) / 1000);
    return true;
  }

  @Override
  public synchronized void close() {
    if (thread != null) {
      thread.interrupt();
    }
  }
}
