package dev.fulcrum.core.config;

import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.runtime.SessionOptions.ExecutionMode;
import dev.fulcrum.core.runtime.SessionOptions.OptimizationLevel;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Turns a {@link ModelConfigFile} into a {@link ModelConfig}, filling what the file leaves out from
 * the model's signature the way Triton's ONNX backend auto-completes a configuration: inputs and
 * outputs come from the graph, and the model batches only when every input and output has a dynamic
 * first dimension. Validation happens here, once, at load time; every error names the file and the
 * field. Stateless and thread-safe.
 */
public final class ModelConfigResolver {
  /** The platform of the ONNX Runtime backend, as Triton names it. */
  public static final String ONNX_PLATFORM = "onnxruntime_onnx";

  /** The largest latency objective accepted, in milliseconds (ten minutes). */
  static final double MAX_LATENCY_MS = 600_000;

  private final int availableProcessors;
  private final int defaultMaxBatchSize;
  private final double costPerHour;

  /**
   * @param availableProcessors cores to share among instances when thread counts are not given
   * @param defaultMaxBatchSize max-batch-size given to a batchable model whose config sets none
   */
  public ModelConfigResolver(int availableProcessors, int defaultMaxBatchSize) {
    this(availableProcessors, defaultMaxBatchSize, 0);
  }

  /**
   * @param availableProcessors cores to share among instances when thread counts are not given
   * @param defaultMaxBatchSize max-batch-size given to a batchable model whose config sets none
   * @param costPerHour the machine's price in USD per hour ({@code --cost-per-hour}; 0: cost is not
   *     reported), for models whose {@code slo.cost-per-hour} sets none
   */
  public ModelConfigResolver(int availableProcessors, int defaultMaxBatchSize, double costPerHour) {
    if (!(costPerHour >= 0) || Double.isInfinite(costPerHour)) {
      throw new IllegalArgumentException("cost per hour must be >= 0, was " + costPerHour);
    }
    this.availableProcessors = Math.max(1, availableProcessors);
    this.defaultMaxBatchSize = defaultMaxBatchSize;
    this.costPerHour = costPerHour;
  }

  /**
   * What is needed before the model file is opened: platform, file, versions, instances, and for a
   * pipeline model its steps (null otherwise).
   */
  public record Deployment(
      String platform,
      String modelFilename,
      VersionPolicy versionPolicy,
      int instanceCount,
      SessionOptions sessionOptions,
      @Nullable PipelineConfig pipeline,
      @Nullable EnsembleConfig ensemble) {

    /** A deployment that is no pipeline and no ensemble. */
    public Deployment(
        String platform,
        String modelFilename,
        VersionPolicy versionPolicy,
        int instanceCount,
        SessionOptions sessionOptions) {
      this(platform, modelFilename, versionPolicy, instanceCount, sessionOptions, null, null);
    }
  }

  public Deployment deployment(String modelName, ModelConfigFile f, Path file)
      throws ConfigException {
    if (f.name() != null && !f.name().equals(modelName)) {
      throw new ConfigException(
          file,
          "name",
          "'" + f.name() + "' differs from the model's folder name '" + modelName + "'");
    }
    if (f.ensemble() != null || EnsembleConfig.PLATFORM.equals(f.platform())) {
      return new Deployment(
          EnsembleConfig.PLATFORM,
          "",
          versionPolicy(f.versionPolicy(), file),
          1,
          SessionOptions.defaults(),
          null,
          EnsembleResolver.resolve(f, file));
    }
    PipelineConfig pipeline = f.pipeline() == null ? null : PipelineResolver.resolve(f, file);
    String platform = f.platform() == null ? ONNX_PLATFORM : f.platform();
    if (pipeline != null || platform.equals(PipelineConfig.PLATFORM)) {
      if (pipeline == null) {
        throw new ConfigException(
            file, "platform", "'" + PipelineConfig.PLATFORM + "' needs a 'pipeline:' section");
      }
      if (!platform.equals(ONNX_PLATFORM) && !platform.equals(PipelineConfig.PLATFORM)) {
        throw new ConfigException(
            file, "platform", "a pipeline model is '" + PipelineConfig.PLATFORM + "'");
      }
      platform = PipelineConfig.PLATFORM;
    } else if (!platform.equals(ONNX_PLATFORM) && !platform.equals("onnx")) {
      throw new ConfigException(
          file, "platform", "'" + platform + "' is not supported; use '" + ONNX_PLATFORM + "'");
    }
    String filename = f.defaultModelFilename() == null ? "model.onnx" : f.defaultModelFilename();
    if (filename.isBlank() || filename.contains("/") || filename.contains("..")) {
      throw new ConfigException(file, "default-model-filename", "must be a plain file name");
    }
    Integer grouped = groupedInstances(f.instanceGroups(), file);
    if (grouped != null && f.instanceCount() != null && !grouped.equals(f.instanceCount())) {
      throw new ConfigException(
          file,
          "instance-count",
          "must be the sum of the instance-groups' counts ("
              + grouped
              + ") or left out, was "
              + f.instanceCount());
    }
    int instances = f.instanceCount() != null ? f.instanceCount() : grouped != null ? grouped : 1;
    String field =
        f.instanceCount() == null && grouped != null ? "instance-groups" : "instance-count";
    if (instances < 1 || instances > 64) {
      throw new ConfigException(file, field, "must be between 1 and 64, was " + instances);
    }
    SessionOptions options = sessionOptions(f.onnxruntime(), file, instances);
    if (f.instanceGroups() != null) {
      for (int i = 0; i < f.instanceGroups().size(); i++) {
        boolean gpu = "KIND_GPU".equals(f.instanceGroups().get(i).kind());
        if (gpu != "cuda".equals(options.executionProvider())) {
          throw new ConfigException(
              file,
              "instance-groups[" + i + "].kind",
              gpu
                  ? "KIND_GPU needs onnxruntime.execution-provider: cuda"
                  : "must be KIND_GPU with onnxruntime.execution-provider: cuda");
        }
      }
    }
    return new Deployment(
        pipeline == null ? ONNX_PLATFORM : PipelineConfig.PLATFORM,
        filename,
        versionPolicy(f.versionPolicy(), file),
        instances,
        options,
        pipeline,
        null);
  }

  /**
   * The configuration of an ensemble model: what its file declares (it has no model file to
   * complete it from), its steps checked by {@link #deployment} already.
   *
   * @throws ConfigException when a tensor is not fully declared, or a field does not apply
   */
  public ModelConfig ensemble(String modelName, ModelConfigFile f, Path file, Deployment d)
      throws ConfigException {
    EnsembleConfig ensemble = java.util.Objects.requireNonNull(d.ensemble(), "ensemble");
    int maxBatch = f.maxBatchSize() == null ? 0 : f.maxBatchSize();
    EnsembleConfig.Fields names = EnsembleConfig.Fields.of(file);
    if (maxBatch < 0) {
      throw new ConfigException(file, names.maxBatchSize(), "must be >= 0");
    }
    List<TensorConfig> inputs =
        tensors(
            f.inputs(),
            EnsembleResolver.declared(f.inputs(), maxBatch > 0, file, "inputs"),
            maxBatch > 0,
            file,
            "inputs");
    List<TensorConfig> outputs =
        tensors(
            f.outputs(),
            EnsembleResolver.declared(f.outputs(), maxBatch > 0, file, "outputs"),
            maxBatch > 0,
            file,
            "outputs");
    return new ModelConfig(
        modelName,
        EnsembleConfig.PLATFORM,
        maxBatch,
        inputs,
        outputs,
        d.versionPolicy(),
        1,
        d.sessionOptions(),
        "",
        SchedulingConfig.defaults().withDynamicBatching(false),
        false,
        SloConfig.NONE,
        null,
        null,
        responseCache(f.responseCache(), file),
        List.of(),
        List.of(),
        slowRequestNanos(f.slowRequestMs(), file),
        null,
        ensemble,
        rollout(f, file, d.versionPolicy()));
  }

