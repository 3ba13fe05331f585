package dev.fulcrum.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.config.PipelineConfig.Step;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.ClassLabels;
import dev.fulcrum.core.inference.Classification;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.pipeline.ModelStages;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.StrictUtf8;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import dev.fulcrum.pipelines.steps.TextTokenizer;
import dev.fulcrum.pipelines.steps.Vectors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jspecify.annotations.Nullable;

/**
 * The stages of one pipeline model version: its one step before the model (tokenize or standardize,
 * or none: the inputs pass through) and its steps after it on one engine output.
 *
 * <p>Thread-safe: the tokenizer and the step settings are immutable; a read lock keeps {@link
 * #close} from freeing the tokenizer under a request that is being tokenized.
 */
final class PipelineStages implements ModelStages {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(PipelineStages.class);
  static final String INPUT_IDS = "input_ids";
  static final String ATTENTION_MASK = "attention_mask";
  static final String TOKEN_TYPE_IDS = "token_type_ids";

  private final ModelSignature signature;
  private final String inputName;
  private final List<TensorSpec> engineInputs;
  private final String engineOutput;
  private final String outputName;
  private final List<Step> post;
  private final @Nullable TextTokenizer tokenizer;
  private final float @Nullable [] mean;
  private final float @Nullable [] std;
  private final @Nullable List<String> labels;

  /**
   * Whether the engine output's dimension 1 is the token sequence (a tokenize step, and a dynamic
   * dimension 1): a padded batch returns it padded to the batch's longest sentence, and {@link
   * #after} cuts each request's share back to its own length.
   */
  private final boolean sequenceOutput;

  private final ReentrantReadWriteLock open = new ReentrantReadWriteLock();
  private boolean closed;

  private PipelineStages(
      ModelSignature signature,
      String inputName,
      List<TensorSpec> engineInputs,
      String engineOutput,
      String outputName,
      List<Step> post,
      @Nullable TextTokenizer tokenizer,
      float @Nullable [] mean,
      float @Nullable [] std,
      @Nullable List<String> labels,
      boolean sequenceOutput) {
    this.signature = signature;
    this.inputName = inputName;
    this.engineInputs = engineInputs;
    this.engineOutput = engineOutput;
    this.outputName = outputName;
    this.post = post;
    this.tokenizer = tokenizer;
    this.mean = mean;
    this.std = std;
    this.labels = labels;
    this.sequenceOutput = sequenceOutput;
  }

