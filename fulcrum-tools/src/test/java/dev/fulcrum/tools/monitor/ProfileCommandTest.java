package dev.fulcrum.tools.monitor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.monitoring.Baseline;
import dev.fulcrum.monitoring.DriftMonitor;
import dev.fulcrum.monitoring.PredictionLog;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.tools.CliRun;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fulcrum profile} on a small CSV: the demo fraud classifier and the first 300 rows of its
 * training data; then {@code fulcrum skew-check} on a log of nothing but those rows says ok.
 */
class ProfileCommandTest {
  private static final Path DEMO = Path.of("..", "demo").toAbsolutePath().normalize();

  @TempDir Path dir;

  @Test
  void profilesFeaturesAndTheModelsOutputs() throws Exception {
    Path model = DEMO.resolve("models").resolve("fraud_classifier");
    assumeThat(model).isDirectory();
    Path repo = dir.resolve("models");
    copy(model, repo.resolve("fraud_classifier"));
    Files.delete(repo.resolve("fraud_classifier").resolve("baseline.json"));
    List<String> lines = Files.readAllLines(DEMO.resolve("data").resolve("fraud_training.csv"));
    Path csv = dir.resolve("small.csv");
    Files.write(csv, lines.subList(0, 301));

    CliRun run = profile(repo, "fraud_classifier", "--data", csv.toString());
    assertThat(run.code()).as(run.out()).isZero();
    Path written = repo.resolve("fraud_classifier").resolve("baseline.json");
    Baseline b = Baseline.read(written);
    assertThat(b.rows()).isEqualTo(300);
    assertThat(b.source()).isEqualTo("small.csv");
    assertThat(b.features())
        .extracting(Baseline.FeatureBaseline::name)
        .containsExactly(
            "amount_usd",
            "hour_of_day",
            "merchant_risk",
            "distance_from_home_km",
            "transactions_last_24h",
            "account_age_days",
            "is_foreign",
            "card_present");
    assertThat(b.features().get(0).type()).isEqualTo(Baseline.Kind.NUMERIC);
    assertThat(b.features().get(0).binEdges()).isNotEmpty();
    assertThat(b.features().get(6).type()).isEqualTo(Baseline.Kind.CATEGORICAL);
    assertThat(b.outputs())
        .extracting(Baseline.FeatureBaseline::name)
        .containsExactly("probabilities[0]", "probabilities[1]", "label");
    assertThat(b.outputs().get(1).mean()).isBetween(0.0, 1.0);
    assertThat(run.out()).contains("wrote").contains("amount_usd");
  }

