package dev.fulcrum.tools.tune;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.testkit.browser.HeadlessBrowser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code fulcrum tune} on the demo fraud classifier with a grid of six configurations and short
 * trials: it writes the three files, and the report opens in headless Chromium with its plots.
 */
class TuneEndToEndTest {
  private static final Path DEMO = Path.of("../demo/models/fraud_classifier");

  @TempDir static Path tmp;
  private static Path out;
  private static int exit;
  private static String stdout = "";
  private static String stderr = "";

  @BeforeAll
  static void tune() throws Exception {
    Path repo = Files.createDirectories(tmp.resolve("repo"));
    Files.createSymbolicLink(repo.resolve("fraud_classifier"), DEMO.toAbsolutePath());
    out = tmp.resolve("out");
    Run run =
        runTune(
            "--model-repository",
            repo.toString(),
            "--model",
            "fraud_classifier",
            "--exhaustive",
            "--trial-seconds",
            "0.4",
            "--concurrency",
            "1:4:x4",
            "--max-batch-sizes",
            "1,8",
            "--queue-delays-us",
            "0,200",
            "--instance-counts",
            "1,2",
            "--intra-op-threads",
            "1",
            "--slo-p99-ms",
            "2000",
            "--cost-per-hour",
            "0.5",
            "--output",
            out.toString());
    exit = run.code();
    stdout = run.out();
    stderr = run.err();
  }

  @Test
  void writesEveryTrialTheRecommendationAndTheReport() throws Exception {
    assertThat(exit).as(stderr).isZero();
    // The server has the SLO policy, so it is a knob: b=1 has no queue delay to tune (static,
    // SLO) and b=8 has (0, 200 µs, SLO): 2 + 3 batching configurations × 2 instance counts.
    assertThat(stderr).contains("tuning fraud_classifier: 10 configurations");
    // Then the best (up to 3, within 15 % of the best) twice more each: at most 16 trials.
    assertThat(stderr).contains("warming up: unmeasured passes");
    JsonNode results = new ObjectMapper().readTree(out.resolve("results.json").toFile());
    assertThat(results.get("partial").asBoolean()).isFalse();
    assertThat(results.get("why_no_recommendation").isNull()).isTrue();
    int run = results.get("trials_run").asInt();
    assertThat(run).isBetween(12, 16);
    assertThat(results.get("configurations_measured").asInt()).isEqualTo(10);
    assertThat(stderr.lines().filter(l -> l.contains("/16 trials"))).hasSize(run);
    assertThat(stderr.lines().filter(l -> l.contains(" slo i="))).hasSizeGreaterThanOrEqualTo(4);
    assertThat(stdout)
        .contains(run + " trials (10 of 10 configurations)")
        .contains("recommended: ")
        .contains("(median of 3 measurements)");

    JsonNode trials = results.get("trials");
    assertThat(trials).hasSize(10);
    int chosen = 0;
    int frontier = 0;
    for (JsonNode t : trials) {
      assertThat(t.get("throughput_per_second").isNumber()).isTrue();
      assertThat(t.get("throughput_per_second").asDouble()).isPositive();
      assertThat(t.get("p99_ms").asDouble()).isGreaterThanOrEqualTo(t.get("p50_ms").asDouble());
      // $ per 1M = 0.5 $/h / 3600 / throughput × 1e6
      assertThat(t.get("cost_per_million_usd").asDouble())
          .isCloseTo(
              0.5 / 3600 / t.get("throughput_per_second").asDouble() * 1e6,
              org.assertj.core.api.Assertions.withinPercentage(0.01)); // 6 significant digits
      assertThat(t.get("levels")).hasSize(2);
      assertThat(t.get("measurements").size()).isIn(1, 3);
      for (JsonNode m : t.get("measurements")) {
        assertThat(m.get("throughput_per_second").isNumber()).isTrue();
        assertThat(m.get("levels")).hasSize(2);
      }
      chosen += t.get("chosen").asBoolean() ? 1 : 0;
      frontier += t.get("on_frontier").asBoolean() ? 1 : 0;
    }
    assertThat(chosen).isEqualTo(1);
    assertThat(frontier).isPositive();
    JsonNode best = trials.get(results.get("chosen").asInt());
    // Chosen on the median of its three measurements, among the re-measured.
    assertThat(best.get("measurements")).hasSize(3);
    // The re-measured configurations give the trials' noise, and what lies within it of the choice.
    JsonNode noise = results.get("measurement_noise");
    assertThat(noise.get("throughput_cv").isNumber()).isTrue();
    assertThat(noise.get("within_noise_of_chosen").asInt()).isPositive();
    assertThat(best.get("within_noise_of_chosen").asBoolean()).isTrue();

    // recommended.yaml is a config.yaml the server reads: the demo's settings plus the knobs.
    String yaml = Files.readString(out.resolve("recommended.yaml"));
    assertThat(yaml).startsWith("# Recommended by fulcrum tune for fraud_classifier");
    ModelConfigFile file =
        TuneServer.configLoader().parse(yaml, Path.of("fraud_classifier/recommended.yaml"));
    assertThat(file.maxBatchSize()).isEqualTo(best.get("config").get("max-batch-size").asInt());
    assertThat(file.instanceCount()).isEqualTo(best.get("config").get("instance-count").asInt());
    assertThat(file.onnxruntime()).isNotNull();
    assertThat(file.onnxruntime().intraOpThreads()).isEqualTo(1);
    assertThat(file.inputs()).isNotNull(); // the model's own fields are kept
    assertThat(file.inputs().get(0).name()).isEqualTo("features");
    assertThat(file.outputs()).isNotNull();
    assertThat(file.outputs().get(0).labels()).isEqualTo("classes.txt"); // and the class names

    String html = Files.readString(out.resolve("report.html"));
    assertThat(html).doesNotContain("<script src").doesNotContain("<link").contains("uPlot");
  }

