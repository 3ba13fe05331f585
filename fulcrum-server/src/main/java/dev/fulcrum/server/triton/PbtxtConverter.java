package dev.fulcrum.server.triton;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.grpc.proto.ModelConfig;
import dev.fulcrum.server.grpc.proto.ModelDynamicBatching;
import dev.fulcrum.server.grpc.proto.ModelInput;
import dev.fulcrum.server.grpc.proto.ModelInstanceGroup;
import dev.fulcrum.server.grpc.proto.ModelOutput;
import dev.fulcrum.server.grpc.proto.ModelParameter;
import dev.fulcrum.server.grpc.proto.ModelQueuePolicy;
import dev.fulcrum.server.grpc.proto.ModelVersionPolicy;
import dev.fulcrum.server.grpc.proto.ModelWarmup;
import java.nio.file.Path;
import java.util.ArrayList;
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

  /** The configuration as Fulcrum reads it, and the set fields it ignored, by path. */
  record Converted(ModelConfigFile config, List<String> ignored) {}

  private final ModelConfig c;
  private final Path file;

  /** Paths consumed with everything below them. */
  private final Set<String> consumed = new HashSet<>();

  /** Container paths consumed only as "present" ({@code dynamic_batching {}}). */
  private final Set<String> present = new HashSet<>();

  private PbtxtConverter(ModelConfig c, Path file) {
    this.c = c;
    this.file = file;
  }

  static Converted convert(ModelConfig config, Path file) throws ConfigException {
    return new PbtxtConverter(config, file).convert();
  }

  private Converted convert() throws ConfigException {
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
        dynamicBatching(ioGiven && config.maxBatchSize() != null && config.maxBatchSize() > 0);
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
            warmup());
    List<String> ignored = new ArrayList<>();
    unconsumed(c, "", ignored);
    return new Converted(config, List.copyOf(ignored));
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
      out.add(tensor("input[" + i + "]", t.getName(), t.getDataType(), t.getDimsList(), ""));
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
              t.getLabelFilename()));
    }
    return out.isEmpty() ? null : out;
  }

  private ModelConfigFile.@Nullable Tensor tensor(
      String path,
      String name,
      dev.fulcrum.server.grpc.proto.DataType type,
      List<Long> dims,
      String labelFilename) {
    consumed.add(path + ".name");
    consumed.add(path + ".data_type");
    consumed.add(path + ".dims");
    return new ModelConfigFile.Tensor(
        name.isEmpty() ? null : name,
        datatype(type),
        dims.isEmpty() ? null : List.copyOf(dims),
        null,
        string(path + ".label_filename", labelFilename));
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

  /** The instance groups Fulcrum runs: their total count, on the CPU or on one GPU. */
  private record Instances(@Nullable Integer count, boolean gpu, @Nullable Integer deviceId) {}

  /**
   * Sums the counts of the groups of the first group's kind (KIND_AUTO counts as KIND_CPU, as on a
   * machine without GPUs); groups of another kind, KIND_MODEL, and a GPU list of more than one
   * device are reported, not mapped.
   */
  private Instances instances() {
    if (c.getInstanceGroupCount() == 0) {
      return new Instances(null, false, null);
    }
    Boolean gpu = null;
    int total = 0;
    Integer device = null;
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
      total += g.getCount() == 0 ? 1 : g.getCount();
      if (onGpu && g.getGpusCount() > 0) {
        if (device == null) {
          device = g.getGpus(0);
        }
        if (g.getGpusCount() == 1 && g.getGpus(0) == device) {
          consumed.add(path + ".gpus");
        }
      }
    }
    if (gpu == null) {
      return new Instances(null, false, null);
    }
    return new Instances(total, gpu, device);
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
    ModelQueuePolicy q = c.getDynamicBatching().getDefaultQueuePolicy();
    consumed.add("dynamic_batching.default_queue_policy");
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

  /** Appends the path of every set field below {@code m} that no mapping step consumed. */
  private void unconsumed(Message m, String prefix, List<String> out) {
    for (Map.Entry<FieldDescriptor, Object> e : m.getAllFields().entrySet()) {
      FieldDescriptor fd = e.getKey();
      String path = prefix.isEmpty() ? fd.getName() : prefix + "." + fd.getName();
      if (fd.isMapField()) {
        FieldDescriptor key = fd.getMessageType().findFieldByName("key");
        for (Object entry : (List<?>) e.getValue()) {
          report(path + "[" + ((Message) entry).getField(key) + "]", null, out);
        }
      } else if (fd.isRepeated() && fd.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
        List<?> list = (List<?>) e.getValue();
        for (int i = 0; i < list.size(); i++) {
          report(path + "[" + i + "]", list.get(i), out);
        }
      } else {
        report(path, e.getValue(), out);
      }
    }
  }

  private void report(String path, @Nullable Object value, List<String> out) {
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
      unconsumed(msg, path, out);
    } else if (!present.contains(path)) {
      out.add(path);
    }
  }
}
