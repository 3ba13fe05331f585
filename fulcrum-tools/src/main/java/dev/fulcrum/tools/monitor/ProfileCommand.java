package dev.fulcrum.tools.monitor;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.config.MonitoringConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.monitoring.Baseline;
import dev.fulcrum.monitoring.Copies;
import dev.fulcrum.monitoring.Profiler;
import dev.fulcrum.monitoring.TokenFeatures;
import dev.fulcrum.pipelines.steps.TextTokenizer;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.tools.serve.ServeCommand;
import dev.fulcrum.tools.text.Utf8Lines;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fulcrum profile}: reads a model's training data (a CSV with a header, in one pass, keeping
 * only the columns config.yaml's {@code monitoring.features} names), profiles each of those
 * features, runs the model in process on the rows that have them all (the server's own repository,
 * scheduler and engine, no transport) to profile its outputs, and writes the baseline beside
 * config.yaml. Runs on the calling thread and the model's engine thread.
 */
@Command(
    name = "profile",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description =
        "Make a model's skew and drift baseline from its training data (CSV) or, for a text"
            + " model, from reference sentences (--text): per feature its type, quantile bins,"
            + " mean, deviation, range, missing rate and categories, and the distribution of the"
            + " model's own outputs on that data.")
public final class ProfileCommand implements Callable<Integer> {

  @Option(
      names = "--model-repository",
      paramLabel = "DIR",
      description = "The model repository (default: the bundled demo repository).")
  @Nullable Path repository;

  @Option(names = "--model", required = true, paramLabel = "NAME", description = "The model.")
  String model = "";

  @Option(
      names = "--data",
      paramLabel = "CSV",
      description =
          "Training data: a CSV file whose header names the features (other columns are"
              + " ignored).")
  @Nullable Path data;

  @Option(
      names = "--text",
      paramLabel = "FILE",
      description =
          "For a text model (monitoring.text): reference sentences, one per line; the baseline"
              + " holds their seq_len, padding_share and unk_rate, and with monitoring.text.output"
              + " the embedding_norm and embedding_mean of the model's output on them (the model"
              + " is run in process).")
  @Nullable Path text;

  @Option(
      names = "--tokenizer",
      paramLabel = "FILE",
      description =
          "With --text: the tokenizer.json (default: the first *tokenizer.json in the model's"
              + " folder).")
  @Nullable Path tokenizer;

  @Option(
      names = "--batch",
      paramLabel = "N",
      description =
          "With --text: sentences per request as clients send them, padded to the longest"
              + " (default 1: padding_share is then 0 in the baseline).")
  int batch = 1;

  @Option(
      names = "--output",
      paramLabel = "FILE",
      description = "Where to write the baseline (default: config.yaml's monitoring.baseline).")
  @Nullable Path output;