  @Test
  void grpcWithoutConstraintsRecommendsTheFastest() throws Exception {
    Path repo = tmp.resolve("repo");
    Path grpcOut = tmp.resolve("grpc");
    Run run =
        runTune(
            "--model-repository", repo.toString(),
            "--model", "fraud_classifier",
            "--protocol", "grpc",
            "--trial-seconds", "0.3",
            "--concurrency", "2",
            "--max-batch-sizes", "4",
            "--queue-delays-us", "0",
            "--instance-counts", "1",
            "--intra-op-threads", "1",
            "--output", grpcOut.toString());
    assertThat(run.code()).as(run.err()).isZero();
    JsonNode results = new ObjectMapper().readTree(grpcOut.resolve("results.json").toFile());
    JsonNode only = results.get("trials").get(0);
    assertThat(results.get("mode").asText()).isEqualTo("quick");
    assertThat(only.get("throughput_per_second").asDouble()).isPositive();
    assertThat(only.get("cost_per_million_usd").isNull()).isTrue(); // no price given
    assertThat(only.get("chosen").asBoolean()).isTrue();
    assertThat(Files.readString(grpcOut.resolve("recommended.yaml")))
        .contains("max-batch-size: 4")
        .contains("intra-op-threads: 1");
  }

  @Test
  void compareMeasuresWholeConfigurationsInTurns() throws Exception {
    assertThat(exit).as(stderr).isZero();
    Path repo = tmp.resolve("repo");
    Path other = tmp.resolve("other.yaml");
    Files.writeString(
        other,
        Files.readString(out.resolve("recommended.yaml"))
            .replaceAll("instance-count: \\d+", "instance-count: 3"));
    Path cmpOut = tmp.resolve("compare");
    Run run =
        runTune(
            "--model-repository", repo.toString(),
            "--model", "fraud_classifier",
            "--trial-seconds", "1",
            "--concurrency", "2",
            "--slo-p99-ms", "2000",
            "--compare", out.resolve("recommended.yaml").toString(),
            "--compare", other.toString(),
            "--rounds", "2",
            "--output", cmpOut.toString());
    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.err().lines().filter(l -> l.contains("/4 trials"))).hasSize(4);
    JsonNode c = new ObjectMapper().readTree(cmpOut.resolve("compare.json").toFile());
    assertThat(c.get("rounds").asInt()).isEqualTo(2);
    JsonNode configs = c.get("configurations");
    assertThat(configs).hasSize(2);
    assertThat(configs.get(1).get("label").asText()).contains("i=3");
    for (JsonNode n : configs) {
      assertThat(n.get("measurements")).hasSize(2);
      assertThat(n.get("throughput_per_second").asDouble()).isPositive();
    }
    assertThat(configs.get(0).get("ratio_to_first").asDouble()).isEqualTo(1.0);
    assertThat(run.out()).contains("of the first");
    // two configurations, two rounds each: every measurement counts toward the noise
    assertThat(c.at("/measurement_noise/degrees_of_freedom").asInt()).isEqualTo(2);
    assertThat(c.at("/measurement_noise/throughput_cv").isNumber()).isTrue();
    assertThat(run.out()).contains("measurement noise: one trial's throughput varies by about");
  }

  @Test
  void reportOpensOfflineInChromiumWithItsPlots() {
    HeadlessBrowser.assumeAvailable();
    assertThat(exit).as(stderr).isZero();
    try (HeadlessBrowser browser = HeadlessBrowser.start()) {
      browser.open(out.resolve("report.html").toUri());
      List<String> severe = new ArrayList<>(browser.severeConsoleMessages());
      browser.screenshot(Path.of("target/tune-report.png"));
      assertThat(severe).isEmpty();
      assertThat(browser.script("return document.querySelectorAll('.uplot canvas').length"))
          .isEqualTo(3L);
      assertThat(browser.script("return document.querySelectorAll('#table tbody tr').length"))
          .isEqualTo(10L);
      assertThat(browser.script("return document.querySelectorAll('tr.chosen').length"))
          .isEqualTo(1L);
      assertThat(browser.script("return document.getElementById('summary').textContent"))
          .asString()
          .contains("One trial's throughput varies by");
    }
  }

  /** What one run of {@code fulcrum tune} returned and printed. */
  record Run(int code, String out, String err) {}

  /** Runs {@code fulcrum tune} in process with these arguments, its output captured. */
  static Run runTune(String... args) {
    TuneCommand cmd = new TuneCommand();
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    cmd.out = new PrintStream(o, true, StandardCharsets.UTF_8);
    cmd.err = new PrintStream(e, true, StandardCharsets.UTF_8);
    cmd.terminal = false;
    int code = new CommandLine(cmd).setErr(new PrintWriter(cmd.err, true)).execute(args);
    return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
  }
}