  /**
   * The sum of the groups' counts, each checked (a count of 1 or more, a kind of {@code KIND_CPU}
   * or {@code KIND_GPU}); null when there are none.
   */
  private static @Nullable Integer groupedInstances(
      @Nullable List<ModelConfigFile.InstanceGroupFile> groups, Path file) throws ConfigException {
    if (groups == null || groups.isEmpty()) {
      return null;
    }
    long sum = 0;
    for (int i = 0; i < groups.size(); i++) {
      ModelConfigFile.InstanceGroupFile g = groups.get(i);
      String at = "instance-groups[" + i + "]";
      if (g == null) {
        throw new ConfigException(file, at, "must be a group: {kind, count}");
      }
      if (!"KIND_CPU".equals(g.kind()) && !"KIND_GPU".equals(g.kind())) {
        throw new ConfigException(
            file, at + ".kind", "must be KIND_CPU or KIND_GPU, was " + g.kind());
      }
      if (g.count() == null || g.count() < 1) {
        throw new ConfigException(file, at + ".count", "must be 1 or more, was " + g.count());
      }
      sum += g.count();
    }
    return (int) Math.min(sum, Integer.MAX_VALUE);
  }

  private static VersionPolicy versionPolicy(
      ModelConfigFile.@Nullable VersionPolicyFile p, Path file) throws ConfigException {
    if (p == null) {
      return new VersionPolicy.Latest(1);
    }
    int given =
        (p.latest() != null ? 1 : 0) + (p.all() != null ? 1 : 0) + (p.specific() != null ? 1 : 0);
    if (given != 1) {
      throw new ConfigException(
          file, "version-policy", "give exactly one of 'latest: N', 'all: true', 'specific: [..]'");
    }
    if (p.latest() != null) {
      if (p.latest() < 1) {
        throw new ConfigException(file, "version-policy.latest", "must be >= 1");
      }
      return new VersionPolicy.Latest(p.latest());
    }
    if (p.all() != null) {
      if (!p.all()) {
        throw new ConfigException(file, "version-policy.all", "only 'all: true' is meaningful");
      }
      return new VersionPolicy.All();
    }
    List<Long> specific = Objects.requireNonNull(p.specific(), "the one given");
    if (specific.isEmpty() || specific.stream().anyMatch(v -> v == null || v < 1)) {
      throw new ConfigException(
          file, "version-policy.specific", "must list one or more versions >= 1");
    }
    return new VersionPolicy.Specific(new HashSet<>(specific));
  }

  private SessionOptions sessionOptions(
      ModelConfigFile.@Nullable OnnxRuntimeFile o, Path file, int instances)
      throws ConfigException {
    // Default: share the cores among the instances so that they do not oversubscribe the machine.
    int defaultIntra = Math.max(1, availableProcessors / instances);
    if (o == null) {
      return SessionOptions.defaults().withIntraOpThreads(defaultIntra);
    }
    int intra = o.intraOpThreads() == null ? defaultIntra : o.intraOpThreads();
    int inter = o.interOpThreads() == null ? 0 : o.interOpThreads();
    if (intra < 0 || intra > 1024) {
      throw new ConfigException(file, "onnxruntime.intra-op-threads", "must be 0..1024");
    }
    if (inter < 0 || inter > 1024) {
      throw new ConfigException(file, "onnxruntime.inter-op-threads", "must be 0..1024");
    }
    // One instance's passes never overlap: each would be a lone pass, so the setting is ignored
    // there (intra-op-threads applies) rather than refused, and a sweep over instance-count works.
    int alone = o.intraOpThreadsAlone() == null || instances == 1 ? 0 : o.intraOpThreadsAlone();
    if (o.intraOpThreadsAlone() != null
        && (o.intraOpThreadsAlone() < 0 || o.intraOpThreadsAlone() > 1024)) {
      throw new ConfigException(
          file,
          "onnxruntime.intra-op-threads-alone",
          "must be 0..1024 (0: lone passes use intra-op-threads), was " + o.intraOpThreadsAlone());
    }
    Integer oneRow = o.intraOpThreadsOneRow();
    if (oneRow != null && (oneRow < 0 || oneRow > 1024)) {
      throw new ConfigException(
          file,
          "onnxruntime.intra-op-threads-one-row",
          "must be 0..1024 (0: passes of one row use intra-op-threads), was " + oneRow);
    }
    OptimizationLevel level =
        parseEnum(
            OptimizationLevel.class,
            o.graphOptimizationLevel(),
            OptimizationLevel.ALL,
            file,
            "onnxruntime.graph-optimization-level");
    ExecutionMode mode =
        parseEnum(
            ExecutionMode.class,
            o.executionMode(),
            ExecutionMode.SEQUENTIAL,
            file,
            "onnxruntime.execution-mode");
    String provider =
        o.executionProvider() == null ? "cpu" : o.executionProvider().toLowerCase(Locale.ROOT);
    if (!provider.equals("cpu") && !provider.equals("cuda")) {
      throw new ConfigException(
          file,
          "onnxruntime.execution-provider",
          "must be 'cpu' or 'cuda', was '" + provider + "'");
    }
    int device = o.deviceId() == null ? 0 : o.deviceId();
    if (device < 0) {
      throw new ConfigException(file, "onnxruntime.device-id", "must be >= 0");
    }
    return new SessionOptions(
        intra,
        inter,
        level,
        mode,
        o.memoryArena() == null || o.memoryArena(),
        o.memoryPattern() == null || o.memoryPattern(),
        provider,
        device,
        o.allowSpinning() != null && o.allowSpinning(),
        alone,
        oneRow == null ? 0 : oneRow);
  }