  /**
   * @param configFile the pipeline's config.yaml, which errors name with the field
   * @throws ConfigException naming the file and the field when a step's file is wrong or a step
   *     cannot run on the wrapped model
   */
  static PipelineStages open(
      PipelineConfig p, List<Path> folders, ModelSignature engine, Path configFile)
      throws ConfigException {
    if (engine.outputs().isEmpty() || engine.inputs().isEmpty()) {
      throw new ConfigException(
          configFile,
          p.model() != null ? "pipeline.model" : "pipeline.model-file",
          "the wrapped model has no inputs or no outputs");
    }
    Step pre = p.pre().isEmpty() ? null : p.pre().get(0);
    TextTokenizer tokenizer = null;
    float[] mean = null;
    float[] std = null;
    List<TensorSpec> inputs;
    String inputName;
    if (pre instanceof PipelineConfig.Tokenize t) {
      for (TensorSpec s : engine.inputs()) {
        if (!List.of(INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS).contains(s.name())
            || s.datatype() != DataType.INT64
            || s.shape().length != 2) {
          throw new ConfigException(
              configFile,
              "pipeline.pre[0]",
              "step 'tokenize' feeds input_ids, attention_mask and token_type_ids"
                  + " (INT64 [batch, sequence]); the wrapped model has input "
                  + s);
        }
      }
      inputName = p.input() == null ? "text" : p.input();
      inputs = List.of(new TensorSpec(inputName, DataType.BYTES, new long[] {-1, 1}));
      String field = "pipeline.pre[0].tokenizer";
      Path file = find(folders, t.tokenizer(), field, configFile);
      try {
        tokenizer =
            new TextTokenizer(
                file,
                t.maxLength(),
                t.truncation(),
                t.padding() == PipelineConfig.Padding.MAX_LENGTH);
      } catch (TextTokenizer.MaxLengthException e) {
        String problem =
            t.maxLength() != null
                ? "is "
                    + e.asked()
                    + ", more than tokenizer "
                    + file.getFileName()
                    + " takes: "
                    + e.limit()
                : "is not written, and tokenizer "
                    + file.getFileName()
                    + "'s own truncation.max_length "
                    + e.asked()
                    + " is more than it takes: "
                    + e.limit();
        throw new ConfigException(
            configFile,
            "pipeline.pre[0].max-length",
            problem
                + " (the model_max_length of a tokenizer_config.json beside it, else 512);"
                + " write a max-length of at most "
                + e.limit(),
            e);
      } catch (IOException | RuntimeException e) {
        throw new ConfigException(configFile, field, notATokenizer(file, e), e);
      }
    } else if (pre instanceof PipelineConfig.Standardize s) {
      TensorSpec in = engine.inputs().get(0);
      if (engine.inputs().size() != 1 || in.datatype() != DataType.FP32) {
        throw new ConfigException(
            configFile,
            "pipeline.pre[0]",
            "step 'standardize' feeds one FP32 input; the wrapped model has " + engine.inputs());
      }
      String field = "pipeline.pre[0].statistics";
      Path file = find(folders, s.statistics(), field, configFile);
      String name = file.getFileName().toString();
      JsonNode node;
      try {
        // A mapper for this read only: a text pipeline (the demo's minilm_text) builds none as it
        // loads beside a fresh server's first answer (docs/PERFORMANCE.md, "Cold start", session
        // 14).
        node = new ObjectMapper().readTree(file.toFile());
      } catch (IOException | RuntimeException e) {
        String why =
            e instanceof com.fasterxml.jackson.core.JsonProcessingException j
                    && j.getLocation() != null
                ? j.getOriginalMessage()
                    + " (line "
                    + j.getLocation().getLineNr()
                    + ", column "
                    + j.getLocation().getColumnNr()
                    + ")"
                : e.getMessage();
        throw new ConfigException(
            configFile,
            field,
            name + ": cannot read it as JSON {\"mean\": [..], \"std\": [..]}: " + why,
            e);
      }
      mean = floats(node, "mean", name, field, configFile);
      std = floats(node, "std", name, field, configFile);
      long[] shape = in.shape();
      long width = shape.length == 0 ? -1 : shape[shape.length - 1];
      if (mean.length != std.length || (width > 0 && width != mean.length)) {
        throw new ConfigException(
            configFile,
            field,
            name
                + " has "
                + mean.length
                + " means and "
                + std.length
                + " deviations; the model's input '"
                + in.name()
                + "' has "
                + width
                + " features");
      }
      for (int i = 0; i < std.length; i++) {
        if (!(std[i] > 0)) {
          throw new ConfigException(
              configFile, field, name + ": every std must be > 0; std[" + i + "] is " + std[i]);
        }
      }
      inputName = p.input() == null ? in.name() : p.input();
      inputs = List.of(new TensorSpec(inputName, DataType.FP32, shape));
    } else {
      inputName = engine.inputs().get(0).name();
      inputs = engine.inputs();
    }
    String engineOutput =
        p.engineOutput() == null ? engine.outputs().get(0).name() : p.engineOutput();
    TensorSpec out = null;
    for (TensorSpec o : engine.outputs()) {
      if (o.name().equals(engineOutput)) {
        out = o;
      }
    }
    if (out == null) {
      throw new ConfigException(
          configFile,
          "pipeline.engine-output",
          "the wrapped model has no output '"
              + engineOutput
              + "'; it has "
              + engine.outputs().stream().map(TensorSpec::name).toList());
    }
    long[] shape = out.shape();
    boolean sequenceOutput = tokenizer != null && shape.length >= 2 && shape[1] < 0;
    DataType type = out.datatype();
    List<String> labels = null;
    for (int i = 0; i < p.post().size(); i++) {
      Step s = p.post().get(i);
      String field = "pipeline.post[" + i + "]";
      if (type != DataType.FP32) {
        throw new ConfigException(
            configFile, field, "step '" + s.kind() + "' takes FP32, not " + type);
      }
      switch (s) {
        case PipelineConfig.MeanPool m -> {
          if (shape.length != 3) {
            throw new ConfigException(
                configFile,
                field,
                "mean-pool takes [batch, sequence, hidden]; '"
                    + engineOutput
                    + "' is "
                    + Shapes.toString(shape));
          }
          shape = new long[] {shape[0], shape[2]};
        }
        case PipelineConfig.TopK k -> {
          if (i != p.post().size() - 1) {
            throw new ConfigException(configFile, field, "top-k must be the last step");
          }
          if (shape.length != 2) {
            // [n, L, h] token vectors would rank each row's L * h elements as one row of classes.
            throw new ConfigException(
                configFile,
                field,
                "top-k takes [batch, classes]; '"
                    + engineOutput
                    + "' is "
                    + Shapes.toString(shape)
                    + (shape.length == 3 ? " here (mean-pool it first)" : " here"));
          }
          if (k.labels() != null) {
            labels = labels(folders, k.labels(), field + ".labels", configFile, shape[1]);
          }
          shape = new long[] {shape[0], k.k()};
          type = DataType.BYTES;
        }
        default -> {}
      }
    }
    String outputName = p.output() == null ? engineOutput : p.output();
    ModelSignature signature =
        new ModelSignature(inputs, List.of(new TensorSpec(outputName, type, shape)));
    return new PipelineStages(
        signature,
        inputName,
        engine.inputs(),
        engineOutput,
        outputName,
        p.post(),
        tokenizer,
        mean,
        std,
        labels,
        sequenceOutput);
  }

