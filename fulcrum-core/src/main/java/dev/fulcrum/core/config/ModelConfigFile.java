package dev.fulcrum.core.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A model's {@code config.yaml} exactly as written: every field optional (null when absent). {@link
 * ModelConfigResolver} turns it, with the model file's signature, into a {@link ModelConfig}. The
 * schema is documented in docs/MODEL_CONFIG.md.
 */
public record ModelConfigFile(
    @JsonProperty("name") @Nullable String name,
    @JsonProperty("platform") @Nullable String platform,
    @JsonProperty("default-model-filename") @Nullable String defaultModelFilename,
    @JsonProperty("max-batch-size") @Nullable Integer maxBatchSize,
    @JsonProperty("inputs") @Nullable List<Tensor> inputs,
    @JsonProperty("outputs") @Nullable List<Tensor> outputs,
    @JsonProperty("version-policy") @Nullable VersionPolicyFile versionPolicy,
    @JsonProperty("instance-count") @Nullable Integer instanceCount,
    @JsonProperty("onnxruntime") @Nullable OnnxRuntimeFile onnxruntime,
    @JsonProperty("dynamic-batching") @Nullable DynamicBatchingFile dynamicBatching,
    @JsonProperty("queue-policy") @Nullable QueuePolicyFile queuePolicy,
    @JsonProperty("model-warmup") @Nullable List<WarmupFile> modelWarmup,
    @JsonProperty("slo") @Nullable SloFile slo,
    @JsonProperty("monitoring") @Nullable MonitoringFile monitoring,
    @JsonProperty("pipeline") @Nullable PipelineFile pipeline,
    @JsonProperty("response-cache") @Nullable ResponseCacheFile responseCache,
    @JsonProperty("instance-groups") @Nullable List<InstanceGroupFile> instanceGroups,
    @JsonProperty("slow-request-ms") @Nullable Double slowRequestMs,
    @JsonProperty("sequence-batching") @Nullable SequenceBatchingFile sequenceBatching,
    @JsonProperty("ensemble") @Nullable EnsembleFile ensemble,
    @JsonProperty("priority-queue-policy")
        @Nullable Map<String, QueuePolicyFile> priorityQueuePolicy,
    @JsonProperty("rollout") @Nullable RolloutFile rollout) {

  /**
   * A configuration of the fields before {@code model-warmup}, every later one absent: the one
   * shorter form (a new field joins the canonical constructor and this one's null tail, not a
   * constructor of its own).
   */
  public ModelConfigFile(
      @Nullable String name,
      @Nullable String platform,
      @Nullable String defaultModelFilename,
      @Nullable Integer maxBatchSize,
      @Nullable List<Tensor> inputs,
      @Nullable List<Tensor> outputs,
      @Nullable VersionPolicyFile versionPolicy,
      @Nullable Integer instanceCount,
      @Nullable OnnxRuntimeFile onnxruntime,
      @Nullable DynamicBatchingFile dynamicBatching,
      @Nullable QueuePolicyFile queuePolicy) {
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
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null);
  }

  /**
   * An input or output: {@code dims} leaves out the batch dimension when max-batch-size > 0; {@code
   * allow-non-finite: true} lets a floating-point input take NaN and ±Infinity; {@code labels}
   * names an output's labels file in the model's folder (Triton's {@code label_filename}).
   */
  public record Tensor(
      @JsonProperty("name") @Nullable String name,
      @JsonProperty("datatype") @Nullable String datatype,
      @JsonProperty("dims") @Nullable List<Long> dims,
      @JsonProperty("allow-non-finite") @Nullable Boolean allowNonFinite,
      @JsonProperty("labels") @Nullable String labels,
      @JsonProperty("reshape") @Nullable List<Long> reshape) {

    /** A tensor whose graph shape is its {@code dims}. */
    public Tensor(
        @Nullable String name,
        @Nullable String datatype,
        @Nullable List<Long> dims,
        @Nullable Boolean allowNonFinite,
        @Nullable String labels) {
      this(name, datatype, dims, allowNonFinite, labels, null);
    }

    /** A tensor without {@code allow-non-finite} or {@code labels}. */
    public Tensor(@Nullable String name, @Nullable String datatype, @Nullable List<Long> dims) {
      this(name, datatype, dims, null, null, null);
    }
  }

  /** Exactly one of {@code latest}, {@code all}, {@code specific}. */
  public record VersionPolicyFile(
      @JsonProperty("latest") @Nullable Integer latest,
      @JsonProperty("all") @Nullable Boolean all,
      @JsonProperty("specific") @Nullable List<Long> specific) {}

  /** ONNX Runtime session options. */
  public record OnnxRuntimeFile(
      @JsonProperty("intra-op-threads") @Nullable Integer intraOpThreads,
      @JsonProperty("inter-op-threads") @Nullable Integer interOpThreads,
      @JsonProperty("graph-optimization-level") @Nullable String graphOptimizationLevel,
      @JsonProperty("execution-mode") @Nullable String executionMode,
      @JsonProperty("memory-arena") @Nullable Boolean memoryArena,
      @JsonProperty("memory-pattern") @Nullable Boolean memoryPattern,
      @JsonProperty("execution-provider") @Nullable String executionProvider,
      @JsonProperty("device-id") @Nullable Integer deviceId,
      @JsonProperty("allow-spinning") @Nullable Boolean allowSpinning,
      @JsonProperty("intra-op-threads-alone") @Nullable Integer intraOpThreadsAlone,
      @JsonProperty("intra-op-threads-one-row") @Nullable Integer intraOpThreadsOneRow) {}

  /** Triton's dynamic_batching settings. */
  public record DynamicBatchingFile(
      @JsonProperty("enabled") @Nullable Boolean enabled,
      @JsonProperty("max-queue-delay-microseconds") @Nullable Long maxQueueDelayMicroseconds,
      @JsonProperty("preferred-batch-sizes") @Nullable List<Integer> preferredBatchSizes,
      @JsonProperty("preserve-ordering") @Nullable Boolean preserveOrdering,
      @JsonProperty("priority-levels") @Nullable Integer priorityLevels,
      @JsonProperty("default-priority-level") @Nullable Integer defaultPriorityLevel) {}

  /**
   * Triton's {@code ModelQueuePolicy}, with a bounded default queue: {@code queue-policy} (Triton's
   * {@code default_queue_policy}) and each level's in {@code priority-queue-policy} (its {@code
   * priority_queue_policy}, keyed by the level).
   */
  public record QueuePolicyFile(
      @JsonProperty("max-queue-size") @Nullable Integer maxQueueSize,
      @JsonProperty("default-timeout-microseconds") @Nullable Long defaultTimeoutMicroseconds,
      @JsonProperty("timeout-action") @Nullable String timeoutAction,
      @JsonProperty("allow-timeout-override") @Nullable Boolean allowTimeoutOverride) {}

  /**
   * One of Triton's {@code model_warmup} samples: {@code count} passes of a batch of {@code
   * batch-size} on every instance before the version is ready.
   *
   * @param inputs every model input by name
   */
  public record WarmupFile(
      @JsonProperty("name") @Nullable String name,
      @JsonProperty("batch-size") @Nullable Integer batchSize,
      @JsonProperty("count") @Nullable Integer count,
      @JsonProperty("inputs") java.util.@Nullable Map<String, WarmupInputFile> inputs) {}

  /**
   * A warm-up input: its type and shape (without the batch dimension when the model batches) and
   * exactly one source of data: zeros, random values, or a raw little-endian file in the model's
   * folder.
   */
  public record WarmupInputFile(
      @JsonProperty("data-type") @Nullable String dataType,
      @JsonProperty("dims") @Nullable List<Long> dims,
      @JsonProperty("zero-data") @Nullable Boolean zeroData,
      @JsonProperty("random-data") @Nullable Boolean randomData,
      @JsonProperty("input-data-file") @Nullable String inputDataFile) {}

  /**
   * The latency objective and price of a model.
   *
   * @param latencyMs answer each request within this many milliseconds of its admission
   * @param percentile for this share of requests, in percent (default 99)
   * @param costPerHour this model's machine price in USD per hour, overriding {@code
   *     --cost-per-hour}
   */
  public record SloFile(
      @JsonProperty("latency-ms") @Nullable Double latencyMs,
      @JsonProperty("percentile") @Nullable Double percentile,
      @JsonProperty("cost-per-hour") @Nullable Double costPerHour) {}

  /**
   * Training-serving skew and drift monitoring (docs/MONITORING.md): the names of each input
   * tensor's columns, the baseline file beside config.yaml, and the detectors' settings.
   *
   * @param features per input tensor name, the names of its columns (its last dimension)
   * @param text for a model whose input holds token ids: which input, the mask, the [UNK] id
   */
  public record MonitoringFile(
      @JsonProperty("enabled") @Nullable Boolean enabled,
      @JsonProperty("baseline") @Nullable String baseline,
      @JsonProperty("sample-rate") @Nullable Double sampleRate,
      @JsonProperty("features") java.util.@Nullable Map<String, List<String>> features,
      @JsonProperty("window") @Nullable Integer window,
      @JsonProperty("false-alarm-rate") @Nullable Double falseAlarmRate,
      @JsonProperty("cusum-k") @Nullable Double cusumK,
      @JsonProperty("range-window") @Nullable Integer rangeWindow,
      @JsonProperty("clear-after") @Nullable Integer clearAfter,
      @JsonProperty("psi-floor") @Nullable Double psiFloor,
      @JsonProperty("text") @Nullable TextFile text) {}

  /**
   * {@code monitoring.text}: the model's input holds token ids (docs/MONITORING.md, "Text models").
   *
   * @param input the token-id input (default {@code input_ids})
   * @param mask the attention-mask input (default {@code attention_mask})
   * @param unkId the [UNK] id (default: the vocabulary's, else 100)
   * @param output the embedding output whose pooled norm and mean are compared ({@code [batch, seq,
   *     dim]} mean-pooled over the mask, or {@code [batch, dim]} as is); none when absent
   */
  public record TextFile(
      @JsonProperty("input") @Nullable String input,
      @JsonProperty("mask") @Nullable String mask,
      @JsonProperty("unk-id") @Nullable Integer unkId,
      @JsonProperty("output") @Nullable String output) {

    /** Without an embedding output. */
    public TextFile(@Nullable String input, @Nullable String mask, @Nullable Integer unkId) {
      this(input, mask, unkId, null);
    }
  }

  /**
   * A pipeline model: steps before and after a wrapped ONNX model (docs/MODEL_CONFIG.md,
   * "Pipelines").
   *
   * @param model another model of the repository whose file this pipeline runs
   * @param modelVersion that model's version folder (default: its newest)
   * @param modelFile instead of {@code model}: a model file, relative to this model's folder
   * @param input the name of the pipeline's input (default {@code text} when it tokenizes, else the
   *     wrapped model's input)
   * @param output the name of the pipeline's output (default: the wrapped model's output)
   * @param engineOutput the wrapped model's output the post steps take (default: its first)
   * @param pre the steps before the model, in order
   * @param post the steps after the model, in order
   * @param batching {@code pad} (default: rows share passes, padded) or {@code alone} (each row
   *     runs in a pass of its own)
   */
  public record PipelineFile(
      @JsonProperty("model") @Nullable String model,
      @JsonProperty("model-version") @Nullable Long modelVersion,
      @JsonProperty("model-file") @Nullable String modelFile,
      @JsonProperty("input") @Nullable String input,
      @JsonProperty("output") @Nullable String output,
      @JsonProperty("engine-output") @Nullable String engineOutput,
      @JsonProperty("pre") @Nullable List<StepFile> pre,
      @JsonProperty("post") @Nullable List<StepFile> post,
      @JsonProperty("batching") @Nullable String batching) {}

  /**
   * One pipeline step: {@code step} names it, the other fields are its settings (each step reads
   * its own and refuses the others).
   *
   * @param step tokenize, standardize, mean-pool, normalize, softmax or top-k
   * @param tokenizer tokenize: a Hugging Face tokenizer.json, relative to the model's folder
   * @param maxLength tokenize: the most tokens per sentence, special tokens included
   * @param truncation tokenize: cut longer sentences (true) or refuse them (false)
   * @param padding tokenize: {@code longest} (pad to the longest sentence of the batch) or {@code
   *     max-length}
   * @param statistics standardize: a JSON file {@code {"mean": [..], "std": [..]}}
   * @param k top-k: how many classes to return
   * @param labels top-k: a labels file, one label per line (line i is class i)
   */
  public record StepFile(
      @JsonProperty("step") @Nullable String step,
      @JsonProperty("tokenizer") @Nullable String tokenizer,
      @JsonProperty("max-length") @Nullable Integer maxLength,
      @JsonProperty("truncation") @Nullable Boolean truncation,
      @JsonProperty("padding") @Nullable String padding,
      @JsonProperty("statistics") @Nullable String statistics,
      @JsonProperty("k") @Nullable Integer k,
      @JsonProperty("labels") @Nullable String labels) {}

  /**
   * Triton's response_cache: answers a request identical to an earlier one from memory.
   *
   * @param enabled whether the model's responses are cached
   * @param maxBytes the cache's bound: outputs and keys together
   */
  public record ResponseCacheFile(
      @JsonProperty("enabled") @Nullable Boolean enabled,
      @JsonProperty("max-bytes") @Nullable Long maxBytes) {}

  /**
   * Triton's instance group, as a config.pbtxt (or its JSON) gives it once Triton's defaults are
   * filled in: {@code kind} {@code KIND_CPU} or {@code KIND_GPU}, {@code count} instances (on each
   * of {@code gpus} for a GPU group). Kept as written so that {@code GET v2/models/<m>/config}
   * shows the groups and a configuration read there and loaded back keeps them; the model runs
   * their total count ({@code instance-count}).
   */
  public record InstanceGroupFile(
      @JsonProperty("name") @Nullable String name,
      @JsonProperty("kind") @Nullable String kind,
      @JsonProperty("count") @Nullable Integer count,
      @JsonProperty("gpus") @Nullable List<Integer> gpus) {}

  /**
   * Triton's {@code sequence_batching}: a stateful model's sequences, control inputs and implicit
   * state (docs/MODEL_CONFIG.md, "Stateful models").
   *
   * @param maxSequenceIdleMicroseconds how long a sequence may go without a request before its slot
   *     and state are freed (default 1 s)
   * @param controlInputs the inputs the batcher fills on each request
   * @param states the implicit state carried from one request of a sequence to the next
   * @param strategy {@code direct} (default) or {@code oldest}
   * @param maxCandidateSequences the oldest strategy's sequences per instance (default {@code
   *     max-batch-size}, at least 1)
   */
  public record SequenceBatchingFile(
      @JsonProperty("max-sequence-idle-microseconds") @Nullable Long maxSequenceIdleMicroseconds,
      @JsonProperty("control-inputs") @Nullable List<ControlInputFile> controlInputs,
      @JsonProperty("states") @Nullable List<StateFile> states,
      @JsonProperty("strategy") @Nullable String strategy,
      @JsonProperty("max-candidate-sequences") @Nullable Integer maxCandidateSequences) {

    /** The direct strategy's fields only. */
    public SequenceBatchingFile(
        @Nullable Long maxSequenceIdleMicroseconds,
        @Nullable List<ControlInputFile> controlInputs,
        @Nullable List<StateFile> states) {
      this(maxSequenceIdleMicroseconds, controlInputs, states, null, null);
    }
  }

  /**
   * A control input: the model input {@code name} holds {@code kind} ({@code start}, {@code end},
   * {@code ready} or {@code corrid}) in the type the model declares for it.
   */
  public record ControlInputFile(
      @JsonProperty("name") @Nullable String name, @JsonProperty("kind") @Nullable String kind) {}

  /**
   * An implicit state: the model input {@code input-name} gets what the output {@code output-name}
   * made on the sequence's previous request (zeros at its start); {@code datatype} and {@code dims}
   * (without the batch dimension) default to the model's.
   */
  public record StateFile(
      @JsonProperty("input-name") @Nullable String inputName,
      @JsonProperty("output-name") @Nullable String outputName,
      @JsonProperty("datatype") @Nullable String datatype,
      @JsonProperty("dims") @Nullable List<Long> dims) {}

  /**
   * Triton's {@code ensemble_scheduling}: the steps of an ensemble model ({@code platform:
   * ensemble}), each a request to another model of the repository (docs/MODEL_CONFIG.md,
   * "Ensembles").
   *
   * @param steps the steps, in any order: each runs once the tensors it takes are made
   */
  public record EnsembleFile(
      @JsonProperty("steps") @Nullable List<EnsembleStepFile> steps,
      @JsonProperty("max-inflight-requests") @Nullable Integer maxInflightRequests) {}

  /**
   * One ensemble step, with Triton's {@code model_name}, {@code model_version}, {@code input_map}
   * and {@code output_map}.
   *
   * @param model the composing model
   * @param modelVersion its version; -1 (the default) for the one its version policy serves newest
   * @param inputMap each input of the composing model: the ensemble tensor it takes
   * @param outputMap each output of the composing model used: the ensemble tensor it makes
   */
  public record EnsembleStepFile(
      @JsonProperty("model") @Nullable String model,
      @JsonProperty("model-version") @Nullable Long modelVersion,
      @JsonProperty("input-map") java.util.@Nullable Map<String, String> inputMap,
      @JsonProperty("output-map") java.util.@Nullable Map<String, String> outputMap) {}

  /**
   * A canary rollout (docs/MODEL_CONFIG.md, "Canary rollouts"): the share of the requests that name
   * no version which the newest serving version gets (KServe's {@code canaryTrafficPercent}), and
   * the analysis that rolls it back or promotes it (as Flagger's and Argo Rollouts' analysis do).
   *
   * @param canaryTrafficPercent the canary's share of unversioned requests, 0 to 100 (this or
   *     {@code canary-steps} is required)
   * @param minRequests canary requests at a step before it is judged (default 100)
   * @param window the last requests of each version compared (default 1000)
   * @param maxFailedPercentIncrease how many points the canary's failed-request percentage (server
   *     errors) may exceed the stable version's (default 1)
   * @param maxP99Ratio the canary's p99 latency over the stable version's (default 2)
   * @param p99SlackMs a p99 no more than this many milliseconds above the stable one's is no
   *     breach, whatever the ratio (default 1)
   * @param maxSloMissPercentIncrease with an {@code slo.latency-ms}: how many points the canary's
   *     objective misses may exceed the stable version's (default 1)
   * @param promoteAfterRequests canary requests at the last step without a breach before it is
   *     promoted (absent: it is promoted by hand only)
   * @param promoteAfterSeconds and at least this long since the last step began (default 0)
   * @param canarySteps instead of {@code canary-traffic-percent}: rising shares, 1 to 100, the next
   *     taken each time the canary passes a judgement at the one before
   */
  public record RolloutFile(
      @JsonProperty("canary-traffic-percent") @Nullable Integer canaryTrafficPercent,
      @JsonProperty("min-requests") @Nullable Integer minRequests,
      @JsonProperty("window") @Nullable Integer window,
      @JsonProperty("max-failed-percent-increase") @Nullable Double maxFailedPercentIncrease,
      @JsonProperty("max-p99-ratio") @Nullable Double maxP99Ratio,
      @JsonProperty("p99-slack-ms") @Nullable Double p99SlackMs,
      @JsonProperty("max-slo-miss-percent-increase") @Nullable Double maxSloMissPercentIncrease,
      @JsonProperty("promote-after-requests") @Nullable Long promoteAfterRequests,
      @JsonProperty("promote-after-seconds") @Nullable Double promoteAfterSeconds,
      @JsonProperty("canary-steps") @Nullable List<Integer> canarySteps) {}

  /** The configuration of a model that has no config.yaml. */
  public static ModelConfigFile empty() {
    return new ModelConfigFile(
        null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
        null, null, null, null, null, null, null);
  }
}
