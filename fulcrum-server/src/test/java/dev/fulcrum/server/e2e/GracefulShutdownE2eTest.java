package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.binaryOutputs;
import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.Await;
import dev.fulcrum.server.GracefulShutdown;
import dev.fulcrum.testkit.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link GracefulShutdown} on a real server: an announced shutdown serves with readiness false
 * until its delay ends; with a large response in flight, new requests are refused with 503 and
 * {@code Connection: close} while it drains, the response in flight (8 MiB) arrives whole, the
 * drain ends only after it is written, and the port refuses connections afterwards. The request is
 * held inside ONNX Runtime by a gate, not by its size; no timing is asserted.
 */
class GracefulShutdownE2eTest {
  private static final String MODEL = "identity_fp32";
  private static final int ROWS = 1024;
  private static final int COLS = 2048;

  @TempDir Path repo;

  @Test
  void aResponseInFlightArrivesWholeAndThePortClosesAfterIt() throws Exception {
    TestModels.writeModel(repo, MODEL);
    TestModels.writeModel(repo, TestModels.ADD_SUB_INT32);
    GatedRuntime runtime = new GatedRuntime(new OnnxRuntimeBackend(), MODEL);
    try (E2eServer server = E2eServer.start(repo, runtime)) {
      try {
        shutDown(server, runtime);
      } finally {
        runtime.open.countDown();
      }
    }
  }

  @Test
  void aLoadStillRunningIsAnswered503AndNotWaitedFor() throws Exception {
    // A deployment pipeline loads a model whose session build takes minutes when SIGTERM comes:
    // the drain waited for the load's answer, and the close for the load, up to the budget, for a
    // model nobody would be served by. The load here never ends until the test opens its gate, so
    // a shutdown that returns shows it did not wait.
    TestModels.writeModel(repo, MODEL);
    TestModels.writeModel(repo, TestModels.ADD_SUB_INT32);
    GatedRuntime runtime = GatedRuntime.loads(new OnnxRuntimeBackend(), MODEL);
    try (E2eServer server =
        E2eServer.serving(repo)
            .runtime(runtime)
            .settings(ModelRepository.Settings.defaults().withMode(ControlMode.EXPLICIT))
            .start()) {
      try {
        HttpResponse<byte[]> loaded =
            server.post("/v2/repository/models/" + TestModels.ADD_SUB_INT32 + "/load", "");
        assertThat(loaded.statusCode()).as(text(loaded)).isEqualTo(200);
        CompletableFuture<HttpResponse<byte[]>> load =
            server.sendAsync(server.jsonRequest("/v2/repository/models/" + MODEL + "/load", ""));
        assertThat(runtime.entered.await(60, TimeUnit.SECONDS)).isTrue();

        boolean clean =
            GracefulShutdown.run(server.service, server.http(), null, Duration.ofMinutes(10));

        assertThat(clean).as("a load still runs: its engine must not be freed").isFalse();
        HttpResponse<byte[]> answer = load.get(60, TimeUnit.SECONDS);
        assertThat(answer.statusCode()).as(text(answer)).isEqualTo(503);
        assertThat(error(answer))
            .isEqualTo(
                "the server is shutting down: the load of model '"
                    + MODEL
                    + "' did not finish and is not served");
        assertThat(server.service.repository().versions(TestModels.ADD_SUB_INT32)).isEmpty();
      } finally {
        runtime.open.countDown();
      }
      Await.until(
          "the load ends and closes what it loaded",
          () ->
              server.service.repository().index().stream()
                  .anyMatch(s -> s.name().equals(MODEL) && s.state() == ModelState.UNLOADED));
    }
  }

  @Test
  void anAnnouncedShutdownServesWithReadinessFalseUntilItsDelayEnds() throws Exception {
    TestModels.writeModel(repo, TestModels.ADD_SUB_INT32);
    try (E2eServer server = E2eServer.start(repo)) {
      CountDownLatch secondSignal = new CountDownLatch(1);
      CompletableFuture<Boolean> stopping =
          CompletableFuture.supplyAsync(
              () ->
                  GracefulShutdown.run(
                      server.service,
                      server.http(),
                      null,
                      new GracefulShutdown.Delay(Duration.ofHours(1), secondSignal),
                      Duration.ofSeconds(60)));
      Await.until("the shutdown is announced", server.service::isLeaving);

      assertThat(server.get("/v2/health/ready").statusCode()).isEqualTo(503);
      assertThat(server.get("/v2/health/live").statusCode()).isEqualTo(200);
      HttpResponse<byte[]> served = server.post(inferPath(TestModels.ADD_SUB_INT32), addSub());
      assertThat(served.statusCode()).as(text(served)).isEqualTo(200);
      assertThat(served.headers().firstValue("connection"))
          .as("each answer ends its connection, so that clients reconnect elsewhere")
          .hasValue("close");
      assertThat(server.service.isDraining()).isFalse();
      assertThat(stopping).isNotDone();

      secondSignal.countDown();
      assertThat(stopping.get(60, TimeUnit.SECONDS)).as("every session closed").isTrue();
      assertThat(server.service.isDraining()).isTrue();
    }
  }