  /**
   * The labels of a top-k step, one a line: fewer lines than the output's classes (when the model
   * says how many) is a load error, since the answers would mix labelled and unlabelled classes;
   * with a class count the model leaves open, a warning.
   */
  private static List<String> labels(
      List<Path> folders, String name, String field, Path configFile, long classes)
      throws ConfigException {
    Path file = find(folders, name, field, configFile);
    List<String> labels;
    try {
      labels = ClassLabels.read(file);
    } catch (IOException e) {
      throw new ConfigException(
          configFile,
          field,
          "cannot read " + file.getFileName() + " as UTF-8 text: " + e.getMessage(),
          e);
    }
    if (classes > 0 && labels.size() < classes) {
      throw new ConfigException(
          configFile,
          field,
          file.getFileName()
              + " has "
              + labels.size()
              + " line(s) for the output's "
              + classes
              + " classes (line i names class i)");
    }
    if (classes <= 0) {
      log.warn(
          "{}: field '{}': {} has {} line(s); the output's class count is not known until a"
              + " request, and a class past the last line will have no label",
          dev.fulcrum.core.config.ShownPath.of(configFile),
          field,
          file.getFileName(),
          labels.size());
    }
    return labels;
  }

  /**
   * The tokenizer library's reason, and for a file that is valid JSON but no tokenizer.json, that
   * first: the library reports a JSON schema mismatch as a syntax error ("expected `,` or `}` at
   * line 1 column 7"). Only read when the tokenizer failed, so a good load parses the file once.
   */
  private static String notATokenizer(Path file, Exception e) {
    String reason = "cannot read " + file.getFileName() + ": " + e.getMessage();
    JsonNode node;
    try {
      node = new ObjectMapper().readTree(file.toFile());
    } catch (IOException | RuntimeException notJson) {
      return reason; // not JSON at all: the library's message says where
    }
    if (node == null || !node.isObject() || !node.has("model")) {
      return file.getFileName()
          + " is JSON but not a Hugging Face tokenizer.json (it has no \"model\" object; save"
          + " the tokenizer with tokenizer.save(...) or take the tokenizer.json of the model's"
          + " repository): "
          + e.getMessage();
    }
    return reason;
  }

