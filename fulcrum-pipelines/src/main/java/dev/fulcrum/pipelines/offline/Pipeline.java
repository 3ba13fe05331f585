package dev.fulcrum.pipelines.offline;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.pipelines.TextPipelines;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A model of a repository run in process, the way {@code fulcrum serve} runs it: the same
 * configuration, pipeline stages, dynamic batcher and ONNX Runtime session, without a transport.
 * What a training or indexing job embeds is therefore what the server answers.
 *
 * <pre>{@code
 * try (Pipeline p = Pipeline.open(Path.of("demo/models"), "minilm_text")) {
 *   List<float[]> vectors = p.embed(List.of("hello world", "a second sentence"));
 * }
 * }</pre>
 *
 * <p>Thread-safe: any thread may call {@link #embed} or {@link #infer}; concurrent calls batch
 * together as concurrent requests to the server do.
 */
public final class Pipeline implements AutoCloseable {
  private final String model;
  private final OnnxRuntimeBackend onnx;
  private final SchedulerEnvironment environment;
  private final ModelRepository repository;
  private final InferenceService service;

  private Pipeline(
      String model,
      OnnxRuntimeBackend onnx,
      SchedulerEnvironment environment,
      ModelRepository repository) {
    this.model = model;
    this.onnx = onnx;
    this.environment = environment;
    this.repository = repository;
    this.service = new InferenceService(repository, true);
  }

  /**
   * Loads one model of a repository (only it: a pipeline reads its wrapped model's file itself).
   *
   * @throws IllegalStateException with the repository's reason when the model does not load
   */
  public static Pipeline open(Path repositoryDir, String model) {
    OnnxRuntimeBackend onnx = new OnnxRuntimeBackend();
    SchedulerEnvironment environment = SchedulerEnvironment.system();
    int cores = Runtime.getRuntime().availableProcessors();
    ModelRepository repository =
        new ModelRepository(
            List.of(repositoryDir),
            List.of(onnx, new TextPipelines()),
            new ModelConfigResolver(cores, ModelRepositoryDefaults.MAX_BATCH_SIZE),
            environment,
            new ModelRepository.Settings(
                ControlMode.EXPLICIT, 1, List.of(model), Duration.ofSeconds(15)));
    repository.loadAll();
    Pipeline p = new Pipeline(model, onnx, environment, repository);
    try {
      repository.resolve(model, "");
    } catch (InferenceException e) {
      p.close();
      throw new IllegalStateException("model '" + model + "' did not load: " + e.getMessage(), e);
    }
    return p;
  }

  /**
   * Checks that the model takes text (one BYTES input), as {@link #embed} needs.
   *
   * @throws IllegalArgumentException naming its inputs when it does not
   */
  public void requireText() {
    ModelConfig config = config();
    if (config.inputs().size() != 1 || config.inputs().get(0).datatype() != DataType.BYTES) {
      throw new IllegalArgumentException(
          "model '" + model + "' does not take text: its inputs are " + config.inputs());
    }
  }

  /**
   * Checks that the model takes text and answers vectors, FP32 [n, d] (its first output), as {@link
   * #embed} needs: not token vectors, not a top-k step's classes.
   *
   * @throws IllegalArgumentException saying what it takes or answers instead
   */
  public void requireVectors() {
    requireText();
    ModelConfig config = config();
    TensorConfig out = config.outputs().isEmpty() ? null : config.outputs().get(0);
    long[] shape = out == null ? new long[0] : config.fullShape(out);
    if (out == null || out.datatype() != DataType.FP32 || shape.length != 2) {
      throw new IllegalArgumentException(
          "model '"
              + model
              + "' does not answer vectors (FP32 [n, d]): its output is "
              + (out == null
                  ? "missing"
                  : "'" + out.name() + "' " + out.datatype() + " " + Shapes.toString(shape))
              + (out != null && out.datatype() == DataType.BYTES
                  ? " (classes: a top-k step)"
                  : out != null && shape.length == 3 ? " (token vectors: no mean-pool step)" : ""));
    }
  }

  /** The served configuration of the model (inputs, outputs, max-batch-size). */
  public ModelConfig config() {
    return version().config();
  }

  private ModelVersion version() {
    return repository.resolve(model, "");
  }

  /** Runs one request, as the server's transports do. */
  public CompletableFuture<InferenceResponse> infer(InferenceRequest request) {
    return service.infer(request);
  }

  /**
   * The vectors of sentences (a text pipeline: one BYTES input, one FP32 [n, d] output), in order.
   * They are sent as requests of up to max-batch-size sentences, all at once, so the batcher may
   * join them.
   */
  public List<float[]> embed(List<String> sentences) {
    List<CompletableFuture<List<float[]>>> parts = embedAsync(sentences);
    List<float[]> out = new ArrayList<>(sentences.size());
    for (CompletableFuture<List<float[]>> part : parts) {
      try {
        out.addAll(part.join());
      } catch (CompletionException e) {
        throw e.getCause() instanceof RuntimeException r ? r : e;
      }
    }
    return out;
  }

  /** {@link #embed}'s requests, one future per chunk of up to max-batch-size sentences. */
  public List<CompletableFuture<List<float[]>>> embedAsync(List<String> sentences) {
    ModelConfig config = config();
    requireText();
    String input = config.inputs().get(0).name();
    int chunk = Math.max(1, config.maxBatchSize());
    List<CompletableFuture<List<float[]>>> parts = new ArrayList<>();
    for (int start = 0; start < sentences.size(); start += chunk) {
      List<String> part = sentences.subList(start, Math.min(sentences.size(), start + chunk));
      List<byte[]> bytes = part.stream().map(s -> s.getBytes(StandardCharsets.UTF_8)).toList();
      long[] shape = config.batching() ? new long[] {bytes.size(), 1} : new long[] {bytes.size()};
      InferenceRequest request =
          new InferenceRequest(
              model, "", "", Map.of(), List.of(Tensor.ofBytes(input, shape, bytes)), List.of());
      parts.add(service.infer(request).thenApply(Pipeline::rows));
    }
    return parts;
  }

  /** The rows of a response's first output, FP32 [n, d]. */
  static List<float[]> rows(InferenceResponse response) {
    Tensor t = response.outputs().get(0);
    if (t.datatype() != DataType.FP32 || t.rank() != 2) {
      throw new IllegalStateException(
          "output '" + t.name() + "' is " + t + ", not FP32 [n, d] vectors");
    }
    int n = (int) t.dim(0);
    int d = (int) t.dim(1);
    java.nio.FloatBuffer all = t.data().asFloatBuffer();
    List<float[]> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      float[] row = new float[d];
      all.get(row);
      out.add(row);
    }
    return out;
  }

  @Override
  public void close() {
    service.beginDrain();
    repository.close(Duration.ofSeconds(30));
    environment.close();
    onnx.close();
  }

  /** The defaults {@code fulcrum serve} uses where a configuration is silent. */
  static final class ModelRepositoryDefaults {
    /** As serve's --default-max-batch-size. */
    static final int MAX_BATCH_SIZE = 32;

    private ModelRepositoryDefaults() {}
  }
}
