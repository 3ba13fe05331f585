package dev.fulcrum.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A stand-in engine for transport tests. Its "model file" is JSON: {@code {"mode": "identity" |
 * "addsub" | "fail" | "gate" | "slow" | "explode", "inputs": [{"name", "datatype", "shape"}],
 * "outputs": [...]}}. {@code identity} returns input i as output i; {@code addsub} returns
 * INPUT0+INPUT1 and INPUT0-INPUT1 (INT32 or FP32), like Triton's "simple" model; {@code fail} does
 * not load; {@code gate} is identity after waiting for {@link #openGate()} (at most 30 s); {@code
 * explode} throws from every forward pass (an engine fault); {@code hang} never returns from a pass
 * until {@link #releaseHung()} (at most 60 s), like an engine stuck in a kernel; {@code slow} is
 * identity after sleeping {@code "row_millis"} (default 1) a row of the first input. Any mode but
 * {@code fail} may take {@code "delay_ms": N}: each pass sleeps that long first, like a slow model.
 */
final class FakeRuntime implements ModelRuntime {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static volatile CountDownLatch gate = new CountDownLatch(1);

  private static final CountDownLatch hung = new CountDownLatch(1);

  /** Lets every "hang" pass return, for good. */
  static void releaseHung() {
    hung.countDown();
  }

  /** Lets every waiting and future "gate" pass run. */
  static void openGate() {
    gate.countDown();
  }

  /** Makes "gate" passes wait again. */
  static void closeGate() {
    gate = new CountDownLatch(1);
  }

  @Override
  public String platform() {
    return ModelConfigResolver.ONNX_PLATFORM;
  }

  @Override
  public String defaultModelFilename() {
    return "model.onnx";
  }

  @Override
  public ModelInstance load(Path modelFile, SessionOptions options) throws ModelLoadException {
    JsonNode root;
    try {
      root = JSON.readTree(Files.readString(modelFile));
    } catch (IOException e) {
      throw new ModelLoadException("cannot read " + modelFile + ": " + e.getMessage(), e);
    }
    String mode = root.path("mode").asText("identity");
    if (mode.equals("fail")) {
      throw new ModelLoadException("this fake model always fails to load");
    }
    ModelSignature sig = new ModelSignature(specs(root.get("inputs")), specs(root.get("outputs")));
    return new Instance(
        mode, sig, root.path("delay_ms").asLong(0), root.path("row_millis").asLong(1));
  }

  private static List<TensorSpec> specs(JsonNode list) {
    List<TensorSpec> out = new ArrayList<>();
    for (JsonNode t : list) {
      long[] shape = new long[t.get("shape").size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = t.get("shape").get(i).asLong();
      }
      out.add(
          new TensorSpec(
              t.get("name").asText(),
              DataType.fromProtocolName(t.get("datatype").asText()).orElseThrow(),
              shape));
    }
    return out;
  }

  private record Instance(String mode, ModelSignature signature, long delayMs, long rowMillis)
      implements ModelInstance {
    @Override
    public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
      if (delayMs > 0) {
        try {
          Thread.sleep(delayMs);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (mode.equals("explode")) {
        throw new IllegalStateException("the fake engine exploded");
      }
      if (mode.equals("hang")) {
        try {
          hung.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (mode.equals("slow")) {
        // A pass that costs rowMillis a row: no gain from batching, a known capacity.
        try {
          Thread.sleep(rowMillis * Math.max(1, inputs.get(0).shape()[0]));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (mode.equals("gate")) {
        try {
          gate.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      List<Tensor> all = mode.equals("addsub") ? addSub(inputs) : identity(inputs);
      List<Tensor> out = new ArrayList<>();
      for (String name : outputNames) {
        out.add(
            all.stream()
                .filter(t -> t.name().equals(name))
                .findFirst()
                .orElseThrow(() -> InferenceException.internal("no output " + name, null)));
      }
      return out;
    }

    private List<Tensor> identity(List<Tensor> inputs) {
      List<Tensor> out = new ArrayList<>();
      for (int i = 0; i < inputs.size(); i++) {
        out.add(inputs.get(i).renamed(signature.outputs().get(i).name()));
      }
      return out;
    }

    private List<Tensor> addSub(List<Tensor> inputs) {
      Tensor a = inputs.get(0);
      Tensor b = inputs.get(1);
      ByteBuffer x = a.data();
      ByteBuffer y = b.data();
      ByteBuffer sum = ByteBuffer.allocate(a.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
      ByteBuffer diff = ByteBuffer.allocate(a.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
      while (x.hasRemaining()) {
        if (a.datatype() == DataType.INT32) {
          int p = x.getInt();
          int q = y.getInt();
          sum.putInt(p + q);
          diff.putInt(p - q);
        } else {
          float p = x.getFloat();
          float q = y.getFloat();
          sum.putFloat(p + q);
          diff.putFloat(p - q);
        }
      }
      return List.of(
          Tensor.of(signature.outputs().get(0).name(), a.datatype(), a.shape(), sum.flip()),
          Tensor.of(signature.outputs().get(1).name(), a.datatype(), a.shape(), diff.flip()));
    }

    @Override
    public void close() {}
  }
}
