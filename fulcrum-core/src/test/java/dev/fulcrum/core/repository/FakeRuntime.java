package dev.fulcrum.core.repository;

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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A runtime for core tests: a "model file" is text with lines {@code in|out NAME TYPE d0,d1}; the
 * i-th output echoes the i-th input. A file that says {@code broken} fails to load; one with a line
 * {@code fail-execute} loads but fails every pass; one with a line {@code reverse-rows} answers its
 * rows in reverse order (a graph whose first dimension is not a batch); one with a line {@code
 * slow-load} waits for {@link #loadGate} while it loads, when set. Passes wait for {@link #gate}
 * when set. Public for the tests of {@code dev.fulcrum.core} (the ensemble runner's).
 */
public final class FakeRuntime implements ModelRuntime {
  final List<SessionOptions> loaded = new ArrayList<>();
  final AtomicInteger executions = new AtomicInteger();
  volatile CountDownLatch gate;

  /**
   * When set, a load of a file whose text says {@code slow-load} counts {@link #loadEntered} down
   * and waits for this latch: a session build that cannot be stopped.
   */
  volatile CountDownLatch loadGate;

  final CountDownLatch loadEntered = new CountDownLatch(1);

  /**
   * When set, an instance's close counts it down and then waits (at most 30 s) until it reaches
   * zero: closes that must overlap to finish.
   */
  volatile CountDownLatch closeRendezvous;

  @Override
  public String platform() {
    return "onnxruntime_onnx";
  }

  @Override
  public String defaultModelFilename() {
    return "model.onnx";
  }

  public static void writeModel(Path file, String... lines) throws IOException {
    Files.createDirectories(file.getParent());
    Files.writeString(file, String.join("\n", lines));
  }

  @Override
  public synchronized ModelInstance load(Path modelFile, SessionOptions options)
      throws ModelLoadException {
    List<TensorSpec> in = new ArrayList<>();
    List<TensorSpec> out = new ArrayList<>();
    boolean failExecute = false;
    boolean reverseRows = false;
    try {
      for (String line : Files.readAllLines(modelFile)) {
        if (line.isBlank()) {
          continue;
        }
        if (line.trim().equals("fail-execute")) {
          failExecute = true;
          continue;
        }
        if (line.trim().equals("reverse-rows")) {
          reverseRows = true;
          continue;
        }
        if (line.trim().equals("slow-load")) {
          CountDownLatch g = loadGate;
          if (g != null) {
            loadEntered.countDown();
            try {
              g.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          continue;
        }
        if (line.trim().equals("broken")) {
          throw new ModelLoadException("fake engine: protobuf parsing failed");
        }
        String[] p = line.trim().split(" ");
        long[] dims =
            p.length < 4
                ? new long[0]
                : Arrays.stream(p[3].split(",")).mapToLong(Long::parseLong).toArray();
        TensorSpec spec = new TensorSpec(p[1], DataType.valueOf(p[2]), dims);
        (p[0].equals("in") ? in : out).add(spec);
      }
    } catch (IOException e) {
      throw new ModelLoadException(e.toString());
    }
    loaded.add(options);
    ModelSignature sig = new ModelSignature(in, out);
    boolean fails = failExecute;
    boolean reverse = reverseRows;
    return new ModelInstance() {
      @Override
      public ModelSignature signature() {
        return sig;
      }

      @Override
      public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
        executions.incrementAndGet();
        if (fails) {
          throw InferenceException.internal("fake engine: execution failed", null);
        }
        CountDownLatch g = gate;
        if (g != null) {
          try {
            g.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        List<Tensor> result = new ArrayList<>();
        for (String name : outputNames) {
          int idx = 0;
          while (!sig.outputs().get(idx).name().equals(name)) {
            idx++;
          }
          Tensor t = inputs.get(idx).renamed(name);
          result.add(reverse ? reversed(t) : t);
        }
        return result;
      }

      @Override
      public void close() {
        CountDownLatch r = closeRendezvous;
        if (r != null) {
          r.countDown();
          try {
            r.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }
    };
  }

  /** The tensor with its rows (first dimension) in reverse order. */
  private static Tensor reversed(Tensor t) {
    java.nio.ByteBuffer data = t.data();
    int rows = (int) t.shape()[0];
    int row = rows == 0 ? 0 : data.remaining() / rows;
    java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(data.remaining());
    for (int r = rows - 1; r >= 0; r--) {
      out.put(data.slice(data.position() + r * row, row));
    }
    return Tensor.of(t.name(), t.datatype(), t.shape(), out.flip());
  }
}
