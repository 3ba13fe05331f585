package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class StartingRuntimeTest {
  private static final ModelInstance INSTANCE =
      new ModelInstance() {
        @Override
        public ModelSignature signature() {
          return new ModelSignature(List.of(), List.of());
        }

        @Override
        public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
          return List.of();
        }

        @Override
        public void close() {}
      };

  private static final class Engine implements ModelRuntime {
    @Override
    public String platform() {
      return "onnxruntime_onnx";
    }

    @Override
    public String defaultModelFilename() {
      return "model.onnx";
    }

    @Override
    public ModelInstance load(Path modelFile, SessionOptions options) {
      return INSTANCE;
    }
  }

  @Test
  void answersWhatItIsWithoutTheEngineAndLoadsOnceTheEngineHasStarted() throws Exception {
    CompletableFuture<Engine> engine = new CompletableFuture<>();
    StartingRuntime runtime = new StartingRuntime("onnxruntime_onnx", "model.onnx", engine);
    assertThat(runtime.platform()).isEqualTo("onnxruntime_onnx");
    assertThat(runtime.defaultModelFilename()).isEqualTo("model.onnx");

    CompletableFuture<ModelInstance> load =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return runtime.load(Path.of("m.onnx"), SessionOptions.defaults());
              } catch (ModelLoadException e) {
                throw new IllegalStateException(e);
              }
            });
    assertThat(load).isNotDone();
    engine.complete(new Engine());
    assertThat(load.get(30, TimeUnit.SECONDS)).isSameAs(INSTANCE);
  }

  @Test
  void aLoadFailsWithTheEnginesOwnErrorWhenItCouldNotStart() {
    StartingRuntime runtime =
        new StartingRuntime(
            "onnxruntime_onnx",
            "model.onnx",
            CompletableFuture.failedFuture(new UnsatisfiedLinkError("no onnxruntime in path")));
    assertThatThrownBy(() -> runtime.load(Path.of("m.onnx"), SessionOptions.defaults()))
        .isInstanceOf(ModelLoadException.class)
        .hasMessageContaining("did not start")
        .hasMessageContaining("no onnxruntime in path");
  }
}