  /**
   * {@code fulcrum profile --text}: the demo MiniLM's config (monitoring.text, output:
   * last_hidden_state), tokenizer and model file, a small text file; the baseline holds the derived
   * token features of the token-id input and the embedding's norm and mean from the model run in
   * process; without {@code output} the model is not run and the baseline has no outputs.
   */
  @Test
  void profilesATextModelFromSentences() throws Exception {
    Path model = DEMO.resolve("models").resolve("all_minilm_l6_v2");
    assumeThat(model.resolve("all-minilm-l6-v2-q-tokenizer.json")).isRegularFile();
    assumeThat(model.resolve("1").resolve("all-minilm-l6-v2-q.onnx")).isRegularFile();
    Path repo = dir.resolve("models");
    Path copy = repo.resolve("all_minilm_l6_v2");
    Files.createDirectories(copy);
    for (String f : List.of("config.yaml", "all-minilm-l6-v2-q-tokenizer.json")) {
      Files.copy(model.resolve(f), copy.resolve(f));
    }
    copy(model.resolve("1"), copy.resolve("1"));
    Path text = dir.resolve("small.txt");
    Files.write(
        text, List.of("The cat likes a new car.", "", "My friend opened the window this morning."));

    CliRun run = profile(repo, "all_minilm_l6_v2", "--text", text.toString());
    assertThat(run.code()).as(run.out()).isZero();
    Baseline b = Baseline.read(copy.resolve("baseline.json"));
    assertThat(b.rows()).isEqualTo(2);
    assertThat(b.source()).isEqualTo("small.txt");
    assertThat(b.inputs()).extracting(Baseline.InputColumns::input).containsExactly("input_ids");
    assertThat(b.features())
        .extracting(Baseline.FeatureBaseline::name)
        .containsExactly("seq_len", "padding_share", "unk_rate");
    // [CLS] the cat likes a new car . [SEP] and [CLS] my friend opened the window this morning .
    // [SEP]: 9 and 10 tokens, none unknown, each sentence alone (no padding)
    assertThat(b.features().get(0).min()).isEqualTo(9.0);
    assertThat(b.features().get(0).max()).isEqualTo(10.0);
    assertThat(b.features().get(2).max()).isEqualTo(0.0);
    assertThat(b.outputs())
        .extracting(Baseline.FeatureBaseline::name)
        .containsExactly("embedding_norm", "embedding_mean");
    // MiniLM's mean-pooled, unnormalized sentence vectors are a few units long
    assertThat(b.outputs().get(0).min()).isBetween(1.0, 20.0);
    assertThat(b.outputs().get(0).count()).isEqualTo(2);
    assertThat(run.out()).contains("output  embedding_norm");

    // a pipeline around that model's file: profiled through the model its steps run, with the
    // tokenizer found in that model's folder; the same sentences give the same baseline, its own
    Path pipeline = repo.resolve("minilm_text");
    Files.createDirectories(pipeline);
    Files.copy(
        DEMO.resolve("models").resolve("minilm_text").resolve("config.yaml"),
        pipeline.resolve("config.yaml"));
    assertThat(profileText(repo, "minilm_text", text)).isZero();
    assertThat(Baseline.read(pipeline.resolve("baseline.json")).model()).isEqualTo("minilm_text");
    assertThat(Files.readString(pipeline.resolve("baseline.json")))
        .isEqualTo(
            Files.readString(copy.resolve("baseline.json"))
                .replace("\"all_minilm_l6_v2\"", "\"minilm_text\""));

    // without monitoring.text.output: the token features only, the model not run
    Path config = copy.resolve("config.yaml");
    Files.writeString(
        config, Files.readString(config).replace("    output: last_hidden_state\n", ""));
    Files.delete(copy.resolve("baseline.json"));
    assertThat(profileText(repo, "all_minilm_l6_v2", text)).isZero();
    assertThat(Baseline.read(copy.resolve("baseline.json")).outputs()).isEmpty();

    // --data and --text together are refused
    CliRun both =
        profile(repo, "all_minilm_l6_v2", "--text", text.toString(), "--data", text.toString());
    assertThat(both.code()).isNotZero();

    // a sentence that is not UTF-8 is named by file, line and byte, as fulcrum embed names it (it
    // said "Input length = 1")
    Path bad =
        Files.write(
            dir.resolve("bad.txt"), new byte[] {'o', 'k', '\n', 'c', 'a', 'f', (byte) 0xE9, '\n'});
    CliRun notUtf8 = profile(repo, "all_minilm_l6_v2", "--text", bad.toString());
    assertThat(notUtf8.code()).isEqualTo(2);
    assertThat(notUtf8.err()).contains(bad + ": line 2 is not valid UTF-8 at byte offset 3 (0xE9)");
  }

  @Test
  void aCsvWithoutAColumnIsOneLineNotAStackTrace() throws Exception {
    Path model = DEMO.resolve("models").resolve("fraud_classifier");
    assumeThat(model).isDirectory();
    Path repo = dir.resolve("models");
    copy(model, repo.resolve("fraud_classifier"));
    List<String> lines = Files.readAllLines(DEMO.resolve("data").resolve("fraud_training.csv"));
    Path csv = dir.resolve("seven.csv");
    Files.write(
        csv,
        lines.subList(0, 50).stream()
            .map(
                l -> {
                  List<String> cells = new java.util.ArrayList<>(List.of(l.split(",")));
                  cells.remove(7); // card_present
                  return String.join(",", cells);
                })
            .toList());
    CliRun run = profile(repo, "fraud_classifier", "--data", csv.toString());
    assertThat(run.code()).isEqualTo(2);
    assertThat(run.err())
        .startsWith("fulcrum profile: seven.csv has no column 'card_present'")
        .doesNotContain("\tat ")
        .hasLineCount(1);
  }

  /** {@code fulcrum profile --text} of {@code model}; its exit code. */
  private static int profileText(Path repo, String model, Path text) {
    return profile(repo, model, "--text", text.toString()).code();
  }