  private static Path find(List<Path> folders, String name, String field, Path configFile)
      throws ConfigException {
    for (Path folder : folders) {
      Path file = folder.resolve(name).normalize();
      if (file.startsWith(folder) && Files.isRegularFile(file)) {
        return file;
      }
    }
    throw new ConfigException(
        configFile,
        field,
        "no file '"
            + name
            + "' in "
            + folders.stream().map(f -> f.getFileName().toString()).toList());
  }

  /**
   * A statistics file's array {@code key}, each number as the FP32 it becomes: NaN, or a value FP32
   * cannot hold (1e39 becomes Infinity), is refused, as every answer would be NaN.
   */
  private static float[] floats(
      JsonNode node, String key, String file, String field, Path configFile)
      throws ConfigException {
    JsonNode array = node.get(key);
    if (array == null || !array.isArray() || array.isEmpty()) {
      throw new ConfigException(
          configFile,
          field,
          file
              + ": \""
              + key
              + "\" must be a non-empty array of numbers ({\"mean\": [..],"
              + " \"std\": [..]})");
    }
    float[] out = new float[array.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode v = array.get(i);
      if (!v.isNumber()) {
        throw new ConfigException(
            configFile, field, file + ": " + key + "[" + i + "] is " + v + ", not a number");
      }
      out[i] = (float) v.asDouble();
      if (!Float.isFinite(out[i])) {
        throw new ConfigException(
            configFile,
            field,
            file
                + ": "
                + key
                + "["
                + i
                + "] is "
                + v.asText()
                + ", which FP32 cannot hold (it would be "
                + out[i]
                + ")");
      }
    }
    return out;
  }

  @Override
  public ModelSignature signature() {
    return signature;
  }

  @Override
  public Prepared before(List<Tensor> inputs, int firstRow, List<RequestedOutput> outputs) {
    return before(inputs, firstRow, outputs, true);
  }

  @Override
  public Prepared before(
      List<Tensor> inputs, int firstRow, List<RequestedOutput> outputs, boolean truncate) {
    if (!open.readLock().tryLock()) {
      throw InferenceException.unavailable("the pipeline is unloading");
    }
    try {
      if (closed) {
        throw InferenceException.unavailable("the pipeline is unloading");
      }
      List<Tensor> engine;
      if (tokenizer != null) {
        TextTokenizer.Tokens t = tokenize(tokenizer, inputs.get(0), firstRow, truncate);
        return new Prepared(engineTensors(t), List.of(engineOutput), outputs, tokenCount(t));
      } else if (mean != null && std != null) {
        Tensor in = inputs.get(0);
        float[] x = Vectors.standardize(floats(in), mean, std);
        engine = List.of(floatTensor(engineInputs.get(0).name(), in.shape(), x));
      } else {
        engine = inputs;
      }
      return new Prepared(engine, List.of(engineOutput), outputs);
    } finally {
      open.readLock().unlock();
    }
  }

  /** The tokens of a tokenized batch: its attention mask's ones (padding is 0). */
  private static long tokenCount(TextTokenizer.Tokens t) {
    long n = 0;
    for (long m : t.attentionMask()) {
      n += m;
    }
    return n;
  }

