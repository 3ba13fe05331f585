package dev.fulcrum.server.triton;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import com.google.protobuf.TextFormatParseInfoTree;
import com.google.protobuf.TextFormatParseLocation;
import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.EnsembleConfig;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.grpc.proto.ModelConfig;
import dev.fulcrum.server.grpc.proto.ModelDynamicBatching;
import dev.fulcrum.server.grpc.proto.ModelEnsembling;
import dev.fulcrum.server.grpc.proto.ModelInput;
import dev.fulcrum.server.grpc.proto.ModelInstanceGroup;
import dev.fulcrum.server.grpc.proto.ModelOutput;
import dev.fulcrum.server.grpc.proto.ModelParameter;
import dev.fulcrum.server.grpc.proto.ModelQueuePolicy;
import dev.fulcrum.server.grpc.proto.ModelSequenceBatching;
import dev.fulcrum.server.grpc.proto.ModelVersionPolicy;
import dev.fulcrum.server.grpc.proto.ModelWarmup;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Maps a parsed Triton {@code ModelConfig} onto Fulcrum's {@link ModelConfigFile} with Triton's
 * semantics, and lists every set field it did not map, by its path ({@code
 * optimization.cuda.graphs}, {@code instance_group[1].kind}, {@code parameters[key]}).
 *
 * <p>Design: each mapping step records the paths it consumed; a generic walk over the message's set
 * fields (protobuf's own notion of "set": present messages, non-empty lists, non-default scalars)
 * then reports what nobody consumed. Adding support for a field is therefore one mapping line plus
 * one {@code use(...)}, and a field can never be silently dropped.
 *
 * <p>One instance per conversion, confined to the calling (loader) thread.
 */
final class PbtxtConverter {
  /** The ONNX Runtime backend's name in Triton's {@code backend} field. */
  static final String ONNX_BACKEND = "onnxruntime";

  /**
   * The configuration as Fulcrum reads it, the set fields it ignored, by path, and the line (from
   * 1) of each ignored field in the text, where it was parsed from text.
   */
  record Converted(ModelConfigFile config, List<String> ignored, Map<String, Integer> lines) {
    /** The ignored fields as one list for a warning: each with its line where known. */
    String describeIgnored() {
      List<String> out = new ArrayList<>();
      for (String path : ignored) {
        Integer line = lines.get(path);
        out.add(line == null ? path : path + " (line " + line + ")");
      }
      return String.join(", ", out);
    }
  }

  private final ModelConfig c;
  private final Path file;
  private final @Nullable TextFormatParseInfoTree tree;

  /** The line of each ignored field, where the text's parse tree knows it. */
  private final Map<String, Integer> lines = new LinkedHashMap<>();

  /** Paths consumed with everything below them. */
  private final Set<String> consumed = new HashSet<>();

  /** Container paths consumed only as "present" ({@code dynamic_batching {}}). */
  private final Set<String> present = new HashSet<>();

  private PbtxtConverter(ModelConfig c, Path file, @Nullable TextFormatParseInfoTree tree) {
    this.c = c;
    this.file = file;
    this.tree = tree;
  }

  static Converted convert(ModelConfig config, Path file) throws ConfigException {
    return new PbtxtConverter(config, file, null).convert();
  }

  /** As {@link #convert(ModelConfig, Path)}, naming the line of each ignored field. */
  static Converted convert(ModelConfig config, Path file, @Nullable TextFormatParseInfoTree tree)
      throws ConfigException {
    return new PbtxtConverter(config, file, tree).convert();
  }

  private Converted convert() throws ConfigException {
    if (EnsembleConfig.PLATFORM.equals(c.getPlatform()) || c.hasEnsembleScheduling()) {
      return ensemble();
    }
    boolean ioGiven = c.getInputCount() > 0 && c.getOutputCount() > 0;
    ModelConfigFile config =
        new ModelConfigFile(
            string("name", c.getName()),
            platform(),
            string("default_model_filename", c.getDefaultModelFilename()),
            maxBatchSize(ioGiven),
            inputs(),
            outputs(),
            versionPolicy(),
            null,
            null,
            null,
            null);
    Instances instances = instances();
    ModelConfigFile.OnnxRuntimeFile onnxruntime = onnxruntime(instances);
    ModelConfigFile.DynamicBatchingFile batching =
        c.hasSequenceBatching() && !c.hasDynamicBatching()
            ? sequenceDelay()
            : dynamicBatching(
                ioGiven && config.maxBatchSize() != null && config.maxBatchSize() > 0);
    ModelConfigFile.QueuePolicyFile queue = queuePolicy();
    config =
        new ModelConfigFile(
            config.name(),
            config.platform(),
            config.defaultModelFilename(),
            config.maxBatchSize(),
            config.inputs(),
            config.outputs(),
            config.versionPolicy(),
            instances.count(),
            onnxruntime,
            batching,
            queue,
            warmup(),
            null,
            null,
            null,
            responseCache(),
            instances.groups(),
            null,
            sequenceBatching(),
            null,
            priorityQueuePolicy(),
            null);
    refuseServerFilledInputs();
    List<String> ignored = new ArrayList<>();
    unconsumed(c, "", tree == null ? null : new Where(tree, Map.of()), ignored);
    return new Converted(config, List.copyOf(ignored), Map.copyOf(lines));
  }

  /**
   * An ensemble ({@code platform: "ensemble"}): its inputs, outputs and max_batch_size as written
   * (absent is 0, as in Triton: there is no model file to complete them from), its steps, its
   * version policy and response cache; every other field it sets is ignored and named.
   */
  private Converted ensemble() throws ConfigException {
    if (c.hasMaxBatchSize()) {
      consumed.add("max_batch_size");
    }
    ModelConfigFile.EnsembleFile steps = null;
    if (c.hasEnsembleScheduling()) {
      // a uint32: one past Integer.MAX_VALUE reads negative, and bounds nothing either way
      int inflight = c.getEnsembleScheduling().getMaxInflightRequests();
      if (inflight != 0) {
        consumed.add("ensemble_scheduling.max_inflight_requests");
      }
      List<ModelConfigFile.EnsembleStepFile> out = new ArrayList<>();
      for (int i = 0; i < c.getEnsembleScheduling().getStepCount(); i++) {
        ModelEnsembling.Step st = c.getEnsembleScheduling().getStep(i);
        String at = "ensemble_scheduling.step[" + i + "]";
        consumed.add(at + ".model_name");
        consumed.add(at + ".model_version");
        consumed.add(at + ".input_map");
        consumed.add(at + ".output_map");
        // Triton's examples write -1 (the newest version); left out, the field reads 0: the same
        long version = st.getModelVersion() <= 0 ? -1 : st.getModelVersion();
        out.add(
            new ModelConfigFile.EnsembleStepFile(
                st.getModelName().isEmpty() ? null : st.getModelName(),
                version,
                new LinkedHashMap<>(st.getInputMapMap()),
                new LinkedHashMap<>(st.getOutputMapMap())));
      }
      present.add("ensemble_scheduling");
      steps =
          new ModelConfigFile.EnsembleFile(
              out, inflight == 0 ? null : inflight < 0 ? Integer.MAX_VALUE : inflight);
    }
    ModelConfigFile config =
        new ModelConfigFile(
            string("name", c.getName()),
            platform(),
            null,
            c.getMaxBatchSize(),
            inputs(),
            outputs(),
            versionPolicy(),
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            responseCache(),
            null,
            null,
            null,
            steps,
            null,
            null);
    List<String> ignored = new ArrayList<>();
    unconsumed(c, "", tree == null ? null : new Where(tree, Map.of()), ignored);
    return new Converted(config, List.copyOf(ignored), Map.copyOf(lines));
  }

  private @Nullable String string(String field, String value) {
    if (value.isEmpty()) {
      return null;
    }
    consumed.add(field);
    return value;
  }

  /** {@code platform: "onnxruntime_onnx"} or {@code backend: "onnxruntime"}, as Triton. */
  private @Nullable String platform() throws ConfigException {
    String platform = string("platform", c.getPlatform());
    String backend = string("backend", c.getBackend());
    if (backend != null && !backend.equals(ONNX_BACKEND)) {
      throw new ConfigException(
          file, "backend", "'" + backend + "' is not supported; use '" + ONNX_BACKEND + "'");
    }
    return platform == null && backend != null ? ModelConfigResolver.ONNX_PLATFORM : platform;
  }

  /**
   * Triton's ONNX backend completes the configuration from the model (and turns max_batch_size 0
   * into its default when the model can batch) only when inputs or outputs are left out; a
   * configuration that lists both means exactly what it says.
   */
  private @Nullable Integer maxBatchSize(boolean ioGiven) throws ConfigException {
    if (c.hasMaxBatchSize()) {
      consumed.add("max_batch_size");
    }
    int written = c.getMaxBatchSize();
    // A negative value was taken as "not written" when inputs or outputs were left out: the
    // model loaded with the default (32) instead of failing as it does with both listed.
    if (written < 0) {
      throw new ConfigException(file, "max-batch-size", "must be >= 0, was " + written);
    }
    if (ioGiven) {
      return written;
    }
    return written > 0 ? written : null;
  }

  private @Nullable List<ModelConfigFile.Tensor> inputs() {
    List<ModelConfigFile.Tensor> out = new ArrayList<>();
    for (int i = 0; i < c.getInputCount(); i++) {
      ModelInput t = c.getInput(i);
      out.add(
          tensor(
              "input[" + i + "]",
              t.getName(),
              t.getDataType(),
              t.getDimsList(),
              "",
              t.hasReshape() ? t.getReshape().getShapeList() : null));
    }
    return out.isEmpty() ? null : out;
  }

  private @Nullable List<ModelConfigFile.Tensor> outputs() {
    List<ModelConfigFile.Tensor> out = new ArrayList<>();
    for (int i = 0; i < c.getOutputCount(); i++) {
      ModelOutput t = c.getOutput(i);
      out.add(
          tensor(
              "output[" + i + "]",
              t.getName(),
              t.getDataType(),
              t.getDimsList(),
              t.getLabelFilename(),
              t.hasReshape() ? t.getReshape().getShapeList() : null));
    }
    return out.isEmpty() ? null : out;
  }

  private ModelConfigFile.@Nullable Tensor tensor(
      String path,
      String name,
      dev.fulcrum.server.grpc.proto.DataType type,
      List<Long> dims,
      String labelFilename,
      @Nullable List<Long> reshape) {
    consumed.add(path + ".name");
    consumed.add(path + ".data_type");
    consumed.add(path + ".dims");
    if (reshape != null) {
      consumed.add(path + ".reshape");
    }
    return new ModelConfigFile.Tensor(
        name.isEmpty() ? null : name,
        datatype(type),
        dims.isEmpty() ? null : List.copyOf(dims),
        null,
        string(path + ".label_filename", labelFilename),
        reshape == null ? null : List.copyOf(reshape));
  }

  /** Triton's {@code TYPE_FP32} as the protocol's {@code FP32}; null when unset. */
  static @Nullable String datatype(dev.fulcrum.server.grpc.proto.DataType type) {
    if (type == dev.fulcrum.server.grpc.proto.DataType.TYPE_INVALID
        || type == dev.fulcrum.server.grpc.proto.DataType.UNRECOGNIZED) {
      return null;
    }
    return DataType.fromAnyName(type.name()).map(DataType::name).orElse(type.name());
  }

  private ModelConfigFile.@Nullable VersionPolicyFile versionPolicy() {
    if (!c.hasVersionPolicy()) {
      return null;
    }
    consumed.add("version_policy");
    ModelVersionPolicy p = c.getVersionPolicy();
    return switch (p.getPolicyChoiceCase()) {
      case LATEST ->
          new ModelConfigFile.VersionPolicyFile(p.getLatest().getNumVersions(), null, null);
      case ALL -> new ModelConfigFile.VersionPolicyFile(null, true, null);
      case SPECIFIC ->
          new ModelConfigFile.VersionPolicyFile(
              null, null, List.copyOf(p.getSpecific().getVersionsList()));
      case POLICYCHOICE_NOT_SET -> null;
    };
  }

  /**
   * The instance groups Fulcrum runs: their total count, on the CPU or on one GPU, and the groups
   * themselves with Triton's defaults filled in (null when the configuration has none).
   */
  private record Instances(
      @Nullable Integer count,
      boolean gpu,
      @Nullable Integer deviceId,
      @Nullable List<ModelConfigFile.InstanceGroupFile> groups) {}

  /**
   * A group's count when it gives none, as Triton's {@code SetDefaultInstanceCount} (core,
   * src/model_config_utils.cc) sets it for the ONNX Runtime backend: 2 for a KIND_CPU group (the
   * backends that opt into {@code default_cpu_instance_count}: onnxruntime and tensorflow), 1 for a
   * KIND_GPU group (on each of its GPUs).
   */
  static final int DEFAULT_CPU_COUNT = 2;

  /**
   * Sums the counts of the groups of the first group's kind (KIND_AUTO counts as KIND_CPU, as on a
   * machine without GPUs; a group without a count has Triton's default for its kind; no group at
   * all is one KIND_CPU group of the default count, as in Triton); groups of another kind,
   * KIND_MODEL, and a GPU list of more than one device are reported, not mapped.
   */
  private Instances instances() {
    if (c.getInstanceGroupCount() == 0) {
      // Triton (NormalizeInstanceGroup) gives a model without groups one group of KIND_AUTO and
      // the default count, KIND_CPU on a machine without GPUs, as an empty group {} is here.
      return new Instances(
          DEFAULT_CPU_COUNT,
          false,
          null,
          List.of(
              new ModelConfigFile.InstanceGroupFile(
                  null, "KIND_CPU", DEFAULT_CPU_COUNT, List.of())));
    }
    Boolean gpu = null;
    int total = 0;
    Integer device = null;
    List<ModelConfigFile.InstanceGroupFile> groups = new ArrayList<>();
    for (int i = 0; i < c.getInstanceGroupCount(); i++) {
      ModelInstanceGroup g = c.getInstanceGroup(i);
      String path = "instance_group[" + i + "]";
      if (g.getKind() == ModelInstanceGroup.Kind.KIND_MODEL) {
        continue;
      }
      boolean onGpu = g.getKind() == ModelInstanceGroup.Kind.KIND_GPU;
      if (gpu != null && gpu != onGpu) {
        continue;
      }
      gpu = onGpu;
      consumed.add(path + ".kind");
      consumed.add(path + ".count");
      consumed.add(path + ".name");
      present.add(path); // an empty group, {}, is KIND_AUTO of the default count: mapped
      int count = g.getCount() > 0 ? g.getCount() : onGpu ? 1 : DEFAULT_CPU_COUNT;
      total += count;
      List<Integer> gpus = List.of();
      if (onGpu && g.getGpusCount() > 0) {
        if (device == null) {
          device = g.getGpus(0);
        }
        if (g.getGpusCount() == 1 && g.getGpus(0) == device) {
          consumed.add(path + ".gpus");
          gpus = List.of(device);
        }
      }
      groups.add(
          new ModelConfigFile.InstanceGroupFile(
              g.getName().isEmpty() ? null : g.getName(),
              onGpu ? "KIND_GPU" : "KIND_CPU",
              count,
              gpus));
    }
    if (gpu == null) {
      return new Instances(null, false, null, null);
    }
    return new Instances(total, gpu, device, List.copyOf(groups));
  }

  private ModelConfigFile.@Nullable OnnxRuntimeFile onnxruntime(Instances instances)
      throws ConfigException {
    Integer intra = intParameter("intra_op_thread_count");
    Integer inter = intParameter("inter_op_thread_count");
    String mode = null;
    String modeValue = parameter("execution_mode");
    if (modeValue != null) {
      mode =
          switch (modeValue) {
            case "0" -> "sequential";
            case "1" -> "parallel";
            default ->
                throw new ConfigException(
                    file,
                    "parameters[execution_mode]",
                    "'" + modeValue + "' is not 0 (sequential) or 1 (parallel)");
          };
    }
    Boolean arena = boolParameter("enable_mem_arena");
    Boolean pattern = boolParameter("enable_mem_pattern");
    String level = graphLevel();
    String provider = instances.gpu() ? "cuda" : null;
    if (intra == null
        && inter == null
        && mode == null
        && arena == null
        && pattern == null
        && level == null
        && provider == null) {
      return null;
    }
    return new ModelConfigFile.OnnxRuntimeFile(
        intra,
        inter,
        level,
        mode,
        arena,
        pattern,
        provider,
        instances.deviceId(),
        null,
        null,
        null);
  }

  /** The ONNX Runtime backend's {@code optimization.graph.level}: -1 basic, 1 extended, 2 none. */
  private @Nullable String graphLevel() {
    if (!c.hasOptimization() || !c.getOptimization().hasGraph()) {
      return null;
    }
    consumed.add("optimization.graph");
    return switch (c.getOptimization().getGraph().getLevel()) {
      case -1 -> "basic";
      case 1 -> "extended";
      case 2 -> "disabled";
      default -> "all";
    };
  }

  private @Nullable String parameter(String key) {
    ModelParameter p = c.getParametersMap().get(key);
    if (p == null) {
      return null;
    }
    consumed.add("parameters[" + key + "]");
    return p.getStringValue().trim();
  }

  private @Nullable Integer intParameter(String key) throws ConfigException {
    String v = parameter(key);
    if (v == null) {
      return null;
    }
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new ConfigException(file, "parameters[" + key + "]", "'" + v + "' is not an integer");
    }
  }

  /** Booleans as Triton's backends read them: 1/0, true/false, on/off, yes/no. */
  private @Nullable Boolean boolParameter(String key) throws ConfigException {
    String v = parameter(key);
    if (v == null) {
      return null;
    }
    return switch (v.toLowerCase(Locale.ROOT)) {
      case "1", "true", "on", "yes" -> true;
      case "0", "false", "off", "no" -> false;
      default ->
          throw new ConfigException(
              file, "parameters[" + key + "]", "'" + v + "' is not 1/0 or true/false");
    };
  }

  /**
   * Triton's {@code dynamic_batching}. Without one, a model whose configuration lists its inputs
   * and outputs runs each request alone (Triton's default scheduler); otherwise Triton's
   * auto-complete turns dynamic batching on, as Fulcrum's default does.
   */
  private ModelConfigFile.@Nullable DynamicBatchingFile dynamicBatching(
      boolean defaultSchedulerIfAbsent) throws ConfigException {
    if (!c.hasDynamicBatching()) {
      return defaultSchedulerIfAbsent
          ? new ModelConfigFile.DynamicBatchingFile(false, null, null, null, null, null)
          : null;
    }
    ModelDynamicBatching d = c.getDynamicBatching();
    present.add("dynamic_batching");
    for (String f :
        List.of(
            "preferred_batch_size",
            "max_queue_delay_microseconds",
            "preserve_ordering",
            "priority_levels",
            "default_priority_level")) {
      consumed.add("dynamic_batching." + f);
    }
    return new ModelConfigFile.DynamicBatchingFile(
        true,
        d.getMaxQueueDelayMicroseconds(),
        d.getPreferredBatchSizeCount() == 0 ? null : List.copyOf(d.getPreferredBatchSizeList()),
        d.getPreserveOrdering(),
        toInt("dynamic_batching.priority_levels", d.getPriorityLevels()),
        toInt("dynamic_batching.default_priority_level", d.getDefaultPriorityLevel()));
  }

  private ModelConfigFile.@Nullable QueuePolicyFile queuePolicy() {
    if (!c.hasDynamicBatching() || !c.getDynamicBatching().hasDefaultQueuePolicy()) {
      return null;
    }
    consumed.add("dynamic_batching.default_queue_policy");
    return queuePolicy(c.getDynamicBatching().getDefaultQueuePolicy());
  }

  /**
   * Triton's {@code priority_queue_policy} as {@code priority-queue-policy}, keyed by the level
   * (the resolver refuses a level outside 1..priority_levels, as Triton does).
   */
  private @Nullable Map<String, ModelConfigFile.QueuePolicyFile> priorityQueuePolicy() {
    if (!c.hasDynamicBatching() || c.getDynamicBatching().getPriorityQueuePolicyCount() == 0) {
      return null;
    }
    consumed.add("dynamic_batching.priority_queue_policy");
    Map<String, ModelConfigFile.QueuePolicyFile> out = new java.util.TreeMap<>();
    c.getDynamicBatching()
        .getPriorityQueuePolicyMap()
        .forEach((level, q) -> out.put(Long.toUnsignedString(level), queuePolicy(q)));
    return out;
  }

  private static ModelConfigFile.QueuePolicyFile queuePolicy(ModelQueuePolicy q) {
    return new ModelConfigFile.QueuePolicyFile(
        q.hasMaxQueueSize() ? q.getMaxQueueSize() : null,
        q.getDefaultTimeoutMicroseconds(),
        q.getTimeoutAction() == ModelQueuePolicy.TimeoutAction.DELAY ? "delay" : "reject",
        q.getAllowTimeoutOverride());
  }

  private int toInt(String field, long unsigned) throws ConfigException {
    if (unsigned < 0 || unsigned > Integer.MAX_VALUE) {
      throw new ConfigException(file, field, Long.toUnsignedString(unsigned) + " is out of range");
    }
    return (int) unsigned;
  }

  /**
   * Triton's {@code model_warmup} as Fulcrum's {@code model-warmup}: the same samples; Triton's
   * {@code input_data_file} names a file in the model's {@code warmup/} folder, ours a path in the
   * model's folder; a batch size or count of 0 (unset) takes the default of 1.
   */
  private @Nullable List<ModelConfigFile.WarmupFile> warmup() {
    if (c.getModelWarmupCount() == 0) {
      return null;
    }
    consumed.add("model_warmup");
    List<ModelConfigFile.WarmupFile> out = new ArrayList<>();
    for (ModelWarmup w : c.getModelWarmupList()) {
      Map<String, ModelConfigFile.WarmupInputFile> inputs = new LinkedHashMap<>();
      w.getInputsMap()
          .forEach(
              (name, in) ->
                  inputs.put(
                      name,
                      new ModelConfigFile.WarmupInputFile(
                          datatype(in.getDataType()),
                          in.getDimsList(),
                          in.getZeroData() ? Boolean.TRUE : null,
                          in.getRandomData() ? Boolean.TRUE : null,
                          in.hasInputDataFile() ? "warmup/" + in.getInputDataFile() : null)));
      out.add(
          new ModelConfigFile.WarmupFile(
              w.getName(),
              w.getBatchSize() == 0 ? null : w.getBatchSize(),
              w.getCount() == 0 ? null : w.getCount(),
              inputs));
    }
    return List.copyOf(out);
  }

  /** Triton's {@code response_cache { enable }} as Fulcrum's per-model response cache. */
  private ModelConfigFile.@Nullable ResponseCacheFile responseCache() {
    if (!c.hasResponseCache()) {
      return null;
    }
    consumed.add("response_cache");
    return new ModelConfigFile.ResponseCacheFile(c.getResponseCache().getEnable(), null);
  }

  /**
   * The sequence batcher's strategies join the sequences ready at once into one pass, which
   * Fulcrum's dynamic batcher does for them: on (Triton's default scheduler would not batch), with
   * the strategy's {@code max_queue_delay_microseconds}, and the oldest strategy's {@code
   * preferred_batch_size} and {@code preserve_ordering} (Triton gives them to the dynamic batcher
   * it runs per instance).
   */
  private ModelConfigFile.DynamicBatchingFile sequenceDelay() {
    ModelSequenceBatching seq = c.getSequenceBatching();
    if (seq.hasOldest()) {
      ModelSequenceBatching.StrategyOldest old = seq.getOldest();
      String at = "sequence_batching.oldest";
      for (String f :
          List.of("max_queue_delay_microseconds", "preferred_batch_size", "preserve_ordering")) {
        consumed.add(at + "." + f);
      }
      List<Integer> preferred = old.getPreferredBatchSizeList(); // checked as Fulcrum's field
      long delay = old.getMaxQueueDelayMicroseconds();
      return new ModelConfigFile.DynamicBatchingFile(
          true,
          delay == 0 ? null : delay,
          preferred.isEmpty() ? null : List.copyOf(preferred),
          old.getPreserveOrdering() ? true : null,
          null,
          null);
    }
    long delay = seq.hasDirect() ? seq.getDirect().getMaxQueueDelayMicroseconds() : 0;
    if (seq.hasDirect()) {
      consumed.add("sequence_batching.direct.max_queue_delay_microseconds");
    }
    return new ModelConfigFile.DynamicBatchingFile(
        true, delay == 0 ? null : delay, null, null, null, null);
  }

  /**
   * Triton's {@code sequence_batching} as Fulcrum's: the direct strategy (the default when none is
   * given) or the oldest with its {@code max_candidate_sequences}, the idle limit, control inputs
   * whose false/true are 0/1, and states that start as zeros. Other false/true values and initial
   * states from data are refused.
   */
  private ModelConfigFile.@Nullable SequenceBatchingFile sequenceBatching() throws ConfigException {
    if (!c.hasSequenceBatching()) {
      return null;
    }
    ModelSequenceBatching seq = c.getSequenceBatching();
    String at = "sequence_batching";
    present.add(at);
    if (seq.hasDirect()) {
      present.add(at + ".direct");
    }
    Integer candidates = null;
    if (seq.hasOldest()) {
      present.add(at + ".oldest");
      consumed.add(at + ".oldest.max_candidate_sequences");
      int n = seq.getOldest().getMaxCandidateSequences();
      if (n < 0) {
        throw new ConfigException(
            file, at + ".oldest.max_candidate_sequences", "must be >= 0, was " + n);
      }
      candidates = n == 0 ? null : n; // 0: Triton's default, max_batch_size (at least 1)
    }
    if (seq.getIterativeSequence()) {
      throw new ConfigException(
          file, at + ".iterative_sequence", "iterative sequences are not supported");
    }
    consumed.add(at + ".max_sequence_idle_microseconds");
    List<ModelConfigFile.ControlInputFile> controls = new ArrayList<>();
    for (int i = 0; i < seq.getControlInputCount(); i++) {
      ModelSequenceBatching.ControlInput in = seq.getControlInput(i);
      String path = at + ".control_input[" + i + "]";
      if (in.getControlCount() != 1) {
        throw new ConfigException(
            file,
            path + ".control",
            "give one control per control input, was " + in.getControlCount());
      }
      ModelSequenceBatching.Control ctl = in.getControl(0);
      String kind =
          switch (ctl.getKind()) {
            case CONTROL_SEQUENCE_START -> "start";
            case CONTROL_SEQUENCE_END -> "end";
            case CONTROL_SEQUENCE_READY -> "ready";
            case CONTROL_SEQUENCE_CORRID -> "corrid";
            case UNRECOGNIZED ->
                throw new ConfigException(file, path + ".control[0].kind", "unknown kind");
          };
      boolean zeroOne =
          (ctl.getInt32FalseTrueCount() == 0 || ctl.getInt32FalseTrueList().equals(List.of(0, 1)))
              && (ctl.getFp32FalseTrueCount() == 0
                  || ctl.getFp32FalseTrueList().equals(List.of(0f, 1f)))
              && (ctl.getBoolFalseTrueCount() == 0
                  || ctl.getBoolFalseTrueList().equals(List.of(false, true)));
      if (!zeroOne) {
        throw new ConfigException(
            file,
            path + ".control[0]",
            "Fulcrum fills a control input with 0 (false) and 1 (true) in the input's type;"
                + " other false/true values are not supported");
      }
      consumed.add(path);
      controls.add(new ModelConfigFile.ControlInputFile(in.getName(), kind));
    }
    List<ModelConfigFile.StateFile> states = new ArrayList<>();
    for (int i = 0; i < seq.getStateCount(); i++) {
      ModelSequenceBatching.State st = seq.getState(i);
      String path = at + ".state[" + i + "]";
      for (int k = 0; k < st.getInitialStateCount(); k++) {
        if (!st.getInitialState(k).getZeroData()) {
          throw new ConfigException(
              file,
              path + ".initial_state[" + k + "]",
              "a state starts as zeros in Fulcrum; initial state from a data file is not"
                  + " supported");
        }
      }
      for (String f :
          List.of(
              "input_name",
              "output_name",
              "data_type",
              "dims",
              "initial_state",
              "use_same_buffer_for_input_output",
              "use_growable_memory")) {
        consumed.add(path + "." + f);
      }
      states.add(
          new ModelConfigFile.StateFile(
              st.getInputName(),
              st.getOutputName(),
              datatype(st.getDataType()),
              st.getDimsCount() == 0 ? null : List.copyOf(st.getDimsList())));
    }
    return new ModelConfigFile.SequenceBatchingFile(
        seq.getMaxSequenceIdleMicroseconds() == 0 ? null : seq.getMaxSequenceIdleMicroseconds(),
        controls.isEmpty() ? null : controls,
        states.isEmpty() ? null : states,
        seq.hasOldest() ? "oldest" : null,
        candidates);
  }

  /**
   * Refuses the fields that make Triton fill model inputs the client never sends: batch inputs.
   * Ignored, they would leave those inputs empty: the load would fail on an input the file does not
   * list, not on the field.
   */
  private void refuseServerFilledInputs() throws ConfigException {
    if (c.getBatchInputCount() > 0) {
      throw new ConfigException(
          file,
          "batch_input[0]",
          "Fulcrum does not fill batch inputs "
              + c.getBatchInput(0).getTargetNameList()
              + " (ragged batching is not supported)");
    }
  }

  /** Appends the path of every set field below {@code m} that no mapping step consumed. */
  private void unconsumed(Message m, String prefix, @Nullable Where at, List<String> out) {
    for (Map.Entry<FieldDescriptor, Object> e : m.getAllFields().entrySet()) {
      FieldDescriptor fd = e.getKey();
      String path = prefix.isEmpty() ? fd.getName() : prefix + "." + fd.getName();
      if (fd.isRepeated() && fd.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
        List<?> list = (List<?>) e.getValue();
        FieldDescriptor key = fd.isMapField() ? fd.getMessageType().findFieldByName("key") : null;
        for (int i = 0; i < list.size(); i++) {
          Message element = (Message) list.get(i);
          Where inner = at == null ? null : at.element(fd, list, i);
          if (key != null) {
            // A map entry is reported whole, at the line of its key.
            Integer line = inner == null ? null : inner.line(key, 0);
            report(
                path + "[" + element.getField(key) + "]",
                null,
                line != null ? line : at == null ? null : at.line(fd, i),
                null,
                out);
          } else {
            report(path + "[" + i + "]", element, at == null ? null : at.line(fd, i), inner, out);
          }
        }
      } else {
        report(
            path,
            e.getValue(),
            at == null ? null : at.line(fd, 0),
            at == null || fd.getJavaType() != FieldDescriptor.JavaType.MESSAGE
                ? null
                : at.element(fd, List.of(e.getValue()), 0),
            out);
      }
    }
  }

  /**
   * Where the fields of one message were written: its parse tree, and for each field how many of
   * that tree's records belong to earlier messages. Triton's list syntax ({@code input [ {..}, {..}
   * ]}) records every element of the list in one tree, so the {@code i}th element's field is the
   * tree's record after those of the elements before it.
   */
  private record Where(TextFormatParseInfoTree tree, Map<FieldDescriptor, Integer> before) {
    /** The line (from 1) of the {@code index}th value of {@code fd} in this message, if known. */
    @Nullable Integer line(FieldDescriptor fd, int index) {
      int at = before.getOrDefault(fd, 0) + index;
      List<TextFormatParseLocation> all = tree.getLocations(fd);
      return at < all.size() ? all.get(at).getLine() + 1 : null;
    }

    /** Where the {@code i}th element of the message field {@code fd} (values {@code list}) was. */
    @Nullable Where element(FieldDescriptor fd, List<?> list, int i) {
      List<TextFormatParseInfoTree> trees = tree.getNestedTrees(fd);
      int first = before.getOrDefault(fd, 0);
      if (trees.size() >= first + list.size()) {
        return new Where(trees.get(first + i), Map.of());
      }
      if (trees.size() != first + 1) {
        return null; // several lists of several elements: which element is where is not known
      }
      Map<FieldDescriptor, Integer> counts = new HashMap<>();
      for (int j = 0; j < i; j++) {
        ((Message) list.get(j)).getAllFields().forEach((f, v) -> counts.merge(f, 1, Integer::sum));
      }
      return new Where(trees.get(first), counts);
    }
  }

  private void report(
      String path,
      @Nullable Object value,
      @Nullable Integer line,
      @Nullable Where at,
      List<String> out) {
    for (String p = path; ; ) {
      if (consumed.contains(p)) {
        return;
      }
      int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      if (cut <= 0) {
        break;
      }
      p = p.substring(0, cut);
    }
    if (value instanceof Message msg && !msg.getAllFields().isEmpty()) {
      unconsumed(msg, path, at, out);
    } else if (!present.contains(path)) {
      out.add(path);
      if (line != null) {
        lines.put(path, line);
      }
    }
  }
}
