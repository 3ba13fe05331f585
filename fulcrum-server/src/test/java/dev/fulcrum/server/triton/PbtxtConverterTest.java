package dev.fulcrum.server.triton;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.testkit.EnsembleModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class PbtxtConverterTest {
  private static final Path FILE = Path.of("m", "config.pbtxt");

  private static PbtxtConverter.Converted convert(String pbtxt) throws ConfigException {
    return PbtxtConverter.convert(PbtxtConfigFormat.parseProto(pbtxt, FILE), FILE);
  }

  /**
   * An image model in the layout Triton's ONNX examples use: no batching, channel-first input and
   * flat scores reshaped for the graph, labels.
   */
  @Test
  void reshapedImageModel() throws Exception {
    PbtxtConverter.Converted c =
        convert(
            """
            # Written for Fulcrum's tests: max_batch_size with a space before the colon, format,
            # reshape on both sides and label_filename.
            platform: "onnxruntime_onnx"
            name: "crop_disease"
            max_batch_size : 0
            output [
              {
                name: "disease_logits"
                dims: [ 40 ]
                data_type: TYPE_FP32
                label_filename: "diseases.txt"
                reshape { shape: [ 1, 40, 1, 1 ] }
              }
            ]
            input [
              {
                name: "leaf_photo"
                dims: [ 3, 96, 96 ]
                data_type: TYPE_FP32
                reshape { shape: [ 1, 3, 96, 96 ] }
                format: FORMAT_NCHW
              }
            ]
            """);
    ModelConfigFile f = c.config();
    assertThat(f.name()).isEqualTo("crop_disease");
    assertThat(f.platform()).isEqualTo("onnxruntime_onnx");
    assertThat(f.maxBatchSize()).isZero();
    assertThat(f.inputs())
        .containsExactly(
            new ModelConfigFile.Tensor(
                "leaf_photo",
                "FP32",
                List.of(3L, 96L, 96L),
                null,
                null,
                List.of(1L, 3L, 96L, 96L)));
    assertThat(f.outputs())
        .containsExactly(
            new ModelConfigFile.Tensor(
                "disease_logits",
                "FP32",
                List.of(40L),
                null,
                "diseases.txt",
                List.of(1L, 40L, 1L, 1L)));
    assertThat(f.instanceCount()).isEqualTo(PbtxtConverter.DEFAULT_CPU_COUNT); // no instance_group
    assertThat(f.onnxruntime()).isNull();
    assertThat(f.dynamicBatching()).isNull();
    assertThat(c.ignored()).containsExactly("input[0].format");
  }

  /** Triton's empty reshape (a batching model's [N] as [N, 1] to clients) is kept as empty. */
  @Test
  void emptyReshapeIsAScalarPerRow() throws Exception {
    PbtxtConverter.Converted c =
        convert(
            """
            max_batch_size: 64
            input [ { name: "len" data_type: TYPE_INT32 dims: [ 1 ] reshape: { shape: [ ] } } ]
            output [ { name: "y" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]
            """);
    assertThat(c.config().inputs().get(0).reshape()).isEmpty();
    assertThat(c.config().outputs().get(0).reshape()).isNull();
    assertThat(c.ignored()).isEmpty();
  }

  /**
   * Whole configurations written in Triton's format to cover what real model repositories use
   * (src/test/resources/triton-configs): list and single-message syntax, comments, field order.
   */
  private static PbtxtConverter.Converted fixture(String name) throws Exception {
    String text =
        new String(
            java.util.Objects.requireNonNull(
                    PbtxtConverterTest.class.getResourceAsStream(
                        "/triton-configs/" + name + ".pbtxt"))
                .readAllBytes(),
            java.nio.charset.StandardCharsets.UTF_8);
    com.google.protobuf.TextFormatParseInfoTree.Builder tree =
        com.google.protobuf.TextFormatParseInfoTree.builder();
    return PbtxtConverter.convert(
        PbtxtConfigFormat.parseProto(text, FILE, tree), FILE, tree.build());
  }

  @Test
  void realTritonConfigsMapWithoutSilentDrops() throws Exception {
    PbtxtConverter.Converted nchw = fixture("leaf_classifier_nchw");
    assertThat(nchw.config().inputs().get(0).reshape()).containsExactly(1L, 3L, 128L, 128L);
    assertThat(nchw.config().outputs().get(0).labels()).isEqualTo("leaf_species.txt");
    assertThat(fixture("bird_classifier_nhwc").config().outputs().get(0).reshape())
        .containsExactly(1L, 640L);

    PbtxtConverter.Converted trt = fixture("ort_tensorrt_warmup");
    assertThat(trt.config().modelWarmup()).hasSize(1);
    assertThat(trt.config().onnxruntime().graphOptimizationLevel()).isEqualTo("extended");
    assertThat(trt.ignored())
        .containsExactly(
            "optimization.execution_accelerators.gpu_execution_accelerator[0].name",
            "optimization.execution_accelerators.gpu_execution_accelerator[0].parameters[precision_mode]",
            "optimization.execution_accelerators.gpu_execution_accelerator[0].parameters[max_workspace_size_bytes]");
    // Each ignored field is named with its line in the file, for the warning.
    assertThat(trt.describeIgnored())
        .isEqualTo(
            "optimization.execution_accelerators.gpu_execution_accelerator[0].name (line 27), "
                + "optimization.execution_accelerators.gpu_execution_accelerator[0].parameters"
                + "[precision_mode] (line 28), "
                + "optimization.execution_accelerators.gpu_execution_accelerator[0].parameters"
                + "[max_workspace_size_bytes] (line 29)");

    PbtxtConverter.Converted twoBlocks = fixture("dynamic_shape_two_output_blocks");
    assertThat(twoBlocks.ignored()).isEmpty();
    assertThat(twoBlocks.config().maxBatchSize()).isZero();
    assertThat(twoBlocks.config().outputs()).hasSize(2);

    PbtxtConverter.Converted encoder = fixture("gpu_encoder_parameters");
    assertThat(encoder.config().onnxruntime().executionProvider()).isEqualTo("cuda");
    assertThat(encoder.config().onnxruntime().executionMode()).isEqualTo("parallel");
    assertThat(encoder.describeIgnored()).isEqualTo("parameters[cudnn_conv_algo_search] (line 31)");

    assertThat(fixture("gpu_two_instances").config().instanceCount()).isEqualTo(2);
    assertThat(fixture("string_tensors").ignored()).isEmpty();
    assertThat(fixture("cpu_named_instance").ignored()).isEmpty();
    assertThat(fixture("optional_input").describeIgnored())
        .isEqualTo("input[1].optional (line 15)");
  }

  /**
   * A direct sequence batcher converts: its control inputs (0/1) and states; the batcher joins
   * ready sequences, so dynamic batching is on without dynamic_batching. The oldest strategy
   * converts with its candidates and batching settings; other false/true values are refused by
   * name.
   */
  @Test
  void sequenceBatchersConvertAndWhatIsNotSupportedIsRefusedNamingTheField() throws Exception {
    PbtxtConverter.Converted direct = fixture("sequence_control_inputs");
    assertThat(direct.ignored()).isEmpty();
    assertThat(direct.config().sequenceBatching())
        .isEqualTo(
            new ModelConfigFile.SequenceBatchingFile(
                null,
                List.of(
                    new ModelConfigFile.ControlInputFile("is_first", "start"),
                    new ModelConfigFile.ControlInputFile("is_ready", "ready")),
                null));
    assertThat(direct.config().dynamicBatching().enabled()).isTrue();
    PbtxtConverter.Converted oldest = fixture("sequence_oldest_correlation");
    assertThat(oldest.ignored()).containsExactly("parameters[step_delay_ms]");
    assertThat(oldest.config().sequenceBatching())
        .isEqualTo(
            new ModelConfigFile.SequenceBatchingFile(
                2_000_000L,
                List.of(
                    new ModelConfigFile.ControlInputFile("begin_flag", "start"),
                    new ModelConfigFile.ControlInputFile("end_flag", "end"),
                    new ModelConfigFile.ControlInputFile("ready_flag", "ready"),
                    new ModelConfigFile.ControlInputFile("session_id", "corrid")),
                null,
                "oldest",
                64));
    assertThat(oldest.config().dynamicBatching())
        .as("the oldest strategy's batching settings go to the dynamic batcher")
        .isEqualTo(new ModelConfigFile.DynamicBatchingFile(true, 5000L, null, null, null, null));
    PbtxtConverter.Converted full =
        convert(
            "max_batch_size: 8 sequence_batching { oldest { preferred_batch_size: [ 4, 8 ]"
                + " preserve_ordering: true } }");
    assertThat(full.ignored()).isEmpty();
    assertThat(full.config().sequenceBatching().maxCandidateSequences())
        .as("0 or absent: Triton's default, max_batch_size")
        .isNull();
    assertThat(full.config().dynamicBatching())
        .isEqualTo(
            new ModelConfigFile.DynamicBatchingFile(true, null, List.of(4, 8), true, null, null));
    assertThat(
            convert(
                    "sequence_batching { state [ { input_name: \"sum_so_far\""
                        + " output_name: \"new_sum\" data_type: TYPE_FP32 dims: [ 1 ] } ] }")
                .config()
                .sequenceBatching()
                .states())
        .containsExactly(
            new ModelConfigFile.StateFile("sum_so_far", "new_sum", "FP32", List.of(1L)));
    assertThatThrownBy(
            () ->
                convert(
                    "sequence_batching { control_input [ { name: \"s\" control [ { kind:"
                        + " CONTROL_SEQUENCE_START int32_false_true: [ 1, 0 ] } ] } ] }"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("sequence_batching.control_input[0].control[0]");
    assertThatThrownBy(
            () ->
                convert(
                    "batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: \"n\""
                        + " data_type: TYPE_FP32 } ]"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("batch_input[0]")
        .hasMessageContaining("[n]");
  }

  /** Lines hold in Triton's list syntax too, where one parse record spans the whole list. */
  @Test
  void ignoredFieldsOfListElementsKeepTheirLines() throws Exception {
    String text =
        """
        input [
          { name: "a" data_type: TYPE_FP32 dims: [ 1 ] },
          { name: "b" data_type: TYPE_FP32 dims: [ 1 ]
            optional: true },
          { name: "c" data_type: TYPE_FP32 dims: [ 1 ] format: FORMAT_NHWC }
        ]
        parameters [
          { key: "gpu_mem_limit" value: { string_value: "1" } },
          { key: "cudnn_conv_algo_search"
            value: { string_value: "0" } }
        ]
        """;
    com.google.protobuf.TextFormatParseInfoTree.Builder tree =
        com.google.protobuf.TextFormatParseInfoTree.builder();
    PbtxtConverter.Converted c =
        PbtxtConverter.convert(PbtxtConfigFormat.parseProto(text, FILE, tree), FILE, tree.build());
    assertThat(c.describeIgnored())
        .isEqualTo(
            "input[1].optional (line 4), input[2].format (line 5), parameters[gpu_mem_limit]"
                + " (line 8), parameters[cudnn_conv_algo_search] (line 9)");
  }

  @Test
  void anEnsembleIsMappedStepByStepAndItsErrorsNameTritonsFields() throws Exception {
    PbtxtConverter.Converted c =
        convert(
            EnsembleModels.ENSEMBLE_PBTXT.replace("name: \"scale_classify\"\n", "")
                + "instance_group [ { count: 2 kind: KIND_CPU } ]\n");
    ModelConfigFile f = c.config();
    assertThat(f.platform()).isEqualTo("ensemble");
    assertThat(f.maxBatchSize()).isEqualTo(8);
    assertThat(f.instanceCount()).isNull();
    assertThat(f.ensemble()).isNotNull();
    List<ModelConfigFile.EnsembleStepFile> steps = f.ensemble().steps();
    assertThat(steps)
        .extracting(ModelConfigFile.EnsembleStepFile::model)
        .containsExactly("scale", "classify");
    assertThat(steps.get(0).modelVersion()).isEqualTo(-1);
    assertThat(steps.get(0).inputMap()).containsEntry("RAW", "INPUT");
    assertThat(steps.get(1).outputMap()).containsEntry("LABEL", "LABEL");
    // what an ensemble has no use for is named, as any ignored field
    assertThat(c.ignored()).containsExactly("instance_group[0].count", "instance_group[0].kind");

    ModelConfigResolver resolver = new ModelConfigResolver(4, 32);
    assertThat(resolver.deployment("m", f, FILE).ensemble()).isNotNull();
    ModelConfigFile broken =
        convert(
                EnsembleModels.ENSEMBLE_PBTXT.replace(
                    "key: \"FEATURES\" value: \"scaled\"", "key: \"FEATURES\" value: \"scaledd\""))
            .config();
    assertThatThrownBy(() -> resolver.deployment("scale_classify", broken, FILE))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(
            "field 'ensemble_scheduling.step[1].input_map[FEATURES]': ensemble tensor 'scaledd' is"
                + " taken but never made");
  }

  @Test
  void anEnsemblesMaxInflightRequestsIsMapped() throws Exception {
    PbtxtConverter.Converted bounded =
        convert(
            EnsembleModels.ENSEMBLE_PBTXT.replace(
                "ensemble_scheduling {", "ensemble_scheduling {\n  max_inflight_requests: 16"));
    assertThat(bounded.ignored()).isEmpty();
    assertThat(bounded.config().ensemble().maxInflightRequests()).isEqualTo(16);
    assertThat(
            new ModelConfigResolver(4, 32)
                .deployment("scale_classify", bounded.config(), FILE)
                .ensemble()
                .maxInflightRequests())
        .isEqualTo(16);
    // 0 is Triton's default: no bound
    assertThat(convert(EnsembleModels.ENSEMBLE_PBTXT).config().ensemble().maxInflightRequests())
        .isNull();
  }

  @Test
  void responseCacheIsMapped() throws Exception {
    PbtxtConverter.Converted c = convert("response_cache { enable: true }");
    assertThat(c.config().responseCache())
        .isEqualTo(new ModelConfigFile.ResponseCacheFile(true, null));
    assertThat(c.ignored()).isEmpty();
  }

  @Test
  void everySupportedFieldIsMapped() throws Exception {
    PbtxtConverter.Converted c =
        convert(
            """
            name: "fraud"
            backend: "onnxruntime"
            default_model_filename: "fraud.onnx"
            max_batch_size: 64
            version_policy: { specific: { versions: [1, 3] } }
            input [ { name: "features" data_type: TYPE_FP32 dims: [ 8 ] } ]
            output [
              { name: "probabilities" data_type: TYPE_FP32 dims: [ 2 ] },
              { name: "label" data_type: TYPE_STRING dims: [ 1 ] }
            ]
            instance_group [ { name: "cpu" count: 2 kind: KIND_CPU }, { count: 1 } ]
            dynamic_batching {
              preferred_batch_size: [ 16, 32 ]
              max_queue_delay_microseconds: 500
              preserve_ordering: true
              priority_levels: 3
              default_priority_level: 2
              default_queue_policy {
                timeout_action: DELAY
                default_timeout_microseconds: 100000
                allow_timeout_override: true
                max_queue_size: 0
              }
            }
            optimization { graph: { level: -1 } }
            parameters { key: "intra_op_thread_count" value: { string_value: "2" } }
            parameters { key: "inter_op_thread_count" value: { string_value: "1" } }
            parameters { key: "execution_mode" value: { string_value: "1" } }
            parameters { key: "enable_mem_arena" value: { string_value: "0" } }
            parameters { key: "enable_mem_pattern" value: { string_value: "false" } }
            """);
    ModelConfigFile f = c.config();
    assertThat(c.ignored()).isEmpty();
    assertThat(f.name()).isEqualTo("fraud");
    assertThat(f.platform()).isEqualTo("onnxruntime_onnx");
    assertThat(f.defaultModelFilename()).isEqualTo("fraud.onnx");
    assertThat(f.maxBatchSize()).isEqualTo(64);
    assertThat(f.versionPolicy())
        .isEqualTo(new ModelConfigFile.VersionPolicyFile(null, null, List.of(1L, 3L)));
    assertThat(f.outputs().get(1))
        .isEqualTo(new ModelConfigFile.Tensor("label", "BYTES", List.of(1L)));
    assertThat(f.instanceCount()).isEqualTo(3);
    assertThat(f.instanceGroups())
        .containsExactly(
            new ModelConfigFile.InstanceGroupFile("cpu", "KIND_CPU", 2, List.of()),
            new ModelConfigFile.InstanceGroupFile(null, "KIND_CPU", 1, List.of()));
    assertThat(f.onnxruntime())
        .isEqualTo(
            new ModelConfigFile.OnnxRuntimeFile(
                2, 1, "basic", "parallel", false, false, null, null, null, null, null));
    assertThat(f.dynamicBatching())
        .isEqualTo(
            new ModelConfigFile.DynamicBatchingFile(true, 500L, List.of(16, 32), true, 3, 2));
    assertThat(f.queuePolicy())
        .isEqualTo(new ModelConfigFile.QueuePolicyFile(0, 100000L, "delay", true));
  }

  @Test
  void versionPoliciesAndGraphLevels() throws Exception {
    assertThat(convert("version_policy { latest { num_versions: 2 } }").config().versionPolicy())
        .isEqualTo(new ModelConfigFile.VersionPolicyFile(2, null, null));
    assertThat(convert("version_policy { all {} }").config().versionPolicy())
        .isEqualTo(new ModelConfigFile.VersionPolicyFile(null, true, null));
    assertThat(
            convert("optimization { graph { level: 1 } }")
                .config()
                .onnxruntime()
                .graphOptimizationLevel())
        .isEqualTo("extended");
    assertThat(
            convert("optimization { graph { level: 2 } }")
                .config()
                .onnxruntime()
                .graphOptimizationLevel())
        .isEqualTo("disabled");
    assertThat(
            convert("optimization { graph { } }").config().onnxruntime().graphOptimizationLevel())
        .isEqualTo("all");
  }

  @Test
  void maxBatchSizeAndSchedulerFollowTritonsAutoComplete() throws Exception {
    String io =
        "input [ { name: \"x\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n"
            + "output [ { name: \"y\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n";
    // Inputs and outputs given: exactly as written; no dynamic_batching means no batching.
    ModelConfigFile stated = convert(io + "max_batch_size: 8").config();
    assertThat(stated.maxBatchSize()).isEqualTo(8);
    assertThat(stated.dynamicBatching().enabled()).isFalse();
    assertThat(convert(io).config().maxBatchSize()).isZero();
    // Otherwise Triton completes from the model: 0 or absent leaves it to the graph.
    assertThat(convert("max_batch_size: 0").config().maxBatchSize()).isNull();
    assertThat(convert("").config().maxBatchSize()).isNull();
    // A negative one is an error either way: it loaded with the default 32 without io.
    for (String negative : List.of("max_batch_size: -3", io + "max_batch_size: -3")) {
      assertThatThrownBy(() -> convert(negative))
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining("field 'max-batch-size': must be >= 0, was -3");
    }
    ModelConfigFile partial = convert("max_batch_size: 8").config();
    assertThat(partial.maxBatchSize()).isEqualTo(8);
    assertThat(partial.dynamicBatching()).isNull();
    assertThat(convert(io + "max_batch_size: 8\ndynamic_batching {}").config().dynamicBatching())
        .isEqualTo(new ModelConfigFile.DynamicBatchingFile(true, 0L, null, false, 0, 0));
    assertThat(convert("dynamic_batching { default_queue_policy {} }").config().queuePolicy())
        .isEqualTo(new ModelConfigFile.QueuePolicyFile(null, 0L, "reject", false));
  }

  @Test
  void priorityQueuePolicyIsEachLevelsQueuePolicy() throws Exception {
    PbtxtConverter.Converted c =
        convert(
            """
            dynamic_batching {
              priority_levels: 3
              priority_queue_policy { key: 1 value: { max_queue_size: 3 timeout_action: DELAY } }
              priority_queue_policy {
                key: 3 value: { default_timeout_microseconds: 500 allow_timeout_override: true } }
            }
            """);
    assertThat(c.ignored()).isEmpty();
    // Triton's level 3 has no max_queue_size: Fulcrum's bounded default, as for the default policy.
    assertThat(c.config().priorityQueuePolicy())
        .containsExactly(
            java.util.Map.entry("1", new ModelConfigFile.QueuePolicyFile(3, 0L, "delay", false)),
            java.util.Map.entry(
                "3", new ModelConfigFile.QueuePolicyFile(null, 500L, "reject", true)));
  }

  @Test
  void gpuInstanceGroupSelectsTheCudaProvider() throws Exception {
    PbtxtConverter.Converted c =
        convert("instance_group [ { count: 2 kind: KIND_GPU gpus: [ 1 ] } ]");
    assertThat(c.config().instanceCount()).isEqualTo(2);
    assertThat(c.config().onnxruntime().executionProvider()).isEqualTo("cuda");
    assertThat(c.config().onnxruntime().deviceId()).isEqualTo(1);
    assertThat(c.ignored()).isEmpty();
  }

  @Test
  void aGroupWithoutCountGetsTritonsDefaultForTheOnnxRuntimeBackend() throws Exception {
    // Triton core's SetDefaultInstanceCount: 2 for KIND_CPU on onnxruntime (and tensorflow), 1 on
    // each GPU; KIND_AUTO is KIND_CPU on a machine without GPUs
    PbtxtConverter.Converted c =
        convert(
            """
            instance_group [ { kind: KIND_CPU }, { count: 1 kind: KIND_CPU }, { kind: KIND_AUTO } ]
            """);
    assertThat(c.ignored()).isEmpty();
    assertThat(c.config().instanceCount()).isEqualTo(5);
    assertThat(c.config().instanceGroups())
        .extracting(ModelConfigFile.InstanceGroupFile::count)
        .containsExactly(2, 1, 2);
    assertThat(
            convert("instance_group [ { kind: KIND_GPU gpus: [ 0 ] } ]").config().instanceGroups())
        .containsExactly(new ModelConfigFile.InstanceGroupFile(null, "KIND_GPU", 1, List.of(0)));
  }

  @Test
  void noInstanceGroupIsOneCpuGroupOfTritonsDefaultCount() throws Exception {
    // Triton core's NormalizeInstanceGroup adds one KIND_AUTO group to a configuration without
    // any, then SetDefaultInstanceCount gives it 2 (KIND_CPU, onnxruntime): as the empty group {}.
    PbtxtConverter.Converted c = convert("max_batch_size: 0");
    assertThat(c.ignored()).isEmpty();
    assertThat(c.config().instanceCount()).isEqualTo(2);
    assertThat(c.config().instanceGroups())
        .containsExactly(new ModelConfigFile.InstanceGroupFile(null, "KIND_CPU", 2, List.of()));
    PbtxtConverter.Converted empty = convert("max_batch_size: 0\ninstance_group [ {} ]");
    assertThat(empty.config().instanceCount()).isEqualTo(c.config().instanceCount());
    assertThat(empty.config().instanceGroups()).isEqualTo(c.config().instanceGroups());
    assertThat(c.config().onnxruntime()).isNull(); // on the CPU, threads as the server shares them
  }

  @Test
  void everyUnsupportedSetFieldIsListedByPath() throws Exception {
    PbtxtConverter.Converted c =
        convert(
            """
            platform: "onnxruntime_onnx"
            max_batch_size: 4
            input [ { name: "x" data_type: TYPE_FP32 dims: [ -1 ] allow_ragged_batch: true } ]
            output [ { name: "y" data_type: TYPE_FP32 dims: [ -1 ] } ]
            instance_group [
              { count: 1 kind: KIND_CPU rate_limiter { priority: 2 } },
              { count: 1 kind: KIND_GPU gpus: [ 0, 1 ] },
              { kind: KIND_MODEL }
            ]
            dynamic_batching {
              max_queue_delay_microseconds: 10
              priority_levels: 2
              priority_queue_policy { key: 1 value: { max_queue_size: 3 } }
            }
            optimization {
              priority: PRIORITY_MAX
              cuda { graphs: true busy_wait_events: true }
              execution_accelerators {
                gpu_execution_accelerator : [ { name : "tensorrt"
                  parameters { key: "precision_mode" value: "FP16" } } ]
              }
              input_pinned_memory { enable: false }
            }
            parameters { key: "intra_op_thread_count" value: { string_value: "2" } }
            parameters { key: "memory.enable_memory_arena_shrinkage" value: { string_value: "cpu:0" } }
            model_warmup [
              { name: "w" batch_size: 1 count: 2
                inputs { key: "x" value: { data_type: TYPE_FP32 dims: [ 4 ] zero_data: true } } }
            ]
            model_transaction_policy { decoupled: false }
            metric_tags { key: "team" value: "fraud" }
            """);
    assertThat(c.ignored())
        .containsExactlyInAnyOrder(
            "input[0].allow_ragged_batch",
            "instance_group[0].rate_limiter.priority",
            "instance_group[1].kind",
            "instance_group[1].count",
            "instance_group[1].gpus",
            "instance_group[2].kind",
            "optimization.priority",
            "optimization.cuda.graphs",
            "optimization.cuda.busy_wait_events",
            "optimization.execution_accelerators.gpu_execution_accelerator[0].name",
            "optimization.execution_accelerators.gpu_execution_accelerator[0].parameters[precision_mode]",
            "optimization.input_pinned_memory",
            "parameters[memory.enable_memory_arena_shrinkage]",
            "model_transaction_policy",
            "metric_tags[team]");
    assertThat(c.config().instanceCount()).isEqualTo(1);
    assertThat(c.config().onnxruntime().intraOpThreads()).isEqualTo(2);
    assertThat(c.config().modelWarmup())
        .containsExactly(
            new ModelConfigFile.WarmupFile(
                "w",
                1,
                2,
                java.util.Map.of(
                    "x",
                    new ModelConfigFile.WarmupInputFile("FP32", List.of(4L), true, null, null))));
  }

  @Test
  void sequenceBatchingAndEnsemblesAreListed() throws Exception {
    PbtxtConverter.Converted idle =
        convert("sequence_batching { max_sequence_idle_microseconds: 5000000 }");
    assertThat(idle.ignored()).isEmpty();
    assertThat(idle.config().sequenceBatching().maxSequenceIdleMicroseconds())
        .isEqualTo(5_000_000L);
    assertThat(convert("sequence_batching { direct { minimum_slot_utilization: 0.5 } }").ignored())
        .containsExactly("sequence_batching.direct.minimum_slot_utilization");
  }

  @Test
  void errorsNameFileFieldLineAndColumn() {
    assertThatThrownBy(() -> convert("max_batch_size: 4\ninput [ { nme: \"x\" } ]"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("config.pbtxt")
        .hasMessageContaining("line 2, column 11: unknown field inference.ModelInput.nme");
    assertThatThrownBy(() -> convert("max_batch_size: \"eight\""))
        .hasMessageContaining("line 1, column");
    assertThatThrownBy(
            () ->
                convert(
                    "parameters { key: \"intra_op_thread_count\" value: { string_value: \"two\" } }"))
        .hasMessageContaining("field 'parameters[intra_op_thread_count]'")
        .hasMessageContaining("'two' is not an integer");
    assertThatThrownBy(
            () -> convert("parameters { key: \"execution_mode\" value: { string_value: \"2\" } }"))
        .hasMessageContaining("parameters[execution_mode]");
    assertThatThrownBy(() -> convert("backend: \"python\""))
        .hasMessageContaining("field 'backend'")
        .hasMessageContaining("'python' is not supported");
  }

  @Test
  void formatReadsConfigPbtxt() throws Exception {
    PbtxtConfigFormat format = new PbtxtConfigFormat();
    assertThat(format.fileName()).isEqualTo("config.pbtxt");
    ModelConfigFile f =
        format.parse("max_batch_size: 4\noptimization { cuda { graphs: true } }\n", FILE);
    assertThat(f.maxBatchSize()).isEqualTo(4);
  }
}
