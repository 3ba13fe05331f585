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

/** The real backend; forward passes of one model wait for {@link #open}. */
final class GatedRuntime implements ModelRuntime {
  final CountDownLatch entered = new CountDownLatch(1);
  final CountDownLatch open = new CountDownLatch(1);
  private final ModelRuntime delegate;
  private final String gatedModel;

  GatedRuntime(ModelRuntime delegate, String gatedModel) {
    this.delegate = delegate;
    this.gatedModel = gatedModel;
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
    ModelInstance instance = delegate.load(modelFile, options);
    // <repo>/<model>/<version>/model.onnx; the load's batch probe runs on an instance of its own,
    // which is not gated: the tests gate the requests' passes
    if (!modelFile.getParent().getParent().getFileName().toString().equals(gatedModel)
        || Thread.currentThread().getName().equals("fulcrum-batch-probe")) {
      return instance;
    }
    return new ModelInstance() {
      @Override
      public ModelSignature signature() {
        return instance.signature();
      }

      @Override
      public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
        entered.countDown();
        try {
          if (!open.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the test never opened the gate");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException(e);
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
