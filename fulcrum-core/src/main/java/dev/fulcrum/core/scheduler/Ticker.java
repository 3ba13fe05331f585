package dev.fulcrum.core.scheduler;

/** A source of monotonic nanoseconds, injected so that schedulers can be tested without sleeps. */
@FunctionalInterface
public interface Ticker {
  long nanoTime();

  /** {@link System#nanoTime()}. */
  static Ticker system() {
    return System::nanoTime;
  }
}