  private TextTokenizer.Tokens tokenize(
      TextTokenizer tok, Tensor text, int firstRow, boolean truncate) {
    List<String> sentences = new ArrayList<>();
    int row = firstRow;
    for (byte[] b : text.bytesElements()) {
      sentences.add(utf8(b, row++));
    }
    TextTokenizer.Tokens t;
    try {
      t = tok.encode(sentences, firstRow, truncate);
    } catch (InferenceException e) {
      throw new InferenceException(e.code(), "input '" + inputName + "': " + e.getMessage(), e);
    }
    return t;
  }

  /** A tokenized batch as the engine's inputs: ids, attention mask, token types, by name. */
  private List<Tensor> engineTensors(TextTokenizer.Tokens t) {
    long[] shape = {t.rows(), t.length()};
    List<Tensor> out = new ArrayList<>(engineInputs.size());
    for (TensorSpec s : engineInputs) {
      long[] values =
          switch (s.name()) {
            case INPUT_IDS -> t.ids();
            case ATTENTION_MASK -> t.attentionMask();
            default -> t.typeIds();
          };
      out.add(longTensor(s.name(), shape, values));
    }
    return out;
  }

  /**
   * One text element decoded as UTF-8, refused (400) when it is not: replacing the bad bytes with
   * U+FFFD, as {@code new String} does, embedded text that {@code fulcrum embed} refuses.
   */
  private String utf8(byte[] b, int row) {
    try {
      return StrictUtf8.decode(b, 0, b.length);
    } catch (StrictUtf8.MalformedException e) {
      throw InferenceException.invalid("input '%s': row %d is %s", inputName, row, e.getMessage());
    }
  }

  @Override
  public List<Tensor> after(Prepared prepared, List<Tensor> engineOutputs) {
    Tensor y = engineOutputs.get(0);
    long[] shape = y.shape();
    float[] x;
    int first = 0;
    if (!post.isEmpty() && post.get(0) instanceof PipelineConfig.MeanPool) {
      // The usual first step reads the engine's output in place: no copy of the token vectors.
      checkFloats(y);
      int n = (int) shape[0];
      int padded = (int) shape[1];
      int h = (int) shape[2];
      Tensor mask = maskOf(prepared);
      x =
          mask == null
              ? Vectors.meanPool(
                  y.data().asFloatBuffer(), n, padded, h, LongBuffer.wrap(ones(n * padded)), padded)
              : Vectors.meanPool(
                  y.data().asFloatBuffer(),
                  n,
                  padded,
                  h,
                  mask.data().asLongBuffer(),
                  (int) mask.dim(1));
      shape = new long[] {n, h};
      first = 1;
    } else {
      x = floats(y);
      Tensor mask = maskOf(prepared);
      if (sequenceOutput && mask != null && shape.length >= 2 && shape[1] > mask.dim(1)) {
        // A padded batch: this request's rows come padded to the batch's longest sentence. Its
        // share is cut to its own length, so that its answer's shape (and the positions the post
        // steps see) do not depend on the requests it was batched with.
        int length = (int) mask.dim(1);
        x = trimSequence(x, shape, length);
        shape = shape.clone();
        shape[1] = length;
      }
    }
    java.util.OptionalInt asked = classification(prepared); // the request's k, parsed once
    Tensor classes = null;
    for (Step s : post.subList(first, post.size())) {
      switch (s) {
        case PipelineConfig.MeanPool m -> {
          int n = (int) shape[0];
          int padded = (int) shape[1];
          int h = (int) shape[2];
          Tensor mask = maskOf(prepared);
          x =
              mask == null
                  ? Vectors.meanPool(x, n, padded, h)
                  : Vectors.meanPool(x, n, padded, h, longs(mask), (int) mask.dim(1));
          shape = new long[] {n, h};
        }
        case PipelineConfig.Normalize nz -> Vectors.normalize(x, (int) shape[shape.length - 1]);
        case PipelineConfig.Softmax sm -> Vectors.softmax(x, (int) shape[shape.length - 1]);
        case PipelineConfig.TopK k -> {
          classes = topK(outputName, x, shape, asked.orElse(k.k()), labels);
        }
        default -> throw new IllegalStateException("step '" + s.kind() + "' after the model");
      }
    }
    if (classes == null && asked.isPresent()) {
      // Triton's classification extension on an output without a top-k step.
      classes = topK(outputName, x, shape, asked.getAsInt(), null);
    }
    Tensor result = classes != null ? classes : floatTensor(outputName, shape, x);
    List<Tensor> out = new ArrayList<>(prepared.outputs().size());
    for (int i = 0; i < prepared.outputs().size(); i++) {
      out.add(result);
    }
    return out;
  }

