package dev.fulcrum.monitoring;

import dev.fulcrum.core.config.MonitoringConfig;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

/**
 * Generated tabular data with fixed seeds, shaped like the fraud demo's: a skewed amount, a normal
 * score, an hour of the day, two flags; and a harness that feeds rows to a {@link VersionMonitor}.
 */
final class Streams {
  static final List<String> NAMES = List.of("amount", "risk", "hour", "is_foreign", "card_present");

  private Streams() {}

  /** {@code n} training rows. */
  static double[][] training(int n, long seed) {
    Random r = new Random(seed);
    double[][] rows = new double[n][];
    for (int i = 0; i < n; i++) {
      rows[i] =
          new double[] {
            Math.round(Math.exp(3.4 + 0.9 * r.nextGaussian()) * 100) / 100.0,
            50 + 10 * r.nextGaussian(),
            r.nextInt(24),
            r.nextDouble() < 0.08 ? 1 : 0,
            r.nextDouble() < 0.65 ? 1 : 0
          };
    }
    return rows;
  }

  static Baseline baseline(double[][] rows) {
    List<Baseline.FeatureBaseline> features = new ArrayList<>();
    for (int c = 0; c < NAMES.size(); c++) {
      double[] col = new double[rows.length];
      for (int i = 0; i < rows.length; i++) {
        col[i] = rows[i][c];
      }
      features.add(Profiler.profile(NAMES.get(c), col));
    }
    return new Baseline(
        "m",
        "generated",
        rows.length,
        List.of(new Baseline.InputColumns("x", NAMES)),
        features,
        List.of());
  }

  /** A monitor of model "m" version 1 on baseline {@code b}, the default detector settings. */
  static VersionMonitor monitor(Baseline b) {
    return new VersionMonitor(
        "m", "1", true, "baseline.json", b.inputs(), b, null, DetectorSettings.defaults());
  }

  /**
   * A monitor of a text model "m" version 1 ({@code monitoring.text}): its baseline's {@code
   * text.input()} columns are derived from the token ids and mask.
   */
  static VersionMonitor monitor(Baseline b, MonitoringConfig.TextInput text) {
    return new VersionMonitor(
        "m", "1", true, "baseline.json", b.inputs(), b, null, DetectorSettings.defaults(), text);
  }

  /**
   * The baseline of {@code training} ({@link #baseline}) with the outputs of the hand-off tests'
   * model ({@link #probability}) profiled as the profiler would: p[0], p[1] and the label.
   */
  static Baseline classifierBaseline(double[][] training) {
    double[] p1 = new double[training.length];
    double[] p0 = new double[training.length];
    double[] label = new double[training.length];
    for (int i = 0; i < training.length; i++) {
      p1[i] = probability(training[i]);
      p0[i] = 1 - p1[i];
      label[i] = p1[i] > 0.5 ? 1 : 0;
    }
    return withOutputs(
        baseline(training),
        Profiler.profile("p[0]", p0),
        Profiler.profile("p[1]", p1),
        Profiler.profile("label", label));
  }

  /** {@code inputsOnly} with these outputs profiled too. */
  static Baseline withOutputs(Baseline inputsOnly, Baseline.FeatureBaseline... outputs) {
    return new Baseline(
        "m",
        "generated",
        inputsOnly.rows(),
        inputsOnly.inputs(),
        inputsOnly.features(),
        List.of(outputs));
  }

  /**
   * The hand-off tests' row for request {@code q}: a random training row, +0.5 sigma on the risk
   * score for requests 6,000 to 8,999 and the amount 100 times for requests 11,000 to 11,049.
   */
  static double[] handOffRow(double[][] training, Random r, int q) {
    double[] row = training[r.nextInt(training.length)].clone();
    if (q >= 6_000 && q < 9_000) {
      row[1] += 5; // +0.5 sigma
    }
    if (q >= 11_000 && q < 11_050) {
      row[0] *= 100;
    }
    return row;
  }

  /** The hand-off tests' stand-in model: a logistic of the risk score and the foreign flag. */
  static double probability(double[] row) {
    return 1 / (1 + Math.exp(-(row[1] - 50) / 10 - row[3]));
  }

  static Tensor fp64(String name, long[] shape, double[] v) {
    ByteBuffer buf = ByteBuffer.allocateDirect(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < v.length; i++) {
      buf.putDouble(8 * i, v[i]);
    }
    return Tensor.of(name, DataType.FP64, shape, buf);
  }

  static Tensor int64(String name, long[] shape, long[] v) {
    ByteBuffer buf = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < v.length; i++) {
      buf.putLong(8 * i, v[i]);
    }
    return Tensor.of(name, DataType.INT64, shape, buf);
  }

  /** A feeder: rows drawn from the training rows, optionally transformed. */
  static final class Feed {
    final VersionMonitor monitor;
    final List<String> raised = new ArrayList<>();
    final List<Long> raisedAt = new ArrayList<>();
    final List<String> cleared = new ArrayList<>();
    private final double[][] training;
    private final Random random;
    long sent;

    Feed(Baseline b, double[][] training, long seed, DetectorSettings s) {
      this.monitor = new VersionMonitor("m", "1", true, "baseline.json", b.inputs(), b, null, s);
      this.training = training;
      this.random = new Random(seed);
    }

    /** Sends {@code n} rows; returns the first new alert's observation, or -1. */
    long send(int n, UnaryOperator<double[]> change) {
      long first = -1;
      int before = raised.size();
      for (int i = 0; i < n; i++) {
        double[] row = change.apply(training[random.nextInt(training.length)].clone());
        sent++;
        monitor.observe(
            new Observation(
                null,
                "m",
                "1",
                "",
                sent,
                0,
                List.of(new Observation.Values("x", new long[] {1, row.length}, row)),
                List.of()),
            (m, f, output) -> {
              if (f.drift()) {
                raised.add(f.name());
                raisedAt.add(f.sinceObservation());
              } else {
                cleared.add(f.name());
              }
            });
        if (first < 0 && raised.size() > before) {
          first = sent;
        }
      }
      return first;
    }

    List<FeatureDrift> drifting() {
      DriftReport r = monitor.report(0);
      return r.features().stream().filter(FeatureDrift::drift).toList();
    }
  }
}
