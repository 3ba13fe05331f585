package dev.fulcrum.server.e2e;

import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The real backend with a hook before each forward pass of the chosen model files' instances: a
 * test's gate ({@link GatedRuntime}) or a failure it injects (a canary whose passes fail). The
 * load's batch probe runs on an instance of its own, which is never hooked: the tests act on the
 * requests' passes. Thread-safe as far as its hook is.
 */
class HookedRuntime implements ModelRuntime {
  private final ModelRuntime delegate;
  private final Predicate<Path> hooked;
  private final Consumer<Path> beforePass;

  /**
   * @param hooked which model files ({@code <repo>/<model>/<version>/model.onnx}) get the hook
   * @param beforePass runs on the engine thread before each of their passes, given the model file;
   *     what it throws fails the pass
   */
  HookedRuntime(ModelRuntime delegate, Predicate<Path> hooked, Consumer<Path> beforePass) {
    this.delegate = delegate;
    this.hooked = hooked;
    this.beforePass = beforePass;
  }

  /** Whether {@code modelFile} ({@code <repo>/<model>/<version>/<file>}) is of {@code model}. */
  static boolean isOf(Path modelFile, String model) {
    return modelFile.getParent().getParent().getFileName().toString().equals(model);
  }

  /** Whether {@code modelFile} is of {@code model}'s version {@code version}. */
  static boolean isOf(Path modelFile, String model, String version) {
    return isOf(modelFile, model) && modelFile.getParent().getFileName().toString().equals(version);
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
    if (!hooked.test(modelFile) || Thread.currentThread().getName().equals("fulcrum-batch-probe")) {
      return instance;
    }
    return new ModelInstance() {
      @Override
      public ModelSignature signature() {
        return instance.signature();
      }

      @Override
      public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
        beforePass.accept(modelFile);
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
