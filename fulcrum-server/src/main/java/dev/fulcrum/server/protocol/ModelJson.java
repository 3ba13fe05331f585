package dev.fulcrum.server.protocol;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.config.EnsembleConfig;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.config.SequenceBatchingConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.config.VersionPolicy;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.stats.ModelStatistics;
import java.util.List;
import java.util.Objects;

/**
 * The JSON documents that describe models and the server: OIP server and model metadata, and
 * Triton's model configuration ({@code GET v2/models/<m>/config}) with Triton's field names, as
 * perf_analyzer and Model Analyzer read it. Stateless.
 */
public final class ModelJson {
  private ModelJson() {}

  private static final JsonNodeFactory F = JsonNodeFactory.instance;

  /**
   * The protocol extensions this server implements, as {@code GET v2} and the gRPC ServerMetadata
   * RPC list them. {@code trace}: Triton's trace setting endpoints (REST and gRPC) are served
   * whether or not tracing is on (without it they read OFF), as a Triton built with tracing lists
   * it whatever its trace level. {@code system_shared_memory}: listed whether or not clients may
   * register ({@code --allow-client-shm}), as Triton lists it.
   */
  public static final List<String> EXTENSIONS =
      List.of(
          "binary_tensor_data",
          "classification",
          "logging",
          "model_configuration",
          "model_repository",
          "parameters",
          "schedule_policy",
          "sequence",
          "statistics",
          "system_shared_memory",
          "trace");

  /** The server's name in server metadata. */
  public static final String SERVER_NAME = "fulcrum";

  /** The platform Triton's ONNX Runtime backend reports. */
  public static final String ONNX_BACKEND = "onnxruntime";

  /** {@code GET v2}: name, version and the extensions this server implements. */
  public static ObjectNode serverMetadata(String version, List<String> extensions) {
    ObjectNode o = F.objectNode();
    o.put("name", SERVER_NAME);
    o.put("version", version);
    ArrayNode ext = o.putArray("extensions");
    extensions.forEach(ext::add);
    return o;
  }

  /**
   * {@code GET v2/models/<m>[/versions/<v>]}: OIP model metadata of the version a request names (or
   * the newest ready one), listing every served version of the model.
   *
   * @throws dev.fulcrum.core.error.InferenceException NOT_FOUND or UNAVAILABLE
   */
  public static ObjectNode modelMetadata(ModelRepository repo, String name, String version) {
    ModelVersion mv = repo.resolve(name, version);
    List<String> versions = repo.versions(name).stream().map(ModelVersion::versionString).toList();
    return modelMetadata(mv.config(), versions);
  }

  /** OIP model metadata of one configuration. */
  public static ObjectNode modelMetadata(ModelConfig config, List<String> versions) {
    ObjectNode o = F.objectNode();
    o.put("name", config.name());
    ArrayNode v = o.putArray("versions");
    versions.forEach(v::add);
    o.put("platform", config.platform());
    o.set("inputs", metadataTensors(config, config.inputs()));
    o.set("outputs", metadataTensors(config, config.outputs()));
    return o;
  }

  private static ArrayNode metadataTensors(ModelConfig config, List<TensorConfig> tensors) {
    ArrayNode a = F.arrayNode();
    for (TensorConfig t : tensors) {
      ObjectNode o = a.addObject();
      o.put("name", t.name());
      o.put("datatype", t.datatype().name());
      ArrayNode s = o.putArray("shape");
      for (long d : config.fullShape(t)) {
        s.add(d);
      }
    }
    return a;
  }

