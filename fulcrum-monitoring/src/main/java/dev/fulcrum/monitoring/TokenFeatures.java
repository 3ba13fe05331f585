package dev.fulcrum.monitoring;

import dev.fulcrum.core.config.MonitoringConfig;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Derived per-row features for models whose inputs are token ids (issue #11 item 5): the raw ids
 * are not a distribution worth comparing, so the monitor compares what they say about the text
 * instead. Each row of a {@code [batch, seq]} token-id tensor becomes {@link #INPUT_NAMES}, and
 * each row of an embedding output ({@code [batch, seq, dim]} mean-pooled over the mask, or {@code
 * [batch, dim]} as is) becomes {@link #OUTPUT_NAMES}. The rows go through the same {@link
 * FeatureDetector}s as tabular columns; a baseline for them comes from {@link Profiler#profile} on
 * the same derived values of a reference corpus.
 *
 * <p>Pure functions, no state: safe from any thread.
 */
public final class TokenFeatures {
  /** Sequence length (mask sum), padding share, unknown-token rate (of the real tokens). */
  static final List<String> INPUT_NAMES = MonitoringConfig.TextInput.FEATURES;

  /** The (pooled) embedding's L2 norm and the mean of its components. */
  static final List<String> OUTPUT_NAMES = MonitoringConfig.TextInput.OUTPUT_FEATURES;

  /** [UNK] in the BERT uncased WordPiece vocabulary that MiniLM uses. */
  static final int DEFAULT_UNK_ID = MonitoringConfig.TextInput.DEFAULT_UNK_ID;

  private TokenFeatures() {}

  /**
   * @param ids {@code [batch, seq]} token ids, row-major
   * @param mask the attention mask, same shape (1 real token, 0 padding)
   * @return per row {seq_len, padding_share, unk_rate}
   */
  public static double[][] inputs(double[] ids, double[] mask, int batch, int seq, int unkId) {
    if (ids.length != (long) batch * seq || mask.length != ids.length) {
      throw new IllegalArgumentException(
          "ids/mask hold " + ids.length + "/" + mask.length + " values, not " + batch + "x" + seq);
    }
    double[] flat = new double[batch * INPUT_NAMES.size()];
    inputsInto(ids, mask, batch, seq, unkId, flat);
    double[][] rows = new double[batch][];
    for (int b = 0; b < batch; b++) {
      rows[b] = java.util.Arrays.copyOfRange(flat, b * 3, b * 3 + 3);
    }
    return rows;
  }

  /**
   * The same features written row-major into {@code out} ({@code batch * 3} values), allocating
   * nothing: the monitor's live path. {@code ids} and {@code mask} may be longer than {@code batch
   * * seq} (reused scratch arrays); the rest is ignored.
   */
  static void inputsInto(double[] ids, double[] mask, int batch, int seq, int unkId, double[] out) {
    for (int b = 0; b < batch; b++) {
      int len = 0;
      int unk = 0;
      for (int t = 0; t < seq; t++) {
        int i = b * seq + t;
        if (mask[i] != 0) {
          len++;
          if ((int) ids[i] == unkId) {
            unk++;
          }
        }
      }
      out[b * 3] = len;
      out[b * 3 + 1] = seq == 0 ? 0 : (double) (seq - len) / seq;
      out[b * 3 + 2] = len == 0 ? 0 : (double) unk / len;
    }
  }

  /**
   * @param hidden {@code [batch, seq, dim]} (pooled over {@code mask}) when {@code seq > 0}, or
   *     {@code [batch, dim]} (as is) when {@code seq == 0}
   * @param mask {@code [batch, seq]}, ignored when {@code seq == 0}
   * @return per row {embedding_norm, embedding_mean}
   */
  static double[][] outputs(double[] hidden, double[] mask, int batch, int seq, int dim) {
    double[] flat = new double[batch * 2];
    outputsInto(hidden, mask, batch, seq, dim, new double[dim], flat);
    double[][] rows = new double[batch][];
    for (int b = 0; b < batch; b++) {
      rows[b] = new double[] {flat[2 * b], flat[2 * b + 1]};
    }
    return rows;
  }

  /**
   * Per row {embedding_norm, embedding_mean} of an embedding output: {@code [batch, seq, dim]}
   * mean-pooled over {@code mask} ({@code [batch, seq]}), or {@code [batch, dim]} as is; {@code
   * fulcrum profile --text}'s path.
   *
   * @return null when the tensor is not FP32/FP64 of rank 2 or 3, or the mask does not fit it
   */
  public static double @Nullable [][] outputs(Tensor hidden, double[] mask) {
    long[] shape = hidden.shape();
    if (shape.length != 2 && shape.length != 3) {
      return null;
    }
    int batch = (int) shape[0];
    int seq = shape.length == 3 ? (int) shape[1] : 0;
    int dim = (int) shape[shape.length - 1];
    if (seq > 0 && mask.length < batch * seq) {
      return null;
    }
    double[] flat = new double[batch * 2];
    if (!outputsInto(hidden, mask, batch, seq, dim, new double[dim], new float[dim], flat)) {
      return null;
    }
    double[][] rows = new double[batch][];
    for (int b = 0; b < batch; b++) {
      rows[b] = new double[] {flat[2 * b], flat[2 * b + 1]};
    }
    return rows;
  }

  /**
   * The same features written row-major into {@code out} ({@code batch * 2} values), with {@code
   * pooled} ({@code dim} long) as scratch: the replay's path, from values read back from a log.
   */
  static void outputsInto(
      double[] hidden, double[] mask, int batch, int seq, int dim, double[] pooled, double[] out) {
    for (int b = 0; b < batch; b++) {
      java.util.Arrays.fill(pooled, 0, dim, 0);
      if (seq == 0) {
        System.arraycopy(hidden, b * dim, pooled, 0, dim);
      } else {
        double n = 0;
        for (int t = 0; t < seq; t++) {
          double w = mask[b * seq + t];
          if (w == 0) {
            continue;
          }
          n += w;
          int base = (b * seq + t) * dim;
          for (int d = 0; d < dim; d++) {
            pooled[d] += w * hidden[base + d];
          }
        }
        scale(pooled, dim, n);
      }
      normAndMean(pooled, dim, out, b);
    }
  }

  /**
   * The same features read straight from an FP32 or FP64 tensor's buffer ({@code [batch, seq, dim]}
   * when {@code seq > 0}, else {@code [batch, dim]}), nothing copied but one token's vector at a
   * time: the live monitor's path, where a pass's {@code last_hidden_state} can hold far more
   * values than the monitor copies. {@code pooled} and {@code row} are {@code dim} long scratch.
   * Each FP32 token vector is bulk-copied into {@code row} before it is added (half the time of
   * reading it float by float from the buffer: docs/PERFORMANCE.md, "Session 11"); the sums are the
   * same, in the same order, as {@link #outputsInto(double[], double[], int, int, int, double[],
   * double[])}'s on the logged values.
   *
   * @return false for any other datatype (nothing written)
   */
  static boolean outputsInto(
      Tensor hidden,
      double[] mask,
      int batch,
      int seq,
      int dim,
      double[] pooled,
      float[] row,
      double[] out) {
    DataType type = hidden.datatype();
    if (type != DataType.FP32 && type != DataType.FP64) {
      return false;
    }
    ByteBuffer buf = hidden.unsafeData();
    @Nullable FloatBuffer floats = type == DataType.FP32 ? buf.asFloatBuffer() : null;
    int origin = buf.position();
    for (int b = 0; b < batch; b++) {
      java.util.Arrays.fill(pooled, 0, dim, 0);
      int rowsOf = seq == 0 ? 1 : seq;
      double n = 0;
      for (int t = 0; t < rowsOf; t++) {
        double w = seq == 0 ? 1 : mask[b * seq + t];
        if (w == 0) {
          continue;
        }
        n += w;
        int base = (b * rowsOf + t) * dim;
        if (floats != null) {
          floats.get(base, row, 0, dim);
          if (w == 1) {
            for (int d = 0; d < dim; d++) {
              pooled[d] += row[d];
            }
          } else {
            for (int d = 0; d < dim; d++) {
              pooled[d] += w * row[d];
            }
          }
        } else {
          int at = origin + 8 * base;
          for (int d = 0; d < dim; d++) {
            pooled[d] += w * buf.getDouble(at + 8 * d);
          }
        }
      }
      scale(pooled, dim, n);
      normAndMean(pooled, dim, out, b);
    }
    return true;
  }

  private static void scale(double[] pooled, int dim, double n) {
    if (n > 0 && n != 1) {
      for (int d = 0; d < dim; d++) {
        pooled[d] /= n;
      }
    }
  }

  private static void normAndMean(double[] pooled, int dim, double[] out, int b) {
    double sq = 0;
    double sum = 0;
    for (int d = 0; d < dim; d++) {
      sq += pooled[d] * pooled[d];
      sum += pooled[d];
    }
    out[2 * b] = Math.sqrt(sq);
    out[2 * b + 1] = dim == 0 ? 0 : sum / dim;
  }
}
