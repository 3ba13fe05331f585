package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * Whether a model whose batching was inferred (no {@code max-batch-size} in its configuration, and
 * every input and output with a dynamic first dimension: Triton's rule) really treats that
 * dimension as a batch. A graph may read it as something else, a sequence (a cumulative sum), a set
 * (each row minus the mean of all), a matrix (a transpose): joined into one pass, the requests of
 * different clients would then change each other's answers, with shapes that still fit, so nothing
 * at run time would notice. Two made-up rows, A and B, run alone and together ([A; B]); the rows
 * are independent when the pair's first row is A's answer and its second B's, in shape and value
 * (floating point within a small tolerance: a kernel may sum in another order for two rows). The
 * passes run on an instance of their own, loaded for the probe and closed after it, on a thread of
 * their own that the loading (control) thread waits for at most {@link #TIMEOUT}: a model whose
 * pass hangs, or is slow, loads as before (batching stays) rather than hang its load.
 */
final class BatchProbe {
  private BatchProbe() {}

  /** How long a load waits for the probe's three passes. */
  static final Duration TIMEOUT = Duration.ofSeconds(5);

  /**
   * Loads an instance with {@code load}, probes it on a thread of its own and closes it.
   *
   * @return why the first dimension is not a batch, or null when it is or the probe could not tell
   *     within {@link #TIMEOUT} (the probe's thread then finishes, or stays in a hung pass, on its
   *     own; it is a daemon)
   */
  static @Nullable String check(
      Callable<ModelInstance> load, ModelConfig config, List<String> outputs) {
    CompletableFuture<@Nullable String> verdict = new CompletableFuture<>();
    Thread.ofPlatform()
        .daemon(true)
        .name("fulcrum-batch-probe")
        .start(
            () -> {
              ModelInstance probe = null;
              try {
                probe = load.call();
                verdict.complete(check(probe, config, outputs));
              } catch (Exception | Error e) {
                verdict.complete(null);
              } finally {
                if (probe != null) {
                  probe.close();
                }
              }
            });
    try {
      return verdict.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException | ExecutionException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** Relative and absolute tolerance for floating-point answers of one row alone and in a pair. */
  private static final double RELATIVE = 1e-3;

  private static final double ABSOLUTE = 1e-4;

  /**
   * @return why the first dimension is not a batch, or null when the rows were independent or the
   *     probe cannot tell (an input type it does not make up, a pass that failed: batching stays)
   */
  static @Nullable String check(ModelInstance instance, ModelConfig config, List<String> outputs) {
    List<Tensor> a = new ArrayList<>();
    List<Tensor> b = new ArrayList<>();
    List<Tensor> ab = new ArrayList<>();
    for (TensorConfig in : config.inputs()) {
      DataType t = in.datatype();
      if (!t.isFixedSize() || t == DataType.BF16) {
        return null;
      }
      long[] dims = in.dims();
      long count = 1;
      for (long d : dims) {
        count *= d < 0 ? 2 : d;
      }
      if (count > 1 << 16) {
        return null; // a large input: a probe of it costs more than a load should
      }
      long[] row = new long[dims.length + 1];
      row[0] = 1;
      for (int i = 0; i < dims.length; i++) {
        row[i + 1] = dims[i] < 0 ? 2 : dims[i];
      }
      long[] pair = row.clone();
      pair[0] = 2;
      byte[] rowA = values(t, (int) count, 0);
      byte[] rowB = values(t, (int) count, 1);
      byte[] both = Arrays.copyOf(rowA, rowA.length + rowB.length);
      System.arraycopy(rowB, 0, both, rowA.length, rowB.length);
      a.add(Tensor.of(in.name(), t, row, ByteBuffer.wrap(rowA)));
      b.add(Tensor.of(in.name(), t, row, ByteBuffer.wrap(rowB)));
      ab.add(Tensor.of(in.name(), t, pair, ByteBuffer.wrap(both)));
    }
    List<Tensor> outA;
    List<Tensor> outB;
    List<Tensor> outAB;
    try {
      outA = instance.execute(a, outputs);
      outB = instance.execute(b, outputs);
      outAB = instance.execute(ab, outputs);
    } catch (RuntimeException e) {
      return null; // made-up values the model refuses (an index out of range, say): cannot tell
    }
    for (int k = 0; k < outputs.size(); k++) {
      String name = outputs.get(k);
      Tensor one = outA.get(k);
      Tensor other = outB.get(k);
      Tensor two = outAB.get(k);
      long[] s1 = one.shape();
      long[] s2 = two.shape();
      if (s1.length == 0
          || s2.length != s1.length
          || s1[0] != 1
          || s2[0] != 2
          || !Arrays.equals(s1, 1, s1.length, s2, 1, s2.length)
          || !Arrays.equals(s1, other.shape())) {
        return "output '"
            + name
            + "' has shape "
            + Arrays.toString(s1)
            + " for a request of one row and "
            + Arrays.toString(s2)
            + " for two";
      }
      ByteBuffer joined = two.data().order(ByteOrder.LITTLE_ENDIAN);
      int half = joined.remaining() / 2;
      if (!same(one.datatype(), one.data(), joined.slice(0, half))
          || !same(one.datatype(), other.data(), joined.slice(half, half))) {
        return "output '"
            + name
            + "' of a row differs when another row is in the same pass (the dimension is read"
            + " across rows)";
      }
    }
    return null;
  }

  /** Made-up values of one row: variant 0 and 1 differ in every element. */
  private static byte[] values(DataType t, int count, int variant) {
    ByteBuffer out = ByteBuffer.allocate(count * t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < count; i++) {
      double f =
          variant == 0
              ? 0.25 + 0.5 * ((i * 7919) % 13) / 13.0
              : 0.95 - 0.6 * ((i * 104729) % 11) / 11.0;
      long n = variant == 0 ? 1 : (i % 2 == 0 ? 0 : 2); // small: valid indices of most gathers
      switch (t) {
        case FP32 -> out.putFloat((float) f);
        case FP64 -> out.putDouble(f);
        case FP16 -> out.putShort(Float.floatToFloat16((float) f));
        case BOOL -> out.put((byte) (variant == 0 ? 1 : i % 2));
        case INT8, UINT8 -> out.put((byte) n);
        case INT16, UINT16 -> out.putShort((short) n);
        case INT32, UINT32 -> out.putInt((int) n);
        case INT64, UINT64 -> out.putLong(n);
        default -> throw new IllegalStateException("no made-up values of " + t);
      }
    }
    return out.array();
  }

  private static boolean same(DataType t, ByteBuffer x, ByteBuffer y) {
    ByteBuffer p = x.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer q = y.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    if (p.remaining() != q.remaining()) {
      return false;
    }
    return switch (t) {
      case FP32 -> {
        while (p.hasRemaining()) {
          if (!close(p.getFloat(), q.getFloat())) {
            yield false;
          }
        }
        yield true;
      }
      case FP64 -> {
        while (p.hasRemaining()) {
          if (!close(p.getDouble(), q.getDouble())) {
            yield false;
          }
        }
        yield true;
      }
      case FP16 -> {
        while (p.hasRemaining()) {
          if (!close(Float.float16ToFloat(p.getShort()), Float.float16ToFloat(q.getShort()))) {
            yield false;
          }
        }
        yield true;
      }
      default -> p.equals(q);
    };
  }

  private static boolean close(double x, double y) {
    if (Double.isNaN(x) || Double.isNaN(y)) {
      return Double.isNaN(x) && Double.isNaN(y);
    }
    return Math.abs(x - y) <= ABSOLUTE + RELATIVE * Math.max(Math.abs(x), Math.abs(y));
  }
}
