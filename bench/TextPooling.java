import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.monitoring.TokenFeatures;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * What the drift monitor's embedding features cost per pass on its thread: mean-pooling an FP32
 * last_hidden_state [batch, seq, 384] over the mask and taking the norm and mean
 * (TokenFeatures.outputs, the live path's loop: each token's vector bulk-copied, then added), for
 * the pass shapes given as BATCHxSEQ arguments; beside it, interleaved, the same pooling reading
 * the buffer float by float (getFloat(index), the first version's loop), as the reference of the
 * A/B. Rounds alternate between shapes and variants, 200 passes per round after a warm-up; prints
 * per shape each variant's median µs per pass and per row, and the median of the per-round ratios
 * bulk / per-float. Run by bench/text_pooling.sh.
 */
public final class TextPooling {
  public static void main(String[] args) {
    List<int[]> shapes = new ArrayList<>();
    for (String a : args.length == 0 ? new String[] {"1x11", "16x11", "16x128"} : args) {
      String[] p = a.split("x");
      shapes.add(new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])});
    }
    int dim = 384;
    Random r = new Random(1);
    List<Tensor> hidden = new ArrayList<>();
    List<double[]> masks = new ArrayList<>();
    for (int[] s : shapes) {
      int n = s[0] * s[1] * dim;
      ByteBuffer b = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n; i++) {
        b.putFloat(4 * i, (float) r.nextGaussian());
      }
      hidden.add(Tensor.of("last_hidden_state", DataType.FP32, new long[] {s[0], s[1], dim}, b));
      double[] mask = new double[s[0] * s[1]];
      Arrays.fill(mask, 1);
      masks.add(mask);
    }
    int rounds = 40;
    int passes = 200;
    double[][][] us = new double[shapes.size()][2][rounds];
    double[] pooled = new double[dim];
    double sink = 0;
    for (int round = -10; round < rounds; round++) {
      for (int k = 0; k < shapes.size(); k++) {
        for (int v = 0; v < 2; v++) {
          int variant = (round & 1) == 0 ? v : 1 - v; // ABBA
          long t0 = System.nanoTime();
          for (int i = 0; i < passes; i++) {
            if (variant == 0) {
              double[][] rows = TokenFeatures.outputs(hidden.get(k), masks.get(k));
              sink += rows == null ? 0 : rows[0][0];
            } else {
              int[] s = shapes.get(k);
              sink += perFloat(hidden.get(k).unsafeData(), masks.get(k), s[0], s[1], dim, pooled);
            }
          }
          if (round >= 0) {
            us[k][variant][round] = (System.nanoTime() - t0) / 1e3 / passes;
          }
        }
      }
    }
    for (int k = 0; k < shapes.size(); k++) {
      int[] s = shapes.get(k);
      double bulk = median(us[k][0]);
      double old = median(us[k][1]);
      double[] ratio = new double[rounds];
      for (int i = 0; i < rounds; i++) {
        ratio[i] = us[k][0][i] / us[k][1][i];
      }
      System.out.printf(
          "pass %dx%dx%d: bulk %.1f us per pass (%.2f per row), per-float %.1f us per pass;"
              + " ratio bulk/per-float median %.3f%n",
          s[0], s[1], dim, bulk, bulk / s[0], old, median(ratio));
    }
    if (sink == 42) {
      System.out.println();
    }
  }

  private static double median(double[] v) {
    double[] c = v.clone();
    Arrays.sort(c);
    return c[c.length / 2];
  }

  /** The first version's loop: every float read from the buffer by index. */
  private static double perFloat(
      ByteBuffer buf, double[] mask, int batch, int seq, int dim, double[] pooled) {
    int origin = buf.position();
    double last = 0;
    for (int b = 0; b < batch; b++) {
      Arrays.fill(pooled, 0);
      double n = 0;
      for (int t = 0; t < seq; t++) {
        double w = mask[b * seq + t];
        if (w == 0) {
          continue;
        }
        n += w;
        int at = origin + 4 * ((b * seq + t) * dim);
        for (int d = 0; d < dim; d++) {
          pooled[d] += w * buf.getFloat(at + 4 * d);
        }
      }
      double sq = 0;
      double sum = 0;
      for (int d = 0; d < dim; d++) {
        double p = pooled[d] / n;
        sq += p * p;
        sum += p;
      }
      last = Math.sqrt(sq) + sum / dim;
    }
    return last;
  }
}
