package dev.fulcrum.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelConfigLoaderTest {
  @TempDir Path dir;
  private final ModelConfigLoader loader = new ModelConfigLoader();
  private final ModelConfigResolver resolver = new ModelConfigResolver(2, 32);

  private static final ModelSignature BATCHABLE =
      new ModelSignature(
          List.of(new TensorSpec("features", DataType.FP32, new long[] {-1, 8})),
          List.of(
              new TensorSpec("probabilities", DataType.FP32, new long[] {-1, 2}),
              new TensorSpec("label", DataType.INT64, new long[] {-1})));

  private ModelConfig resolve(String yaml, ModelSignature sig) throws Exception {
    Path file = dir.resolve("config.yaml");
    Files.writeString(file, yaml);
    ModelConfigFile f = loader.read(file);
    return resolver.complete("m", f, file, resolver.deployment("m", f, file), sig);
  }

  private void assertFails(String yaml, String... fragments) {
    assertThatThrownBy(() -> resolve(yaml, BATCHABLE))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("config.yaml")
        .satisfies(e -> assertThat(e.getMessage()).contains(fragments).doesNotContain("java."));
  }

  @Test
  void fullConfigurationIsRead() throws Exception {
    ModelConfig c =
        resolve(
            """
            name: m
            platform: onnxruntime_onnx
            max-batch-size: 16
            inputs:
              - {name: features, datatype: TYPE_FP32, dims: [8]}
            outputs:
              - {name: probabilities, datatype: FP32, dims: [2]}
            version-policy: {specific: [1, 3]}
            instance-count: 2
            onnxruntime:
              intra-op-threads: 1
              inter-op-threads: 1
              graph-optimization-level: basic
              execution-mode: parallel
              memory-arena: false
            """,
            BATCHABLE);
    assertThat(c.maxBatchSize()).isEqualTo(16);
    assertThat(c.outputs()).extracting(TensorConfig::name).containsExactly("probabilities");
    assertThat(c.instanceCount()).isEqualTo(2);
    assertThat(c.versionPolicy().select(new TreeSet<>(List.of(1L, 2L, 3L))))
        .containsExactly(3L, 1L);
    SessionOptions o = c.sessionOptions();
    assertThat(o.intraOpThreads()).isEqualTo(1);
    assertThat(o.optimizationLevel()).isEqualTo(SessionOptions.OptimizationLevel.BASIC);
    assertThat(o.executionMode()).isEqualTo(SessionOptions.ExecutionMode.PARALLEL);
    assertThat(o.memoryArena()).isFalse();
  }

  /** Triton's reshape: dims are what clients send, reshape what the graph has (checked). */
  @Test
  void reshapeIsCheckedAgainstTheGraphAndDims() throws Exception {
    ModelConfig c =
        resolve(
            """
            max-batch-size: 4
            inputs:
              - {name: features, dims: [2, 4], reshape: [8]}
            outputs:
              - {name: probabilities, dims: [2, 1], reshape: [2]}
              - {name: label, dims: [1], reshape: []}
            """,
            BATCHABLE);
    assertThat(c.inputs().get(0).dims()).containsExactly(2, 4);
    assertThat(c.inputs().get(0).reshape()).containsExactly(8);
    assertThat(c.outputs().get(1).reshape()).isEmpty();
    assertFails(
        """
        max-batch-size: 4
        inputs:
          - {name: features, dims: [3, 4], reshape: [8]}
        """,
        "inputs[0].reshape",
        "does not hold the elements of dims [3, 4]");
    assertFails(
        """
        max-batch-size: 4
        inputs:
          - {name: features, dims: [2, 2, 2], reshape: [2, 4]}
        """,
        "inputs[0].reshape",
        "[2, 4] disagrees with the model's [8]");
    assertFails(
        """
        max-batch-size: 4
        inputs:
          - {name: features, reshape: [8]}
        """,
        "inputs[0].reshape",
        "needs dims");
  }

  @Test
  void threadsByLoadAreReadAndIgnoredForOneInstance() throws Exception {
    SessionOptions two =
        resolve(
                "instance-count: 2\nonnxruntime: {intra-op-threads: 1, intra-op-threads-alone: 2}\n",
                BATCHABLE)
            .sessionOptions();
    assertThat(two.intraOpThreads()).isEqualTo(1);
    assertThat(two.intraOpThreadsAlone()).isEqualTo(2);
    assertThat(two.threadsByLoad()).isTrue();
    // One instance's passes never overlap: intra-op-threads applies (so a sweep over
    // instance-count keeps working with the field written).
    SessionOptions one =
        resolve(
                "instance-count: 1\nonnxruntime: {intra-op-threads: 1, intra-op-threads-alone: 2}\n",
                BATCHABLE)
            .sessionOptions();
    assertThat(one.intraOpThreads()).isEqualTo(1);
    assertThat(one.threadsByLoad()).isFalse();
    assertThat(resolve("", BATCHABLE).sessionOptions().threadsByLoad()).isFalse();
    assertFails(
        "instance-count: 2\nonnxruntime: {intra-op-threads-alone: -1}\n",
        "field 'onnxruntime.intra-op-threads-alone'",
        "must be 0..1024",
        "was -1");
  }

  @Test
  void oneRowThreadsAreReadAndChecked() throws Exception {
    SessionOptions o =
        resolve("onnxruntime: {intra-op-threads: 2, intra-op-threads-one-row: 1}\n", BATCHABLE)
            .sessionOptions();
    assertThat(o.intraOpThreads()).isEqualTo(2);
    assertThat(o.intraOpThreadsOneRow()).isEqualTo(1);
    assertThat(o.threadsForOneRow()).isTrue();
    assertThat(o.withIntraOpThreads(1).threadsForOneRow()).isFalse();
    assertThat(resolve("", BATCHABLE).sessionOptions().intraOpThreadsOneRow()).isZero();
    assertFails(
        "onnxruntime: {intra-op-threads-one-row: -1}\n",
        "field 'onnxruntime.intra-op-threads-one-row'",
        "must be 0..1024",
        "was -1");
  }

  @Test
  void emptyConfigurationIsCompletedFromTheModel() throws Exception {
    ModelConfig c = resolve("", BATCHABLE);
    assertThat(c.maxBatchSize()).isEqualTo(32);
    assertThat(c.inputs().get(0).dims()).containsExactly(8);
    assertThat(c.outputs().get(1).dims()).isEmpty();
    assertThat(c.fullShape(c.outputs().get(1))).containsExactly(-1);
    assertThat(c.sessionOptions().intraOpThreads()).isEqualTo(2);

    ModelSignature fixed =
        new ModelSignature(
            List.of(new TensorSpec("x", DataType.INT64, new long[] {})),
            List.of(new TensorSpec("y", DataType.INT64, new long[] {})));
    ModelConfig scalar = resolve("", fixed);
    assertThat(scalar.maxBatchSize()).isZero();
    assertThat(scalar.inputs().get(0).dims()).isEmpty();
  }

  @Test
  void instanceGroupsRunTheirSumAndAreKeptAsWritten() throws Exception {
    ModelConfig c =
        resolve(
            "instance-groups:\n  - {kind: KIND_CPU, count: 2}\n  - {name: b, kind: KIND_CPU, count: 1}\n",
            BATCHABLE);
    assertThat(c.instanceCount()).isEqualTo(3);
    assertThat(c.instanceGroups())
        .containsExactly(
            new ModelConfigFile.InstanceGroupFile(null, "KIND_CPU", 2, null),
            new ModelConfigFile.InstanceGroupFile("b", "KIND_CPU", 1, null));
    assertThat(resolve("instance-count: 2\n", BATCHABLE).instanceGroups()).isEmpty();
    assertThat(
            resolve("instance-count: 3\ninstance-groups: [{kind: KIND_CPU, count: 3}]\n", BATCHABLE)
                .instanceCount())
        .isEqualTo(3);
    assertFails(
        "instance-count: 2\ninstance-groups: [{kind: KIND_CPU, count: 3}]\n",
        "instance-count",
        "sum of the instance-groups' counts (3)");
    assertFails("instance-groups: [{kind: KIND_CPU}]\n", "instance-groups[0].count", "1 or more");
    assertFails("instance-groups: [{kind: KIND_TPU, count: 1}]\n", "instance-groups[0].kind");
    assertFails(
        "instance-groups: [{kind: KIND_GPU, count: 1}]\n",
        "instance-groups[0].kind",
        "execution-provider: cuda");
  }

  @Test
  void errorsNameTheFileAndTheField() {
    assertFails("instance-cont: 2\n", "unknown field 'instance-cont'");
    assertFails("max-batch-size: many\n", "max-batch-size");
    assertFails("inputs:\n  - {name: features, datatype: FP33}\n", "inputs[0].datatype", "FP33");
    assertFails(
        "inputs:\n  - {name: feature, datatype: FP32}\n", "inputs[0].name", "has [features]");
    assertFails("inputs:\n  - {name: features, datatype: INT32}\n", "INT32", "FP32");
    assertFails("inputs:\n  - {name: features, dims: [9]}\n", "inputs[0].dims", "[9]");
    assertFails("version-policy: {latest: 1, all: true}\n", "version-policy");
    assertFails("onnxruntime: {execution-mode: turbo}\n", "onnxruntime.execution-mode", "turbo");
    assertFails("instance-count: 0\n", "instance-count");
    assertFails("platform: tensorflow\n", "platform");
    assertFails("name: other\n", "name", "folder name");
    assertFails("max-batch-size: 4: 5\n", "YAML");
    // A syntax error is one line with its position, whichever field the parser was under
    // (SnakeYAML's own message is lines of context and carets, and went so to the index).
    for (String broken :
        List.of(
            "max-batch-size: 64\nname: \"m\n",
            "inputs:\n  - name: features\n   datatype: FP32\n",
            "inputs: [ {name: features, dims: [8] }\nmax-batch-size: 8\n",
            "max-batch-size: 64\ninputs:\n\t- name: features\n")) {
      assertThatThrownBy(() -> resolve(broken, BATCHABLE))
          .as(broken)
          .isInstanceOf(ConfigException.class)
          .satisfies(
              e ->
                  assertThat(e.getMessage())
                      .contains("config.yaml: not valid YAML (or JSON): line ")
                      .doesNotContain("\n")
                      .doesNotContain("reader")
                      .doesNotContain("^"));
    }
    assertFails(
        "inputs:\n  - name: features\n   datatype: FP32\n",
        "line 3, column 4: expected <block end>, but found '<block mapping start>' (while"
            + " parsing a block collection at line 2, column 3)");
    assertFails(
        "max-batch-size: 64\ninputs:\n\t- name: features\n",
        "line 3, column 1: found a tab that cannot start any token. (indent with spaces)");
    assertFails("max-batch-size: [1]\n", "max-batch-size");
    // A typo never passes unnoticed: a key written twice, a fraction for a whole number.
    assertFails("max-batch-size: 4\nmax-batch-size: 8\n", "Duplicate", "max-batch-size");
    assertFails("max-batch-size: 8.7\n", "max-batch-size", "a whole number");
    assertFails("max-batch-size: [1, 2]\n", "max-batch-size", "a whole number");
    // The kind of value expected and the value given, not Jackson's wording.
    assertFails(
        "max-batch-size: lots\n",
        "config.yaml: field 'max-batch-size': expected a whole number, got \"lots\"");
    assertFails(
        "instance-count: 2.5\n", "field 'instance-count': expected a whole number, got 2.5");
    assertFails(
        "dynamic-batching: {enabled: yes please}\n",
        "field 'dynamic-batching.enabled': expected true or false, got \"yes please\"");
    assertFails("max-batch-size: [1, 2]\n", "expected a whole number, got a list");
    // A typo: the closest field, and the known ones sorted.
    assertThatThrownBy(() -> resolve("max-batch-sise: 64\n", BATCHABLE))
        .hasMessageContaining("unknown field 'max-batch-sise'; did you mean 'max-batch-size'?")
        .hasMessageContaining("Known fields here: [default-model-filename, dynamic-batching, ")
        .hasMessageNotContaining("Cannot");
    assertThatThrownBy(() -> resolve("zzz: 1\n", BATCHABLE))
        .hasMessageContaining("unknown field 'zzz'; known fields here: [")
        .hasMessageNotContaining("did you mean");
    assertFails(
        "slo: 10\n", "slo", "must be a section (a map of fields), not the Number value (10)");
    assertFails(
        "max-batch-size: 99999999999\n",
        "field 'max-batch-size': 99999999999 is out of range: expected a whole number from"
            + " -2147483648 to 2147483647");
    assertFails("- max-batch-size: 4\n", "must be a section (a map of fields), not a list");
    assertFails(
        "max-batch-size: 0\ndynamic-batching: {preferred-batch-sizes: [4]}\n",
        "dynamic-batching.preferred-batch-sizes",
        "does not batch");
  }

  /** A format that reads its file's text as the model's name. */
  private static final ModelConfigFormat NAME_FORMAT =
      new ModelConfigFormat() {
        @Override
        public String fileName() {
          return "config.name";
        }

        @Override
        public ModelConfigFile parse(String text, Path file) throws ConfigException {
          if (text.isBlank()) {
            throw new ConfigException(file, "name", "empty");
          }
          return new ModelConfigFile(
              text.strip(), null, null, null, null, null, null, null, null, null, null);
        }
      };

  @Test
  void folderWithoutConfigurationReadsAsEmpty() throws Exception {
    Path model = Files.createDirectories(dir.resolve("m"));
    ModelConfigLoader.FolderConfig found =
        new ModelConfigLoader(List.of(NAME_FORMAT)).readFolder(model);
    assertThat(found.config()).isEqualTo(ModelConfigFile.empty());
    assertThat(found.file()).isEqualTo(Path.of("m", "config.yaml"));
  }

  @Test
  void folderReadsAnotherFormatWhenThereIsNoConfigYaml() throws Exception {
    Path model = Files.createDirectories(dir.resolve("m"));
    Files.writeString(model.resolve("config.name"), "m\n");
    ModelConfigLoader.FolderConfig found =
        new ModelConfigLoader(List.of(NAME_FORMAT)).readFolder(model);
    assertThat(found.config().name()).isEqualTo("m");
    assertThat(found.file()).isEqualTo(Path.of("m", "config.name"));
    // A loader without the format does not see the file.
    assertThat(new ModelConfigLoader().readFolder(model).config())
        .isEqualTo(ModelConfigFile.empty());
  }

  @Test
  void configYamlWinsOverAnotherFormat() throws Exception {
    Path model = Files.createDirectories(dir.resolve("m"));
    Files.writeString(model.resolve("config.name"), "other\n");
    Files.writeString(model.resolve("config.yaml"), "max-batch-size: 4\n");
    ModelConfigLoader.FolderConfig found =
        new ModelConfigLoader(List.of(NAME_FORMAT)).readFolder(model);
    assertThat(found.config().maxBatchSize()).isEqualTo(4);
    assertThat(found.config().name()).isNull();
    assertThat(found.file()).isEqualTo(Path.of("m", "config.yaml"));
  }

  @Test
  void folderErrorsNameTheFileRelativeToTheRepository() throws Exception {
    Path model = Files.createDirectories(dir.resolve("m"));
    Files.writeString(model.resolve("config.yaml"), "instnace-count: 2\n");
    assertThatThrownBy(() -> new ModelConfigLoader().readFolder(model))
        .hasMessageStartingWith(Path.of("m", "config.yaml") + ": field 'instnace-count'")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(dir.toString()));
    Files.delete(model.resolve("config.yaml"));
    Files.writeString(model.resolve("config.name"), " ");
    assertThatThrownBy(() -> new ModelConfigLoader(List.of(NAME_FORMAT)).readFolder(model))
        .hasMessageStartingWith(Path.of("m", "config.name") + ": field 'name': empty");
  }

  @Test
  void allowNonFiniteIsPerFloatingPointInput() throws Exception {
    ModelConfig c =
        resolve(
            """
            inputs:
              - {name: features, allow-non-finite: true}
            """,
            BATCHABLE);
    assertThat(c.inputs().get(0).allowNonFinite()).isTrue();
    ModelConfig plain = resolve("inputs:\n  - {name: features}\n", BATCHABLE);
    assertThat(plain.inputs().get(0).allowNonFinite()).isFalse();
    assertFails(
        "outputs:\n  - {name: label, allow-non-finite: true}\n",
        "outputs[0].allow-non-finite",
        "FP16, BF16, FP32 and FP64");
    assertFails(
        "outputs:\n  - {name: probabilities, allow-non-finite: true}\n",
        "outputs[0].allow-non-finite",
        "inputs only");
  }

  @Test
  void labelsNameAFileInTheModelsFolderForANumericOutput() throws Exception {
    ModelConfig c =
        resolve("outputs:\n  - {name: probabilities, labels: classes.txt}\n", BATCHABLE);
    assertThat(c.outputs().get(0).labels()).isEqualTo("classes.txt");
    assertThat(resolve("outputs:\n  - {name: label}\n", BATCHABLE).outputs().get(0).labels())
        .isNull();
    assertFails(
        "inputs:\n  - {name: features, labels: classes.txt}\n", "inputs[0].labels", "outputs only");
    for (String bad : List.of("../classes.txt", "sub/classes.txt", "' '")) {
      assertFails(
          "outputs:\n  - {name: probabilities, labels: " + bad + "}\n",
          "outputs[0].labels",
          "a file in the model's folder");
    }
  }

  private static final ModelSignature TEXT_PIPELINE =
      new ModelSignature(
          List.of(new TensorSpec("text", DataType.BYTES, new long[] {-1, 1})),
          List.of(new TensorSpec("embedding", DataType.FP32, new long[] {-1, 384})));

  private static final ModelSignature TOKEN_IDS_MODEL =
      new ModelSignature(
          List.of(
              new TensorSpec("input_ids", DataType.INT64, new long[] {-1, -1}),
              new TensorSpec("attention_mask", DataType.INT64, new long[] {-1, -1})),
          List.of(new TensorSpec("last_hidden_state", DataType.FP32, new long[] {-1, -1, 384})));

  private ModelConfig resolvePipeline(String monitoring) throws Exception {
    Path file = dir.resolve("config.yaml");
    Files.writeString(
        file,
        """
        max-batch-size: 16
        pipeline:
          model: mini
          engine-output: last_hidden_state
          pre:
            - {step: tokenize, tokenizer: t.json}
          post:
            - {step: mean-pool}
        """
            + monitoring);
    ModelConfigFile f = loader.read(file);
    return resolver.complete(
        "p", f, file, resolver.deployment("p", f, file), TEXT_PIPELINE, TOKEN_IDS_MODEL);
  }

  @Test
  void aTokenizeStepWithoutMaxLengthLeavesItToTheTokenizerFile() throws Exception {
    PipelineConfig p = resolvePipeline("").pipeline();
    assertThat(p).isNotNull();
    assertThat(((PipelineConfig.Tokenize) p.pre().get(0)).maxLength()).isNull();
  }

  @Test
  void aPipelinesMonitoringNamesTheTensorsOfTheModelItsStepsRun() throws Exception {
    ModelConfig c =
        resolvePipeline(
            "monitoring:\n  text: {input: input_ids, mask: attention_mask,"
                + " output: last_hidden_state}\n");
    MonitoringConfig.TextInput t = c.monitoring().text();
    assertThat(t.input()).isEqualTo("input_ids");
    assertThat(t.output()).isEqualTo("last_hidden_state");
    assertThatThrownBy(() -> resolvePipeline("monitoring:\n  text: {input: ids}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("monitoring.text.input")
        .hasMessageContaining("input_ids, attention_mask");
    assertThatThrownBy(() -> resolvePipeline("monitoring:\n  features:\n    text: [sentence]\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("monitoring.features")
        .hasMessageContaining("monitoring.text");
    assertThatThrownBy(() -> resolvePipeline("monitoring:\n  enabled: true\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("monitoring.text");
  }
}
