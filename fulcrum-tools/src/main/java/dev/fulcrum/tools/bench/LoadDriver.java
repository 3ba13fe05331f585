package dev.fulcrum.tools.bench;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Keeps one load level going against a {@link Transport}: a closed loop re-sends from completion
 * callbacks on the transport's threads (through one small executor only when a callback would
 * recurse), an open loop sends from one dedicated scheduler thread; counters are atomic and may be
 * read from any thread.
 */
final class LoadDriver {
  private final Transport transport;
  private final LatencyRecorder recorder;
  private final LongSupplier clock;
  private final boolean randomOrder;
  private final int maxOutstanding;
  private final long seed;
  private final AtomicLong nextSample = new AtomicLong();
  private final AtomicLong sent = new AtomicLong();
  private final AtomicLong completed = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final ExecutorService resend =
      Executors.newSingleThreadExecutor(
          Thread.ofPlatform().name("bench-resend").daemon(true).factory());
  private final ThreadLocal<Boolean> inSend = new ThreadLocal<>();
  private volatile boolean running;
  private @Nullable Thread scheduler;

  /**
   * @param maxOutstanding open loop only: the most requests in flight; at the cap the scheduler
   *     waits and its sends turn late (reported), the schedule is never dropped
   */
  LoadDriver(
      Transport transport,
      LatencyRecorder recorder,
      LongSupplier clock,
      boolean randomOrder,
      int maxOutstanding,
      long seed) {
    this.transport = transport;
    this.recorder = recorder;
    this.clock = clock;
    this.randomOrder = randomOrder;
    this.maxOutstanding = maxOutstanding;
    this.seed = seed;
  }

  void start(Load load) {
    running = true;
    switch (load) {
      case Load.Closed c -> {
        for (int i = 0; i < c.concurrency(); i++) {
          resend.execute(this::sendClosed);
        }
      }
      case Load.Open o -> {
        scheduler =
            Thread.ofPlatform()
                .name("bench-scheduler")
                .daemon(true)
                .start(() -> runOpen(new ArrivalSchedule(o.rate(), o.distribution(), seed)));
      }
    }
  }

  private int next() {
    int n = transport.samples();
    return randomOrder
        ? ThreadLocalRandom.current().nextInt(n)
        : (int) (nextSample.getAndIncrement() % n);
  }

  private void sendClosed() {
    if (!running) {
      return;
    }
    long t = clock.getAsLong();
    recorder.sent(t, t);
    sent.incrementAndGet();
    inSend.set(Boolean.TRUE);
    try {
      transport
          .send(next())
          .whenComplete(
              (o, ex) -> {
                finish(t, t, ex == null ? o : Outcome.OTHER);
                resendClosed();
              });
    } finally {
      inSend.remove();
    }
  }

  /**
   * Sends the next request of a closed loop: straight from the transport's completion thread (no
   * thread hop), unless the completion runs inside {@link #sendClosed} itself (an already-finished
   * future), where the executor breaks the recursion.
   */
  private void resendClosed() {
    if (!running) {
      return;
    }
    if (inSend.get() == null) {
      sendClosed();
      return;
    }
    try {
      resend.execute(this::sendClosed);
    } catch (RejectedExecutionException stopped) {
      // stop() shut the executor down between the check and the call.
    }
  }

  private void runOpen(ArrivalSchedule schedule) {
    Semaphore permits = new Semaphore(maxOutstanding);
    long start = clock.getAsLong();
    while (running) {
      long due = start + schedule.nextOffsetNanos();
      waitUntil(due);
      try {
        while (!permits.tryAcquire(10, TimeUnit.MILLISECONDS)) {
          if (!running) {
            return;
          }
        }
      } catch (InterruptedException e) {
        return;
      }
      if (!running) {
        permits.release();
        return;
      }
      long at = clock.getAsLong();
      recorder.sent(due, at);
      sent.incrementAndGet();
      CompletableFuture<Outcome> f = transport.send(next());
      f.whenComplete(
          (o, ex) -> {
            finish(due, at, ex == null ? o : Outcome.OTHER);
            permits.release();
          });
    }
  }

  private void waitUntil(long due) {
    while (running) {
      long left = due - clock.getAsLong();
      if (left <= 0) {
        return;
      }
      if (left > 60_000) {
        LockSupport.parkNanos(left - 50_000);
      } else {
        Thread.onSpinWait();
      }
    }
  }

  private void finish(long scheduled, long at, Outcome o) {
    recorder.completed(scheduled, at, clock.getAsLong(), o);
    if (o != Outcome.OK) {
      errors.incrementAndGet();
    }
    completed.incrementAndGet();
  }

  /** Stops sending and waits up to {@code timeoutNanos} for the requests in flight. */
  void stop(long timeoutNanos) throws InterruptedException {
    running = false;
    if (scheduler != null) {
      scheduler.join(Math.max(1, timeoutNanos / 1_000_000));
    }
    long deadline = System.nanoTime() + timeoutNanos;
    while (inFlight() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    resend.shutdown();
  }

  long sent() {
    return sent.get();
  }

  long completed() {
    return completed.get();
  }

  long errors() {
    return errors.get();
  }

  long inFlight() {
    return sent.get() - completed.get();
  }
}
