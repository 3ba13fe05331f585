package dev.fulcrum.monitoring;

import dev.fulcrum.core.config.MonitoringConfig;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import dev.fulcrum.core.scheduler.PassListener;
import dev.fulcrum.core.tensor.Tensor;
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
 * <p>The live monitor hands it references to a request's tensors ({@link #observe(Completed,
 * Listener)}): their values are read into arrays this class keeps and reuses, one per tensor, so a
 * request allocates nothing here; the replay hands it the values read from the log ({@link
 * #observe(Observation, Listener)}). Both then run the same comparison.
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
  private final MonitoringConfig.@Nullable TextInput text;
  // Text models: the token ids and mask of the request being compared (grown, reused).
  private double[] textIds = new double[256];
  private double[] textMask = new double[256];
  // ... and the shape they were derived with (the embedding output is pooled over that mask).
  private int textBatch;
  private int textSeq;
  private double[] pooled = new double[0];
  private float[] pooledRow = new float[0];

  // Per distinct input / output tensor (a slot): its name, the values of the request being
  // compared and how many; the columns say which slot they read. Sized in the constructor.
  private String[] inNames = new String[0];
  private int[] inSlot = new int[0];
  private double[][] inValues = new double[0][];
  private int[] inCount = new int[0];
  private double[][] inScratch = new double[0][];
  private String[] outNames = new String[0];
  private int[] outSlot = new int[0];
  private double[][] outValues = new double[0][];
  private int[] outCount = new int[0]; // -1: the response has no such (numeric) output
  private double[][] outScratch = new double[0][];
  private int[] outWhole = new int[0]; // a pass's output counts, while its requests are compared
  // The layout of the copied passes last seen ({@link PassCopy}), and where each slot is in it.
  private PassCopy.@Nullable Layout copyLayout;
  private int[] copyIn = new int[0];
  private int[] copyOut = new int[0];
  private int[] copyOffsets = new int[0];

  // The columns' detectors, widths and indexes in arrays, for the per-value loop (inputs, outputs).
  private FeatureDetector[] inDetector = new FeatureDetector[0];
  private int[] inWidth = new int[0];
  private int[] inIndex = new int[0];
  private FeatureDetector[] outDetector = new FeatureDetector[0];
  private int[] outIndex = new int[0];

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
    this(model, version, enabled, baselineName, columns, baseline, problem, settings, null);
  }

  /**
   * @param text for a model whose input holds token ids: the input whose {@link
   *     MonitoringConfig.TextInput#FEATURES} {@code columns} names are derived from its ids and
   *     mask rather than read (docs/MONITORING.md, "Text models"); null for a tabular model
   */
  VersionMonitor(
      String model,
      String version,
      boolean enabled,
      String baselineName,
      List<Baseline.InputColumns> columns,
      @Nullable Baseline baseline,
      @Nullable String problem,
      DetectorSettings settings,
      MonitoringConfig.@Nullable TextInput text) {
    this.text = text;
    this.model = model;
    this.version = version;
    this.enabled = enabled;
    this.baselineName = baselineName;
    String why = problem;
    if (baseline != null && why == null) {
      Map<String, FeatureBaseline> byName = new HashMap<>();
      baseline.features().forEach(f -> byName.put(f.name(), f));
      // A text model's embedding_norm / embedding_mean are derived from monitoring.text.output;
      // without it they are not compared (the baseline may have been made with it).
      String embedding = text == null ? null : text.output();
      List<FeatureBaseline> compared =
          baseline.outputs().stream()
              .filter(
                  f ->
                      text == null
                          || embedding != null
                          || !TokenFeatures.OUTPUT_NAMES.contains(f.name()))
              .toList();
      int count = compared.size();
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
      for (FeatureBaseline f : compared) {
        int derived = TokenFeatures.OUTPUT_NAMES.indexOf(f.name());
        if (embedding != null && derived >= 0) {
          outputs.add(new Column(embedding, derived, 0, new FeatureDetector(f, settings, count)));
        } else {
          outputs.add(
              new Column(
                  OutputColumns.tensor(f.name()),
                  OutputColumns.index(f.name()),
                  0,
                  new FeatureDetector(f, settings, count)));
        }
      }
      if (!missing.isEmpty()) {
        why = baselineName + " has no feature " + missing + " that config.yaml names";
        inputs.clear();
        outputs.clear();
      }
    }
    this.problem = why;
    inDetector = inputs.stream().map(Column::detector).toArray(FeatureDetector[]::new);
    inWidth = inputs.stream().mapToInt(Column::width).toArray();
    inIndex = inputs.stream().mapToInt(Column::index).toArray();
    outDetector = outputs.stream().map(Column::detector).toArray(FeatureDetector[]::new);
    outIndex = outputs.stream().mapToInt(Column::index).toArray();
    List<String> in = new ArrayList<>();
    inSlot = slots(inputs, in);
    inNames = in.toArray(String[]::new);
    inValues = new double[inNames.length][];
    inCount = new int[inNames.length];
    inScratch = new double[inNames.length][];
    List<String> out = new ArrayList<>();
    outSlot = slots(outputs, out);
    outNames = out.toArray(String[]::new);
    outValues = new double[outNames.length][];
    outCount = new int[outNames.length];
    outScratch = new double[outNames.length][];
    outWhole = new int[outNames.length];
    for (int i = 0; i < inScratch.length; i++) {
      inScratch[i] = new double[64];
    }
    for (int i = 0; i < outScratch.length; i++) {
      outScratch[i] = new double[64];
    }
  }

  /**
   * Each column's slot: the index of its tensor among the distinct names, added to {@code names}.
   */
  private static int[] slots(List<Column> columns, List<String> names) {
    int[] slot = new int[columns.size()];
    for (int i = 0; i < slot.length; i++) {
      String t = columns.get(i).tensor();
      int s = names.indexOf(t);
      if (s < 0) {
        s = names.size();
        names.add(t);
      }
      slot[i] = s;
    }
    return slot;
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

  /** Compares one request's rows with the baseline: values read back from a log. */
  void observe(Observation o, Listener listener) {
    if (!active() || inputs.isEmpty()) {
      return;
    }
    for (int s = 0; s < inNames.length; s++) {
      if (text != null && inNames[s].equals(text.input())) {
        Observation.Values ids = o.input(text.input());
        Observation.Values mask = o.input(text.mask());
        if (ids == null
            || mask == null
            || !derive(ids.shape(), ids.values(), mask.values(), ids.values().length, s, true)) {
          return;
        }
        continue;
      }
      Observation.Values v = o.input(inNames[s]);
      if (v == null) {
        return; // an input the model was not given: nothing to compare
      }
      inValues[s] = v.values();
      inCount[s] = v.values().length;
    }
    for (int s = 0; s < outNames.length; s++) {
      Observation.Values v = o.output(outNames[s]);
      if (v != null && isEmbedding(s)) {
        outValues[s] = outScratch[s];
        outCount[s] = embedding(v.shape(), v.values(), null, s);
        continue;
      }
      outValues[s] = v == null ? outScratch[s] : v.values();
      outCount[s] = v == null ? -1 : v.values().length;
    }
    compare(o.epochMillis(), listener);
  }

  /**
   * Compares one request's rows with the baseline: the live path, reading the tensors' values into
   * this monitor's own arrays (on the monitor thread; the tensors are immutable).
   */
  void observe(Completed c, Listener listener) {
    if (!active() || inputs.isEmpty()) {
      return;
    }
    if (readValues(c.request().inputs(), c.response().outputs())) {
      compare(c.epochMillis(), listener);
    }
  }

  /**
   * Compares one pass's rows with the baseline: the live per-pass path, reading the joined inputs
   * and the whole outputs once. The rows are compared in batch order, as its requests would be one
   * by one; when its requests did not all ask for the same outputs, each request's rows are
   * compared with the outputs it asked for only, so the verdict is the one the prediction log's
   * replay reaches (it logs each request's own outputs).
   */
  void observe(PassCompleted c, Listener listener) {
    if (!active() || inputs.isEmpty()) {
      return;
    }
    PassListener.Pass pass = c.pass();
    if (!readValues(pass.inputs(), pass.outputs())) {
      return;
    }
    comparePass(pass, c.epochMillis(), listener);
  }

  /** Compares the pass's rows the slots hold now, each request's with the outputs it asked for. */
  private void comparePass(PassListener.Pass pass, long millis, Listener listener) {
    int rows = rows();
    if (pass.uniform() || rows != pass.totalRows()) {
      compare(0, rows, rows, millis, listener);
      return;
    }
    int[] whole = outWhole;
    System.arraycopy(outCount, 0, whole, 0, whole.length);
    int from = 0;
    for (int i = 0; i < pass.requests(); i++) {
      List<String> asked = pass.outputsOf(i);
      for (int s = 0; s < outNames.length; s++) {
        outCount[s] = whole[s] >= 0 && asked.contains(outNames[s]) ? whole[s] : -1;
      }
      int to = from + pass.rows(i);
      compare(from, to, rows, millis, listener);
      from = to;
    }
  }

  /**
   * Compares one pass's rows with the baseline from the values its engine thread copied ({@link
   * PassCopy}); the same comparison, and so the same verdicts, as {@link #observe(PassCompleted,
   * Listener)} on the pass's tensors.
   */
  @SuppressWarnings(
      "ReferenceEquality") // one layout instance per version: mapped once, not per pass
  void observe(PassCopy c, Listener listener) {
    if (!active() || inputs.isEmpty()) {
      return;
    }
    if (c.layout() != copyLayout) {
      map(c.layout());
    }
    double[] values = c.values();
    int[] counts = c.counts();
    int[] offsets = copyOffsets;
    int at = 0;
    for (int k = 0; k < counts.length; k++) {
      offsets[k] = at;
      at += Math.max(0, counts[k]);
    }
    for (int s = 0; s < inNames.length; s++) {
      int k = copyIn[s];
      int n = k < 0 ? -1 : counts[k];
      if (n < 0) {
        return; // an input the pass does not hold: nothing to compare, as by reference
      }
      if (inScratch[s].length < n) {
        inScratch[s] = new double[Math.max(n, 2 * inScratch[s].length)];
      }
      System.arraycopy(values, offsets[k], inScratch[s], 0, n);
      inValues[s] = inScratch[s];
      inCount[s] = n;
    }
    for (int s = 0; s < outNames.length; s++) {
      int k = copyOut[s];
      int n = k < 0 ? -1 : counts[k];
      if (n > 0) {
        if (outScratch[s].length < n) {
          outScratch[s] = new double[Math.max(n, 2 * outScratch[s].length)];
        }
        System.arraycopy(values, offsets[k], outScratch[s], 0, n);
      }
      outValues[s] = outScratch[s];
      outCount[s] = n;
    }
    comparePass(c.pass(), c.epochMillis(), listener);
  }

  /** Where each input and output slot's values are in a {@link PassCopy} of {@code layout}. */
  private void map(PassCopy.Layout layout) {
    int ins = layout.inputs().size();
    copyIn = new int[inNames.length];
    for (int s = 0; s < inNames.length; s++) {
      copyIn[s] = text != null ? -1 : layout.inputs().indexOf(inNames[s]);
    }
    copyOut = new int[outNames.length];
    for (int s = 0; s < outNames.length; s++) {
      int j = isEmbedding(s) ? -1 : layout.outputs().indexOf(outNames[s]);
      copyOut[s] = j < 0 ? -1 : ins + j;
    }
    copyOffsets = new int[ins + layout.outputs().size()];
    copyLayout = layout;
  }

  /**
   * Reads the monitored inputs' and outputs' values into this monitor's arrays (the live paths' one
   * reading, per request or per pass); false when an input the model was not given, or not numeric,
   * leaves nothing to compare.
   */
  private boolean readValues(List<Tensor> inputTensors, List<Tensor> outputTensors) {
    for (int s = 0; s < inNames.length; s++) {
      if (text != null && inNames[s].equals(text.input())) {
        if (!readText(inputTensors, text, s)) {
          return false;
        }
        continue;
      }
      Tensor t = find(inputTensors, inNames[s]);
      int n = t == null ? -1 : read(t, inScratch, s);
      if (n < 0) {
        return false;
      }
      inValues[s] = inScratch[s];
      inCount[s] = n;
    }
    for (int s = 0; s < outNames.length; s++) {
      Tensor t = find(outputTensors, outNames[s]);
      int n;
      if (t == null) {
        n = -1;
      } else if (isEmbedding(s)) {
        n = embedding(t.shape(), null, t, s);
      } else {
        n = read(t, outScratch, s);
      }
      outValues[s] = outScratch[s];
      outCount[s] = n;
    }
    return true;
  }

  /** Whether output slot {@code s} is a text model's embedding (monitoring.text.output). */
  private boolean isEmbedding(int s) {
    return text != null && text.output() != null && outNames[s].equals(text.output());
  }

  /**
   * Writes {embedding_norm, embedding_mean} per row of an embedding output into slot {@code s}:
   * {@code [batch, seq, dim]} mean-pooled over the mask the inputs were derived with (the same
   * batch and seq, else nothing is compared), or {@code [batch, dim]} as is. The values come from
   * the log ({@code values}) or straight from the tensor's buffer ({@code tensor}).
   *
   * @return the values written ({@code batch * 2}), or -1 when the shapes do not fit
   */
  private int embedding(long[] shape, double @Nullable [] values, @Nullable Tensor tensor, int s) {
    if (shape.length != 2 && shape.length != 3) {
      return -1;
    }
    int batch = (int) shape[0];
    int seq = shape.length == 3 ? (int) shape[1] : 0;
    int dim = (int) shape[shape.length - 1];
    if (batch != textBatch || (seq > 0 && seq != textSeq) || dim <= 0) {
      return -1;
    }
    if (pooled.length < dim) {
      pooled = new double[dim];
      pooledRow = new float[dim];
    }
    if (outScratch[s].length < 2 * batch) {
      outScratch[s] = new double[Math.max(2 * batch, 2 * outScratch[s].length)];
    }
    if (tensor != null) {
      return TokenFeatures.outputsInto(
              tensor, textMask, batch, seq, dim, pooled, pooledRow, outScratch[s])
          ? 2 * batch
          : -1;
    }
    if (values == null || values.length != batch * Math.max(seq, 1) * dim) {
      return -1;
    }
    TokenFeatures.outputsInto(values, textMask, batch, seq, dim, pooled, outScratch[s]);
    return 2 * batch;
  }

  /**
   * Reads a text model's token ids and mask and writes their derived features into slot {@code s};
   * false when either is missing, not numeric or of another shape.
   */
  private boolean readText(List<Tensor> inputTensors, MonitoringConfig.TextInput t, int s) {
    Tensor ids = find(inputTensors, t.input());
    Tensor mask = find(inputTensors, t.mask());
    if (ids == null || mask == null || !Copies.fits(ids) || !Copies.fits(mask)) {
      return false;
    }
    int n = (int) ids.elementCount();
    if (mask.elementCount() != n) {
      return false;
    }
    if (textIds.length < n) {
      textIds = new double[Math.max(n, 2 * textIds.length)];
      textMask = new double[textIds.length];
    }
    Copies.into(ids, textIds);
    Copies.into(mask, textMask);
    return derive(ids.shape(), textIds, textMask, n, s, false);
  }

  /**
   * Writes the derived features of {@code n} token ids of {@code shape} ({@code [batch, seq]}) into
   * slot {@code s}, one row of {@link MonitoringConfig.TextInput#FEATURES} per sentence; {@code
   * keepMask}: copy the mask into this monitor's array (the replay's values), where the embedding
   * output is pooled over it.
   */
  private boolean derive(
      long[] shape, double[] ids, double[] mask, int n, int s, boolean keepMask) {
    if (mask.length < n) {
      return false;
    }
    int batch = shape.length < 2 ? 1 : (int) shape[0];
    if (batch <= 0 || n % batch != 0) {
      return false;
    }
    int seq = n / batch;
    textBatch = batch;
    textSeq = seq;
    if (keepMask) { // the replay's values: kept for the embedding's pooling
      if (textMask.length < n) {
        textMask = new double[Math.max(n, 2 * textMask.length)];
        textIds = new double[textMask.length];
      }
      System.arraycopy(mask, 0, textMask, 0, n);
    }
    int width = MonitoringConfig.TextInput.FEATURES.size();
    if (inScratch[s].length < batch * width) {
      inScratch[s] = new double[Math.max(batch * width, 2 * inScratch[s].length)];
    }
    TokenFeatures.inputsInto(ids, mask, batch, seq, text == null ? 0 : text.unkId(), inScratch[s]);
    inValues[s] = inScratch[s];
    inCount[s] = batch * width;
    return true;
  }

  /** The tensor of that name, or null (a pass's few tensors: a scan without allocation). */
  static @Nullable Tensor find(List<Tensor> tensors, String name) {
    for (int i = 0; i < tensors.size(); i++) {
      Tensor t = tensors.get(i);
      if (t.name().equals(name)) {
        return t;
      }
    }
    return null;
  }

  /** Reads a tensor's values into {@code scratch[s]}, grown when too small; -1 when not numeric. */
  private static int read(Tensor t, double[][] scratch, int s) {
    if (!Copies.fits(t)) {
      return -1;
    }
    int n = (int) t.elementCount();
    if (scratch[s].length < n) {
      scratch[s] = new double[Math.max(n, 2 * scratch[s].length)];
    }
    return Copies.into(t, scratch[s]);
  }

  /** The comparison itself, on the values the slots hold now. */
  private void compare(long millis, Listener listener) {
    int rows = rows();
    compare(0, rows, rows, millis, listener);
  }

  /** The rows the input slots hold now: the fewest any input column has. */
  private int rows() {
    int rows = Integer.MAX_VALUE;
    for (int i = 0; i < inputs.size(); i++) {
      rows = Math.min(rows, inCount[inSlot[i]] / inputs.get(i).width());
    }
    return rows;
  }

  /**
   * Compares rows {@code from} (inclusive) to {@code to} of the {@code rows} the slots hold (an
   * output's values per row are its count over {@code rows}).
   */
  private void compare(int from, int to, int rows, long millis, Listener listener) {
    if (rows == 0) {
      return;
    }
    FeatureDetector[] ins = inDetector;
    FeatureDetector[] outs = outDetector;
    for (int r = from; r < to; r++) {
      long n = ++observations;
      for (int i = 0; i < ins.length; i++) {
        double x = inValues[inSlot[i]][r * inWidth[i] + inIndex[i]];
        feed(ins[i], x, n, millis, false, listener);
      }
      for (int j = 0; j < outs.length; j++) {
        int count = outCount[outSlot[j]];
        if (count < 0) {
          continue;
        }
        // The output's element count per row; a column beyond it is not compared.
        int perRow = count / rows;
        if (outIndex[j] < perRow) {
          feed(outs[j], outValues[outSlot[j]][r * perRow + outIndex[j]], n, millis, true, listener);
        }
      }
    }
  }

  private void feed(
      FeatureDetector d, double x, long n, long millis, boolean output, Listener listener) {
    FeatureDetector.Change change = d.observe(x, n, millis);
    if (change != FeatureDetector.Change.NONE) {
      listener.changed(this, d.snapshot(), output);
    }
  }

  /** An immutable snapshot. */
  DriftReport report(long dropped) {
    return report(dropped, 0);
  }

  /** The report, with the server's drop and shed counts. */
  DriftReport report(long dropped, long shed) {
    return new DriftReport(
        model,
        version,
        enabled,
        problem,
        baselineName,
        observations,
        dropped,
        shed,
        inputs.stream().map(c -> c.detector().snapshot()).toList(),
        outputs.stream().map(c -> c.detector().snapshot()).toList());
  }
}