  /**
   * Positions {@code 0..length-1} of dimension 1 of {@code x} (shape {@code [n, padded, ...]}):
   * each row's first {@code length} token vectors, the batch's padding after them dropped.
   */
  static float[] trimSequence(float[] x, long[] shape, int length) {
    int n = (int) shape[0];
    int padded = (int) shape[1];
    int inner = 1;
    for (int i = 2; i < shape.length; i++) {
      inner = Math.multiplyExact(inner, (int) shape[i]);
    }
    float[] out = new float[n * length * inner];
    for (int r = 0; r < n; r++) {
      System.arraycopy(x, r * padded * inner, out, r * length * inner, length * inner);
    }
    return out;
  }

  /**
   * Each batch row's top {@code k} as Triton's classification strings: the core's ranking and
   * formatting, so a pipeline's classes read as a plain model's do. A row of more than one
   * dimension (token vectors [n, L, h]) is ranked over all its elements, index {@code t * h + d},
   * as Triton and a plain model rank it; the top-k step itself is refused on such an output at
   * load.
   */
  private static Tensor topK(
      String name, float[] x, long[] shape, int k, @Nullable List<String> labels) {
    return Classification.topK(floatTensor(name, shape, x), k, true, labels);
  }

  private static java.util.OptionalInt classification(Prepared prepared) {
    for (RequestedOutput o : prepared.outputs()) {
      java.util.OptionalInt k = Classification.requested(o);
      if (k.isPresent()) {
        return k;
      }
    }
    return java.util.OptionalInt.empty();
  }

  private static @Nullable Tensor maskOf(Prepared prepared) {
    for (Tensor t : prepared.engineInputs()) {
      if (t.name().equals(ATTENTION_MASK)) {
        return t;
      }
    }
    return null;
  }

  private static void checkFloats(Tensor t) {
    if (t.datatype() != DataType.FP32) {
      throw InferenceException.internal(
          "pipeline: tensor '" + t.name() + "' is " + t.datatype() + ", not FP32", null);
    }
  }

  private static long[] ones(int n) {
    long[] out = new long[n];
    java.util.Arrays.fill(out, 1);
    return out;
  }

  static float[] floats(Tensor t) {
    checkFloats(t);
    float[] out = new float[Math.toIntExact(t.elementCount())];
    t.data().asFloatBuffer().get(out);
    return out;
  }

  private static long[] longs(Tensor t) {
    long[] out = new long[Math.toIntExact(t.elementCount())];
    t.data().asLongBuffer().get(out);
    return out;
  }

  static Tensor floatTensor(String name, long[] shape, float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return Tensor.of(name, DataType.FP32, shape, b);
  }

  private static Tensor longTensor(String name, long[] shape, long[] values) {
    ByteBuffer b = ByteBuffer.allocateDirect(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(values);
    return Tensor.of(name, DataType.INT64, shape, b);
  }

  /** The input's name as clients send it. */
  String inputName() {
    return inputName;
  }

  @Override
  public void close() {
    open.writeLock().lock();
    try {
      if (!closed) {
        closed = true;
        if (tokenizer != null) {
          tokenizer.close();
        }
      }
    } finally {
      open.writeLock().unlock();
    }
  }
}
