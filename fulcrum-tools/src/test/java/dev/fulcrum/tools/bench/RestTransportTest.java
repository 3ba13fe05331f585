package dev.fulcrum.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.TensorSpec;
import dev.fulcrum.server.codec.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The Netty REST client against fake servers: rejections, closed connections, timeouts. */
class RestTransportTest {
  private static final ModelInfo FAKE =
      new ModelInfo(
          "fake", 8, List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, 4})), List.of("y"));
  private static final String METADATA =
      "{\"name\":\"fake\",\"platform\":\"onnxruntime_onnx\","
          + "\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-1,4]}],"
          + "\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[-1,1]}]}";

  @TempDir Path tmp;
  private HttpServer http;
  private ServerSocket raw;

  @AfterEach
  void stop() throws IOException {
    if (http != null) {
      http.stop(0);
    }
    if (raw != null) {
      raw.close();
    }
  }

  /** A fake OIP server whose infer endpoint answers with {@code infer}. */
  private URI startHttp(HttpHandlerBody infer) throws IOException {
    http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    http.setExecutor(Executors.newFixedThreadPool(4));
    http.createContext(
        "/v2/models/fake",
        ex -> {
          String path = ex.getRequestURI().getPath();
          ex.getRequestBody().readAllBytes();
          if (path.endsWith("/config")) {
            reply(ex, 200, "{\"name\":\"fake\",\"max_batch_size\":8}");
          } else if (path.endsWith("/stats")) {
            reply(ex, 404, "{\"error\":\"no statistics\"}");
          } else if (path.endsWith("/infer")) {
            infer.handle(ex);
          } else {
            reply(ex, 200, METADATA);
          }
        });
    http.start();
    return URI.create("http://127.0.0.1:" + http.getAddress().getPort() + "/");
  }

  interface HttpHandlerBody {
    void handle(HttpExchange ex) throws IOException;
  }

  private static void reply(HttpExchange ex, int status, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().add("Content-Type", "application/json");
    ex.sendResponseHeaders(status, b.length);
    try (OutputStream o = ex.getResponseBody()) {
      o.write(b);
    }
  }

  private static RestTransport transport(URI base, Duration timeout, int connections) {
    List<Sample> samples = InputGenerator.random(FAKE, Map.of(), 1, 2, 1);
    return new RestTransport(base, FAKE, "", samples, true, timeout, 1, connections);
  }

  @Test
  void rejectionsAreCountedWithTheirOwnLatency() throws Exception {
    AtomicInteger n = new AtomicInteger();
    URI base =
        startHttp(
            ex -> {
              if (n.incrementAndGet() % 2 == 0) {
                reply(ex, 429, "{\"error\":\"queue full\"}");
              } else {
                reply(ex, 200, "{\"model_name\":\"fake\",\"outputs\":[]}");
              }
            });
    Path json = tmp.resolve("r.json");
    BenchCommand cmd = new BenchCommand();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
    cmd.err = new PrintStream(err, true, StandardCharsets.UTF_8);
    int exit =
        new CommandLine(cmd)
            .execute(
                "--model", "fake",
                "--url", base.toString(),
                "--concurrency", "2",
                "--warmup", "200ms",
                "--window", "500ms",
                "--max-windows", "3",
                "--output", json.toString());

    String stderr = err.toString(StandardCharsets.UTF_8);
    assertThat(exit).as(stderr).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("rej_p99");
    JsonNode row = Json.MAPPER.readTree(json.toFile()).get(0);
    assertThat(row.get("rejected_total").asLong()).isPositive();
    assertThat(row.get("ok_total").asLong()).isPositive();
    assertThat(row.get("other_errors_total").asLong()).isZero();
    assertThat(row.get("rejected_p99_ms").isNumber()).isTrue();
    assertThat(row.get("rejected_p99_ms").asDouble()).isPositive();
    assertThat(row.get("late_sends_fraction").isNull()).isTrue();
    assertThat(row.get("completed_total").asLong()).isEqualTo(row.get("sent_total").asLong());
    // The error body was read for its message.
    assertThat(stderr).contains("HTTP 429: queue full");
  }

  @Test
  void connectionCloseFromTheServerIsFollowedByANewConnection() throws Exception {
    URI base =
        startHttp(
            ex -> {
              ex.getResponseHeaders().add("Connection", "close");
              reply(ex, 200, "{\"model_name\":\"fake\",\"outputs\":[]}");
            });
    try (RestTransport t = transport(base, Duration.ofSeconds(10), 1)) {
      for (int i = 0; i < 20; i++) {
        assertThat(t.send(i % 2).get()).isEqualTo(Outcome.OK);
      }
      assertThat(t.lastError()).isEmpty();
    }
  }

  @Test
  void aConnectionDroppedMidRequestCountsAsAnErrorAndIsReplaced() throws Exception {
    URI base = startRaw(Behaviour.DROP_FIRST);
    try (RestTransport t = transport(base, Duration.ofSeconds(10), 1)) {
      assertThat(t.send(0).get()).isEqualTo(Outcome.OTHER);
      assertThat(t.lastError()).hasValueSatisfying(e -> assertThat(e).contains("closed"));
      for (int i = 0; i < 5; i++) {
        assertThat(t.send(i % 2).get()).isEqualTo(Outcome.OK);
      }
    }
    assertThat(accepted.get()).isEqualTo(2);
  }

  @Test
  void aTimedOutRequestClosesItsConnectionAndTheNextGetsAFreshOne() throws Exception {
    URI base = startRaw(Behaviour.STALL_FIRST);
    try (RestTransport t = transport(base, Duration.ofMillis(300), 1)) {
      assertThat(t.send(0).get()).isEqualTo(Outcome.TIMED_OUT);
      assertThat(t.send(1).get()).isEqualTo(Outcome.OK);
    }
    assertThat(accepted.get()).isEqualTo(2);
  }

  @Test
  void anUnreachableServerCountsAsErrors() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    try (RestTransport t =
        transport(URI.create("http://127.0.0.1:" + port + "/"), Duration.ofSeconds(5), 2)) {
      assertThat(t.send(0).get()).isEqualTo(Outcome.OTHER);
      assertThat(t.send(1).get()).isEqualTo(Outcome.OTHER);
      assertThat(t.lastError()).hasValueSatisfying(e -> assertThat(e).startsWith("connect"));
    }
  }

  private enum Behaviour {
    DROP_FIRST,
    STALL_FIRST
  }

  private final AtomicInteger accepted = new AtomicInteger();

  /**
   * A raw HTTP/1.1 server: the first connection reads one request and then closes without an answer
   * ({@code DROP_FIRST}) or never answers ({@code STALL_FIRST}); later connections answer 200 to
   * every request, keep-alive.
   */
  private URI startRaw(Behaviour behaviour) throws IOException {
    raw = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    Thread.ofPlatform()
        .daemon(true)
        .start(
            () -> {
              while (!raw.isClosed()) {
                try {
                  Socket s = raw.accept();
                  boolean first = accepted.incrementAndGet() == 1;
                  Thread.ofPlatform().daemon(true).start(() -> serve(s, first, behaviour));
                } catch (IOException closed) {
                  return;
                }
              }
            });
    return URI.create("http://127.0.0.1:" + raw.getLocalPort() + "/");
  }

  private static void serve(Socket s, boolean first, Behaviour behaviour) {
    try (s) {
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      while (readRequest(in)) {
        if (first && behaviour == Behaviour.DROP_FIRST) {
          return;
        }
        if (first && behaviour == Behaviour.STALL_FIRST) {
          in.readAllBytes(); // until the client gives up and closes
          return;
        }
        byte[] body = "{\"model_name\":\"fake\",\"outputs\":[]}".getBytes(StandardCharsets.UTF_8);
        out.write(
            ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length
                    + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
      }
    } catch (IOException gone) {
      // The client closed the connection.
    }
  }

  /** Reads one request (head and Content-Length body); false at the end of the stream. */
  private static boolean readRequest(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        return false;
      }
      head.append((char) b);
    }
    int length = 0;
    for (String line : head.toString().split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(line.indexOf(':') + 1).trim());
      }
    }
    in.readNBytes(length);
    return true;
  }
}
