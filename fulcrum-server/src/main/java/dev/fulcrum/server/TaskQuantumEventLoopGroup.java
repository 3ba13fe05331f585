package dev.fulcrum.server;

import io.netty.channel.IoEventLoop;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SingleThreadIoEventLoop;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.RejectedExecutionHandlers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadFactory;

/**
 * Event loops that poll their sockets at least every {@code quantum} while tasks keep arriving:
 * Netty's event loop runs its queued tasks for up to its task-processing quantum (1 s by default,
 * 100 ms at the least through its system property) before it polls I/O again. Under a connection
 * flood the accept threads queue one registration task per connection (and the cap's evictions, and
 * the answers of passes) faster than a fresh JVM's loops run them, so with Netty's default a loop
 * could read a real client's request, or flush its answer's bytes, only once a second; with a short
 * quantum it interleaves a poll every few milliseconds (checked every 64 tasks, as Netty checks its
 * own). The order of tasks is unchanged. Thread-safe as any Netty event loop group.
 */
final class TaskQuantumEventLoopGroup extends MultiThreadIoEventLoopGroup {
  /** The REST port's quantum: a poll at least every 10 ms of tasks (docs/PERFORMANCE.md, #14). */
  static final Duration HTTP_QUANTUM = Duration.ofMillis(10);

  TaskQuantumEventLoopGroup(
      int threads, ThreadFactory threadFactory, IoHandlerFactory io, Duration quantum) {
    super(threads, threadFactory, io, quantumMillis(quantum));
    List<IoEventLoop> all = new ArrayList<>();
    for (EventExecutor e : this) {
      all.add((IoEventLoop) e);
    }
    // Not IoEventLoop[]::new: an array constructor reference is a lambda the AOT cache cannot hold
    // (its array class is not loaded when the cache is dumped), spun on the REST port's start
    // thread of every fresh JVM (docs/PERFORMANCE.md, "Cold start", session 20).
    loops = all.toArray(new IoEventLoop[0]);
  }

  /** This group's loops, fixed at construction. */
  private final IoEventLoop[] loops;

  /**
   * The calling loop when called on one of this group's loops, else the next in turn: a connection
   * accepted by a listening socket on one of these loops is then registered on that loop, inline
   * ({@code register0} runs at once where the loop is the caller), not as a task queued behind the
   * registrations of a connection flood.
   */
  @Override
  public IoEventLoop next() {
    IoEventLoop[] own = loops;
    for (int i = 0; own != null && i < own.length; i++) {
      IoEventLoop l = own[i];
      if (l.inEventLoop()) {
        return l;
      }
    }
    return super.next();
  }

  private static Long quantumMillis(Duration quantum) {
    long ms = quantum.toMillis();
    if (ms < 1) {
      throw new IllegalArgumentException("quantum must be at least 1 ms, was " + quantum);
    }
    return ms;
  }

  @Override
  protected IoEventLoop newChild(Executor executor, IoHandlerFactory io, Object... args) {
    // Called by the super constructor, before this object's fields are set: the quantum comes in
    // args. Integer.MAX_VALUE and reject() are what Netty's own newChild passes (its defaults).
    return new SingleThreadIoEventLoop(
        this, executor, io, Integer.MAX_VALUE, RejectedExecutionHandlers.reject(), (Long) args[0]);
  }
}
