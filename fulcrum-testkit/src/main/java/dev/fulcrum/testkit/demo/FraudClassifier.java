package dev.fulcrum.testkit.demo;

import java.util.List;
import java.util.SplittableRandom;

/**
 * The demo fraud classifier: standardize, one hidden ReLU layer, softmax over {legit, fraud}.
 * Trained here with Adam on cross-entropy in plain Java (no ML framework is reachable from the
 * build machines), then exported to ONNX by {@link TrainFraudClassifier}. Not thread-safe.
 */
public final class FraudClassifier {
  public static final int IN = FraudDataset.FEATURES.size();
  public static final int HIDDEN = 16;
  public static final int OUT = 2;

  final float[] mean = new float[IN];
  final float[] std = new float[IN];
  final float[][] w1 = new float[IN][HIDDEN];
  final float[] b1 = new float[HIDDEN];
  final float[][] w2 = new float[HIDDEN][OUT];
  final float[] b2 = new float[OUT];

  /** Trains on {@code rows}; deterministic for a given seed. */
  public static FraudClassifier train(List<FraudDataset.Row> rows, int epochs, long seed) {
    FraudClassifier m = new FraudClassifier();
    m.fitScaler(rows);
    SplittableRandom r = new SplittableRandom(seed);
    double s1 = Math.sqrt(2.0 / IN);
    double s2 = Math.sqrt(2.0 / HIDDEN);
    for (int i = 0; i < IN; i++) {
      for (int j = 0; j < HIDDEN; j++) {
        m.w1[i][j] = (float) ((r.nextDouble() * 2 - 1) * s1);
      }
    }
    for (int i = 0; i < HIDDEN; i++) {
      for (int j = 0; j < OUT; j++) {
        m.w2[i][j] = (float) ((r.nextDouble() * 2 - 1) * s2);
      }
    }
    new Adam(m).run(rows, epochs, 64, 0.003, r);
    return m;
  }

  private void fitScaler(List<FraudDataset.Row> rows) {
    double[] sum = new double[IN];
    double[] sq = new double[IN];
    for (FraudDataset.Row row : rows) {
      for (int i = 0; i < IN; i++) {
        sum[i] += row.features()[i];
        sq[i] += (double) row.features()[i] * row.features()[i];
      }
    }
    for (int i = 0; i < IN; i++) {
      double mu = sum[i] / rows.size();
      double var = sq[i] / rows.size() - mu * mu;
      mean[i] = (float) mu;
      std[i] = (float) Math.max(Math.sqrt(Math.max(var, 0)), 1e-6);
    }
  }

  /** The forward pass in plain Java: probabilities of {legit, fraud}. */
  public float[] predict(float[] features) {
    float[] h = hidden(standardize(features));
    return softmax(logits(h));
  }

  float[] standardize(float[] x) {
    float[] z = new float[IN];
    for (int i = 0; i < IN; i++) {
      z[i] = (x[i] - mean[i]) / std[i];
    }
    return z;
  }

  float[] hidden(float[] z) {
    float[] h = new float[HIDDEN];
    for (int j = 0; j < HIDDEN; j++) {
      float a = b1[j];
      for (int i = 0; i < IN; i++) {
        a += z[i] * w1[i][j];
      }
      h[j] = Math.max(a, 0);
    }
    return h;
  }

  float[] logits(float[] h) {
    float[] o = new float[OUT];
    for (int k = 0; k < OUT; k++) {
      float a = b2[k];
      for (int j = 0; j < HIDDEN; j++) {
        a += h[j] * w2[j][k];
      }
      o[k] = a;
    }
    return o;
  }

  static float[] softmax(float[] o) {
    float max = Math.max(o[0], o[1]);
    double e0 = Math.exp(o[0] - max);
    double e1 = Math.exp(o[1] - max);
    return new float[] {(float) (e0 / (e0 + e1)), (float) (e1 / (e0 + e1))};
  }

  /** Area under the ROC curve of the fraud probability on {@code rows}. */
  public double auc(List<FraudDataset.Row> rows) {
    double[][] scored = new double[rows.size()][];
    for (int i = 0; i < rows.size(); i++) {
      scored[i] = new double[] {predict(rows.get(i).features())[1], rows.get(i).fraud()};
    }
    java.util.Arrays.sort(scored, (a, b) -> Double.compare(a[0], b[0]));
    double rankSum = 0;
    long pos = 0;
    for (int i = 0; i < scored.length; i++) {
      if (scored[i][1] == 1) {
        rankSum += i + 1;
        pos++;
      }
    }
    long neg = scored.length - pos;
    return pos == 0 || neg == 0 ? 0.5 : (rankSum - pos * (pos + 1) / 2.0) / (pos * (double) neg);
  }

