package dev.fulcrum.core.config;

import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.Shapes;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The complete, validated configuration of one model: what the model's {@code config.yaml} says,
 * with everything it leaves out filled in from the model file (see {@link ModelConfigResolver}).
 *
 * @param name the model's name (its folder name)
 * @param platform the runtime platform, e.g. {@code onnxruntime_onnx}
 * @param maxBatchSize 0 when the model does not batch; otherwise the largest batch, and the
 *     tensors' {@code dims} leave out the batch dimension
 * @param inputs the inputs, in model order
 * @param outputs the outputs, in model order
 * @param versionPolicy which versions are served
 * @param instanceCount how many instances run at once
 * @param sessionOptions engine options for each instance
 * @param defaultModelFilename the model file in each version folder
 * @param scheduling the queue and batcher settings
 * @param maxBatchSizeFromModel true when no config.yaml set max-batch-size and it was filled in
 *     from the graph: it then bounds the batches the batcher forms, but a single request with more
 *     rows (which the graph accepts) still runs, alone
 * @param slo the latency objective and price ({@link SloConfig#NONE} when neither is set)
 * @param monitoring skew and drift monitoring, or null when config.yaml has no {@code monitoring:}
 * @param pipeline the steps around the model file, for a pipeline model; null otherwise
 * @param responseCache the response cache's settings (disabled by default)
 * @param warmup the warm-up samples as the configuration writes them ({@code model-warmup}),
 *     checked against the model when a version warms up; empty when there are none
 * @param instanceGroups Triton's instance groups as the configuration gives them ({@code
 *     instance-groups}, from a config.pbtxt's {@code instance_group}), whose counts add up to
 *     {@code instanceCount}; empty when it gives none (one group of {@code instanceCount})
 * @param slowRequestNanos the model's own threshold for the slow-request log ({@code
 *     slow-request-ms}), over its latency objective and the server's {@code
 *     --log-slow-requests-ms}; 0 when config.yaml sets none
 * @param sequenceBatching the sequence batcher of a stateful model ({@code sequence-batching});
 *     null for a model without one. Its control and state inputs, and its state outputs, are not
 *     among {@code inputs} and {@code outputs}: clients neither send nor see them
 * @param ensemble the steps of an ensemble model ({@code platform: ensemble}), which runs no model
 *     file of its own: each step is a request to another model of the repository; null for any
 *     other model
 * @param rollout the canary rollout between the two newest serving versions ({@code rollout}); null
 *     when config.yaml has none: a request that names no version goes to the newest
 */
public record ModelConfig(
    String name,
    String platform,
    int maxBatchSize,
    List<TensorConfig> inputs,
    List<TensorConfig> outputs,
    VersionPolicy versionPolicy,
    int instanceCount,
    SessionOptions sessionOptions,
    String defaultModelFilename,
    SchedulingConfig scheduling,
    boolean maxBatchSizeFromModel,
    SloConfig slo,
    @Nullable MonitoringConfig monitoring,
    @Nullable PipelineConfig pipeline,
    ResponseCacheConfig responseCache,
    List<ModelConfigFile.WarmupFile> warmup,
    List<ModelConfigFile.InstanceGroupFile> instanceGroups,
    long slowRequestNanos,
    @Nullable SequenceBatchingConfig sequenceBatching,
    @Nullable EnsembleConfig ensemble,
    @Nullable RolloutConfig rollout) {

  /**
   * A configuration whose max-batch-size the user set (or that does not batch), without an
   * objective, monitoring, a pipeline, a cache, warm-up, groups or a slow-request threshold: the
   * one shorter form (a new component joins the canonical constructor and this one's tail).
   */
  public ModelConfig(
      String name,
      String platform,
      int maxBatchSize,
      List<TensorConfig> inputs,
      List<TensorConfig> outputs,
      VersionPolicy versionPolicy,
      int instanceCount,
      SessionOptions sessionOptions,
      String defaultModelFilename,
      SchedulingConfig scheduling) {
    this(
        name,
        platform,
        maxBatchSize,
        inputs,
        outputs,
        versionPolicy,
        instanceCount,
        sessionOptions,
        defaultModelFilename,
        scheduling,
        false,
        SloConfig.NONE,
        null,
        null,
        ResponseCacheConfig.DISABLED,
        List.of(),
        List.of(),
        0,
        null,
        null,
        null);
  }

  public ModelConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(platform, "platform");
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
    Objects.requireNonNull(versionPolicy, "versionPolicy");
    Objects.requireNonNull(sessionOptions, "sessionOptions");
    Objects.requireNonNull(scheduling, "scheduling");
    Objects.requireNonNull(slo, "slo");
    Objects.requireNonNull(responseCache, "responseCache");
    warmup = List.copyOf(warmup);
    instanceGroups = List.copyOf(instanceGroups);
    if (maxBatchSize < 0 || instanceCount < 1) {
      throw new IllegalArgumentException("maxBatchSize >= 0 and instanceCount >= 1");
    }
    if (slowRequestNanos < 0) {
      throw new IllegalArgumentException("slowRequestNanos >= 0");
    }
  }

  /**
   * This configuration with the files it names (the monitoring baseline) inside {@code modelDir}.
   */
  public ModelConfig locatedIn(java.nio.file.Path modelDir) {
    if (monitoring == null) {
      return this;
    }
    return with(slo, monitoring.withBaseline(monitoring.locatedBaselineIn(modelDir)));
  }

  /** This configuration with another latency objective and price. */
  public ModelConfig withSlo(SloConfig newSlo) {
    return with(newSlo, monitoring);
  }

  /** This configuration with the components the {@code with} methods change replaced. */
  private ModelConfig with(SloConfig newSlo, @Nullable MonitoringConfig newMonitoring) {
    return new ModelConfig(
        name,
        platform,
        maxBatchSize,
        inputs,
        outputs,
        versionPolicy,
        instanceCount,
        sessionOptions,
        defaultModelFilename,
        scheduling,
        maxBatchSizeFromModel,
        newSlo,
        newMonitoring,
        pipeline,
        responseCache,
        warmup,
        instanceGroups,
        slowRequestNanos,
        sequenceBatching,
        ensemble,
        rollout);
  }

  /** True for an ensemble model: its requests run as requests to its steps' models. */
  public boolean isEnsemble() {
    return ensemble != null;
  }

  /** True when the dynamic batcher combines requests (a batching model with batching on). */
  public boolean dynamicBatching() {
    return batching() && scheduling.dynamicBatching();
  }

  public boolean batching() {
    return maxBatchSize > 0;
  }

  public Optional<TensorConfig> input(String tensorName) {
    return Optional.ofNullable(named(inputs, tensorName));
  }

  public Optional<TensorConfig> output(String tensorName) {
    return Optional.ofNullable(named(outputs, tensorName));
  }

  /**
   * The tensor named {@code tensorName} in {@code list}, or null: a loop, not a stream, since the
   * request path looks outputs up for every request (a stream pipeline's four objects were ~4 % of
   * a fraud request's allocation).
   */
  private static @Nullable TensorConfig named(List<TensorConfig> list, String tensorName) {
    for (int i = 0; i < list.size(); i++) {
      TensorConfig t = list.get(i);
      if (t.name().equals(tensorName)) {
        return t;
      }
    }
    return null;
  }

  /** The full shape a client sees in metadata: the batch dimension (-1) first when batching. */
  public long[] fullShape(TensorConfig tensor) {
    return batching() ? Shapes.prepend(-1, tensor.dims()) : tensor.dims();
  }
}
