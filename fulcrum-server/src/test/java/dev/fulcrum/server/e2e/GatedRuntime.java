package dev.fulcrum.server.e2e;

import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The real backend; forward passes of one model wait for {@link #open} (after the first {@link
 * #ungated} ones, 0 unless a test sets it), or (made by {@link #loads}) its loads do, as a session
 * build that takes minutes.
 */
final class GatedRuntime implements ModelRuntime {
  final CountDownLatch entered = new CountDownLatch(1);
  final CountDownLatch open = new CountDownLatch(1);

  /** Passes that still run without waiting for the gate (a test's warm-up); thread-safe. */
  final AtomicInteger ungated = new AtomicInteger();

  private final ModelRuntime delegate;
  private final String gatedModel;
  private final boolean gatesLoads;

  GatedRuntime(ModelRuntime delegate, String gatedModel) {
    this(delegate, gatedModel, false);
  }

  private GatedRuntime(ModelRuntime delegate, String gatedModel, boolean gatesLoads) {
    this.delegate = delegate;
    this.gatedModel = gatedModel;
    this.gatesLoads = gatesLoads;
  }

  /** The real backend whose loads of {@code gatedModel} wait for {@link #open}. */
  static GatedRuntime loads(ModelRuntime delegate, String gatedModel) {
    return new GatedRuntime(delegate, gatedModel, true);
  }

  private void await() {
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

  @Override
  public String platform() {
    return delegate.platform();
  }

  @Override
  public String defaultModelFilename() {
    return delegate.defaultModelFilename();
  }

  @Override
  public ModelInstance load(Path modelFile, SessionOptions options) throws ModelLoadException {
    // <repo>/<model>/<version>/model.onnx
    boolean gated = modelFile.getParent().getParent().getFileName().toString().equals(gatedModel);
    if (gated && gatesLoads) {
      await();
    }
    ModelInstance instance = delegate.load(modelFile, options);
    // the load's batch probe runs on an instance of its own, which is not gated: the tests gate
    // the requests' passes
    if (!gated || gatesLoads || Thread.currentThread().getName().equals("fulcrum-batch-probe")) {
      return instance;
    }
    return new ModelInstance() {
      @Override
      public ModelSignature signature() {
        return instance.signature();
      }

      @Override
      public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
        if (ungated.getAndUpdate(n -> Math.max(0, n - 1)) == 0) {
          await();
        }
        return instance.execute(inputs, outputNames);
      }

      @Override
      public void close() {
        instance.close();
      }
    };
  }

  @Override
  public void close() {
    delegate.close();
  }
}
