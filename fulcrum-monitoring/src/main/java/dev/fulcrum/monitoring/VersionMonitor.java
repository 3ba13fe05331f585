package dev.fulcrum.monitoring;

import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import dev.fulcrum.monitoring.Baseline.FeatureBaseline;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * One model version's detectors: one {@link FeatureDetector} per named input column and per output
 * column of the baseline. Each row of a request is one observation. The live monitor and the
 * offline replay both feed this class, so they reach the same verdict on the same rows.
 *
 * <p>Not thread-safe: owned by the thread that feeds it; {@link #report(long)} builds an immutable
 * snapshot that thread publishes.
 */
final class VersionMonitor {

  /** Told of each alert raised or cleared, on the feeding thread. */
  interface Listener {
    void changed(VersionMonitor monitor, FeatureDrift feature, boolean output);
  }

  private final String model;
  private final String version;
  private final boolean enabled;
  private final @Nullable String problem;
  private final String baselineName;
  private final List<Column> inputs = new ArrayList<>();
  private final List<Column> outputs = new ArrayList<>();
  private long observations;

  /** A feature's detector and where its values are: an input or output tensor and a column. */
  private record Column(String tensor, int index, int width, FeatureDetector detector) {}

  /**
   * @param columns the input tensors' column names (config.yaml's {@code monitoring.features})
   * @param baseline the baseline, or null when it could not be read ({@code problem} says why)
   */
  VersionMonitor(
      String model,
      String version,
      boolean enabled,
      String baselineName,
      List<Baseline.InputColumns> columns,
      @Nullable Baseline baseline,
      @Nullable String problem,
      DetectorSettings settings) {
    this.model = model;
    this.version = version;
    this.enabled = enabled;
    this.baselineName = baselineName;
    String why = problem;
    if (baseline != null && why == null) {
      Map<String, FeatureBaseline> byName = new HashMap<>();
      baseline.features().forEach(f -> byName.put(f.name(), f));
      int count = baseline.outputs().size();
      for (Baseline.InputColumns c : columns) {
        count += c.names().size();
      }
      List<String> missing = new ArrayList<>();
      for (Baseline.InputColumns c : columns) {
        for (int i = 0; i < c.names().size(); i++) {
          FeatureBaseline f = byName.get(c.names().get(i));
          if (f == null) {
            missing.add(c.names().get(i));
          } else {
            inputs.add(
                new Column(
                    c.input(), i, c.names().size(), new FeatureDetector(f, settings, count)));
          }
        }
      }
      for (FeatureBaseline f : baseline.outputs()) {
        outputs.add(
            new Column(
                OutputColumns.tensor(f.name()),
                OutputColumns.index(f.name()),
                0,
                new FeatureDetector(f, settings, count)));
      }
      if (!missing.isEmpty()) {
        why = baselineName + " has no feature " + missing + " that config.yaml names";
        inputs.clear();
        outputs.clear();
      }
    }
    this.problem = why;
  }

  String model() {
    return model;
  }

  String version() {
    return version;
  }

  boolean active() {
    return enabled && problem == null;
  }

  long observations() {
    return observations;
  }

  /** Compares one request's rows with the baseline. */
  void observe(Observation o, Listener listener) {
    if (!active() || inputs.isEmpty()) {
      return;
    }
    int rows = Integer.MAX_VALUE;
    double[][] in = new double[inputs.size()][];
    for (int i = 0; i < in.length; i++) {
      Column c = inputs.get(i);
      Observation.Values v = o.input(c.tensor());
      if (v == null) {
        return; // an input the model was not given: nothing to compare
      }
      in[i] = v.values();
      rows = Math.min(rows, v.values().length / c.width());
    }
    if (rows == 0) {
      return;
    }
    // Each output column's values and the column's element count per row, looked up once.
    double[][] out = new double[outputs.size()][];
    int[] perRow = new int[outputs.size()];
    for (int j = 0; j < out.length; j++) {
      Column c = outputs.get(j);
      Observation.Values v = o.output(c.tensor());
      if (v != null && c.index() < v.values().length / rows) {
        out[j] = v.values();
        perRow[j] = v.values().length / rows;
      }
    }
    for (int r = 0; r < rows; r++) {
      long n = ++observations;
      for (int i = 0; i < in.length; i++) {
        Column c = inputs.get(i);
        feed(c, in[i][r * c.width() + c.index()], n, o.epochMillis(), false, listener);
      }
      for (int j = 0; j < out.length; j++) {
        double[] values = out[j];
        if (values != null) {
          Column c = outputs.get(j);
          feed(c, values[r * perRow[j] + c.index()], n, o.epochMillis(), true, listener);
        }
      }
    }
  }

  private void feed(Column c, double x, long n, long millis, boolean output, Listener listener) {
    FeatureDetector.Change change = c.detector().observe(x, n, millis);
    if (change != FeatureDetector.Change.NONE) {
      listener.changed(this, c.detector().snapshot(), output);
    }
  }

  /** An immutable snapshot. */
  DriftReport report(long dropped) {
    return new DriftReport(
        model,
        version,
        enabled,
        problem,
        baselineName,
        observations,
        dropped,
        inputs.stream().map(c -> c.detector().snapshot()).toList(),
        outputs.stream().map(c -> c.detector().snapshot()).toList());
  }
}