  /** {@code GET v2/models/<m>[/versions/<v>]/config}: Triton's ModelConfig as JSON. */
  public static ObjectNode tritonConfig(ModelConfig config) {
    EnsembleConfig ensemble = config.ensemble();
    if (ensemble != null) {
      return ensembleConfig(config, ensemble);
    }
    ObjectNode o = F.objectNode();
    o.put("name", config.name());
    o.put("platform", config.platform());
    o.put("backend", ONNX_BACKEND);
    o.put("runtime", "");
    o.set("version_policy", versionPolicy(config.versionPolicy()));
    o.put("max_batch_size", config.maxBatchSize());
    o.set("input", configTensors(config.inputs(), true));
    o.set("output", configTensors(config.outputs(), false));
    o.putArray("batch_input");
    o.putArray("batch_output");
    ObjectNode opt = o.putObject("optimization");
    opt.put("priority", "PRIORITY_DEFAULT");
    opt.putObject("input_pinned_memory").put("enable", true);
    opt.putObject("output_pinned_memory").put("enable", true);
    opt.put("gather_kernel_buffer_threshold", 0);
    opt.put("eager_batching", false);
    SessionOptions so = config.sessionOptions();
    opt.putObject("graph").put("level", graphLevel(so.optimizationLevel()));
    SequenceBatchingConfig sequences = config.sequenceBatching();
    if (sequences != null) {
      o.set("sequence_batching", sequenceBatching(sequences, config.scheduling()));
    } else if (config.dynamicBatching()) {
      SchedulingConfig sc = config.scheduling();
      ObjectNode db = o.putObject("dynamic_batching");
      ArrayNode preferred = db.putArray("preferred_batch_size");
      sc.preferredBatchSizes().forEach(preferred::add);
      db.put("max_queue_delay_microseconds", sc.maxQueueDelayMicros());
      db.put("preserve_ordering", sc.preserveOrdering());
      db.put("priority_levels", sc.priorityLevels());
      db.put("default_priority_level", sc.defaultPriorityLevel());
      queuePolicy(db.putObject("default_queue_policy"), sc.defaultQueuePolicy());
      ObjectNode levels = db.putObject("priority_queue_policy");
      sc.priorityQueuePolicies()
          .forEach((level, q) -> queuePolicy(levels.putObject(level.toString()), q));
    }
    ArrayNode groups = o.putArray("instance_group");
    boolean gpu = "cuda".equals(so.executionProvider());
    if (config.instanceGroups().isEmpty()) {
      instanceGroup(
          groups,
          config.name(),
          gpu ? "KIND_GPU" : "KIND_CPU",
          config.instanceCount(),
          gpu ? List.of(so.deviceId()) : List.of());
    } else {
      // as configured (a config.pbtxt's instance_group, Triton's defaults filled in), so that a
      // configuration read here and loaded back keeps its groups; unnamed ones named as Triton does
      for (int i = 0; i < config.instanceGroups().size(); i++) {
        ModelConfigFile.InstanceGroupFile group = config.instanceGroups().get(i);
        instanceGroup(
            groups,
            group.name() != null ? group.name() : config.name() + "_" + i,
            Objects.requireNonNullElse(group.kind(), "KIND_CPU"),
            Objects.requireNonNullElse(group.count(), 1),
            Objects.requireNonNullElse(group.gpus(), List.of()));
      }
    }
    o.put("default_model_filename", config.defaultModelFilename());
    o.putObject("cc_model_filenames");
    o.putObject("metric_tags");
    o.putObject("response_cache").put("enable", config.responseCache().enabled());
    ObjectNode params = o.putObject("parameters");
    putParam(params, "intra_op_thread_count", Integer.toString(so.intraOpThreads()));
    putParam(params, "inter_op_thread_count", Integer.toString(so.interOpThreads()));
    putParam(
        params,
        "execution_mode",
        so.executionMode() == SessionOptions.ExecutionMode.PARALLEL ? "1" : "0");
    putParam(params, "enable_mem_arena", so.memoryArena() ? "1" : "0");
    putParam(params, "enable_mem_pattern", so.memoryPattern() ? "1" : "0");
    o.set("model_warmup", warmup(config));
    o.putObject("model_transaction_policy").put("decoupled", false);
    return o;
  }

  /** Triton's {@code ModelQueuePolicy}: the default's or a priority level's. */
  private static void queuePolicy(ObjectNode policy, SchedulingConfig.QueuePolicy q) {
    policy.put("timeout_action", q.timeoutAction().name());
    policy.put("default_timeout_microseconds", q.defaultTimeoutMicros());
    policy.put("allow_timeout_override", q.allowTimeoutOverride());
    policy.put("max_queue_size", q.maxQueueSize());
  }

