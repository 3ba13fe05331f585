package dev.fulcrum.runtime.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Output tensors that ONNX Runtime writes a pass's results into ("pinned outputs"), one set per
 * batch size, for a model whose every output has a fixed size per row ({@code [-1, 2]}, {@code
 * [-1]}: a tabular classifier). Without them ORT's Java binding builds each output's Java tensor
 * and its shape description through JNI calls back into the JVM on every pass ({@code FindClass},
 * {@code GetMethodID}, object and array creation): on the fraud model those took about as much CPU
 * as the model's own computation (perf, docs/PERFORMANCE.md "Session 10"). With pinned outputs the
 * pass fills buffers made once, and each output is copied out of them into the Fulcrum tensor, as
 * it was copied out of ORT's memory before.
 *
 * <p>A set is made on first use of a batch size and kept while the instance lives: at most {@link
 * #MAX_ROWS} sets, each at most {@link #MAX_BYTES}. Not thread-safe: owned by one {@link
 * OnnxModelInstance}, used by the thread running its pass (one at a time).
 */
final class PinnedOutputs {
  /** Batch sizes above this run without pinned outputs. */
  static final int MAX_ROWS = 64;

  /** A batch size whose outputs would take more bytes than this runs without pinned outputs. */
  static final long MAX_BYTES = 64 * 1024;

  private final OrtEnvironment env;
  private final List<TensorSpec> outputs;
  private final Set<String> names;
  private final long rowBytes;
  private final @Nullable Pass[] byRows = new Pass[MAX_ROWS + 1];

  private PinnedOutputs(OrtEnvironment env, List<TensorSpec> outputs, long rowBytes) {
    this.env = env;
    this.outputs = List.copyOf(outputs);
    Set<String> n = new HashSet<>();
    for (TensorSpec s : outputs) {
      n.add(s.name());
    }
    this.names = Set.copyOf(n);
    this.rowBytes = rowBytes;
  }

  /**
   * Pinned outputs for a model's outputs, or null when one of them has no fixed size per row (a
   * first dimension that is not the dynamic batch, another dynamic dimension, BYTES, or a type
   * ORT's Java binding cannot wrap around a buffer).
   */
  static @Nullable PinnedOutputs of(OrtEnvironment env, List<TensorSpec> outputs) {
    if (outputs.isEmpty()) {
      return null;
    }
    long rowBytes = 0;
    for (TensorSpec s : outputs) {
      long[] shape = s.shape();
      if (shape.length == 0 || shape[0] != -1 || !s.datatype().isFixedSize()) {
        return null;
      }
      if (OnnxTypes.javaType(s.datatype()).isEmpty()) {
        return null;
      }
      long elements = 1;
      for (int i = 1; i < shape.length; i++) {
        if (shape[i] < 0) {
          return null;
        }
        elements = Math.multiplyExact(elements, shape[i]);
      }
      rowBytes = Math.addExact(rowBytes, Math.multiplyExact(elements, s.datatype().byteSize()));
    }
    return new PinnedOutputs(env, outputs, rowBytes);
  }

  /** Whether a pass asking for these outputs can use pinned outputs (it asks for all of them). */
  boolean covers(List<String> outputNames) {
    return outputNames.size() == names.size() && names.containsAll(outputNames);
  }

  /** The pinned tensors of a pass of {@code rows} rows, made on first use; null when too large. */
  @Nullable Pass forRows(long rows) throws OrtException {
    if (rows < 1 || rows > MAX_ROWS || rows * rowBytes > MAX_BYTES) {
      return null;
    }
    Pass pass = byRows[(int) rows];
    if (pass == null) {
      pass = new Pass(env, outputs, (int) rows);
      byRows[(int) rows] = pass;
    }
    return pass;
  }

  /** Closes every pinned tensor; the instance is closing. */
  void close() {
    for (int i = 0; i < byRows.length; i++) {
      Pass p = byRows[i];
      if (p != null) {
        p.close();
        byRows[i] = null;
      }
    }
  }

  /** The pinned tensors of one batch size. */
  static final class Pass {
    /** One output's buffer, as ORT writes it, and what the Fulcrum tensor copied out of it is. */
    private record Slot(DataType type, long[] shape, ByteBuffer buffer) {}

    private final Map<String, OnnxTensor> tensors;
    private final Map<String, Slot> slots;

    private Pass(OrtEnvironment env, List<TensorSpec> outputs, int rows) throws OrtException {
      Map<String, OnnxTensor> t = new HashMap<>();
      Map<String, Slot> sl = new HashMap<>();
      try {
        for (TensorSpec s : outputs) {
          long[] shape = s.shape();
          shape[0] = rows;
          long elements = 1;
          for (long d : shape) {
            elements *= d;
          }
          ByteBuffer buffer =
              ByteBuffer.allocateDirect(Math.toIntExact(elements * s.datatype().byteSize()))
                  .order(ByteOrder.nativeOrder());
          OnnxJavaType type = OnnxTypes.javaType(s.datatype()).orElseThrow();
          t.put(s.name(), OnnxTensor.createTensor(env, buffer, shape, type));
          sl.put(s.name(), new Slot(s.datatype(), shape, buffer));
        }
      } catch (OrtException | RuntimeException e) {
        for (OnnxTensor made : t.values()) {
          made.close();
        }
        throw e;
      }
      this.tensors = t;
      this.slots = sl;
    }

    /** The tensors to hand ORT as pinned outputs. */
    Map<String, OnnxTensor> tensors() {
      return tensors;
    }

    /** Copies the pass's outputs, in the order asked ({@link #covers} held), out of the buffers. */
    List<Tensor> copyOut(List<String> outputNames) {
      List<Tensor> out = new ArrayList<>(outputNames.size());
      for (String name : outputNames) {
        Slot slot = Objects.requireNonNull(slots.get(name), name);
        ByteBuffer src = slot.buffer().duplicate().clear();
        ByteBuffer copy = ByteBuffer.allocate(src.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        copy.put(src).flip();
        out.add(Tensor.of(name, slot.type(), slot.shape(), copy));
      }
      return out;
    }

    private void close() {
      for (OnnxTensor t : tensors.values()) {
        t.close();
      }
    }
  }
}
