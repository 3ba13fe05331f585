package dev.fulcrum.server;

import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/** Polling for tests that wait on server state; thread-safe (stateless). */
public final class Await {
  private Await() {}

  /**
   * Polls until {@code condition} holds; fails after 60 s so that a broken feature fails the test
   * instead of hanging the build. Not a timing assertion: the bound is only a safety net.
   */
  public static void until(String what, Callable<Boolean> condition) throws Exception {
    until(what, condition, () -> "");
  }

  /** As {@link #until(String, Callable)}, the failure saying what {@code state} reads then. */
  public static void until(String what, Callable<Boolean> condition, Callable<String> state)
      throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.call()) {
      if (System.nanoTime() > deadline) {
        String now = state.call();
        throw new AssertionError(
            "gave up waiting until " + what + (now.isEmpty() ? "" : " (" + now + ")"));
      }
      Thread.sleep(5);
    }
  }
}