  /**
   * An ensemble's configuration as Triton shows it: {@code platform: "ensemble"}, no backend, its
   * declared tensors and its {@code ensemble_scheduling} steps (version -1 for the newest), which
   * loads back unchanged.
   */
  private static ObjectNode ensembleConfig(ModelConfig config, EnsembleConfig ensemble) {
    ObjectNode o = F.objectNode();
    o.put("name", config.name());
    o.put("platform", EnsembleConfig.PLATFORM);
    o.put("backend", "");
    o.put("runtime", "");
    o.set("version_policy", versionPolicy(config.versionPolicy()));
    o.put("max_batch_size", config.maxBatchSize());
    o.set("input", configTensors(config.inputs(), true));
    o.set("output", configTensors(config.outputs(), false));
    o.putArray("batch_input");
    o.putArray("batch_output");
    ObjectNode scheduling = o.putObject("ensemble_scheduling");
    ArrayNode steps = scheduling.putArray("step");
    if (ensemble.maxInflightRequests() > 0) {
      scheduling.put("max_inflight_requests", ensemble.maxInflightRequests());
    }
    for (EnsembleConfig.Step st : ensemble.steps()) {
      ObjectNode step = steps.addObject();
      step.put("model_name", st.model());
      step.put("model_version", st.modelVersion());
      ObjectNode in = step.putObject("input_map");
      st.inputs().forEach(m -> in.put(m.modelTensor(), m.ensembleTensor()));
      ObjectNode out = step.putObject("output_map");
      st.outputs().forEach(m -> out.put(m.modelTensor(), m.ensembleTensor()));
      step.put("model_namespace", "");
    }
    o.putObject("cc_model_filenames");
    o.putObject("metric_tags");
    o.putObject("response_cache").put("enable", config.responseCache().enabled());
    o.putObject("parameters");
    o.putArray("model_warmup");
    return o;
  }

  /**
   * A stateful model's {@code sequence_batching} in Triton's form (its strategy with the dynamic
   * batcher's settings it maps to, each control with its false/true values in the input's type,
   * each state starting as zeros), which perf_analyzer reads to send its requests as sequences, and
   * which loads back unchanged.
   */
  private static ObjectNode sequenceBatching(SequenceBatchingConfig s, SchedulingConfig sc) {
    ObjectNode o = F.objectNode();
    if (s.strategy() == SequenceBatchingConfig.Strategy.OLDEST) {
      ObjectNode old = o.putObject("oldest");
      old.put("max_candidate_sequences", s.maxCandidateSequences());
      ArrayNode preferred = old.putArray("preferred_batch_size");
      sc.preferredBatchSizes().forEach(preferred::add);
      old.put("max_queue_delay_microseconds", sc.maxQueueDelayMicros());
      old.put("preserve_ordering", sc.preserveOrdering());
    } else {
      o.putObject("direct")
          .put("max_queue_delay_microseconds", sc.maxQueueDelayMicros())
          .put("minimum_slot_utilization", 0.0);
    }
    o.put("max_sequence_idle_microseconds", s.maxSequenceIdleMicros());
    ArrayNode controls = o.putArray("control_input");
    for (SequenceBatchingConfig.ControlInput c : s.controlInputs()) {
      ObjectNode in = controls.addObject();
      in.put("name", c.name());
      ObjectNode ctl = in.putArray("control").addObject();
      ctl.put("kind", "CONTROL_SEQUENCE_" + c.kind().name());
      ArrayNode i32 = ctl.putArray("int32_false_true");
      ArrayNode f32 = ctl.putArray("fp32_false_true");
      ArrayNode b = ctl.putArray("bool_false_true");
      if (c.kind() == SequenceBatchingConfig.Kind.CORRID) {
        ctl.put("data_type", c.datatype().configName());
      } else {
        switch (c.datatype()) {
          case FP32 -> f32.add(0.0).add(1.0);
          case BOOL -> b.add(false).add(true);
          default -> i32.add(0).add(1);
        }
        ctl.put("data_type", "TYPE_INVALID");
      }
    }
    ArrayNode states = o.putArray("state");
    for (SequenceBatchingConfig.State st : s.states()) {
      ObjectNode t = states.addObject();
      t.put("input_name", st.inputName());
      t.put("output_name", st.outputName());
      t.put("data_type", st.datatype().configName());
      ArrayNode dims = t.putArray("dims");
      st.dims().forEach(dims::add);
      t.putArray("initial_state");
      t.put("use_same_buffer_for_input_output", false);
      t.put("use_growable_memory", false);
    }
    o.put("iterative_sequence", false);
    return o;
  }

