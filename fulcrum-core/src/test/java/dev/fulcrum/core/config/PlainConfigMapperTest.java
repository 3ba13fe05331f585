package dev.fulcrum.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fast path maps exactly what databind maps, and leaves everything else to databind. */
class PlainConfigMapperTest {
  @TempDir Path dir;

  private static final ObjectMapper DATABIND =
      new ObjectMapper(new YAMLFactory())
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** The plain path's reading of {@code yaml}, as the loader runs it (no databind). */
  private static ModelConfigFile read(String yaml) throws Exception {
    try (JsonParser p = new YAMLFactory().createParser(yaml)) {
      return PlainConfigMapper.read(p);
    }
  }

  private static ModelConfigFile plain(String yaml) throws Exception {
    ModelConfigFile f = read(yaml);
    if (f != null) {
      assertThat(f).isEqualTo(DATABIND.readValue(yaml, ModelConfigFile.class));
    }
    return f;
  }

  @Test
  void everyShippedConfigTakesTheFastPathAndMapsAsDatabindDoes() throws Exception {
    List<Path> files = new ArrayList<>();
    for (String folder : List.of("demo/models", "bench/models")) {
      try (Stream<Path> s = Files.walk(DemoFiles.root().resolve(folder))) {
        s.filter(f -> f.getFileName().toString().equals("config.yaml")).forEach(files::add);
      }
    }
    assertThat(files).hasSizeGreaterThanOrEqualTo(3);
    for (Path f : files) {
      assertThat(plain(Files.readString(f))).as(f.toString()).isNotNull();
    }
  }

  @Test
  void everyFieldKindMapsAsDatabindDoes() throws Exception {
    String yaml =
        """
        name: m
        platform: onnxruntime_onnx
        default-model-filename: model.onnx
        max-batch-size: 8
        inputs:
          - {name: x, datatype: FP32, dims: [-1, 3], allow-non-finite: true}
        outputs: [{name: y, datatype: INT64, dims: [], labels: classes.txt}]
        version-policy: {specific: [1, 3]}
        instance-count: 2
        dynamic-batching: {max-queue-delay-microseconds: 500, preferred-batch-sizes: [4, 8]}
        model-warmup:
          - name: w
            batch-size: 1
            inputs: {x: {data-type: FP32, dims: [3], zero-data: true}}
        slo: {latency-ms: 20, percentile: 99.5}
        monitoring:
          enabled: true
          sample-rate: 1
          features: {x: [a, b, c]}
        response-cache: {enabled: true, max-bytes: 10000000000}
        onnxruntime: null
        """;
    assertThat(plain(yaml)).isNotNull();
    assertThat(plain("{}")).isNotNull();
    assertThat(read("# only a comment\n")).isEqualTo(ModelConfigFile.empty());
    assertThat(plain("slo: {latency-ms: 20, percentile: 99}")).isNotNull(); // an int as a double
    // databind reads a null document as null, which the loader turns into the empty configuration
    assertThat(read("null")).isEqualTo(ModelConfigFile.empty());
  }

  @Test
  void duplicateKeysAreLeftToDatabindWhichRefusesThem() throws Exception {
    assertThat(read("max-batch-size: 4\nmax-batch-size: 8\n")).isNull();
    assertThat(read("slo: {latency-ms: 20, latency-ms: 30}\n")).isNull();
  }

  @Test
  void leavesCoercionsAndErrorsToDatabind() throws Exception {
    for (String yaml :
        List.of(
            "max-batch-size: \"8\"", // a quoted number: databind coerces it
            "max-batch-size: 8.0", // a whole float for an int: databind decides
            "max-batch-size: 10000000000", // too large for an int
            "name: 12", // a number for a string: databind coerces it
            "bogus: 1", // unknown field: databind names it and the known ones
            "inputs: [{name: x, bogus: 1}]",
            "inputs: {name: x}", // not a list
            "inputs: [null]",
            "version-policy: 3",
            "dynamic-batching: {enabled: yes please}",
            "- a list",
            "name: a\n---\nname: b\n", // a second document: databind reports the trailing token
            "max-batch-size: !!binary AAAA")) {
      assertThat(read(yaml)).as(yaml).isNull();
    }
  }

  @Test
  void theLoaderStillReportsDatabindsErrorsWithFileAndField() throws Exception {
    Path file = dir.resolve("config.yaml");
    ModelConfigLoader loader = new ModelConfigLoader();
    Files.writeString(file, "inputs:\n  - name: x\n    bogus: 1\n");
    assertThatThrownBy(() -> loader.read(file))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("config.yaml")
        .hasMessageContaining("inputs[0]")
        .hasMessageContaining("unknown field 'bogus'");
    Files.writeString(file, "max-batch-size: [1]\n");
    assertThatThrownBy(() -> loader.read(file))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("config.yaml")
        .hasMessageContaining("max-batch-size");
    Files.writeString(file, "name: a\n: : :\n");
    assertThatThrownBy(() -> loader.read(file))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("config.yaml");
    Files.writeString(file, "name: a\n---\nname: b\n"); // a second document: trailing tokens
    assertThatThrownBy(() -> loader.read(file))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("config.yaml")
        .hasMessageContaining("Trailing token");
    Files.writeString(file, "max-batch-size: \"8\"\n");
    assertThat(loader.read(file).maxBatchSize()).isEqualTo(8);
  }
}
