package dev.fulcrum.monitoring;

import dev.fulcrum.core.config.MonitoringConfig;
import java.util.List;

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
  static final List<String> OUTPUT_NAMES = List.of("embedding_norm", "embedding_mean");

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
    double[][] rows = new double[batch][];
    double[] pooled = new double[dim];
    for (int b = 0; b < batch; b++) {
      java.util.Arrays.fill(pooled, 0);
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
        if (n > 0) {
          for (int d = 0; d < dim; d++) {
            pooled[d] /= n;
          }
        }
      }
      double sq = 0;
      double sum = 0;
      for (int d = 0; d < dim; d++) {
        sq += pooled[d] * pooled[d];
        sum += pooled[d];
      }
      rows[b] = new double[] {Math.sqrt(sq), dim == 0 ? 0 : sum / dim};
    }
    return rows;
  }
}
