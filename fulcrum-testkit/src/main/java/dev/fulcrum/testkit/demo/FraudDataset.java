package dev.fulcrum.testkit.demo;

import java.io.IOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A synthetic card-transaction data set for the demo fraud classifier: eight named numeric features
 * and a label drawn from a known logistic rule plus noise, so that the trained model is meaningful
 * and the data can be regenerated bit for bit from its seed.
 */
public final class FraudDataset {
  /** The model's feature order; the ONNX input {@code features} is {@code [batch, 8]} FP32. */
  public static final List<String> FEATURES =
      List.of(
          "amount_usd",
          "hour_of_day",
          "merchant_risk",
          "distance_from_home_km",
          "transactions_last_24h",
          "account_age_days",
          "is_foreign",
          "card_present");

  /** One transaction: features in {@link #FEATURES} order and whether it was fraud. */
  public record Row(float[] features, int fraud) {}

  private FraudDataset() {}

  /** Generates {@code n} rows deterministically from {@code seed}. */
  public static List<Row> generate(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    List<Row> rows = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      double amount = Math.exp(3.4 + 1.1 * gaussian(r));
      int hour = r.nextInt(24);
      double merchantRisk = Math.pow(r.nextDouble(), 2.5);
      double distance = -18.0 * Math.log(1 - r.nextDouble());
      int txns = poisson(r, 3.0);
      int ageDays = 1 + r.nextInt(3650);
      int foreign = r.nextDouble() < 0.08 ? 1 : 0;
      int cardPresent = r.nextDouble() < 0.65 ? 1 : 0;
      boolean night = hour < 6;
      double z =
          -4.5
              + 0.7 * (Math.log(amount) - 3.4)
              + (night ? 1.1 : 0)
              + 3.2 * merchantRisk
              + 0.012 * Math.min(distance, 300)
              + 0.18 * (txns - 3)
              - 0.0004 * ageDays
              + 1.3 * foreign
              - 1.4 * cardPresent
              + 0.5 * gaussian(r);
      int fraud = r.nextDouble() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
      rows.add(
          new Row(
              new float[] {
                (float) round2(amount),
                hour,
                (float) round2(merchantRisk),
                (float) round2(distance),
                txns,
                ageDays,
                foreign,
                cardPresent
              },
              fraud));
    }
    return rows;
  }

  private static double round2(double v) {
    return Math.round(v * 100) / 100.0;
  }

  private static double gaussian(SplittableRandom r) {
    // Box-Muller; deterministic across JDKs, unlike Random.nextGaussian's algorithm history.
    double u1 = 1 - r.nextDouble();
    double u2 = r.nextDouble();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  private static int poisson(SplittableRandom r, double lambda) {
    double l = Math.exp(-lambda);
    double p = 1;
    int k = 0;
    do {
      k++;
      p *= r.nextDouble();
    } while (p > l);
    return k - 1;
  }

  /** Writes rows as CSV with a header: the features, then {@code is_fraud}. */
  public static void writeCsv(List<Row> rows, Path file) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    try (Writer w = Files.newBufferedWriter(file)) {
      w.write(String.join(",", FEATURES) + ",is_fraud\n");
      for (Row row : rows) {
        StringBuilder sb = new StringBuilder();
        for (float f : row.features()) {
          sb.append(format(f)).append(',');
        }
        w.write(sb.append(row.fraud()).append('\n').toString());
      }
    }
  }

  private static String format(float f) {
    return f == Math.rint(f) ? Long.toString((long) f) : String.format(Locale.ROOT, "%.2f", f);
  }

  /** Reads a CSV written by {@link #writeCsv}. */
  public static List<Row> readCsv(Path file) throws IOException {
    List<String> lines = Files.readAllLines(file);
    List<Row> rows = new ArrayList<>(lines.size());
    for (String line : lines.subList(1, lines.size())) {
      String[] p = line.split(",");
      float[] f = new float[FEATURES.size()];
      for (int i = 0; i < f.length; i++) {
        f[i] = Float.parseFloat(p[i]);
      }
      rows.add(new Row(f, Integer.parseInt(p[f.length])));
    }
    return rows;
  }
}
