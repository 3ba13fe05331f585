package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.monitoring.DriftMonitor;
import dev.fulcrum.pipelines.steps.TextTokenizer;
import dev.fulcrum.server.Await;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.metrics.ServerMetrics;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #11 item 5 end to end: the real MiniLM (a copy of the demo {@code all_minilm_l6_v2} with
 * its committed baseline and {@code monitoring.text}, {@code window: 50}) served over real sockets,
 * REST and gRPC alike. Sentences of the reference corpus's kind raise nothing on {@code /drift},
 * neither its token features nor its embedding output; long sentences of words the vocabulary does
 * not know (as {@code make_text_corpus.py --shifted} writes) raise {@code seq_len} and {@code
 * unk_rate}, and the mean-pooled embedding's {@code embedding_norm} (prediction drift), on {@code
 * /drift}, the metrics and the alert listener.
 */
class TextDriftE2eTest {
  private static final Path DEMO = Path.of("..", "demo").toAbsolutePath().normalize();
  private static final Path MODEL = DEMO.resolve("models").resolve("all_minilm_l6_v2");
  private static final String NAME = "all_minilm_l6_v2";
  private static final String PIPELINE = "minilm_text";

  // demo/data/make_text_corpus.py's grammar: the reference corpus's kind of sentence.
  private static final String[] SUBJECTS = {
    "the cat", "my friend", "a customer", "the team", "our manager", "the weather",
    "this phone", "the train", "a student", "the doctor", "the old house", "her brother"
  };
  private static final String[] VERBS = {
    "likes", "needs", "found", "bought", "watched", "opened",
    "fixed", "visited", "called", "cleaned", "painted", "sold"
  };
  private static final String[] OBJECTS = {
    "a new car", "the red door", "some fresh bread", "the small garden", "an email",
    "the report", "a cheap ticket", "the blue box", "a good book", "the window",
    "a warm coat", "the kitchen"
  };
  private static final String[] TAILS = {
    "",
    "",
    " yesterday",
    " this morning",
    " last week",
    " in the city",
    " after lunch",
    " before the meeting",
    " on monday",
    " with a smile"
  };

  @TempDir Path dir;

  @Test
  void shiftedTextIsNamedOverRestAndGrpc() throws Exception {
    Path onnx = MODEL.resolve("1").resolve("all-minilm-l6-v2-q.onnx");
    assumeThat(onnx).as("the MiniLM file (placed by the fulcrum-tools build)").isRegularFile();
    Path repo = dir.resolve("models");
    copy(MODEL, repo.resolve(NAME));
    Path config = repo.resolve(NAME).resolve("config.yaml");
    String yaml = Files.readString(config);
    assertThat(yaml)
        .contains("monitoring:\n  enabled: true\n")
        .contains("output: last_hidden_state");
    Files.writeString(
        config,
        yaml.replace(
            "monitoring:\n  enabled: true\n", "monitoring:\n  enabled: true\n  window: 50\n"));
    Path tokenizerFile;
    try (Stream<Path> s = Files.list(repo.resolve(NAME))) {
      tokenizerFile =
          s.filter(p -> p.getFileName().toString().endsWith("tokenizer.json"))
              .findFirst()
              .orElseThrow();
    }

    List<String> alerts = Collections.synchronizedList(new ArrayList<>());
    DriftMonitor monitor =
        new DriftMonitor(
            4096,
            null,
            List.of((m, v, f, output) -> alerts.add(f.name() + " " + f.drift() + " " + output)),
            true);
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bindMonitor(monitor);
    Random rng = new Random(20261203);
    try (TextTokenizer tokenizer = new TextTokenizer(tokenizerFile, 512, true, false);
        E2eServer server = E2eServer.serving(repo).monitor(monitor).start()) {
      try (E2eServer.GrpcPort grpc = server.startGrpc()) {
        ManagedChannel channel = grpc.channel;
        // In distribution: 100 sentences (two windows), every second one over gRPC.
        for (int i = 0; i < 100; i++) {
          send(server, channel, tokenizer.encode(List.of(sentence(rng))), i % 2 == 1);
        }
        observed(server, 100);
        assertNothingRaised(server, NAME, 100);
        assertThat(alerts).isEmpty();

        // Shifted: 20 long sentences of unknown words, again half over gRPC.
        for (int i = 0; i < 20; i++) {
          send(server, channel, tokenizer.encode(List.of(shifted(rng))), i % 2 == 1);
        }
        observed(server, 120);
        JsonNode after = json(server.get("/v2/models/" + NAME + "/versions/1/drift"));
        assertThat(after.get("status").asText()).as(after.toString()).isEqualTo("drift");
        List<String> drifting = new ArrayList<>();
        for (JsonNode f : after.get("features")) {
          if (f.get("status").asText().equals("drift")) {
            drifting.add(f.get("name").asText());
            assertThat(f.get("since_observation").asLong()).isBetween(101L, 120L);
          }
        }
        assertThat(drifting).as(after.toString()).contains("seq_len", "unk_rate");
        assertThat(drifting).doesNotContain("padding_share");
        // The embedding of such text leaves the baseline's range too: prediction drift.
        JsonNode outputs = after.get("outputs");
        assertThat(outputs.get("status").asText()).as(outputs.toString()).isEqualTo("drift");
        for (JsonNode f : outputs.get("features")) {
          if (f.get("name").asText().equals("embedding_norm")) {
            assertThat(f.get("status").asText()).isEqualTo("drift");
            assertThat(f.get("since_observation").asLong()).isBetween(101L, 120L);
          }
        }
        assertThat(alerts)
            .contains("seq_len true false", "unk_rate true false", "embedding_norm true true");
        assertThat(metrics.scrape())
            .contains(
                "fulcrum_drift_status{model=\"all_minilm_l6_v2\",version=\"1\","
                    + "feature=\"unk_rate\",kind=\"feature\"} 1")
            .contains(
                "fulcrum_drift_status{model=\"all_minilm_l6_v2\",version=\"1\","
                    + "feature=\"embedding_norm\",kind=\"output\"} 1");
      }
    } finally {
      monitor.close();
    }
  }