  /** One {@code instance_group} entry, with the fields Triton writes and Fulcrum does not use. */
  private static void instanceGroup(
      ArrayNode groups, String name, String kind, int count, List<Integer> gpus) {
    ObjectNode g = groups.addObject();
    g.put("name", name);
    g.put("kind", kind);
    g.put("count", count);
    ArrayNode devices = g.putArray("gpus");
    gpus.forEach(devices::add);
    g.putArray("secondary_devices");
    g.putArray("profile");
    g.put("passive", false);
    g.put("host_policy", "");
  }

  /**
   * The warm-up samples in Triton's {@code model_warmup} form, defaults filled in (batch size and
   * count 1, the input's type and dims), so that a configuration read here and sent back to {@code
   * load} keeps them. A file is named relative to the model's {@code warmup/} folder, as Triton's
   * {@code input_data_file} is.
   */
  private static ArrayNode warmup(ModelConfig config) {
    ArrayNode samples = F.arrayNode();
    for (ModelConfigFile.WarmupFile w : config.warmup()) {
      ObjectNode sample = samples.addObject();
      sample.put("name", Objects.requireNonNullElse(w.name(), ""));
      sample.put("batch_size", Objects.requireNonNullElse(w.batchSize(), 1));
      ObjectNode inputs = sample.putObject("inputs");
      if (w.inputs() != null) {
        w.inputs()
            .forEach(
                (name, in) -> {
                  ObjectNode i = inputs.putObject(name);
                  TensorConfig t = config.input(name).orElse(null);
                  i.put(
                      "data_type",
                      t != null
                          ? t.datatype().configName()
                          : Objects.requireNonNullElse(in.dataType(), ""));
                  ArrayNode dims = i.putArray("dims");
                  if (in.dims() != null) {
                    in.dims().forEach(dims::add);
                  } else if (t != null) {
                    for (long d : t.dims()) {
                      dims.add(d);
                    }
                  }
                  if (Boolean.TRUE.equals(in.zeroData())) {
                    i.put("zero_data", true);
                  } else if (Boolean.TRUE.equals(in.randomData())) {
                    i.put("random_data", true);
                  } else if (in.inputDataFile() != null) {
                    String file = in.inputDataFile();
                    i.put(
                        "input_data_file",
                        file.startsWith(WARMUP_FOLDER)
                            ? file.substring(WARMUP_FOLDER.length())
                            : "../" + file);
                  }
                });
      }
      sample.put("count", Objects.requireNonNullElse(w.count(), 1));
    }
    return samples;
  }

  private static final String WARMUP_FOLDER = "warmup/";

  private static void putParam(ObjectNode params, String key, String value) {
    params.putObject(key).put("string_value", value);
  }

  /** Triton's ONNX Runtime backend's graph levels: -1 basic, 1 extended, 2 disabled, 0 all. */
  private static int graphLevel(SessionOptions.OptimizationLevel level) {
    return switch (level) {
      case BASIC -> -1;
      case EXTENDED -> 1;
      case DISABLED -> 2;
      case ALL -> 0;
    };
  }