  private static <E extends Enum<E>> E parseEnum(
      Class<E> type, @Nullable String value, E dflt, Path file, String field)
      throws ConfigException {
    if (value == null) {
      return dflt;
    }
    try {
      return Enum.valueOf(type, value.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      List<String> names = new ArrayList<>();
      for (E c : type.getEnumConstants()) {
        names.add(c.name().toLowerCase(Locale.ROOT));
      }
      throw new ConfigException(file, field, "'" + value + "' is not one of " + names);
    }
  }

  /**
   * Completes the configuration from the model's signature and checks the two agree.
   *
   * @throws ConfigException when the file contradicts the model
   */
  public ModelConfig complete(
      String modelName, ModelConfigFile f, Path file, Deployment d, ModelSignature sig)
      throws ConfigException {
    return complete(modelName, f, file, d, sig, null);
  }

  /**
   * Completes the configuration from the model's signature and checks the two agree.
   *
   * @param sig what clients see: a pipeline's stages' signature, or the model's
   * @param engine for a pipeline, the signature of the model file its steps run, which its {@code
   *     monitoring.text} names (the token ids and the output of each forward pass); null for a
   *     model, or when unknown
   * @throws ConfigException when the file contradicts the model
   */
  public ModelConfig complete(
      String modelName,
      ModelConfigFile f,
      Path file,
      Deployment d,
      ModelSignature sig,
      @Nullable ModelSignature engine)
      throws ConfigException {
    boolean canBatch = canBatch(sig);
    int maxBatch;
    if (f.maxBatchSize() == null) {
      maxBatch = canBatch ? defaultMaxBatchSize : 0;
    } else {
      maxBatch = f.maxBatchSize();
      if (maxBatch < 0) {
        throw new ConfigException(file, "max-batch-size", "must be >= 0");
      }
      if (maxBatch > 0 && !canBatch) {
        throw new ConfigException(
            file,
            "max-batch-size",
            maxBatch
                + " needs every input and output of the model to have a dynamic first"
                + " dimension, but "
                + firstNonBatchable(sig)
                + "; set max-batch-size: 0");
      }
    }
    SequenceBatchingConfig sequences = sequenceBatching(f, file, sig, maxBatch, d);
    List<TensorSpec> clientInputs = sig.inputs();
    List<TensorSpec> clientOutputs = sig.outputs();
    if (sequences != null) {
      // What the batcher fills and takes is the model's, not the client's: as in Triton, neither
      // the inputs nor the outputs list it.
      if (f.inputs() != null) {
        for (int i = 0; i < f.inputs().size(); i++) {
          ModelConfigFile.Tensor t = f.inputs().get(i);
          if (t != null && t.name() != null && sequences.fills(t.name())) {
            throw new ConfigException(
                file,
                "inputs[" + i + "].name",
                "'"
                    + t.name()
                    + "' is filled by sequence-batching (a control input or state); leave it out"
                    + " of inputs");
          }
        }
      }
      clientInputs = clientInputs.stream().filter(t -> !sequences.fills(t.name())).toList();
      clientOutputs = clientOutputs.stream().filter(t -> !sequences.takes(t.name())).toList();
      if (clientInputs.isEmpty()) {
        throw new ConfigException(
            file, "sequence-batching", "leaves the model no input for the client to send");
      }
    }
    List<TensorConfig> inputs = tensors(f.inputs(), clientInputs, maxBatch > 0, file, "inputs");
    List<TensorConfig> outputs = tensors(f.outputs(), clientOutputs, maxBatch > 0, file, "outputs");
    return new ModelConfig(
        modelName,
        d.platform(),
        maxBatch,
        inputs,
        outputs,
        d.versionPolicy(),
        d.instanceCount(),
        d.sessionOptions(),
        d.modelFilename(),
        scheduling(f, file, maxBatch),
        f.maxBatchSize() == null && maxBatch > 0,
        slo(f.slo(), file),
        d.pipeline() == null
            ? monitoring(f.monitoring(), file, inputs, outputs, maxBatch > 0)
            : pipelineMonitoring(f.monitoring(), file, engine, maxBatch > 0),
        d.pipeline(),
        responseCache(f.responseCache(), file),
        // As written (checked against the model when the version warms up): shown by
        // GET v2/models/<m>/config, so that a config read there and loaded back keeps them.
        f.modelWarmup() == null
            ? List.of()
            : f.modelWarmup().stream().filter(Objects::nonNull).toList(),
        // As written too (checked by deployment): the groups a config read there shows.
        f.instanceGroups() == null ? List.of() : List.copyOf(f.instanceGroups()),
        slowRequestNanos(f.slowRequestMs(), file),
        sequences,
        null,
        rollout(f, file, d.versionPolicy()));
  }

  /**
   * {@code rollout:}: the canary's share and the analysis's bounds, checked; refused on a stateful
   * model (a sequence's requests must stay on one version, and the split is per request) and under
   * a version policy that never serves two versions at once (there would be nothing to split).
   */
  static @Nullable RolloutConfig rollout(ModelConfigFile f, Path file, VersionPolicy policy)
      throws ConfigException {
    ModelConfigFile.RolloutFile r = f.rollout();
    if (r == null) {
      return null;
    }
    if (f.sequenceBatching() != null) {
      throw new ConfigException(
          file,
          "rollout",
          "a stateful model (sequence-batching) cannot split its traffic between versions: a"
              + " sequence's requests must all reach one version; pin the version in the requests"
              + " instead");
    }
    boolean two =
        !(policy instanceof VersionPolicy.Latest l && l.count() < 2)
            && !(policy instanceof VersionPolicy.Specific sp && sp.versions().size() < 2);
    if (!two) {
      throw new ConfigException(
          file,
          "rollout",
          "needs the stable and the canary version to serve at once: set version-policy:"
              + " {latest: 2}");
    }
    List<Integer> steps = canarySteps(r, file);
    int minRequests =
        r.minRequests() == null ? RolloutConfig.DEFAULT_MIN_REQUESTS : r.minRequests();
    if (minRequests < 1 || minRequests > 100_000_000) {
      throw new ConfigException(
          file, "rollout.min-requests", "must be 1 to 100000000, was " + minRequests);
    }
    int window = r.window() == null ? RolloutConfig.DEFAULT_WINDOW : r.window();
    if (window < 1 || window > 100_000) {
      throw new ConfigException(file, "rollout.window", "must be 1 to 100000, was " + window);
    }
    double failed =
        bound(
            r.maxFailedPercentIncrease(),
            RolloutConfig.DEFAULT_MAX_FAILED_PERCENT_INCREASE,
            0,
            100,
            file,
            "rollout.max-failed-percent-increase");
    double ratio =
        bound(
            r.maxP99Ratio(),
            RolloutConfig.DEFAULT_MAX_P99_RATIO,
            1,
            1e6,
            file,
            "rollout.max-p99-ratio");
    double slackMs =
        bound(
            r.p99SlackMs(),
            RolloutConfig.DEFAULT_P99_SLACK_NANOS / 1e6,
            0,
            MAX_LATENCY_MS,
            file,
            "rollout.p99-slack-ms");
    double misses =
        bound(
            r.maxSloMissPercentIncrease(),
            RolloutConfig.DEFAULT_MAX_SLO_MISS_PERCENT_INCREASE,
            0,
            100,
            file,
            "rollout.max-slo-miss-percent-increase");
    long promoteAfter = r.promoteAfterRequests() == null ? 0 : r.promoteAfterRequests();
    if (r.promoteAfterRequests() != null && (promoteAfter < 1 || promoteAfter < minRequests)) {
      throw new ConfigException(
          file,
          "rollout.promote-after-requests",
          "must be at least rollout.min-requests ("
              + minRequests
              + "), was "
              + promoteAfter
              + "; leave it out to promote by hand only");
    }
    double seconds =
        bound(r.promoteAfterSeconds(), 0, 0, 366 * 86_400.0, file, "rollout.promote-after-seconds");
    if (r.promoteAfterSeconds() != null && r.promoteAfterRequests() == null) {
      throw new ConfigException(
          file,
          "rollout.promote-after-seconds",
          "needs rollout.promote-after-requests (without it the canary is promoted by hand only)");
    }
    return new RolloutConfig(
        steps,
        minRequests,
        window,
        failed,
        ratio,
        Math.round(slackMs * 1e6),
        misses,
        promoteAfter,
        Math.round(seconds * 1e9));
  }

  /**
   * The canary's shares: {@code canary-traffic-percent} (one, 0 to 100) or {@code canary-steps}
   * (rising, 1 to 100), exactly one of them.
   */
  private static List<Integer> canarySteps(ModelConfigFile.RolloutFile r, Path file)
      throws ConfigException {
    Integer percent = r.canaryTrafficPercent();
    List<Integer> steps = r.canarySteps();
    if (percent != null && steps != null) {
      throw new ConfigException(
          file,
          "rollout.canary-steps",
          "give either rollout.canary-traffic-percent (one share) or rollout.canary-steps (shares"
              + " in turn), not both");
    }
    if (steps != null) {
      if (steps.isEmpty()) {
        throw new ConfigException(
            file,
            "rollout.canary-steps",
            "must list one or more shares, 1 to 100, each above the" + " one before");
      }
      int before = 0;
      for (int i = 0; i < steps.size(); i++) {
        Integer p = steps.get(i);
        String at = "rollout.canary-steps[" + i + "]";
        if (p == null || p < 1 || p > 100) {
          throw new ConfigException(file, at, "must be a share 1 to 100, was " + p);
        }
        if (p <= before) {
          throw new ConfigException(
              file, at, "must be above the step before it (" + before + "), was " + p);
        }
        before = p;
      }
      return List.copyOf(steps);
    }
    if (percent == null) {
      throw new ConfigException(
          file,
          "rollout.canary-traffic-percent",
          "is required: the canary's share, 0 to 100 (or rollout.canary-steps: shares in turn)");
    }
    if (percent < 0 || percent > 100) {
      throw new ConfigException(
          file, "rollout.canary-traffic-percent", "must be 0 to 100, was " + percent);
    }
    return List.of(percent);
  }

  /** A number of {@code rollout:} within [min, max], its default when absent. */
  private static double bound(
      @Nullable Double value, double dflt, double min, double max, Path file, String field)
      throws ConfigException {
    if (value == null) {
      return dflt;
    }
    if (!(value >= min && value <= max)) {
      throw new ConfigException(
          file,
          field,
          "must be between "
              + PlainNumbers.plain(min)
              + " and "
              + PlainNumbers.plain(max)
              + ", was "
              + value);
    }
    return value;
  }

  /**
   * {@code sequence-batching}: each control input and state checked against the model's graph
   * (names, types, the state's dims known), and the features it cannot be combined with refused.
   */
  private static @Nullable SequenceBatchingConfig sequenceBatching(
      ModelConfigFile f, Path file, ModelSignature sig, int maxBatch, Deployment d)
      throws ConfigException {
    boolean batching = maxBatch > 0;
    ModelConfigFile.SequenceBatchingFile b = f.sequenceBatching();
    if (b == null) {
      return null;
    }
    String at = "sequence-batching";
    if (d.pipeline() != null) {
      throw new ConfigException(file, at, "a pipeline model cannot have a sequence batcher");
    }
    if (f.responseCache() != null && Boolean.TRUE.equals(f.responseCache().enabled())) {
      throw new ConfigException(
          file,
          "response-cache.enabled",
          "a stateful model's answers depend on its sequence's earlier requests: no response"
              + " cache with sequence-batching (as in Triton)");
    }
    if (f.modelWarmup() != null && !f.modelWarmup().isEmpty()) {
      throw new ConfigException(
          file, "model-warmup", "is not supported with sequence-batching (no sequence to warm)");
    }
    long idle = SequenceBatchingConfig.DEFAULT_MAX_SEQUENCE_IDLE_MICROS;
    if (b.maxSequenceIdleMicroseconds() != null) {
      idle = b.maxSequenceIdleMicroseconds();
      if (idle <= 0 || idle > 3_600_000_000L) {
        throw new ConfigException(
            file,
            at + ".max-sequence-idle-microseconds",
            "must be 1..3600000000 (default 1000000, Triton's 1 s), was " + idle);
      }
    }
    SequenceBatchingConfig.Strategy strategy =
        parseEnum(
            SequenceBatchingConfig.Strategy.class,
            b.strategy(),
            SequenceBatchingConfig.Strategy.DIRECT,
            file,
            at + ".strategy");
    int candidates = 0;
    if (strategy == SequenceBatchingConfig.Strategy.OLDEST) {
      // Triton's default: as many candidates per instance as the model has batch rows
      candidates = Math.max(1, maxBatch);
      if (b.maxCandidateSequences() != null) {
        candidates = b.maxCandidateSequences();
        if (candidates < 1 || candidates > 65_536) {
          throw new ConfigException(
              file,
              at + ".max-candidate-sequences",
              "must be 1..65536 (default max-batch-size), was " + candidates);
        }
      }
    } else if (b.maxCandidateSequences() != null) {
      throw new ConfigException(
          file,
          at + ".max-candidate-sequences",
          "belongs to the oldest strategy (strategy: oldest); the direct strategy holds one"
              + " sequence per batch row");
    }
    Set<String> filled = new HashSet<>();
    List<SequenceBatchingConfig.ControlInput> controls = new ArrayList<>();
    List<ModelConfigFile.ControlInputFile> cs =
        b.controlInputs() == null ? List.of() : b.controlInputs();
    Set<SequenceBatchingConfig.Kind> kinds = new HashSet<>();
    for (int i = 0; i < cs.size(); i++) {
      ModelConfigFile.ControlInputFile c = cs.get(i);
      String here = at + ".control-inputs[" + i + "]";
      if (c == null || c.name() == null || c.name().isBlank()) {
        throw new ConfigException(file, here + ".name", "is required");
      }
      if (c.kind() == null) {
        throw new ConfigException(file, here + ".kind", "is required: start, end, ready or corrid");
      }
      SequenceBatchingConfig.Kind kind =
          parseEnum(
              SequenceBatchingConfig.Kind.class,
              c.kind(),
              SequenceBatchingConfig.Kind.READY,
              file,
              here + ".kind");
      if (!kinds.add(kind)) {
        throw new ConfigException(
            file, here + ".kind", "'" + c.kind() + "' is given to two control inputs");
      }
      TensorSpec t = graphTensor(sig.inputs(), c.name(), file, here + ".name", "input");
      boolean ok =
          kind == SequenceBatchingConfig.Kind.CORRID
              ? List.of(DataType.INT64, DataType.UINT64, DataType.INT32, DataType.UINT32)
                      .contains(t.datatype())
                  || t.datatype() == DataType.BYTES
              : List.of(DataType.INT32, DataType.INT64, DataType.FP32, DataType.BOOL)
                  .contains(t.datatype());
      if (!ok) {
        throw new ConfigException(
            file,
            here + ".name",
            "the model declares '"
                + c.name()
                + "' as "
                + t.datatype()
                + "; a "
                + kind.name().toLowerCase(Locale.ROOT)
                + " control takes "
                + (kind == SequenceBatchingConfig.Kind.CORRID
                    ? "INT32, UINT32, INT64, UINT64 or BYTES (string ids)"
                    : "INT32, INT64, FP32 or BOOL"));
      }
      if (!filled.add(c.name())) {
        throw new ConfigException(file, here + ".name", "'" + c.name() + "' is given twice");
      }
      controls.add(new SequenceBatchingConfig.ControlInput(c.name(), kind, t.datatype()));
    }
    List<SequenceBatchingConfig.State> states = new ArrayList<>();
    List<ModelConfigFile.StateFile> ss = b.states() == null ? List.of() : b.states();
    for (int i = 0; i < ss.size(); i++) {
      ModelConfigFile.StateFile st = ss.get(i);
      String here = at + ".states[" + i + "]";
      if (st == null || st.inputName() == null || st.outputName() == null) {
        throw new ConfigException(file, here, "needs input-name and output-name");
      }
      TensorSpec in =
          graphTensor(sig.inputs(), st.inputName(), file, here + ".input-name", "input");
      TensorSpec out =
          graphTensor(sig.outputs(), st.outputName(), file, here + ".output-name", "output");
      if (!filled.add(st.inputName())) {
        throw new ConfigException(
            file, here + ".input-name", "'" + st.inputName() + "' is filled twice");
      }
      DataType type = in.datatype();
      if (st.datatype() != null) {
        DataType given = datatype(file, here, st.datatype());
        if (given != type) {
          throw new ConfigException(
              file,
              here + ".datatype",
              given + " but the model declares " + type + " for '" + st.inputName() + "'");
        }
      }
      if (out.datatype() != type || !type.isFixedSize()) {
        throw new ConfigException(
            file,
            here,
            "the state's input '"
                + st.inputName()
                + "' ("
                + type
                + ") and output '"
                + st.outputName()
                + "' ("
                + out.datatype()
                + ") must have one fixed-size type");
      }
      long[] graph = batching ? Shapes.dropFirst(in.shape()) : in.shape();
      List<Long> dims = new ArrayList<>();
      if (st.dims() != null) {
        if (st.dims().size() != graph.length) {
          throw new ConfigException(
              file,
              here + ".dims",
              "has "
                  + st.dims().size()
                  + " dimensions; the model's '"
                  + st.inputName()
                  + "' has "
                  + graph.length
                  + " (without the batch dimension)");
        }
        for (int k = 0; k < graph.length; k++) {
          Long v = st.dims().get(k);
          if (v == null || v <= 0 || (graph[k] > 0 && graph[k] != v)) {
            throw new ConfigException(
                file,
                here + ".dims[" + k + "]",
                "must be the model's size " + graph[k] + " (a positive size), was " + v);
          }
          dims.add(v);
        }
      } else {
        for (int k = 0; k < graph.length; k++) {
          if (graph[k] <= 0) {
            throw new ConfigException(
                file,
                here + ".dims",
                "the model leaves dimension "
                    + k
                    + " of '"
                    + st.inputName()
                    + "' open: give the state's dims (its initial zeros need a shape)");
          }
          dims.add(graph[k]);
        }
      }
      states.add(new SequenceBatchingConfig.State(st.inputName(), st.outputName(), type, dims));
    }
    return new SequenceBatchingConfig(strategy, candidates, idle, controls, states);
  }

  /** The graph's tensor {@code name}, or a ConfigException naming the field and the choices. */
  private static TensorSpec graphTensor(
      List<TensorSpec> tensors, String name, Path file, String field, String what)
      throws ConfigException {
    for (TensorSpec t : tensors) {
      if (t.name().equals(name)) {
        return t;
      }
    }
    throw new ConfigException(
        file,
        field,
        "the model has no "
            + what
            + " named '"
            + name
            + "'; it has "
            + tensors.stream().map(TensorSpec::name).toList());
  }

  /** {@code slow-request-ms}: the model's slow-request threshold, 0 when not set. */
  static long slowRequestNanos(@Nullable Double ms, Path file) throws ConfigException {
    if (ms == null) {
      return 0;
    }
    if (!(ms > 0 && ms <= MAX_LATENCY_MS)) {
      throw new ConfigException(
          file,
          "slow-request-ms",
          "must be > 0 and <= "
              + (long) MAX_LATENCY_MS
              + " milliseconds (a fraction logs nearly every request), was "
              + ms);
    }
    return Math.max(1, Math.round(ms * 1e6));
  }

  /** The latency objective and price: {@code slo:} checked, the server's price filled in. */
  SloConfig slo(ModelConfigFile.@Nullable SloFile s, Path file) throws ConfigException {
    if (s == null) {
      return SloConfig.NONE.withCostPerHour(costPerHour);
    }
    long latencyNanos = 0;
    if (s.latencyMs() != null) {
      double ms = s.latencyMs();
      if (!(ms > 0 && ms <= MAX_LATENCY_MS)) {
        throw new ConfigException(
            file, "slo.latency-ms", "must be > 0 and <= " + (long) MAX_LATENCY_MS + ", was " + ms);
      }
      latencyNanos = Math.max(1, Math.round(ms * 1e6));
    }
    double percentile = SloConfig.DEFAULT_PERCENTILE;
    if (s.percentile() != null) {
      percentile = s.percentile();
      if (!(percentile >= 50 && percentile < 100)) {
        throw new ConfigException(
            file, "slo.percentile", "must be >= 50 and < 100 (e.g. 99 or 99.9), was " + percentile);
      }
      if (latencyNanos == 0) {
        throw new ConfigException(file, "slo.percentile", "needs slo.latency-ms");
      }
    }
    double price = costPerHour;
    if (s.costPerHour() != null) {
      price = s.costPerHour();
      if (!(price >= 0) || Double.isInfinite(price)) {
        throw new ConfigException(
            file, "slo.cost-per-hour", "must be a number of USD >= 0, was " + price);
      }
    }
    if (latencyNanos == 0 && s.costPerHour() == null) {
      throw new ConfigException(
          file,
          "slo",
          "give latency-ms (and optionally percentile), or cost-per-hour alone to price the model");
    }
    return new SloConfig(latencyNanos, percentile, price);
  }

  /**
   * {@code monitoring.text}, checked against the model's inputs (when known); the [UNK] id defaults
   * to the one a tokenizer.json or vocab.txt beside config.yaml gives, else 100.
   */
  private static MonitoringConfig.@Nullable TextInput text(
      ModelConfigFile.@Nullable TextFile t,
      Path file,
      @Nullable List<TensorConfig> inputs,
      @Nullable List<TensorConfig> outputs,
      boolean batching,
      List<MonitoringConfig.InputFeatures> features)
      throws ConfigException {
    if (t == null) {
      return null;
    }
    String input = t.input() == null ? "input_ids" : t.input();
    String mask = t.mask() == null ? "attention_mask" : t.mask();
    if (input.isBlank() || mask.isBlank() || input.equals(mask)) {
      throw new ConfigException(
          file, "monitoring.text", "input and mask must name two different inputs");
    }
    if (features.stream().anyMatch(f -> f.input().equals(input))) {
      throw new ConfigException(
          file,
          "monitoring.features." + input,
          "names the columns of the token-id input that monitoring.text derives features from");
    }
    if (inputs != null) {
      for (String[] f : new String[][] {{"input", input}, {"mask", mask}}) {
        if (inputs.stream().noneMatch(i -> i.name().equals(f[1]))) {
          throw new ConfigException(
              file,
              "monitoring.text." + f[0],
              "the model has no input '"
                  + f[1]
                  + "'; its inputs are "
                  + inputs.stream().map(TensorConfig::name).toList());
        }
      }
    }
    int unk;
    if (t.unkId() != null) {
      unk = t.unkId();
      if (unk < 0) {
        throw new ConfigException(file, "monitoring.text.unk-id", "must be >= 0, was " + unk);
      }
    } else {
      Path dir = file.toAbsolutePath().getParent();
      Integer found = dir == null ? null : Vocabularies.unkId(dir);
      unk = found == null ? MonitoringConfig.TextInput.DEFAULT_UNK_ID : found;
    }
    String output = t.output();
    if (output != null) {
      if (output.isBlank()) {
        throw new ConfigException(
            file, "monitoring.text.output", "must name the model's embedding output");
      }
      if (outputs != null) {
        TensorConfig o =
            outputs.stream().filter(x -> x.name().equals(output)).findFirst().orElse(null);
        if (o == null) {
          throw new ConfigException(
              file,
              "monitoring.text.output",
              "the model has no output '"
                  + output
                  + "'; its outputs are "
                  + outputs.stream().map(TensorConfig::name).toList());
        }
        int rank = o.dims().length + (batching ? 1 : 0);
        if (rank != 2 && rank != 3) {
          throw new ConfigException(
              file,
              "monitoring.text.output",
              "'"
                  + output
                  + "' must be [batch, seq, dim] (mean-pooled over the mask) or [batch, dim],"
                  + " but it has "
                  + rank
                  + " dimensions");
        }
        if (o.datatype() != DataType.FP32 && o.datatype() != DataType.FP64) {
          throw new ConfigException(
              file,
              "monitoring.text.output",
              "'" + output + "' must be FP32 or FP64, not " + o.datatype());
        }
      }
    }
    return new MonitoringConfig.TextInput(input, mask, unk, output);
  }

  /**
   * A pipeline's {@code monitoring:} section: only {@code monitoring.text}, which names the
   * token-id input, mask and output of the model file the pipeline's steps run (checked against
   * that model's signature when known): the monitor is told of each forward pass, which holds the
   * tokenized sentences and the model's output, not the client's text.
   */
  private static @Nullable MonitoringConfig pipelineMonitoring(
      ModelConfigFile.@Nullable MonitoringFile m,
      Path file,
      @Nullable ModelSignature engine,
      boolean batching)
      throws ConfigException {
    if (m == null) {
      return null;
    }
    if (m.features() != null && !m.features().isEmpty()) {
      throw new ConfigException(
          file,
          "monitoring.features",
          "a pipeline is monitored through the model its steps run: give monitoring.text (its"
              + " token-id input, mask and output; docs/MONITORING.md, \"Text models\")");
    }
    if (m.text() == null && (m.enabled() == null || m.enabled())) {
      throw new ConfigException(
          file,
          "monitoring.text",
          "a pipeline is monitored through the model its steps run: name its token-id input,"
              + " mask and output (docs/MONITORING.md, \"Text models\")");
    }
    List<TensorConfig> inputs =
        engine == null ? null : tensors(null, engine.inputs(), batching, file, "inputs");
    List<TensorConfig> outputs =
        engine == null ? null : tensors(null, engine.outputs(), batching, file, "outputs");
    return monitoring(m, file, inputs, outputs, batching);
  }

  /**
   * The {@code monitoring:} section, checked against the model's inputs (or, without them, as
   * written: {@code fulcrum skew-check} reads the settings without the model); null when absent.
   */
  public static @Nullable MonitoringConfig monitoring(
      ModelConfigFile.@Nullable MonitoringFile m, Path file, @Nullable List<TensorConfig> inputs)
      throws ConfigException {
    return monitoring(m, file, inputs, null, true);
  }

  /**
   * The {@code monitoring:} section, checked against the model's inputs and outputs (when known:
   * {@code monitoring.text.output} must name an output of two or three dimensions, batch included);
   * null when absent.
   *
   * @param batching whether the tensors' dims leave the batch dimension out (max-batch-size > 0)
   */
  public static @Nullable MonitoringConfig monitoring(
      ModelConfigFile.@Nullable MonitoringFile m,
      Path file,
      @Nullable List<TensorConfig> inputs,
      @Nullable List<TensorConfig> outputs,
      boolean batching)
      throws ConfigException {
    if (m == null) {
      return null;
    }
    String baseline = m.baseline() == null ? MonitoringConfig.DEFAULT_BASELINE : m.baseline();
    if (baseline.isBlank() || baseline.contains("/") || baseline.contains("..")) {
      throw new ConfigException(
          file, "monitoring.baseline", "must be a plain file name beside config.yaml");
    }
    double rate = m.sampleRate() == null ? 1.0 : m.sampleRate();
    if (!(rate > 0 && rate <= 1)) {
      throw new ConfigException(file, "monitoring.sample-rate", "must be in (0, 1], was " + rate);
    }
    List<MonitoringConfig.InputFeatures> features = new ArrayList<>();
    Map<String, String> inputOfName = new HashMap<>(); // a column name -> the input naming it
    if (m.features() != null) {
      for (var e : m.features().entrySet()) {
        String field = "monitoring.features." + e.getKey();
        List<String> names = e.getValue() == null ? List.of() : e.getValue();
        if (names.isEmpty() || names.stream().anyMatch(n -> n == null || n.isBlank())) {
          throw new ConfigException(file, field, "must list a non-empty name for each column");
        }
        for (String n : names) {
          String other = inputOfName.putIfAbsent(n, e.getKey());
          if (e.getKey().equals(other)) {
            throw new ConfigException(file, field, "names a column twice");
          }
          if (other != null) {
            throw new ConfigException(
                file,
                field,
                "names column '"
                    + n
                    + "', which monitoring.features."
                    + other
                    + " names too; each column needs its own name (its metrics and baseline"
                    + " entry are keyed by it)");
          }
        }
        features.add(new MonitoringConfig.InputFeatures(e.getKey(), names));
        if (inputs == null) {
          continue;
        }
        List<TensorConfig> known = inputs;
        TensorConfig t =
            known.stream()
                .filter(i -> i.name().equals(e.getKey()))
                .findFirst()
                .orElseThrow(
                    () ->
                        new ConfigException(
                            file,
                            field,
                            "the model has no input '"
                                + e.getKey()
                                + "'; its inputs are "
                                + known.stream().map(TensorConfig::name).toList()));
        if (t.datatype() == DataType.BYTES) {
          throw new ConfigException(
              file,
              field,
              "input '"
                  + e.getKey()
                  + "' is "
                  + t.datatype()
                  + "; drift monitoring compares numeric inputs: leave it out (profile feeds it"
                  + " from the CSV column of its name; a text input is monitored with"
                  + " monitoring.text)");
        }
        long[] dims = t.dims();
        if (dims.length - (batching ? 0 : 1) > 1) {
          throw new ConfigException(
              file,
              field,
              "input '"
                  + e.getKey()
                  + "' has shape "
                  + Shapes.toString(dims)
                  + "; drift monitoring compares inputs whose samples are one row of named columns"
                  + " ([batch, columns]), and fulcrum profile feeds them so");
        }
        long columns = dims.length == 0 ? 1 : dims[dims.length - 1];
        if (columns > 0 && columns != names.size()) {
          throw new ConfigException(
              file,
              field,
              "names " + names.size() + " columns but the input's last dimension is " + columns);
        }
      }
    }
    MonitoringConfig.TextInput text = text(m.text(), file, inputs, outputs, batching, features);
    boolean enabled = m.enabled() == null || m.enabled();
    if (enabled && features.isEmpty() && text == null) {
      throw new ConfigException(
          file, "monitoring.features", "must name the columns of at least one input");
    }
    int window = m.window() == null ? 1000 : m.window();
    if (window < 50 || window > 10_000_000) {
      throw new ConfigException(file, "monitoring.window", "must be 50..10000000, was " + window);
    }
    double far = m.falseAlarmRate() == null ? 1e-7 : m.falseAlarmRate();
    if (!(far > 0 && far < 0.01)) {
      throw new ConfigException(
          file, "monitoring.false-alarm-rate", "must be in (0, 0.01), was " + far);
    }
    double k = m.cusumK() == null ? 0.25 : m.cusumK();
    if (!(k > 0 && k <= 5)) {
      throw new ConfigException(file, "monitoring.cusum-k", "must be in (0, 5], was " + k);
    }
    int rangeWindow = m.rangeWindow() == null ? 50 : m.rangeWindow();
    if (rangeWindow < 10 || rangeWindow > 100_000) {
      throw new ConfigException(
          file, "monitoring.range-window", "must be 10..100000, was " + rangeWindow);
    }
    int clearAfter = m.clearAfter() == null ? 2 * window : m.clearAfter();
    if (clearAfter < 1) {
      throw new ConfigException(file, "monitoring.clear-after", "must be >= 1, was " + clearAfter);
    }
    double psiFloor = m.psiFloor() == null ? 0.1 : m.psiFloor();
    if (!(psiFloor >= 0 && psiFloor < 10)) {
      throw new ConfigException(
          file, "monitoring.psi-floor", "must be in [0, 10), was " + psiFloor);
    }
    return new MonitoringConfig(
        enabled,
        Path.of(baseline),
        rate,
        features,
        window,
        far,
        k,
        rangeWindow,
        clearAfter,
        psiFloor,
        text);
  }

  private static ResponseCacheConfig responseCache(
      ModelConfigFile.@Nullable ResponseCacheFile c, Path file) throws ConfigException {
    if (c == null) {
      return ResponseCacheConfig.DISABLED;
    }
    long max = c.maxBytes() == null ? ResponseCacheConfig.DEFAULT_MAX_BYTES : c.maxBytes();
    if (max < 1024) {
      throw new ConfigException(file, "response-cache.max-bytes", "must be >= 1024, was " + max);
    }
    return new ResponseCacheConfig(Boolean.TRUE.equals(c.enabled()), max);
  }

  private static SchedulingConfig scheduling(ModelConfigFile f, Path file, int maxBatch)
      throws ConfigException {
    SchedulingConfig s = SchedulingConfig.defaults();
    ModelConfigFile.DynamicBatchingFile b = f.dynamicBatching();
    if (b != null) {
      if (b.enabled() != null) {
        s = s.withDynamicBatching(b.enabled());
      }
      if (b.maxQueueDelayMicroseconds() != null) {
        if (b.maxQueueDelayMicroseconds() < 0 || b.maxQueueDelayMicroseconds() > 60_000_000L) {
          throw new ConfigException(
              file, "dynamic-batching.max-queue-delay-microseconds", "must be 0..60000000");
        }
        s = s.withMaxQueueDelayMicros(b.maxQueueDelayMicroseconds());
      }
      List<Integer> preferred =
          b.preferredBatchSizes() == null ? List.of() : b.preferredBatchSizes();
      for (int i = 0; i < preferred.size(); i++) {
        Integer p = preferred.get(i);
        if (maxBatch == 0) {
          throw new ConfigException(
              file,
              "dynamic-batching.preferred-batch-sizes",
              "the model does not batch (max-batch-size 0): leave them out, or give a"
                  + " max-batch-size");
        }
        if (p == null || p < 1 || p > maxBatch) {
          throw new ConfigException(
              file,
              "dynamic-batching.preferred-batch-sizes[" + i + "]",
              "must be between 1 and max-batch-size (" + maxBatch + "), was " + p);
        }
      }
      s =
          s.withPreferredBatchSizes(
              preferred.stream().distinct().sorted().toList(),
              b.preserveOrdering() != null && b.preserveOrdering());
      int levels = b.priorityLevels() == null ? 0 : b.priorityLevels();
      int dflt = b.defaultPriorityLevel() == null ? 0 : b.defaultPriorityLevel();
      if (levels < 0 || levels > 1000) {
        throw new ConfigException(file, "dynamic-batching.priority-levels", "must be 0..1000");
      }
      if (dflt < 0 || dflt > levels) {
        throw new ConfigException(
            file,
            "dynamic-batching.default-priority-level",
            "must be 0.." + levels + " (priority-levels), was " + dflt);
      }
      s = s.withPriorities(levels, dflt);
    }
    ModelConfigFile.QueuePolicyFile q = f.queuePolicy();
    if (q != null) {
      SchedulingConfig.QueuePolicy p = queuePolicy(q, file, "queue-policy");
      s =
          s.withMaxQueueSize(p.maxQueueSize())
              .withTimeout(p.defaultTimeoutMicros(), p.timeoutAction(), p.allowTimeoutOverride());
    }
    Map<String, ModelConfigFile.QueuePolicyFile> levels = f.priorityQueuePolicy();
    if (levels != null && !levels.isEmpty()) {
      Map<Integer, SchedulingConfig.QueuePolicy> own = new TreeMap<>();
      for (Map.Entry<String, ModelConfigFile.QueuePolicyFile> e : levels.entrySet()) {
        String field = "priority-queue-policy." + e.getKey();
        int level;
        try {
          level = Integer.parseInt(e.getKey().strip());
        } catch (NumberFormatException ex) {
          level = -1;
        }
        // Triton refuses a policy for a level it does not have.
        if (level < 1 || level > s.priorityLevels()) {
          throw new ConfigException(
              file,
              field,
              "is not a priority level: levels are 1.."
                  + s.priorityLevels()
                  + " (dynamic-batching.priority-levels)");
        }
        if (own.containsKey(level)) {
          throw new ConfigException(file, field, "level " + level + " is given twice");
        }
        ModelConfigFile.QueuePolicyFile policy = e.getValue();
        own.put(
            level,
            queuePolicy(
                policy == null
                    ? new ModelConfigFile.QueuePolicyFile(null, null, null, null)
                    : policy,
                file,
                field));
      }
      s = s.withPriorityQueuePolicies(own);
    }
    if (s.preserveOrdering()) {
      refuseDelay(file, "queue-policy", s.defaultQueuePolicy());
      for (Map.Entry<Integer, SchedulingConfig.QueuePolicy> e :
          s.priorityQueuePolicies().entrySet()) {
        refuseDelay(file, "priority-queue-policy." + e.getKey(), e.getValue());
      }
    }
    return s;
  }

  /**
   * Refuses {@code timeout-action: delay} with a default timeout under {@code preserve-ordering},
   * as Triton refuses it ("Queue policy can not have DELAY as timeout action when
   * 'preserve_ordering' is true"): the answers leave in arrival order, so a request moved behind
   * every request on time would hold back all their answers until it has run. Without a default
   * timeout the policy never delays in Triton, and here only a request that sends its own {@code
   * timeout}, whose answer then keeps its arrival place: allowed, as in Triton.
   */
  private static void refuseDelay(Path file, String field, SchedulingConfig.QueuePolicy q)
      throws ConfigException {
    if (q.timeoutAction() == SchedulingConfig.TimeoutAction.DELAY
        && q.defaultTimeoutMicros() != 0) {
      throw new ConfigException(
          file,
          field + ".timeout-action",
          "is delay with a default timeout, which dynamic-batching.preserve-ordering: true does"
              + " not allow (as in Triton): answers leave in arrival order, so a request delayed"
              + " behind those on time would hold back every answer after it until it has run. Use"
              + " timeout-action: reject, or preserve-ordering: false");
    }
  }

  /**
   * A {@code queue-policy} or a level's in {@code priority-queue-policy}; a field not written takes
   * Fulcrum's default (a queue of {@link SchedulingConfig#DEFAULT_MAX_QUEUE_SIZE}, no timeout,
   * reject, no override).
   */
  private static SchedulingConfig.QueuePolicy queuePolicy(
      ModelConfigFile.QueuePolicyFile q, Path file, String field) throws ConfigException {
    int max = q.maxQueueSize() == null ? SchedulingConfig.DEFAULT_MAX_QUEUE_SIZE : q.maxQueueSize();
    if (max < 0) {
      throw new ConfigException(file, field + ".max-queue-size", "must be >= 0");
    }
    long timeout = q.defaultTimeoutMicroseconds() == null ? 0 : q.defaultTimeoutMicroseconds();
    if (timeout < 0) {
      throw new ConfigException(file, field + ".default-timeout-microseconds", "must be >= 0");
    }
    SchedulingConfig.TimeoutAction action =
        parseEnum(
            SchedulingConfig.TimeoutAction.class,
            q.timeoutAction(),
            SchedulingConfig.TimeoutAction.REJECT,
            file,
            field + ".timeout-action");
    return new SchedulingConfig.QueuePolicy(
        max, timeout, action, q.allowTimeoutOverride() != null && q.allowTimeoutOverride());
  }

  static boolean canBatch(ModelSignature sig) {
    for (TensorSpec t : sig.inputs()) {
      if (t.shape().length == 0 || t.shape()[0] != -1) {
        return false;
      }
    }
    for (TensorSpec t : sig.outputs()) {
      if (t.shape().length == 0 || t.shape()[0] != -1) {
        return false;
      }
    }
    return !sig.inputs().isEmpty();
  }

  private static String firstNonBatchable(ModelSignature sig) {
    for (List<TensorSpec> list : List.of(sig.inputs(), sig.outputs())) {
      for (TensorSpec t : list) {
        if (t.shape().length == 0 || t.shape()[0] != -1) {
          return "'" + t.name() + "' has shape " + Shapes.toString(t.shape());
        }
      }
    }
    return "the model has no inputs";
  }

  private static List<TensorConfig> tensors(
      @Nullable List<ModelConfigFile.Tensor> declared,
      List<TensorSpec> actual,
      boolean batching,
      Path file,
      String field)
      throws ConfigException {
    List<TensorConfig> fromModel = new ArrayList<>();
    for (TensorSpec t : actual) {
      long[] s = t.shape();
      fromModel.add(new TensorConfig(t.name(), t.datatype(), batching ? Shapes.dropFirst(s) : s));
    }
    if (declared == null || declared.isEmpty()) {
      return fromModel;
    }
    // The file lists tensors: each must exist in the model and agree with it.
    List<TensorConfig> out = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < declared.size(); i++) {
      ModelConfigFile.Tensor t = declared.get(i);
      String here = field + "[" + i + "]";
      if (t == null || t.name() == null || t.name().isBlank()) {
        throw new ConfigException(file, here + ".name", "is required");
      }
      if (!seen.add(t.name())) {
        throw new ConfigException(file, here + ".name", "'" + t.name() + "' is listed twice");
      }
      TensorConfig model =
          fromModel.stream().filter(m -> m.name().equals(t.name())).findFirst().orElse(null);
      if (model == null) {
        throw new ConfigException(
            file,
            here + ".name",
            "the model has no "
                + field.substring(0, field.length() - 1)
                + " named '"
                + t.name()
                + "'; it has "
                + fromModel.stream().map(TensorConfig::name).toList());
      }
      DataType type = model.datatype();
      if (t.datatype() != null) {
        type = datatype(file, here, t.datatype());
        if (type != model.datatype()) {
          throw new ConfigException(
              file,
              here + ".datatype",
              type + " but the model declares " + model.datatype() + " for '" + t.name() + "'");
        }
      }
      long[] dims = model.dims();
      long[] reshaped = null;
      if (t.dims() != null) {
        long[] given = new long[t.dims().size()];
        for (int k = 0; k < given.length; k++) {
          Long v = t.dims().get(k);
          if (v == null || v < -1 || v == 0) {
            throw new ConfigException(
                file, here + ".dims[" + k + "]", "must be -1 or a positive size, was " + v);
          }
          given[k] = v;
        }
        long[] reshape = t.reshape() == null ? null : reshape(t.reshape(), given, file, here);
        long[] graph = reshape == null ? given : reshape;
        if (!compatible(dims, graph)) {
          throw new ConfigException(
              file,
              here + (reshape == null ? ".dims" : ".reshape"),
              Shapes.toString(graph)
                  + " disagrees with the model's "
                  + Shapes.toString(dims)
                  + (batching
                      ? " ("
                          + (reshape == null ? "dims" : "reshape")
                          + " leave out the batch"
                          + " dimension)"
                      : ""));
        }
        dims = given;
        reshaped = reshape;
      } else if (t.reshape() != null) {
        throw new ConfigException(
            file, here + ".reshape", "needs dims: the shape clients send, which reshape changes");
      }
      boolean allowNonFinite = Boolean.TRUE.equals(t.allowNonFinite());
      if (allowNonFinite && !type.isFloatingPoint()) {
        throw new ConfigException(
            file,
            here + ".allow-non-finite",
            "applies to FP16, BF16, FP32 and FP64 only; '" + t.name() + "' is " + type);
      }
      if (allowNonFinite && field.equals("outputs")) {
        throw new ConfigException(
            file, here + ".allow-non-finite", "applies to inputs only; outputs are not checked");
      }
      String labels = t.labels();
      if (labels != null) {
        if (field.equals("inputs")) {
          throw new ConfigException(
              file, here + ".labels", "applies to outputs only (the classes of a classifier)");
        }
        if (type == DataType.BYTES) {
          throw new ConfigException(
              file, here + ".labels", "'" + t.name() + "' is BYTES: there are no classes to name");
        }
        if (labels.isBlank() || labels.contains("/") || labels.contains("..")) {
          throw new ConfigException(
              file, here + ".labels", "must be a file in the model's folder, was '" + labels + "'");
        }
      }
      out.add(new TensorConfig(t.name(), type, dims, allowNonFinite, labels, reshaped));
    }
    if (field.equals("inputs")) {
      for (TensorConfig m : fromModel) {
        if (!seen.contains(m.name())) {
          throw new ConfigException(
              file, field, "does not list the model's input '" + m.name() + "'");
        }
      }
    }
    return out;
  }

