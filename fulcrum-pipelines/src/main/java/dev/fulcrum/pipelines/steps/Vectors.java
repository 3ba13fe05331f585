package dev.fulcrum.pipelines.steps;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;

/**
 * The numeric steps after (and, for standardize, before) a model, on row-major float arrays: each a
 * pure function of its arguments. Stateless.
 */
public final class Vectors {
  private Vectors() {}

  /**
   * Mean-pool: token vectors {@code x} [n, paddedLength, h] to one vector per row [n, h], the mean
   * over the positions whose attention mask is 1. {@code mask} is [n, length] with length <=
   * paddedLength (a batch may have padded the request further); positions past it count as 0.
   */
  public static float[] meanPool(
      float[] x, int n, int paddedLength, int h, long[] mask, int length) {
    return meanPool(FloatBuffer.wrap(x), n, paddedLength, h, LongBuffer.wrap(mask), length);
  }

  /**
   * {@link #meanPool(float[], int, int, int, long[], int)} read in place from buffers (an engine
   * output and a request's attention mask, absolute positions from 0), so the token vectors are
   * never copied into an array.
   */
  public static float[] meanPool(
      FloatBuffer x, int n, int paddedLength, int h, LongBuffer mask, int length) {
    if (length > paddedLength) {
      throw new IllegalArgumentException(
          "mask length " + length + " exceeds the vectors' " + paddedLength);
    }
    float[] out = new float[n * h];
    double[] sum = new double[h];
    for (int i = 0; i < n; i++) {
      java.util.Arrays.fill(sum, 0);
      double count = 0;
      for (int t = 0; t < length; t++) {
        long m = mask.get(i * length + t);
        if (m == 0) {
          continue;
        }
        count += m;
        int base = (i * paddedLength + t) * h;
        for (int d = 0; d < h; d++) {
          sum[d] += m * x.get(base + d);
        }
      }
      double denominator = Math.max(count, 1e-9);
      for (int d = 0; d < h; d++) {
        out[i * h + d] = (float) (sum[d] / denominator);
      }
    }
    return out;
  }

  /** Mean over every position (no mask): [n, length, h] to [n, h]. */
  public static float[] meanPool(float[] x, int n, int length, int h) {
    long[] ones = new long[n * length];
    java.util.Arrays.fill(ones, 1);
    return meanPool(x, n, length, h, ones, length);
  }

  /** Divides each row of [rows, width] by its L2 norm (a zero row stays zero), in place. */
  public static float[] normalize(float[] x, int width) {
    for (int base = 0; base + width <= x.length; base += width) {
      double sq = 0;
      for (int d = 0; d < width; d++) {
        sq += (double) x[base + d] * x[base + d];
      }
      double norm = Math.max(Math.sqrt(sq), 1e-12);
      for (int d = 0; d < width; d++) {
        x[base + d] = (float) (x[base + d] / norm);
      }
    }
    return x;
  }

  /**
   * Softmax of each row of [rows, width], in place (shifted by the row's max, so it never
   * overflows).
   */
  public static float[] softmax(float[] x, int width) {
    for (int base = 0; base + width <= x.length; base += width) {
      float max = Float.NEGATIVE_INFINITY;
      for (int d = 0; d < width; d++) {
        max = Math.max(max, x[base + d]);
      }
      double sum = 0;
      for (int d = 0; d < width; d++) {
        sum += Math.exp(x[base + d] - max);
      }
      for (int d = 0; d < width; d++) {
        x[base + d] = (float) (Math.exp(x[base + d] - max) / sum);
      }
    }
    return x;
  }

  /** (x - mean) / std per feature of each row of [rows, mean.length], into a new array. */
  public static float[] standardize(float[] x, float[] mean, float[] std) {
    int width = mean.length;
    float[] out = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = (x[i] - mean[i % width]) / std[i % width];
    }
    return out;
  }

  /** Cosine similarity of two vectors of the same length. */
  public static double cosine(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }
}