  @Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Path root = repository != null ? repository : ServeCommand.demoRepository();
    if ((data == null) == (text == null)) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          data == null
              ? "give --data (a CSV of the model's inputs) or --text (sentences, one a line)"
              : "give either --data (a CSV) or --text (sentences), not both");
    }
    if (text != null) {
      return profileText(out, root, text);
    }
    Path csvFile = Objects.requireNonNull(data);
    try (OnnxRuntimeBackend onnx = new OnnxRuntimeBackend();
        SchedulerEnvironment environment = SchedulerEnvironment.system();
        ModelRepository repo = InProcessModel.load(root, model, onnx, environment)) {
      ModelVersion mv = served(repo, model);
      ModelConfig config = mv.config();
      MonitoringConfig monitoring = config.monitoring();
      if (monitoring == null || monitoring.features().isEmpty()) {
        throw new CommandLine.ParameterException(
            spec.commandLine(),
            "model '"
                + model
                + "': its config.yaml has no monitoring.features naming the input columns"
                + " (docs/MONITORING.md)");
      }
      Baseline baseline = profile(mv, monitoring, csvFile, new InferenceService(repo, false));
      Path target = output != null ? output : monitoring.baseline();
      baseline.write(target);
      for (Baseline.FeatureBaseline f : baseline.features()) {
        out.println(describe("feature", f));
      }
      for (Baseline.FeatureBaseline f : baseline.outputs()) {
        out.println(describe("output ", f));
      }
      out.printf(
          Locale.ROOT,
          "wrote %s (%d rows of %s)%n",
          target,
          baseline.rows(),
          csvFile.getFileName());
      out.flush();
      return 0;
    }
  }

  /**
   * A text model's baseline: its config.yaml's {@code monitoring.text} says the model takes token
   * ids; each line of {@code file} is tokenized with the pipelines' tokenizer, {@code batch}
   * sentences per request padded to the longest, and the derived features are profiled. When {@code
   * monitoring.text.output} names the embedding output, the model is run in process on the same
   * requests (the server's repository, scheduler and engine, no transport) and the pooled
   * embedding's norm and mean are profiled as its outputs.
   */
  private int profileText(PrintWriter out, Path root, Path file) throws Exception {
    Path dir = root.resolve(model);
    Path yaml = dir.resolve("config.yaml");
    if (!Files.isRegularFile(yaml)) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "model '" + model + "': no " + yaml);
    }
    var parsed = new ModelConfigLoader().parse(Files.readString(yaml), yaml);
    MonitoringConfig monitoring = ModelConfigResolver.monitoring(parsed.monitoring(), yaml, null);
    MonitoringConfig.TextInput t = monitoring == null ? null : monitoring.text();
    if (monitoring == null || t == null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "model '"
              + model
              + "': its config.yaml has no monitoring.text naming the token-id input"
              + " (docs/MONITORING.md, \"Text models\")");
    }
    if (batch < 1) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--batch must be >= 1");
    }
    // A pipeline's monitoring.text names the token ids and output of the model its steps run: the
    // baseline comes from that model (its tokenizer, its answers), written beside the pipeline.
    var pipeline = parsed.pipeline();
    String engineModel = pipeline == null ? model : pipeline.model();
    if (engineModel == null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "pipeline '"
              + model
              + "': profile --text runs the model its steps name (pipeline.model)");
    }
    Path tok =
        tokenizer != null
            ? tokenizer
            : pipeline == null ? findTokenizer(dir) : findTokenizer(dir, root.resolve(engineModel));
    // The pipeline's own max-length when its config.yaml writes one, else the tokenizer file's:
    // the lengths the server's tokenize step gives the same text.
    Integer maxLength =
        pipeline == null || pipeline.pre() == null || pipeline.pre().isEmpty()
            ? null
            : pipeline.pre().get(0).maxLength();
    List<String> lines = sentences(file);
    if (lines.isEmpty()) {
      throw new CommandLine.ParameterException(spec.commandLine(), file + " has no sentences");
    }
    String source = file.getFileName().toString();
    Baseline baseline;
    if (t.output() == null) {
      baseline = profileText(model, t, lines, tok, maxLength, batch, source, null);
    } else {
      try (OnnxRuntimeBackend onnx = new OnnxRuntimeBackend();
          SchedulerEnvironment environment = SchedulerEnvironment.system();
          ModelRepository repo = InProcessModel.load(root, engineModel, onnx, environment)) {
        ModelVersion mv = served(repo, engineModel);
        MonitoringConfig served = pipeline == null ? mv.config().monitoring() : monitoring;
        MonitoringConfig.TextInput st = served == null ? null : served.text();
        if (st == null || st.output() == null) {
          throw new IllegalStateException("the loaded model has no monitoring.text.output");
        }
        InferenceService service = new InferenceService(repo, false);
        baseline =
            profileText(
                model,
                st,
                lines,
                tok,
                maxLength,
                batch,
                source,
                (ids, mask, shape) -> embed(mv, st, service, ids, mask, shape));
      }
    }
    Path target = output != null ? output : monitoring.locatedBaselineIn(dir);
    baseline.write(target);
    for (Baseline.FeatureBaseline f : baseline.features()) {
      out.println(describe("feature", f));
    }
    for (Baseline.FeatureBaseline f : baseline.outputs()) {
      out.println(describe("output ", f));
    }
    out.printf(
        Locale.ROOT, "wrote %s (%d sentences of %s)%n", target, lines.size(), file.getFileName());
    out.flush();
    return 0;
  }

  /**
   * Runs the model on one request of token ids: per row {embedding_norm, embedding_mean} of its
   * embedding output.
   */
  interface Embedder {
    double[][] embed(long[] ids, long[] mask, long[] shape) throws IOException;
  }

  /**
   * One request of the tokenized sentences to the model in process: the token-id input and the mask
   * as tokenized, every other input (token_type_ids) zeros of the same shape, only the embedding
   * output asked for; its rows' pooled norm and mean.
   */
  private static double[][] embed(
      ModelVersion mv,
      MonitoringConfig.TextInput t,
      InferenceService service,
      long[] ids,
      long[] mask,
      long[] shape)
      throws IOException {
    String output = Objects.requireNonNull(t.output());
    List<Tensor> tensors = new ArrayList<>();
    for (TensorConfig in : mv.config().inputs()) {
      long[] values =
          in.name().equals(t.input())
              ? ids
              : in.name().equals(t.mask()) ? mask : new long[ids.length];
      tensors.add(integers(in, shape, values));
    }
    InferenceResponse response =
        service
            .infer(
                new InferenceRequest(
                    mv.name(),
                    "",
                    "profile",
                    Map.of(),
                    tensors,
                    List.of(dev.fulcrum.core.inference.RequestedOutput.named(output))))
            .join();
    Tensor hidden =
        response.outputs().stream()
            .filter(o -> o.name().equals(output))
            .findFirst()
            .orElseThrow(() -> new IOException("the model answered without '" + output + "'"));
    double[] m = new double[mask.length];
    for (int i = 0; i < m.length; i++) {
      m[i] = mask[i];
    }
    double[][] rows = TokenFeatures.outputs(hidden, m);
    if (rows == null || rows.length != shape[0]) {
      throw new IOException(
          "'"
              + output
              + "' is "
              + hidden.datatype()
              + Arrays.toString(hidden.shape())
              + ", not FP32/FP64 [batch, seq, dim] or [batch, dim] for "
              + shape[0]
              + " sentences");
    }
    return rows;
  }

  /** An INT64 or INT32 input tensor of {@code shape}. */
  private static Tensor integers(TensorConfig t, long[] shape, long[] values) throws IOException {
    DataType type = t.datatype();
    if (type != DataType.INT64 && type != DataType.INT32) {
      throw new IOException(
          "input '" + t.name() + "': profile --text feeds INT64 or INT32, not " + type);
    }
    ByteBuffer b =
        ByteBuffer.allocate(values.length * type.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    for (long v : values) {
      if (type == DataType.INT64) {
        b.putLong(v);
      } else {
        b.putInt((int) v);
      }
    }
    b.flip();
    return Tensor.of(t.name(), type, shape.clone(), b);
  }

  /**
   * The derived token features of {@code lines}, tokenized {@code batch} at a time, and when {@code
   * embedder} is given the model's pooled embedding norm and mean on the same requests.
   */
  static Baseline profileText(
      String model,
      MonitoringConfig.TextInput t,
      List<String> lines,
      Path tokenizerFile,
      @Nullable Integer maxLength,
      int batch,
      String source,
      @Nullable Embedder embedder)
      throws IOException {
    List<String> names = MonitoringConfig.TextInput.FEATURES;
    List<String> outNames = MonitoringConfig.TextInput.OUTPUT_FEATURES;
    double[][] columns = new double[names.size()][lines.size()];
    double[][] outColumns = new double[outNames.size()][lines.size()];
    try (TextTokenizer tok = new TextTokenizer(tokenizerFile, maxLength, true, false)) {
      for (int start = 0; start < lines.size(); start += batch) {
        List<String> rows = lines.subList(start, Math.min(lines.size(), start + batch));
        TextTokenizer.Tokens tokens = tok.encode(rows);
        double[] ids = new double[tokens.ids().length];
        double[] mask = new double[ids.length];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = tokens.ids()[i];
          mask[i] = tokens.attentionMask()[i];
        }
        double[][] f = TokenFeatures.inputs(ids, mask, tokens.rows(), tokens.length(), t.unkId());
        for (int r = 0; r < f.length; r++) {
          for (int c = 0; c < names.size(); c++) {
            columns[c][start + r] = f[r][c];
          }
        }
        if (embedder != null) {
          long[] shape = {tokens.rows(), tokens.length()};
          double[][] e = embedder.embed(tokens.ids(), tokens.attentionMask(), shape);
          for (int r = 0; r < e.length; r++) {
            for (int c = 0; c < outNames.size(); c++) {
              outColumns[c][start + r] = e[r][c];
            }
          }
        }
      }
    }
    List<Baseline.FeatureBaseline> features = new ArrayList<>();
    for (int c = 0; c < names.size(); c++) {
      features.add(Profiler.profile(names.get(c), columns[c]));
    }
    List<Baseline.FeatureBaseline> outputs = new ArrayList<>();
    if (embedder != null) {
      for (int c = 0; c < outNames.size(); c++) {
        outputs.add(Profiler.profile(outNames.get(c), outColumns[c]));
      }
    }
    return new Baseline(
        model,
        source,
        lines.size(),
        List.of(new Baseline.InputColumns(t.input(), names)),
        features,
        outputs);
  }

  /** A pipeline's tokenizer: beside its config.yaml, else in the folder of the model it runs. */
  private static Path findTokenizer(Path dir, Path modelDir) throws IOException {
    try {
      return findTokenizer(dir);
    } catch (IOException e) {
      return findTokenizer(modelDir);
    }
  }

  private static Path findTokenizer(Path dir) throws IOException {
    try (var s = Files.walk(dir, 2)) {
      return s.filter(p -> p.getFileName().toString().endsWith("tokenizer.json"))
          .sorted()
          .findFirst()
          .orElseThrow(
              () -> new IOException("no *tokenizer.json in " + dir + "; give --tokenizer"));
    }
  }

  /**
   * The version of {@code model} that serves, or an error that says why it did not load (its files:
   * one line, exit 2, as for the CSV).
   */
  private static ModelVersion served(ModelRepository repo, String model) throws IOException {
    try {
      return InProcessModel.served(repo, model);
    } catch (IllegalArgumentException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /**
   * Profiles the named columns and the model's outputs in one pass over the CSV: each row's cells
   * are parsed as their input's datatype and the features kept (those columns only, {@link
   * Column}), and every {@code max-batch-size} rows that have every input's values are run through
   * the model, whose outputs are kept the same way.
   */
  static Baseline profile(
      ModelVersion mv, MonitoringConfig monitoring, Path file, InferenceService service)
      throws IOException {
    ModelConfig config = mv.config();
    int batch = Math.max(1, config.maxBatchSize());
    try (Csv csv = Csv.open(file)) {
      Map<String, Feed> feeds = new LinkedHashMap<>();
      for (TensorConfig t : config.inputs()) {
        List<String> names =
            monitoring.features().stream()
                .filter(f -> f.input().equals(t.name()))
                .map(MonitoringConfig.InputFeatures::names)
                .findFirst()
                .orElse(null);
        feeds.put(t.name(), new Feed(t, names, config.batching(), batch, csv));
      }
      Map<String, Column> outputs = new LinkedHashMap<>();
      int rows = 0;
      int ready = 0;
      while (csv.next()) {
        rows++;
        boolean complete = true;
        for (Feed f : feeds.values()) {
          complete &= f.read(csv, ready);
        }
        if (complete && ++ready == batch) {
          run(mv, service, feeds.values(), ready, outputs, csv);
          ready = 0;
        }
      }
      if (rows == 0) {
        throw new IOException(file.getFileName() + " has no rows, only a header");
      }
      if (ready > 0) {
        run(mv, service, feeds.values(), ready, outputs, csv);
      }
      List<Baseline.InputColumns> inputs = new ArrayList<>();
      List<Baseline.FeatureBaseline> features = new ArrayList<>();
      for (MonitoringConfig.InputFeatures in : monitoring.features()) {
        inputs.add(new Baseline.InputColumns(in.input(), in.names()));
        Column[] columns =
            Objects.requireNonNull(Objects.requireNonNull(feeds.get(in.input())).features);
        for (int i = 0; i < columns.length; i++) {
          if (columns[i].count() == 0) {
            throw new IOException(
                file.getFileName()
                    + ": column '"
                    + in.names().get(i)
                    + "' has no values (each of its "
                    + rows
                    + " cells is empty or missing)");
          }
          features.add(columns[i].profile(in.names().get(i)));
        }
      }
      List<Baseline.FeatureBaseline> profiled = new ArrayList<>();
      for (Map.Entry<String, Column> o : outputs.entrySet()) {
        profiled.add(o.getValue().profile(o.getKey()));
      }
      return new Baseline(
          mv.name(), String.valueOf(file.getFileName()), rows, inputs, features, profiled);
    }
  }

  /** Runs the model on the {@code rows} rows the feeds hold and keeps its outputs' values. */
  private static void run(
      ModelVersion mv,
      InferenceService service,
      Iterable<Feed> feeds,
      int rows,
      Map<String, Column> outputs,
      Csv csv)
      throws IOException {
    List<Tensor> tensors = new ArrayList<>();
    for (Feed f : feeds) {
      tensors.add(f.take(rows));
    }
    InferenceResponse response;
    try {
      response =
          service
              .infer(new InferenceRequest(mv.name(), "", "profile", Map.of(), tensors, List.of()))
              .join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IOException(
          "model '"
              + mv.name()
              + "' failed on the rows before "
              + csv.file().getFileName()
              + " line "
              + (csv.line() + 1)
              + ": "
              + cause.getMessage(),
          e);
    }
    for (Tensor t : response.outputs()) {
      double[] v = Copies.values(t);
      if (v == null || v.length % rows != 0) {
        continue;
      }
      int perRow = v.length / rows;
      if (perRow > 16) {
        continue;
      }
      Column[] columns = new Column[perRow];
      for (int i = 0; i < perRow; i++) {
        columns[i] =
            outputs.computeIfAbsent(
                perRow == 1 ? t.name() : t.name() + "[" + i + "]", n -> new Column());
      }
      for (int r = 0; r < rows; r++) {
        for (int i = 0; i < perRow; i++) {
          columns[i].add(v[r * perRow + i]);
        }
      }
    }
  }

  /**
   * One model input as profile feeds it: the CSV columns it is read from (the names
   * monitoring.features gives it, else the one column of its own name), each row's values as the
   * model is served them (narrowed to its datatype; a value that does not fit is refused with its
   * line), the batch being gathered, and for a named input its features' values so far.
   */
  private static final class Feed {
    private final TensorConfig input;
    private final int[] columns;
    private final Column @Nullable [] features;
    private final boolean batching;
    private final int batch;
    private ByteBuffer values;
    private final byte[][] text;

    Feed(TensorConfig input, @Nullable List<String> names, boolean batching, int batch, Csv csv)
        throws IOException {
      this.input = input;
      this.batching = batching;
      this.batch = batch;
      DataType type = input.datatype();
      String name = input.name();
      if (names != null && type == DataType.BYTES) {
        throw new IOException(
            "monitoring.features names input '"
                + name
                + "', which is BYTES: the monitor compares numbers; leave it out of"
                + " monitoring.features, and profile feeds it from the CSV column '"
                + name
                + "'");
      }
      List<String> from = names != null ? names : List.of(name);
      if (shape(from.size(), 1) == null) {
        throw new IOException(
            "input '"
                + name
                + "' is "
                + type
                + Arrays.toString(input.dims())
                + (names == null
                    ? ", which monitoring.features does not name: name its columns there (an"
                        + " input left out is fed from the one CSV column of its name)"
                    : ": profile reads one CSV row per sample, so it feeds inputs of one row of"
                        + " columns per sample only"));
      }
      columns = new int[from.size()];
      for (int i = 0; i < columns.length; i++) {
        columns[i] = csv.column(from.get(i));
      }
      if (names != null) {
        features = new Column[columns.length];
        Arrays.setAll(features, i -> new Column());
      } else {
        features = null;
      }
      values = buffer();
      text = new byte[type == DataType.BYTES ? batch * columns.length : 0][];
    }

    /**
     * Reads the current row's cells into slot {@code row} of the batch and its features; false when
     * one is missing (the row is then not run).
     */
    boolean read(Csv csv, int row) throws IOException {
      boolean complete = true;
      for (int i = 0; i < columns.length; i++) {
        int at = row * columns.length + i;
        if (input.datatype() == DataType.BYTES) {
          text[at] = csv.cell(columns[i]).getBytes(StandardCharsets.UTF_8);
          continue;
        }
        double v = csv.number(columns[i]);
        if (!Double.isNaN(v)) {
          v = put(csv, columns[i], at, v);
        }
        complete &= !Double.isNaN(v);
        if (features != null) {
          features[i].add(v);
        }
      }
      return complete;
    }

    /** Writes {@code v} at element {@code at} as the input's datatype; the value the model gets. */
    private double put(Csv csv, int column, int at, double v) throws IOException {
      DataType type = input.datatype();
      String which = " (input '" + input.name() + "' is " + type + ")";
      if (type.isFloatingPoint()) {
        ElementCodec.putDouble(type, values, at, v);
        double served = ElementCodec.getDouble(type, values, at);
        if (Double.isInfinite(served)) {
          throw csv.error(column, "is too large" + which);
        }
        return served; // an FP32 input's 0.52 arrives as 0.519999980...
      }
      if (v != Math.rint(v)) {
        throw csv.error(column, "is not an integer" + which);
      }
      // INT64 and UINT64 below 2^63: a double at or above it converts to no long
      double max =
          type == DataType.INT64 || type == DataType.UINT64 ? 0x1p63 : ElementCodec.max(type) + 1.0;
      if (v < ElementCodec.min(type) || v >= max) {
        throw csv.error(
            column,
            type == DataType.BOOL
                ? "is not 0, 1, true or false" + which
                : "is out of range" + which);
      }
      ElementCodec.putLong(type, values, at, (long) v);
      return v;
    }

    /** The tensor of the first {@code rows} rows of the batch; the next batch starts anew. */
    Tensor take(int rows) {
      long[] shape = Objects.requireNonNull(shape(columns.length, rows));
      if (input.datatype() == DataType.BYTES) {
        return Tensor.ofBytes(
            input.name(), shape, Arrays.asList(text).subList(0, rows * columns.length));
      }
      ByteBuffer b = values.limit(rows * columns.length * input.datatype().byteSize());
      values = buffer();
      return Tensor.of(input.name(), input.datatype(), shape, b);
    }

    private ByteBuffer buffer() {
      int size = input.datatype().isFixedSize() ? input.datatype().byteSize() : 0;
      return ByteBuffer.allocate(batch * columns.length * size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The shape of {@code rows} rows of {@code width} values, or null where the input does not take
     * them: when the model batches, [rows, width] (or [rows] for one value per row); else the
     * declared dims, one row at a time.
     */
    private long @Nullable [] shape(int width, int rows) {
      long[] dims = input.dims();
      if (batching) {
        if (dims.length == 0 && width == 1) {
          return new long[] {rows};
        }
        boolean fits = dims.length == 1 && (dims[0] == width || dims[0] == -1);
        return fits ? new long[] {rows, width} : null;
      }
      long count = 1;
      for (int i = 0; i < dims.length; i++) {
        if (dims[i] == -1) {
          dims[i] = i == dims.length - 1 ? width : 1;
        }
        count *= dims[i];
      }
      return count == width && rows == 1 ? dims : null;
    }
  }

  private static String describe(String kind, Baseline.FeatureBaseline f) {
    return String.format(
        Locale.ROOT,
        "%s %-24s %-11s mean %-10.4g sd %-10.4g range [%.4g, %.4g] missing %.2f%%",
        kind,
        f.name(),
        f.type().name().toLowerCase(Locale.ROOT),
        f.mean(),
        f.stddev(),
        f.min(),
        f.max(),
        f.missingRate() * 100);
  }

  /**
   * The non-blank lines of a sentences file, stripped; one that is not UTF-8 is named by its line
   * and byte (as {@code fulcrum embed} names it; {@code readAllLines} said "Input length = 1").
   */
  private static List<String> sentences(Path file) throws IOException {
    List<String> lines = new ArrayList<>();
    try (Utf8Lines in = new Utf8Lines(Files.newInputStream(file), file.toString())) {
      for (String l = in.next(); l != null; l = in.next()) {
        String s = l.strip();
        if (!s.isEmpty()) {
          lines.add(s);
        }
      }
    }
    return lines;
  }
}
