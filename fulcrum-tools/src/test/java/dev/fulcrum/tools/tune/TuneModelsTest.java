package dev.fulcrum.tools.tune;

import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.DYNAMIC;
import static dev.fulcrum.tools.tune.TuneEndToEndTest.runTune;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fulcrum tune} on models that are not the demo's plain classifier: one whose first
 * dimension is not a batch, a pipeline, a broken one, one whose dynamic dimensions need sizes.
 * Short trials on a one- or two-configuration grid.
 */
class TuneModelsTest {
  private static final Path DEMO = Path.of("../demo/models");
  private static final String[] SMALL = {
    "--trial-seconds",
    "0.2",
    "--concurrency",
    "2",
    "--instance-counts",
    "1",
    "--intra-op-threads",
    "1"
  };

  @TempDir Path tmp;

  private static String[] args(String... more) {
    String[] all = new String[SMALL.length + more.length];
    System.arraycopy(more, 0, all, 0, more.length);
    System.arraycopy(SMALL, 0, all, more.length, SMALL.length);
    return all;
  }

  /**
   * A cumulative sum over the first dimension, with no config.yaml: the server infers batching
   * (every dimension 0 is dynamic), and its load finds that rows depend on each other.
   */
  private Path cumsumRepository() throws Exception {
    Path repo = tmp.resolve("repo");
    OnnxModelBuilder.create("cumsum")
        .input("x", DataType.FP32, DYNAMIC, 3)
        .output("y", DataType.FP32, DYNAMIC, 3)
        .longInitializer("axis", new long[] {}, 0)
        .node("CumSum", List.of("x", "axis"), List.of("y"))
        .write(repo.resolve("cumsum/1/model.onnx"));
    return repo;
  }

  @Test
  void aModelWhoseFirstDimensionIsNotABatchIsTunedAndRecommendedWithoutBatching() throws Exception {
    Path repo = cumsumRepository();
    Path out = tmp.resolve("out");
    Files.createDirectories(out);
    Files.writeString(out.resolve("recommended.yaml"), "max-batch-size: 32\n"); // an earlier run's
    TuneEndToEndTest.Run r =
        runTune(
            args(
                "--model-repository",
                repo.toString(),
                "--model",
                "cumsum",
                "--output",
                out.toString()));
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.err())
        .contains("cumsum: the server found that its first dimension is not a batch (")
        .contains("max-batch-size is not swept")
        .contains("tuning cumsum: 1 configurations");
    JsonNode results = new ObjectMapper().readTree(out.resolve("results.json").toFile());
    assertThat(results.get("first_dimension_not_a_batch").asText()).isNotBlank();
    for (JsonNode t : results.get("trials")) {
      assertThat(t.at("/config/max-batch-size").asInt()).isZero();
    }
    // recommended.yaml writes the 0: a max-batch-size above 0 would skip the server's check and
    // join different clients' rows into one cumulative sum.
    String yaml = Files.readString(out.resolve("recommended.yaml"));
    assertThat(yaml).contains("first dimension is not a batch").doesNotContain("dynamic-batching");
    ModelConfigFile file = TuneServer.configLoader().parse(yaml, Path.of("cumsum/config.yaml"));
    assertThat(file.maxBatchSize()).isZero();

    // Asked for batch sizes, it refuses rather than measure mixed rows.
    TuneEndToEndTest.Run batched =
        runTune(
            args(
                "--model-repository",
                repo.toString(),
                "--model",
                "cumsum",
                "--max-batch-sizes",
                "4",
                "--output",
                out.toString()));
    assertThat(batched.code()).isEqualTo(2);
    assertThat(batched.err().lines().findFirst().orElse(""))
        .startsWith("--max-batch-sizes: cumsum's first dimension is not a batch (");

    // A run that recommends nothing leaves no recommended.yaml from the run before.
    TuneEndToEndTest.Run none =
        runTune(
            args(
                "--model-repository",
                repo.toString(),
                "--model",
                "cumsum",
                "--slo-p99-ms",
                "0.00001",
                "--output",
                out.toString()));
    assertThat(none.code()).as(none.err()).isEqualTo(1);
    assertThat(none.out()).contains("no recommended.yaml written: no configuration met the");
    assertThat(out.resolve("recommended.yaml")).doesNotExist();
    assertThat(out.resolve("results.json")).exists();
  }

  @Test
  void aBrokenModelIsOneLineNotAStackTrace() throws Exception {
    Path repo = tmp.resolve("broken");
    Files.createDirectories(repo.resolve("bad/1"));
    Files.writeString(repo.resolve("bad/1/model.onnx"), "not a model");
    Files.createDirectories(repo.resolve("emptydir"));
    for (String model : List.of("bad", "emptydir")) {
      TuneEndToEndTest.Run r =
          runTune(
              args(
                  "--model-repository",
                  repo.toString(),
                  "--model",
                  model,
                  "--output",
                  tmp.resolve("o").toString()));
      assertThat(r.code()).as(r.err()).isEqualTo(2);
      assertThat(r.err().strip().lines()).hasSize(1);
      assertThat(r.err()).startsWith("fulcrum tune: failed to load '" + model + "': ");
    }
  }

  @Test
  void dynamicDimensionsWithoutShapeAreAUsageErrorThatNamesTunesOwnFlags() throws Exception {
    Path repo = tmp.resolve("dyn");
    OnnxModelBuilder.create("dyn2")
        .input("x", DataType.FP32, DYNAMIC, DYNAMIC)
        .output("y", DataType.FP32, DYNAMIC, DYNAMIC)
        .node("Identity", List.of("x"), List.of("y"))
        .write(repo.resolve("dyn2/1/model.onnx"));
    for (List<String> shape : List.of(List.<String>of(), List.of("--shape", "y:3"))) {
      String[] a =
          args(
              "--model-repository",
              repo.toString(),
              "--model",
              "dyn2",
              "--output",
              tmp.resolve("o").toString());
      List<String> all = new java.util.ArrayList<>(List.of(a));
      all.addAll(shape);
      TuneEndToEndTest.Run r = runTune(all.toArray(String[]::new));
      assertThat(r.code()).as(r.err()).isEqualTo(2);
      assertThat(r.err())
          .contains("--shape")
          .doesNotContain("--batch-size")
          .doesNotContain("\tat ");
    }
  }

  @Test
  void thePipelineModelLoadsAsServeLoadsIt() {
    // minilm_text is platform fulcrum_pipeline: serve's runtime list has the text pipelines.
    TuneEndToEndTest.Run r =
        runTune(
            args(
                "--model-repository",
                DEMO.toString(),
                "--model",
                "minilm_text",
                "--max-batch-sizes",
                "1",
                "--output",
                tmp.resolve("text").toString()));
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.err()).doesNotContain("no runtime for platform");
    assertThat(r.out()).contains("recommended: b=1 d=0us i=1 t=1: ");
  }
}