  /**
   * Triton's {@code reshape}: sizes -1 or positive, as many elements as {@code dims} (their fixed
   * sizes multiply to the same count) and as many -1s, which take the sizes of dims' -1s in order.
   */
  private static long[] reshape(List<Long> declared, long[] dims, Path file, String here)
      throws ConfigException {
    long[] reshape = new long[declared.size()];
    for (int k = 0; k < reshape.length; k++) {
      Long v = declared.get(k);
      if (v == null || v < -1 || v == 0) {
        throw new ConfigException(
            file, here + ".reshape[" + k + "]", "must be -1 or a positive size, was " + v);
      }
      reshape[k] = v;
    }
    long dimsCount = 1;
    long reshapeCount = 1;
    int dimsVariable = 0;
    int reshapeVariable = 0;
    for (long d : dims) {
      if (d == -1) {
        dimsVariable++;
      } else {
        dimsCount = Math.multiplyExact(dimsCount, d);
      }
    }
    for (long d : reshape) {
      if (d == -1) {
        reshapeVariable++;
      } else {
        reshapeCount = Math.multiplyExact(reshapeCount, d);
      }
    }
    if (dimsCount != reshapeCount || dimsVariable != reshapeVariable) {
      throw new ConfigException(
          file,
          here + ".reshape",
          Shapes.toString(reshape)
              + " does not hold the elements of dims "
              + Shapes.toString(dims)
              + ": their fixed sizes must multiply to the same count and they must have as many"
              + " -1s");
    }
    return reshape;
  }

  /** A declared shape may narrow the model's: -1 in the model accepts any fixed size. */
  private static boolean compatible(long[] model, long[] given) {
    if (model.length != given.length) {
      return false;
    }
    for (int i = 0; i < model.length; i++) {
      if (model[i] != -1 && given[i] != model[i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * The datatype {@code name} (Triton's {@code TYPE_FP32} or OIP's {@code FP32}), or a load error
   * at {@code here.datatype} in {@code file} that lists the names there are.
   */
  static DataType datatype(Path file, String here, String name) throws ConfigException {
    return DataType.fromAnyName(name)
        .orElseThrow(
            () ->
                new ConfigException(
                    file,
                    here + ".datatype",
                    "unknown datatype '" + name + "'; use one of " + DataType.allNames()));
  }
}