  /**
   * The demo's {@code minilm_text} pipeline (text in, vector out) with its committed baseline: its
   * passes hold the tokenized sentence and the model's last_hidden_state, which its {@code
   * monitoring.text} names, so sentences sent as text are compared as the model's token ids are.
   */
  @Test
  void shiftedTextSentToThePipelineIsNamed() throws Exception {
    Path onnx = MODEL.resolve("1").resolve("all-minilm-l6-v2-q.onnx");
    assumeThat(onnx).as("the MiniLM file (placed by the fulcrum-tools build)").isRegularFile();
    Path repo = dir.resolve("models");
    copy(MODEL, repo.resolve(NAME));
    copy(DEMO.resolve("models").resolve(PIPELINE), repo.resolve(PIPELINE));
    Path config = repo.resolve(PIPELINE).resolve("config.yaml");
    String yaml = Files.readString(config);
    assertThat(yaml).contains("monitoring:\n  enabled: true\n");
    Files.writeString(
        config,
        yaml.replace(
            "monitoring:\n  enabled: true\n", "monitoring:\n  enabled: true\n  window: 50\n"));

    List<String> alerts = Collections.synchronizedList(new ArrayList<>());
    DriftMonitor monitor =
        new DriftMonitor(
            4096,
            null,
            List.of((m, v, f, output) -> alerts.add(m + " " + f.name() + " " + f.drift())),
            true);
    Random rng = new Random(20261204);
    try (E2eServer server = E2eServer.serving(repo).monitor(monitor).start()) {
      for (int i = 0; i < 100; i++) {
        sendText(server, sentence(rng));
      }
      observed(server, PIPELINE, 100);
      assertNothingRaised(server, PIPELINE, 100);
      assertThat(alerts).isEmpty();

      for (int i = 0; i < 20; i++) {
        sendText(server, shifted(rng));
      }
      observed(server, PIPELINE, 120);
      JsonNode after = json(server.get("/v2/models/" + PIPELINE + "/drift"));
      assertThat(after.get("status").asText()).as(after.toString()).isEqualTo("drift");
      assertThat(after.get("outputs").get("status").asText()).isEqualTo("drift");
      assertThat(alerts)
          .contains(
              PIPELINE + " seq_len true",
              PIPELINE + " unk_rate true",
              PIPELINE + " embedding_norm true");
      // The model behind it was not sent anything: its own monitor saw nothing.
      assertThat(json(server.get("/v2/models/" + NAME + "/drift")).get("observations").asLong())
          .isZero();
    } finally {
      monitor.close();
    }
  }

  private static void sendText(E2eServer server, String sentence)
      throws IOException, InterruptedException {
    String body =
        "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[1,1],\"data\":["
            + E2eServer.quote(sentence)
            + "]}]}";
    HttpResponse<byte[]> r = server.post(inferPath(PIPELINE), body);
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
  }

  private static String sentence(Random r) {
    String s =
        pick(r, SUBJECTS) + " " + pick(r, VERBS) + " " + pick(r, OBJECTS) + pick(r, TAILS) + ".";
    return Character.toUpperCase(s.charAt(0)) + s.substring(1);
  }

