package dev.fulcrum.server.e2e;

import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.runtime.SessionOptions;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The real backend; forward passes of one model wait for {@link #open} (after the first {@link
 * #ungated} ones, 0 unless a test sets it), or (made by {@link #loads}) its loads do, as a session
 * build that takes minutes. A {@link HookedRuntime} whose hook is the gate.
 */
final class GatedRuntime extends HookedRuntime {
  final CountDownLatch entered;
  final CountDownLatch open;

  /** Passes that still run without waiting for the gate (a test's warm-up); thread-safe. */
  final AtomicInteger ungated;

  private final Gate gate;
  private final String gatedModel;
  private final boolean gatesLoads;

  GatedRuntime(ModelRuntime delegate, String gatedModel) {
    this(delegate, gatedModel, false, new Gate());
  }

  private GatedRuntime(ModelRuntime delegate, String gatedModel, boolean gatesLoads, Gate gate) {
    super(delegate, file -> !gatesLoads && isOf(file, gatedModel), file -> gate.pass());
    this.gate = gate;
    this.entered = gate.entered;
    this.open = gate.open;
    this.ungated = gate.ungated;
    this.gatedModel = gatedModel;
    this.gatesLoads = gatesLoads;
  }

  /** The real backend whose loads of {@code gatedModel} wait for {@link #open}. */
  static GatedRuntime loads(ModelRuntime delegate, String gatedModel) {
    return new GatedRuntime(delegate, gatedModel, true, new Gate());
  }

  @Override
  public ModelInstance load(Path modelFile, SessionOptions options) throws ModelLoadException {
    if (gatesLoads && isOf(modelFile, gatedModel)) {
      gate.await();
    }
    return super.load(modelFile, options);
  }

  /** The latches a pass or a load waits on; thread-safe. */
  private static final class Gate {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch open = new CountDownLatch(1);
    final AtomicInteger ungated = new AtomicInteger();

    void pass() {
      if (ungated.getAndUpdate(n -> Math.max(0, n - 1)) == 0) {
        await();
      }
    }

    void await() {
      entered.countDown();
      try {
        if (!open.await(60, TimeUnit.SECONDS)) {
          throw new IllegalStateException("the test never opened the gate");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }
}