  /** Mini-batch Adam on softmax cross-entropy, with fraud rows weighted up for the imbalance. */
  private static final class Adam {
    private final FraudClassifier m;
    private final float[][] mw1 = new float[IN][HIDDEN];
    private final float[][] vw1 = new float[IN][HIDDEN];
    private final float[] mb1 = new float[HIDDEN];
    private final float[] vb1 = new float[HIDDEN];
    private final float[][] mw2 = new float[HIDDEN][OUT];
    private final float[][] vw2 = new float[HIDDEN][OUT];
    private final float[] mb2 = new float[OUT];
    private final float[] vb2 = new float[OUT];
    private int t;

    Adam(FraudClassifier m) {
      this.m = m;
    }

    void run(List<FraudDataset.Row> rows, int epochs, int batch, double lr, SplittableRandom r) {
      int[] order = new int[rows.size()];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      double fraudRate = rows.stream().mapToInt(FraudDataset.Row::fraud).average().orElse(0.5);
      float posWeight =
          (float) Math.min(10, Math.sqrt((1 - fraudRate) / Math.max(fraudRate, 1e-3)));
      for (int e = 0; e < epochs; e++) {
        for (int i = order.length - 1; i > 0; i--) {
          int j = r.nextInt(i + 1);
          int tmp = order[i];
          order[i] = order[j];
          order[j] = tmp;
        }
        for (int start = 0; start < order.length; start += batch) {
          int end = Math.min(order.length, start + batch);
          step(rows, order, start, end, lr, posWeight);
        }
      }
    }

    private void step(
        List<FraudDataset.Row> rows, int[] order, int start, int end, double lr, float posWeight) {
      float[][] gw1 = new float[IN][HIDDEN];
      float[] gb1 = new float[HIDDEN];
      float[][] gw2 = new float[HIDDEN][OUT];
      float[] gb2 = new float[OUT];
      int n = end - start;
      for (int s = start; s < end; s++) {
        FraudDataset.Row row = rows.get(order[s]);
        float[] z = m.standardize(row.features());
        float[] h = m.hidden(z);
        float[] p = softmax(m.logits(h));
        float w = row.fraud() == 1 ? posWeight : 1f;
        float[] dOut = {w * (p[0] - (row.fraud() == 0 ? 1 : 0)), w * (p[1] - row.fraud())};
        for (int k = 0; k < OUT; k++) {
          gb2[k] += dOut[k] / n;
          for (int j = 0; j < HIDDEN; j++) {
            gw2[j][k] += h[j] * dOut[k] / n;
          }
        }
        for (int j = 0; j < HIDDEN; j++) {
          if (h[j] <= 0) {
            continue;
          }
          float dh = dOut[0] * m.w2[j][0] + dOut[1] * m.w2[j][1];
          gb1[j] += dh / n;
          for (int i = 0; i < IN; i++) {
            gw1[i][j] += z[i] * dh / n;
          }
        }
      }
      t++;
      for (int i = 0; i < IN; i++) {
        update(m.w1[i], gw1[i], mw1[i], vw1[i], lr);
      }
      update(m.b1, gb1, mb1, vb1, lr);
      for (int j = 0; j < HIDDEN; j++) {
        update(m.w2[j], gw2[j], mw2[j], vw2[j], lr);
      }
      update(m.b2, gb2, mb2, vb2, lr);
    }

    private void update(float[] p, float[] g, float[] mo, float[] ve, double lr) {
      double b1 = 0.9;
      double b2 = 0.999;
      for (int i = 0; i < p.length; i++) {
        mo[i] = (float) (b1 * mo[i] + (1 - b1) * g[i]);
        ve[i] = (float) (b2 * ve[i] + (1 - b2) * g[i] * g[i]);
        double mh = mo[i] / (1 - Math.pow(b1, t));
        double vh = ve[i] / (1 - Math.pow(b2, t));
        p[i] -= (float) (lr * mh / (Math.sqrt(vh) + 1e-8));
      }
    }
  }
}