  /** make_text_corpus.py --shifted's kind: 40-70 words, half of them runes the vocabulary lacks. */
  private static String shifted(Random r) {
    String odd = "\u16a0\u16a2\u16a6\u16b1\u16b7\u16c1\u16c7\u16d2";
    List<String> words = new ArrayList<>();
    int n = 40 + r.nextInt(31);
    for (int i = 0; i < n; i++) {
      if (r.nextDouble() < 0.5) {
        StringBuilder w = new StringBuilder();
        int len = 2 + r.nextInt(4);
        for (int k = 0; k < len; k++) {
          w.append(odd.charAt(r.nextInt(odd.length())));
        }
        words.add(w.toString());
      } else {
        String[] o = pick(r, OBJECTS).split(" ");
        words.add(o[o.length - 1]);
      }
    }
    return String.join(" ", words) + ".";
  }

  private static String pick(Random r, String[] options) {
    return options[r.nextInt(options.length)];
  }

  /** One sentence's ids, mask and zero type ids, last_hidden_state asked for. */
  private static void send(
      E2eServer server, ManagedChannel channel, TextTokenizer.Tokens t, boolean overGrpc)
      throws IOException, InterruptedException {
    long[] shape = {t.rows(), t.length()};
    long[] types = new long[t.ids().length];
    if (overGrpc) {
      ModelInferRequest.Builder request = ModelInferRequest.newBuilder().setModelName(NAME);
      addInput(request, "input_ids", shape, t.ids());
      addInput(request, "attention_mask", shape, t.attentionMask());
      addInput(request, "token_type_ids", shape, types);
      request.addOutputs(
          ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("last_hidden_state"));
      ModelInferResponse response =
          GRPCInferenceServiceGrpc.newBlockingStub(channel)
              .withDeadlineAfter(60, TimeUnit.SECONDS)
              .modelInfer(request.build());
      assertThat(response.getOutputs(0).getShapeList())
          .containsExactly(1L, (long) t.length(), 384L);
      return;
    }
    String body =
        "{\"inputs\":["
            + tensor("input_ids", shape, t.ids())
            + ","
            + tensor("attention_mask", shape, t.attentionMask())
            + ","
            + tensor("token_type_ids", shape, types)
            + "],\"outputs\":[{\"name\":\"last_hidden_state\","
            + "\"parameters\":{\"binary_data\":true}}]}";
    HttpResponse<byte[]> r = server.post(inferPath(NAME), body);
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
  }

  private static void addInput(
      ModelInferRequest.Builder request, String name, long[] shape, long[] values) {
    InferTensorContents.Builder contents = InferTensorContents.newBuilder();
    for (long v : values) {
      contents.addInt64Contents(v);
    }
    request.addInputs(
        ModelInferRequest.InferInputTensor.newBuilder()
            .setName(name)
            .setDatatype("INT64")
            .addShape(shape[0])
            .addShape(shape[1])
            .setContents(contents));
  }

  private static String tensor(String name, long[] shape, long[] values) {
    StringBuilder data = new StringBuilder();
    for (int i = 0; i < values.length; i++) {
      data.append(i == 0 ? "" : ",").append(values[i]);
    }
    return "{\"name\":\""
        + name
        + "\",\"datatype\":\"INT64\",\"shape\":["
        + shape[0]
        + ","
        + shape[1]
        + "],\"data\":["
        + data
        + "]}";
  }

  /** {@code model}'s /drift after {@code n} in-distribution rows: every text feature ok. */
  private static void assertNothingRaised(E2eServer server, String model, long n)
      throws IOException, InterruptedException {
    JsonNode before = json(server.get("/v2/models/" + model + "/drift"));
    assertThat(before.get("status").asText()).as(before.toString()).isEqualTo("ok");
    assertThat(before.get("observations").asLong()).isEqualTo(n);
    assertThat(names(before.get("features")))
        .containsExactly("seq_len", "padding_share", "unk_rate");
    assertThat(names(before.get("outputs").get("features")))
        .containsExactly("embedding_norm", "embedding_mean");
  }

  private static List<String> names(JsonNode features) {
    List<String> out = new ArrayList<>();
    features.forEach(f -> out.add(f.get("name").asText()));
    return out;
  }

  /** Waits until the monitor has compared {@code n} rows (it is told after the response). */
  private static void observed(E2eServer server, long n) throws Exception {
    observed(server, NAME, n);
  }

  private static void observed(E2eServer server, String model, long n) throws Exception {
    Await.until(
        n + " rows observed",
        () -> json(server.get("/v2/models/" + model + "/drift")).get("observations").asLong() >= n);
  }

  private static JsonNode json(HttpResponse<byte[]> r) throws IOException {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return E2eServer.JSON.readTree(r.body());
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
