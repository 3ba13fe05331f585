package dev.fulcrum.tools.serve;

import org.jspecify.annotations.Nullable;

/**
 * Opt-in ({@code -Dfulcrum.start.engine-early=true}, off by default): ONNX Runtime's native library
 * and environment start on a thread of their own as the CLI's {@code main} begins, before the
 * command line is read and logging set up, instead of on the {@code onnxruntime} start step after
 * them. The serial stretch of {@code main} (SLF4J's first logger, the options, the signal routing)
 * leaves the second core mostly idle; the engine's start (~0.06 s of CPU) can use it
 * (docs/PERFORMANCE.md, "Cold start", session 19). The start step then finds the environment made
 * (ONNX Runtime makes it once, under its lock). No model loads before the signal routing is in
 * place, so a SIGTERM meanwhile still exits without a load under way. {@code main} starts it.
 *
 * <p>Thread-safety: {@link #start} is called once, on the main thread; the thread it starts touches
 * only ONNX Runtime's own environment.
 */
public final class EarlyEngine {
  /** The system property that turns it on. */
  public static final String PROPERTY = "fulcrum.start.engine-early";

  private EarlyEngine() {}

  /**
   * Starts {@code startEngine} on a daemon thread named {@code fulcrum-start-engine-early} when
   * {@code on}; its failure is left to the start step, which meets it again and reports it. Returns
   * the thread, or null when off.
   */
  public static @Nullable Thread start(boolean on, Runnable startEngine) {
    if (!on) {
      return null;
    }
    return Thread.ofPlatform()
        .daemon()
        .name("fulcrum-start-engine-early")
        .start(new Start(startEngine));
  }

  /**
   * The thread's task, a class rather than a lambda: the AOT cache's training does not turn the
   * switch on, and a lambda met first at run time is spun on the main thread.
   */
  private static final class Start implements Runnable {
    private final Runnable startEngine;

    Start(Runnable startEngine) {
      this.startEngine = startEngine;
    }

    @Override
    public void run() {
      try {
        startEngine.run();
      } catch (RuntimeException | LinkageError e) {
        // the onnxruntime start step meets the same failure and stops the start with it
      }
    }
  }
}