  private static String addSub() {
    return """
        {"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":[%s]},
                   {"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":[%s]}]}"""
        .formatted("1,".repeat(15) + "1", "1,".repeat(15) + "1");
  }

  /** A connection that has been answered once and is kept alive. */
  private static Socket keptAlive(int port) throws IOException {
    Socket s = new Socket("127.0.0.1", port);
    s.setSoTimeout(60_000);
    assertThat(exchange(s, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"))
        .startsWith("HTTP/1.1 200");
    return s;
  }

  /** Writes one HTTP/1.1 request and reads its answer: the head and a Content-Length body. */
  private static String exchange(Socket s, String request) throws IOException {
    s.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
    s.getOutputStream().flush();
    InputStream in = s.getInputStream();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed before the answer's head ended: " + head);
      }
      head.write(b);
    }
    String h = head.toString(StandardCharsets.ISO_8859_1);
    int length = 0;
    for (String line : h.split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    return h + new String(in.readNBytes(length), StandardCharsets.UTF_8);
  }

  private static void shutDown(E2eServer server, GatedRuntime runtime) throws Exception {
    ByteBuffer data = ByteBuffer.allocate(ROWS * COLS * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < ROWS * COLS; i++) {
      data.putFloat(i);
    }
    String json =
        """
        {"inputs":[{"name":"INPUT0","shape":[%d,%d],"datatype":"FP32",
                    "parameters":{"binary_data_size":%d}}],
         "outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]}"""
            .formatted(ROWS, COLS, data.capacity());
    CompletableFuture<HttpResponse<byte[]>> inFlight =
        server.sendAsync(server.binaryRequest(inferPath(MODEL), json, data.array()));
    assertThat(runtime.entered.await(60, TimeUnit.SECONDS)).isTrue();
    // Two kept-alive connections, as a proxy's pool holds them: the drain answers on them.
    try (Socket pooled = keptAlive(server.port());
        Socket probe = keptAlive(server.port())) {
      drain(server, runtime, inFlight, pooled, probe);
    }
  }

  private static void drain(
      E2eServer server,
      GatedRuntime runtime,
      CompletableFuture<HttpResponse<byte[]>> inFlight,
      Socket pooled,
      Socket probe)
      throws Exception {

    CompletableFuture<Boolean> stopping =
        CompletableFuture.supplyAsync(
            () ->
                GracefulShutdown.run(server.service, server.http(), null, Duration.ofSeconds(60)));
    Await.until("the server drains", server.service::isDraining);

    String body = addSub();
    String refused =
        exchange(
            pooled,
            "POST "
                + inferPath(TestModels.ADD_SUB_INT32)
                + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length
                + "\r\n\r\n"
                + body);
    assertThat(refused).startsWith("HTTP/1.1 503").contains("shutting down");
    assertThat(refused.toLowerCase(Locale.ROOT))
        .as("answers end their connection while draining")
        .contains("connection: close");
    assertThat(exchange(probe, "GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n"))
        .startsWith("HTTP/1.1 503");
    assertThatThrownBy(
            () -> {
              try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", server.port()), 10_000);
              }
            })
        .as("a new connection is refused from the drain's start: a proxy retries it elsewhere")
        .isInstanceOf(IOException.class);
    assertThat(stopping).as("the drain waits for the response in flight").isNotDone();

    runtime.open.countDown();
    HttpResponse<byte[]> done = inFlight.get(60, TimeUnit.SECONDS);
    assertThat(done.statusCode()).as(text(done)).isEqualTo(200);
    byte[] out = binaryOutputs(done).get("OUTPUT0");
    assertThat(out).hasSize(ROWS * COLS * 4);
    assertThat(ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).getFloat(out.length - 4))
        .isEqualTo(ROWS * COLS - 1);

    assertThat(stopping.get(60, TimeUnit.SECONDS)).as("every session closed").isTrue();
    assertThat(server.service.responses().count()).isZero();
    assertThatThrownBy(
            () -> {
              try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", server.port()), 10_000);
              }
            })
        .as("the port refuses new connections")
        .isInstanceOf(IOException.class);
  }
}