  private static ObjectNode versionPolicy(VersionPolicy p) {
    ObjectNode o = F.objectNode();
    switch (p) {
      case VersionPolicy.Latest l -> o.putObject("latest").put("num_versions", l.count());
      case VersionPolicy.All a -> o.putObject("all");
      case VersionPolicy.Specific s -> {
        ArrayNode v = o.putObject("specific").putArray("versions");
        s.versions().stream().sorted().forEach(v::add);
      }
    }
    return o;
  }

  private static ArrayNode configTensors(List<TensorConfig> tensors, boolean input) {
    ArrayNode a = F.arrayNode();
    for (TensorConfig t : tensors) {
      ObjectNode o = a.addObject();
      o.put("name", t.name());
      o.put("data_type", t.datatype().configName());
      if (input) {
        o.put("format", "FORMAT_NONE");
      }
      ArrayNode dims = o.putArray("dims");
      for (long d : t.dims()) {
        dims.add(d);
      }
      long[] reshape = t.reshape();
      if (reshape != null) {
        ArrayNode shape = o.putObject("reshape").putArray("shape");
        for (long d : reshape) {
          shape.add(d);
        }
      }
      o.put("is_shape_tensor", false);
      if (input) {
        o.put("allow_ragged_batch", false);
        o.put("optional", false);
      } else {
        o.put("label_filename", Objects.requireNonNullElse(t.labels(), ""));
      }
    }
    return a;
  }

  /** Triton's statistics extension document for the given versions. */
  public static ObjectNode statistics(List<ModelVersion> versions) {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    ArrayNode stats = root.putArray("model_stats");
    for (ModelVersion mv : versions) {
      ModelStatistics.Snapshot s = mv.statistics().snapshot();
      ObjectNode m = stats.addObject();
      m.put("name", mv.name());
      m.put("version", mv.versionString());
      m.put("last_inference", s.lastInferenceMillis());
      m.put("inference_count", s.inferenceCount());
      m.put("execution_count", s.executionCount());
      // Fulcrum's extras (Triton's statistics have no load time; gRPC clients ignore them).
      m.put("load_duration_ns", mv.loadDuration().toNanos());
      m.put("warmup_duration_ns", mv.warmupDuration().toNanos());
      ObjectNode is = m.putObject("inference_stats");
      duration(is, "success", s.success());
      duration(is, "fail", s.fail());
      duration(is, "queue", s.queue());
      duration(is, "compute_input", s.computeInput());
      duration(is, "compute_infer", s.computeInfer());
      duration(is, "compute_output", s.computeOutput());
      duration(is, "cache_hit", s.cacheHit());
      duration(is, "cache_miss", s.cacheMiss());
      ArrayNode batches = m.putArray("batch_stats");
      for (ModelStatistics.BatchStats b : s.batchStats()) {
        ObjectNode bo = batches.addObject();
        bo.put("batch_size", b.batchSize());
        duration(bo, "compute_input", b.computeInput());
        duration(bo, "compute_infer", b.computeInfer());
        duration(bo, "compute_output", b.computeOutput());
      }
      m.putArray("memory_usage");
      ObjectNode f = m.putObject("fulcrum");
      f.put("rejected", s.rejected());
      f.put("timed_out", s.timedOut());
      f.put("cancelled", s.cancelled());
      f.put("invalid", s.invalid());
      f.put("pending", mv.pending());
      dev.fulcrum.core.scheduler.SequenceBatcher seq = mv.sequences();
      if (seq != null) {
        // a stateful model's sequence batcher, as its metrics show it (docs/METRICS.md)
        f.putObject("sequences")
            .put("slots", seq.slots())
            .put("held", seq.activeSequences())
            .put("backlog", seq.backlogSequences())
            .put("waiting", seq.waiting())
            .put("idle_ended", seq.idleEnded());
      }
      // A pipeline model's steps before and after the forward pass (not in queue or compute).
      duration(f, "preprocess", s.preprocess());
      duration(f, "postprocess", s.postprocess());
    }
    return root;
  }

  private static void duration(ObjectNode parent, String name, ModelStatistics.Duration d) {
    parent.putObject(name).put("count", d.count()).put("ns", d.ns());
  }
}
