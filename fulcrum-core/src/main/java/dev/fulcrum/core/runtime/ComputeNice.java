package dev.fulcrum.core.runtime;

import java.lang.invoke.MethodHandle;
import java.util.concurrent.ThreadFactory;
import org.jspecify.annotations.Nullable;

/**
 * The nice value of the threads that run passes (engine threads, and the inference engine's
 * intra-op pools, which take the nice of the thread that creates their session), so that on a
 * saturated machine the event loops, at nice 0, take a core before them: an overload's refusal is
 * decided in microseconds on an event loop, but waited milliseconds for a core that passes held
 * (docs/PERFORMANCE.md, "Latency objectives", session 17).
 *
 * <p>Linux keeps a nice value per thread; {@code setpriority(PRIO_PROCESS, 0, n)} sets the calling
 * thread's. It is called through {@link LibcDowncall}; on another OS, or a JDK without the foreign
 * function API, nothing changes. A thread may raise its own nice without privileges, never lower it
 * again: a thread that must go back to 0 afterwards cannot use this.
 *
 * <p>Set by the system property {@value #PROPERTY} (0 to 19; 0, the default, leaves every thread as
 * it is). Immutable and thread-safe; the handle is resolved once, lazily.
 */
public final class ComputeNice {
  /** The system property that sets it. */
  public static final String PROPERTY = "fulcrum.compute-nice";

  private static final int PRIO_PROCESS = 0;
  private static final ComputeNice NONE = new ComputeNice(0);

  private final int nice;

  private ComputeNice(int nice) {
    this.nice = nice;
  }

  /** Compute threads at {@code nice} (0: unchanged). */
  public static ComputeNice of(int nice) {
    if (nice < 0 || nice > 19) {
      throw new IllegalArgumentException(
          PROPERTY + " must be 0 (unchanged) to 19 (lowest priority), not " + nice);
    }
    return nice == 0 ? NONE : new ComputeNice(nice);
  }

  /** Compute threads as they are. */
  public static ComputeNice none() {
    return NONE;
  }

  /** From {@value #PROPERTY}; unset: {@link #none()}. */
  public static ComputeNice fromSystemProperties() {
    String value = System.getProperty(PROPERTY, "0").trim();
    try {
      return of(Integer.parseInt(value));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          PROPERTY + " must be an integer from 0 to 19, not '" + value + "'", e);
    }
  }

  /** The nice value (0: unchanged). */
  public int nice() {
    return nice;
  }

  /** Whether compute threads are lowered at all. */
  public boolean lowers() {
    return nice > 0;
  }

  /**
   * Sets the calling thread's nice to this value, if it lowers; returns whether it was set. Only
   * for threads that stay compute threads: the value cannot be set back without privileges.
   */
  public boolean applyToCurrentThread() {
    if (!lowers()) {
      return false;
    }
    @Nullable MethodHandle h = Holder.SETPRIORITY;
    if (h == null) {
      return false;
    }
    try {
      return (int) h.invoke(PRIO_PROCESS, 0, nice) == 0;
    } catch (Throwable t) {
      return false;
    }
  }

  /** Threads from {@code threads} that first set their own nice to this value. */
  public ThreadFactory wrap(ThreadFactory threads) {
    if (!lowers()) {
      return threads;
    }
    return task ->
        threads.newThread(
            () -> {
              applyToCurrentThread();
              task.run();
            });
  }

  @Override
  public String toString() {
    return "ComputeNice[" + nice + "]";
  }

  private static final class Holder {
    static final @Nullable MethodHandle SETPRIORITY = lookup();
  }

  /** {@code int setpriority(int which, id_t who, int prio)}, or null where it cannot be called. */
  private static @Nullable MethodHandle lookup() {
    return LibcDowncall.find("setpriority", int.class, int.class, int.class, int.class);
  }
}
