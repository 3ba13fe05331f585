package dev.fulcrum.tools.tune;

import static dev.fulcrum.tools.tune.TuneEndToEndTest.runTune;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fulcrum tune} on models that are not the demo's plain classifier: a pipeline. Short trials
 * on a one-configuration grid.
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
