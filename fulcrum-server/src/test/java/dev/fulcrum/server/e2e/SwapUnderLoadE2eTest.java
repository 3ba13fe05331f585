package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An operator swaps a model's version while clients keep sending it requests over real sockets: a
 * new version loaded from the repository (its version policy, {@code latest: 1}, then drains and
 * unloads the old one), and a new version pushed (Triton's {@code file:} load parameters) to the
 * model that serves. No request may fail, and every request sent after the load answered is
 * answered by the new version (the response's {@code model_version}).
 */
class SwapUnderLoadE2eTest {
  private static final int CLIENTS = 4;

  @TempDir static Path repository;
  static E2eServer server;

  @BeforeAll
  static void start() throws Exception {
    Path fraud = E2eServer.DEMO_MODELS.resolve("fraud_classifier");
    assumeThat(ModelPushE2eTest.FRAUD_ONNX).as("the demo fraud classifier").isRegularFile();
    Path copy = repository.resolve("fraud_classifier");
    try (var files = Files.walk(fraud)) {
      for (Path f : files.toList()) {
        Path to = copy.resolve(fraud.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(to);
        } else {
          Files.copy(f, to);
        }
      }
    }
    server =
        E2eServer.serving(repository)
            .settings(ModelRepository.Settings.defaults().withMode(ControlMode.EXPLICIT))
            .start();
    HttpResponse<byte[]> loaded = server.post("/v2/repository/models/fraud_classifier/load", "");
    assertThat(loaded.statusCode()).as(text(loaded)).isEqualTo(200);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** One answer: the order its request was sent in, and the version that answered it. */
  private record Answer(long sent, String version) {}

  /**
   * {@value #CLIENTS} client threads sending the fraud row to a model one request after the other
   * until stopped, each answer and each failure kept.
   */
  private static final class Traffic {
    final AtomicLong sent = new AtomicLong();
    final Queue<Answer> answers = new ConcurrentLinkedQueue<>();
    final Queue<String> failures = new ConcurrentLinkedQueue<>();
    private final List<Thread> clients = new ArrayList<>();
    private volatile boolean stopped;

    Traffic(String model) {
      for (int i = 0; i < CLIENTS; i++) {
        clients.add(
            Thread.ofPlatform()
                .name("traffic-" + i)
                .start(
                    () -> {
                      while (!stopped) {
                        long n = sent.incrementAndGet();
                        try {
                          HttpResponse<byte[]> r =
                              server.post(inferPath(model), ModelPushE2eTest.ROW);
                          if (r.statusCode() == 200) {
                            answers.add(
                                new Answer(n, E2eServer.header(r).get("model_version").asText()));
                          } else {
                            failures.add(r.statusCode() + " " + text(r));
                          }
                        } catch (Exception e) {
                          failures.add(e.toString());
                        }
                      }
                    }));
      }
    }

    /** Waits for {@code count} answers that match; fails only if they never come. */
    void awaitAnswers(int count, Predicate<Answer> which) throws InterruptedException {
      for (int i = 0; i < 6000; i++) {
        if (answers.stream().filter(which).count() >= count || !failures.isEmpty()) {
          return;
        }
        Thread.sleep(10);
      }
      throw new AssertionError("no " + count + " answers: " + answers.size() + " in all");
    }

    /** Stops the clients once their requests are answered. */
    void stop() throws InterruptedException {
      stopped = true;
      for (Thread t : clients) {
        t.join();
      }
    }
  }

  private static String state(String model, long version) throws Exception {
    JsonNode index = E2eServer.JSON.readTree(server.post("/v2/repository/index", "").body());
    for (JsonNode row : index) {
      if (row.get("name").asText().equals(model)
          && row.get("version").asText().equals(Long.toString(version))) {
        return row.get("state").asText();
      }
    }
    return "none";
  }

  /**
   * Waits until a version no longer serves: unloaded (UNAVAILABLE in the index), or forgotten with
   * its folder (a pushed version).
   */
  private static void awaitUnloaded(String model, long version) throws Exception {
    List<String> gone = List.of("UNAVAILABLE", "none");
    for (int i = 0; i < 6000 && !gone.contains(state(model, version)); i++) {
      Thread.sleep(10);
    }
    assertThat(state(model, version)).as(model + " version " + version).isIn(gone);
  }

  @Test
  void aNewVersionLoadedUnderLoadFailsNoRequestAndAnswersEveryRequestSentAfterIt()
      throws Exception {
    Path model = repository.resolve("fraud_classifier");
    long swapped;
    Traffic traffic = new Traffic("fraud_classifier");
    try {
      traffic.awaitAnswers(20, a -> true);
      Files.createDirectories(model.resolve("2"));
      Files.copy(model.resolve("1/model.onnx"), model.resolve("2/model.onnx"));
      HttpResponse<byte[]> loaded = server.post("/v2/repository/models/fraud_classifier/load", "");
      assertThat(loaded.statusCode()).as(text(loaded)).isEqualTo(200);
      swapped = traffic.sent.get();
      // version 1 drains what it holds and is unloaded (latest: 1) while requests keep coming
      awaitUnloaded("fraud_classifier", 1);
      long after = swapped;
      traffic.awaitAnswers(50, a -> a.sent() > after);
    } finally {
      traffic.stop();
    }
    assertThat(traffic.failures).as("failed requests").isEmpty();
    assertThat(traffic.answers).extracting(Answer::version).containsOnly("1", "2").contains("1");
    assertThat(traffic.answers)
        .filteredOn(a -> a.sent() > swapped)
        .isNotEmpty()
        .allSatisfy(a -> assertThat(a.version()).isEqualTo("2"));
    assertThat(state("fraud_classifier", 2)).isEqualTo("READY");
  }

  @Test
  void aNewVersionPushedToTheModelThatServesFailsNoRequest() throws Exception {
    String onnx =
        Base64.getEncoder().encodeToString(Files.readAllBytes(ModelPushE2eTest.FRAUD_ONNX));
    HttpResponse<byte[]> first = push("fraud_live", "file:1/model.onnx", onnx);
    assertThat(first.statusCode()).as(text(first)).isEqualTo(200);
    long swapped;
    Traffic traffic = new Traffic("fraud_live");
    try {
      traffic.awaitAnswers(20, a -> true);
      HttpResponse<byte[]> second = push("fraud_live", "file:2/model.onnx", onnx);
      assertThat(second.statusCode()).as(text(second)).isEqualTo(200);
      swapped = traffic.sent.get();
      awaitUnloaded("fraud_live", 1);
      long after = swapped;
      traffic.awaitAnswers(50, a -> a.sent() > after);
    } finally {
      traffic.stop();
    }
    assertThat(traffic.failures).as("failed requests").isEmpty();
    assertThat(traffic.answers).extracting(Answer::version).containsOnly("1", "2").contains("1");
    assertThat(traffic.answers)
        .filteredOn(a -> a.sent() > swapped)
        .isNotEmpty()
        .allSatisfy(a -> assertThat(a.version()).isEqualTo("2"));
    HttpResponse<byte[]> unloaded = server.post("/v2/repository/models/fraud_live/unload", "");
    assertThat(unloaded.statusCode()).as(text(unloaded)).isEqualTo(200);
  }

  private static HttpResponse<byte[]> push(String model, String file, String base64)
      throws Exception {
    String body =
        "{\"parameters\": {\"config\": "
            + E2eServer.quote(ModelPushE2eTest.CONFIG)
            + ", "
            + E2eServer.quote(file)
            + ": \""
            + base64
            + "\"}}";
    return server.post("/v2/repository/models/" + model + "/load", body);
  }
}