  /** {@code fulcrum profile} of {@code model} in {@code repo} with {@code more} options. */
  private static CliRun profile(Path repo, String model, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of("profile", "--model-repository", repo.toString(), "--model", model));
    args.addAll(List.of(more));
    return CliRun.of(args.toArray(String[]::new));
  }

  /**
   * A text pipeline's prediction log replayed by {@code fulcrum skew-check}: the demo minilm_text
   * (with a window of 50) is run in process as the server runs it, its live monitor watching its
   * passes and its prediction log on; 100 reference sentences, then 20 of runes the vocabulary
   * lacks. The log holds the sentences (text), and skew-check, running them through the pipeline
   * again, raises the live alerts in the live order and ends with the live verdict.
   */
  @Test
  void skewCheckReplaysAPipelinesLogToTheLiveVerdict() throws Exception {
    Path minilm = DEMO.resolve("models").resolve("all_minilm_l6_v2");
    assumeThat(minilm.resolve("1").resolve("all-minilm-l6-v2-q.onnx")).isRegularFile();
    Path repo = dir.resolve("models");
    copy(minilm, repo.resolve("all_minilm_l6_v2"));
    copy(DEMO.resolve("models").resolve("minilm_text"), repo.resolve("minilm_text"));
    Path config = repo.resolve("minilm_text").resolve("config.yaml");
    String yaml = Files.readString(config);
    assertThat(yaml).contains("monitoring:\n  enabled: true\n");
    Files.writeString(
        config,
        yaml.replace(
            "monitoring:\n  enabled: true\n", "monitoring:\n  enabled: true\n  window: 50\n"));
    List<String> sentences =
        new ArrayList<>(
            Files.readAllLines(DEMO.resolve("data").resolve("text_reference.txt")).subList(0, 100));
    Random rng = new Random(20261204);
    for (int i = 0; i < 20; i++) {
      sentences.add(runes(rng));
    }

    Path logDir = dir.resolve("log");
    Files.createDirectories(logDir);
    List<String> live = Collections.synchronizedList(new ArrayList<>());
    DriftReport liveReport;
    try (OnnxRuntimeBackend onnx = new OnnxRuntimeBackend();
        SchedulerEnvironment environment = SchedulerEnvironment.system();
        ModelRepository models = InProcessModel.load(repo, "minilm_text", onnx, environment)) {
      DriftMonitor monitor =
          new DriftMonitor(
              4096,
              new PredictionLog(new PredictionLog.Settings(logDir, 1 << 20, 10, 1.0, 4096)),
              List.of(
                  (m, v, f, output) ->
                      live.add(
                          m
                              + " version "
                              + v
                              + " "
                              + f.name()
                              + ": "
                              + (f.drift() ? "DRIFT" : "ok again"))),
              true);
      try {
        InferenceService service = new InferenceService(models, false, monitor);
        for (String sentence : sentences) {
          Tensor text =
              Tensor.ofBytes(
                  "text", new long[] {1, 1}, List.of(sentence.getBytes(StandardCharsets.UTF_8)));
          service
              .infer(
                  new InferenceRequest("minilm_text", "", "", Map.of(), List.of(text), List.of()))
              .join();
        }
        // a pass reaches the monitor just after its answer: wait for all 120 rows
        ModelVersion served = InProcessModel.served(models, "minilm_text");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (monitor.drift(served).orElseThrow().observations() < sentences.size()
            && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
        assertThat(monitor.awaitIdle(Duration.ofSeconds(60))).isTrue();
        liveReport = monitor.drift(served).orElseThrow();
      } finally {
        monitor.close(); // flushes the prediction log
      }
    }
    assertThat(liveReport.observations()).isEqualTo(120);
    assertThat(liveReport.drifting()).isTrue();
    assertThat(live).anyMatch(l -> l.contains("unk_rate: DRIFT"));
    assertThat(Files.readString(PredictionLog.files(logDir).get(0)))
        .contains("\"text\":{\"shape\":[1,1],\"data\":[\"" + sentences.get(0) + "\"]}");

    CliRun check =
        CliRun.of(
            "skew-check",
            "--log",
            logDir.toString(),
            "--baseline",
            repo.resolve("minilm_text").resolve("baseline.json").toString());
    assertThat(check.code()).as(check.out()).isEqualTo(1);
    List<String> replayed =
        check
            .out()
            .lines()
            .filter(l -> l.contains(": DRIFT") || l.contains(": ok again"))
            .map(l -> l.replace(" feature ", " ").replace(" output ", " ").replaceAll(" \\(.*", ""))
            .map(l -> l.replaceAll(": DRIFT.*", ": DRIFT"))
            .toList();
    assertThat(replayed).containsExactlyElementsOf(live);
    assertThat(check.out())
        .contains("replayed 120 requests through pipeline minilm_text version 1")
        .contains("minilm_text version 1: drift after 120 observations");
    Map<String, List<FeatureDrift>> kinds =
        Map.of("feature ", liveReport.features(), "output  ", liveReport.outputs());
    kinds.forEach(
        (kind, features) -> {
          for (FeatureDrift f : features) { // each feature's final status, as live
            assertThat(check.out())
                .containsPattern(
                    kind + Pattern.quote(f.name()) + " +" + (f.drift() ? "DRIFT" : "ok"));
          }
        });
  }

  /**
   * 40-70 words, half of them runes the vocabulary lacks (make_text_corpus.py --shifted's kind).
   */
  private static String runes(Random r) {
    String odd = "\u16a0\u16a2\u16a6\u16b1\u16b7\u16c1\u16c7\u16d2";
    StringBuilder s = new StringBuilder();
    int n = 40 + r.nextInt(31);
    for (int i = 0; i < n; i++) {
      if (r.nextBoolean()) {
        for (int k = 2 + r.nextInt(4); k > 0; k--) {
          s.append(odd.charAt(r.nextInt(odd.length())));
        }
      } else {
        s.append("window");
      }
      s.append(' ');
    }
    return s.toString().strip() + ".";
  }

  private static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path p : files.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
  }
}
