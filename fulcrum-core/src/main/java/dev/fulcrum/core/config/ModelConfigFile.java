package dev.fulcrum.core.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * A model's {@code config.yaml} exactly as written: every field optional (null when absent). {@link
 * ModelConfigResolver} turns it, with the model file's signature, into a {@link ModelConfig}. The
 * schema is documented in docs/MODEL_CONFIG.md.
 */
public record ModelConfigFile(
    @JsonProperty("name") String name,
    @JsonProperty("platform") String platform,
    @JsonProperty("default-model-filename") String defaultModelFilename,
    @JsonProperty("max-batch-size") Integer maxBatchSize,
    @JsonProperty("inputs") List<Tensor> inputs,
    @JsonProperty("outputs") List<Tensor> outputs,
    @JsonProperty("version-policy") VersionPolicyFile versionPolicy,
    @JsonProperty("instance-count") Integer instanceCount,
    @JsonProperty("onnxruntime") OnnxRuntimeFile onnxruntime,
    @JsonProperty("dynamic-batching") DynamicBatchingFile dynamicBatching,
    @JsonProperty("queue-policy") QueuePolicyFile queuePolicy,
    @JsonProperty("model-warmup") List<WarmupFile> modelWarmup) {

  /** A configuration without warm-up samples. */
  public ModelConfigFile(
      String name,
      String platform,
      String defaultModelFilename,
      Integer maxBatchSize,
      List<Tensor> inputs,
      List<Tensor> outputs,
      VersionPolicyFile versionPolicy,
      Integer instanceCount,
      OnnxRuntimeFile onnxruntime,
      DynamicBatchingFile dynamicBatching,
      QueuePolicyFile queuePolicy) {
    this(
        name,
        platform,
        defaultModelFilename,
        maxBatchSize,
        inputs,
        outputs,
        versionPolicy,
        instanceCount,
        onnxruntime,
        dynamicBatching,
        queuePolicy,
        null);
  }

  /** An input or output: {@code dims} leaves out the batch dimension when max-batch-size > 0. */
  public record Tensor(
      @JsonProperty("name") String name,
      @JsonProperty("datatype") String datatype,
      @JsonProperty("dims") List<Long> dims) {}

  /** Exactly one of {@code latest}, {@code all}, {@code specific}. */
  public record VersionPolicyFile(
      @JsonProperty("latest") Integer latest,
      @JsonProperty("all") Boolean all,
      @JsonProperty("specific") List<Long> specific) {}

  /** ONNX Runtime session options. */
  public record OnnxRuntimeFile(
      @JsonProperty("intra-op-threads") Integer intraOpThreads,
      @JsonProperty("inter-op-threads") Integer interOpThreads,
      @JsonProperty("graph-optimization-level") String graphOptimizationLevel,
      @JsonProperty("execution-mode") String executionMode,
      @JsonProperty("memory-arena") Boolean memoryArena,
      @JsonProperty("memory-pattern") Boolean memoryPattern,
      @JsonProperty("execution-provider") String executionProvider,
      @JsonProperty("device-id") Integer deviceId,
      @JsonProperty("allow-spinning") Boolean allowSpinning) {}

  /** Triton's dynamic_batching settings. */
  public record DynamicBatchingFile(
      @JsonProperty("enabled") Boolean enabled,
      @JsonProperty("max-queue-delay-microseconds") Long maxQueueDelayMicroseconds,
      @JsonProperty("preferred-batch-sizes") List<Integer> preferredBatchSizes,
      @JsonProperty("preserve-ordering") Boolean preserveOrdering,
      @JsonProperty("priority-levels") Integer priorityLevels,
      @JsonProperty("default-priority-level") Integer defaultPriorityLevel) {}

  /** Triton's default_queue_policy, with a bounded default queue. */
  public record QueuePolicyFile(
      @JsonProperty("max-queue-size") Integer maxQueueSize,
      @JsonProperty("default-timeout-microseconds") Long defaultTimeoutMicroseconds,
      @JsonProperty("timeout-action") String timeoutAction,
      @JsonProperty("allow-timeout-override") Boolean allowTimeoutOverride) {}

  /**
   * One of Triton's {@code model_warmup} samples: {@code count} passes of a batch of {@code
   * batch-size} on every instance before the version is ready.
   *
   * @param inputs every model input by name
   */
  public record WarmupFile(
      @JsonProperty("name") String name,
      @JsonProperty("batch-size") Integer batchSize,
      @JsonProperty("count") Integer count,
      @JsonProperty("inputs") java.util.Map<String, WarmupInputFile> inputs) {}

  /**
   * A warm-up input: its type and shape (without the batch dimension when the model batches) and
   * exactly one source of data: zeros, random values, or a raw little-endian file in the model's
   * folder.
   */
  public record WarmupInputFile(
      @JsonProperty("data-type") String dataType,
      @JsonProperty("dims") List<Long> dims,
      @JsonProperty("zero-data") Boolean zeroData,
      @JsonProperty("random-data") Boolean randomData,
      @JsonProperty("input-data-file") String inputDataFile) {}

  /** The configuration of a model that has no config.yaml. */
  public static ModelConfigFile empty() {
    return new ModelConfigFile(
        null, null, null, null, null, null, null, null, null, null, null, null);
  }
}
