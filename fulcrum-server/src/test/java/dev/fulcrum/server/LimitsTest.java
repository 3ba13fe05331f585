package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.HttpServerTest.RawConnection;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.http.AcceptBacklog;
import dev.fulcrum.server.http.BufferBudget;
import dev.fulcrum.server.http.ConnectionLimit;
import dev.fulcrum.server.metrics.MetricsServer;
import dev.fulcrum.server.metrics.ServerMetrics;
import io.grpc.ManagedChannel;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2StreamChannel;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Timeouts and caps against slow and hostile clients on the REST, gRPC and metrics ports. Timeouts
 * are short here (2 s) so that closes happen within the tests' bounded waits; nothing asserts how
 * fast anything happens.
 */
class LimitsTest {
  private static final Duration SHORT = Duration.ofSeconds(2);
  private static final int BODY = 60 * 1024;

  @TempDir static Path repo;
  private static InferenceService service;
  private static HttpServer server;
  private static HttpClient client;

  @BeforeAll
  static void start() throws Exception {
    service = TestModels.service(repo);
    server =
        new HttpServer(
                service,
                HttpServerConfig.ephemeral()
                    .withMaxInputSize(64 * 1024)
                    .withLimits(
                        HttpServerConfig.Limits.defaults()
                            .withTimeouts(SHORT, SHORT, SHORT)
                            .withMaxBufferedBytes(5L * BODY, 1L << 30)))
            .start();
    client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  }

  @AfterAll
  static void stop() {
    server.close();
    service.repository().close();
  }

  private static int live(int port) throws Exception {
    return client
        .send(
            java.net.http.HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/v2/health/live"))
                .timeout(Duration.ofSeconds(30))
                .build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  private static void write(RawConnection c, String s) throws IOException {
    c.out.write(s.getBytes(StandardCharsets.US_ASCII));
    c.out.flush();
  }

  /**
   * Reads until the server closes, with a FIN or a reset (a connection dropped before its request
   * head is reset); a read timeout (30 s) fails the test instead of hanging it.
   */
  private static void assertClosedByServer(RawConnection c) throws IOException {
    InputStream in = c.in;
    try {
      while (in.read() >= 0) {
        // drain whatever was answered before the close
      }
    } catch (SocketException reset) {
      // closed with a reset
    }
  }

  @Test
  void theConfiguredAcceptBacklogIsTheListeningSocketsQueue() throws Exception {
    HttpServer small =
        new HttpServer(
                service,
                HttpServerConfig.ephemeral()
                    .withLimits(HttpServerConfig.Limits.defaults().withAcceptBacklog(77)))
            .start();
    try {
      assertThat(small.acceptQueue()).isEqualTo(77); // every kernel allows 77 (somaxconn >= 128)
      assertThat(live(small.port())).isEqualTo(200);
      // Where iproute2 is installed, the kernel's own word: a listener's Send-Q is its backlog.
      OptionalInt kernel = listenBacklog(small.port());
      if (kernel.isPresent()) {
        assertThat(kernel.getAsInt()).isEqualTo(77);
      }
    } finally {
      small.close();
    }
    assertThat(server.acceptQueue())
        .isEqualTo(
            AcceptBacklog.effective(
                HttpServerConfig.Limits.defaults().acceptBacklog(), AcceptBacklog.somaxconn()));
    assertThatThrownBy(() -> HttpServerConfig.Limits.defaults().withAcceptBacklog(0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** {@code ss}'s Send-Q of the port's listening socket, or empty without {@code ss}. */
  private static OptionalInt listenBacklog(int port) throws InterruptedException {
    try {
      Process ss =
          new ProcessBuilder("ss", "-Hltn", "sport = :" + port).redirectErrorStream(true).start();
      String out = new String(ss.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      if (!ss.waitFor(30, TimeUnit.SECONDS) || ss.exitValue() != 0) {
        return OptionalInt.empty();
      }
      String[] fields = out.strip().split("\\s+");
      return fields.length > 2 ? OptionalInt.of(Integer.parseInt(fields[2])) : OptionalInt.empty();
    } catch (IOException | NumberFormatException e) {
      return OptionalInt.empty();
    }
  }

  @Test
  void aPartialRequestHeadIsClosedWhileOtherConnectionsAreServed() throws Exception {
    try (RawConnection slow = new RawConnection(server.port())) {
      write(slow, "GET /v2/health/live HTTP/1.1\r\nHo");
      assertThat(live(server.port())).isEqualTo(200);
      assertClosedByServer(slow);
    }
  }

  /**
   * A request line that arrives in pieces is held until it ends (HttpPipeline's FirstLine), then
   * the request is read whole and answered on the same connection.
   */
  @Test
  void aRequestLineSentInPiecesIsAnswered() throws Exception {
    try (RawConnection c = new RawConnection(server.port())) {
      for (String piece : new String[] {"G", "ET /v2/he", "alth/live HT", "TP/1.1"}) {
        write(c, piece);
        Thread.sleep(100);
      }
      write(c, "\r\nHost: x\r\n\r\n");
      assertThat(c.read().status()).isEqualTo(200);
      c.send("GET", "/v2/health/live", "", new byte[0]);
      assertThat(c.read().status()).isEqualTo(200);
    }
  }

  /** A first line that never ends is held, and closed at the header timeout like a silent one. */
  @Test
  void aRequestLineThatNeverEndsIsClosed() throws Exception {
    try (RawConnection slow = new RawConnection(server.port())) {
      write(slow, "GET /v2/health/li");
      assertThat(live(server.port())).isEqualTo(200);
      assertClosedByServer(slow);
    }
  }

  /** A first line longer than what is held goes to the HTTP decoder, which answers it. */
  @Test
  void aFirstLineBeyondWhatIsHeldIsPassedOnAndAnswered() throws Exception {
    try (RawConnection c = new RawConnection(server.port())) {
      write(c, "GET /v2/health/live?" + "a".repeat(300));
      Thread.sleep(100);
      write(c, " HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(c.read().status()).isEqualTo(200);
    }
  }

  @Test
  void aConnectionThatSendsNothingIsClosed() throws Exception {
    try (RawConnection silent = new RawConnection(server.port())) {
      assertClosedByServer(silent);
    }
  }

  /**
   * Silent connections are kept by their event loops' sweeps (SilentConnections), not a timer each:
   * every one is closed, on whichever loop, and one that speaks before its deadline leaves the
   * sweep and is answered.
   */
  @Test
  void silentConnectionsAreAllClosedAndOneThatSpeaksInTimeIsAnswered() throws Exception {
    List<RawConnection> silent = new ArrayList<>();
    try (RawConnection late = new RawConnection(server.port())) {
      for (int i = 0; i < 12; i++) {
        silent.add(new RawConnection(server.port()));
        Thread.sleep(50);
      }
      Thread.sleep(SHORT.toMillis() / 4);
      late.send("GET", "/v2/health/live", "", new byte[0]);
      assertThat(late.read().status()).isEqualTo(200);
      for (RawConnection c : silent) {
        assertClosedByServer(c);
      }
    } finally {
      for (RawConnection c : silent) {
        c.close();
      }
    }
  }

  @Test
  void anIdleKeepAliveConnectionIsClosed() throws Exception {
    try (RawConnection c = new RawConnection(server.port())) {
      c.send("GET", "/v2/health/live", "", new byte[0]);
      assertThat(c.read().status()).isEqualTo(200);
      assertClosedByServer(c);
    }
  }

  @Test
  void aBusyH2cConnectionIsNotClosedAsIdleAndAnIdleOneGetsGoawayFirst() throws Exception {
    try (H2cTest.H2Client c = new H2cTest.H2Client(server.port())) {
      // A request every 0.4 s for more than twice the idle timeout (2 s): never idle that long.
      // It was closed one idle timeout after the connection's start, its next request failing.
      c.keepBusy(5_000);
      assertThat(c.goAway).isNotDone();
      // Idle now: closed with a GOAWAY (NO_ERROR) first, so the client knows nothing was lost.
      Await.until("the idle connection is closed", c::closed);
      assertThat(c.goAway.getNow(-1L)).isEqualTo(0L);
    }
  }

  @Test
  void aStalledBodyIsClosed() throws Exception {
    try (RawConnection c = new RawConnection(server.port())) {
      write(
          c,
          "POST /v2/models/echo_fp32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"in");
      assertClosedByServer(c);
    }
    Await.until("the body's reservation is given back", () -> server.bufferedBytes() == 0);
  }

  @Test
  void aStalledBodyOnAnH2cStreamResetsTheStreamAndTheConnectionStaysUsable() throws Exception {
    try (H2cTest.H2Client c = new H2cTest.H2Client(server.port())) {
      CompletableFuture<H2cTest.Reply> stalled = new CompletableFuture<>();
      Http2StreamChannel stream = c.open(stalled);
      HttpRequest head =
          new DefaultHttpRequest(
              HttpVersion.HTTP_1_1, HttpMethod.POST, "/v2/models/echo_fp32/infer");
      head.headers().set(HttpHeaderNames.HOST, "x").set(HttpHeaderNames.CONTENT_LENGTH, 1000);
      stream.write(head);
      stream.writeAndFlush(
          new DefaultHttpContent(Unpooled.copiedBuffer("{\"in", StandardCharsets.US_ASCII)));
      assertThatThrownBy(() -> stalled.get(30, TimeUnit.SECONDS))
          .hasMessageContaining("stream reset with CANCEL");
      H2cTest.Reply ready =
          c.send(c.request(HttpMethod.GET, "/v2/health/ready", null)).get(30, TimeUnit.SECONDS);
      assertThat(ready.status()).isEqualTo(200);
    }
    Await.until("the stream's reservation is given back", () -> server.bufferedBytes() == 0);
  }

  @Test
  void aClientThatStopsReadingItsResponsesIsClosed() throws Exception {
    HttpServerConfig config =
        HttpServerConfig.ephemeral()
            .withMaxInputSize(64 * 1024)
            .withLimits(HttpServerConfig.Limits.defaults().withTimeouts(SHORT, SHORT, SHORT));
    int n = 48 * 1024;
    String json =
        "{\"parameters\":{\"binary_data_output\":true},\"inputs\":[{\"name\":\"IN\","
            + "\"datatype\":\"UINT8\",\"shape\":[1,"
            + n
            + "],\"parameters\":{\"binary_data_size\":"
            + n
            + "}}]}";
    ByteArrayOutputStream request = new ByteArrayOutputStream();
    request.write(
        ("POST /v2/models/echo_uint8/infer HTTP/1.1\r\nHost: x\r\n"
                + "Inference-Header-Content-Length: "
                + json.length()
                + "\r\nContent-Length: "
                + (json.length() + n)
                + "\r\n\r\n"
                + json)
            .getBytes(StandardCharsets.US_ASCII));
    request.write(new byte[n]);
    byte[] one = request.toByteArray();
    try (HttpServer s = new HttpServer(service, config).start();
        Socket socket = new Socket()) {
      socket.setReceiveBufferSize(4096);
      socket.connect(new java.net.InetSocketAddress("127.0.0.1", s.port()));
      Thread writer =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      for (int i = 0; i < 400; i++) {
                        socket.getOutputStream().write(one);
                      }
                    } catch (IOException closedByServer) {
                      // expected once the server gives up on this client
                    }
                  });
      Await.until("the server closes the connection", () -> s.openConnections() == 0);
      writer.join(30_000); // its writes fail once the server has closed
    }
  }

  @Test
  void twoHundredPipelinedRequestsAreAllAnsweredInOrder() throws Exception {
    // Inferences are answered on the engine's threads, after the whole batch of requests has
    // been decoded: more than Netty's default pipeline depth (128) wait at once.
    StringBuilder all = new StringBuilder();
    for (int i = 0; i < 200; i++) {
      if (i % 2 == 0) {
        all.append("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n");
      } else {
        String body =
            "{\"inputs\":[{\"name\":\"IN\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":["
                + i
                + "]}]}";
        all.append("POST /v2/models/echo_fp32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ")
            .append(body.length())
            .append("\r\n\r\n")
            .append(body);
      }
    }
    try (RawConnection c = new RawConnection(server.port())) {
      write(c, all.toString());
      for (int i = 0; i < 200; i++) {
        RawConnection.Response r = c.read();
        assertThat(r.status()).as("response %d", i).isEqualTo(200);
        String body = new String(r.body(), StandardCharsets.UTF_8);
        assertThat(body).contains(i % 2 == 0 ? "live" : "[" + i + ".0]");
      }
    }
  }

  @Test
  void bodiesBeyondTheBufferBudgetAre503AndTheirBytesAreFreed() throws Exception {
    String head =
        "POST /v2/models/echo_fp32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: "
            + BODY
            + "\r\n\r\n";
    Await.until("earlier tests' bodies are given back", () -> server.bufferedBytes() == 0);
    List<RawConnection> partial = new ArrayList<>();
    try {
      for (int i = 0; i < 5; i++) {
        RawConnection c = new RawConnection(server.port());
        partial.add(c);
        write(c, head + " ".repeat(1024));
        long expected = (i + 1L) * BODY;
        Await.until("budget holds " + expected, () -> server.bufferedBytes() == expected);
      }
      try (RawConnection over = new RawConnection(server.port())) {
        write(over, head + " ".repeat(1024));
        RawConnection.Response r = over.read();
        assertThat(r.status()).isEqualTo(503);
        assertThat(new String(r.body(), StandardCharsets.UTF_8)).contains("\"error\"");
        assertThat(r.headers()).containsEntry("connection", "close");
      }
      assertThat(server.bufferedBytes()).isEqualTo(5L * BODY);
    } finally {
      for (RawConnection c : partial) {
        c.close();
      }
    }
    Await.until("the budget is given back", () -> server.bufferedBytes() == 0);
    // A whole body fits again (400: it is not JSON; it was read, not refused).
    try (RawConnection c = new RawConnection(server.port())) {
      c.send("POST", "/v2/models/echo_fp32/infer", "", " x".repeat(BODY / 2).getBytes());
      assertThat(c.read().status()).isEqualTo(400);
    }
  }

  @Test
  void h2cStreamsShareTheirConnectionsBudget() throws Exception {
    HttpServerConfig config =
        HttpServerConfig.ephemeral()
            .withMaxInputSize(64 * 1024)
            .withLimits(
                HttpServerConfig.Limits.defaults().withMaxBufferedBytes(1L << 30, 2L * BODY));
    try (HttpServer s = new HttpServer(service, config).start();
        H2cTest.H2Client c = new H2cTest.H2Client(s.port())) {
      List<CompletableFuture<H2cTest.Reply>> replies = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        CompletableFuture<H2cTest.Reply> reply = new CompletableFuture<>();
        replies.add(reply);
        Http2StreamChannel stream = c.open(reply);
        HttpRequest head =
            new DefaultHttpRequest(
                HttpVersion.HTTP_1_1, HttpMethod.POST, "/v2/models/echo_fp32/infer");
        head.headers().set(HttpHeaderNames.HOST, "x").set(HttpHeaderNames.CONTENT_LENGTH, BODY);
        stream.write(head);
        stream.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[1024])));
        if (i < 2) {
          long expected = (i + 1L) * BODY;
          Await.until("budget holds " + expected, () -> s.bufferedBytes() == expected);
        }
      }
      H2cTest.Reply third = replies.get(2).get(30, TimeUnit.SECONDS);
      assertThat(third.status()).isEqualTo(503);
      assertThat(third.body()).contains("\"error\"");
      assertThat(replies.get(0)).isNotDone();
      assertThat(s.bufferedBytes()).isEqualTo(2L * BODY);
    }
  }

  @Test
  void connectionsBeyondTheLimitAreClosedAtOnce() throws Exception {
    HttpServerConfig config =
        HttpServerConfig.ephemeral()
            .withLimits(HttpServerConfig.Limits.defaults().withMaxConnections(2));
    try (HttpServer s = new HttpServer(service, config).start();
        RawConnection b = new RawConnection(s.port())) {
      RawConnection a = new RawConnection(s.port());
      for (RawConnection c : List.of(a, b)) {
        c.send("GET", "/v2/health/live", "", new byte[0]);
        assertThat(c.read().status()).isEqualTo(200);
      }
      try (RawConnection third = new RawConnection(s.port())) {
        assertClosedByServer(third);
      }
      a.close();
      Await.until("a place is free", () -> s.openConnections() < 2);
      try (RawConnection fourth = new RawConnection(s.port())) {
        fourth.send("GET", "/v2/health/live", "", new byte[0]);
        assertThat(fourth.read().status()).isEqualTo(200);
      }
    }
  }

  @Test
  void slowStartsAtTheCapEvictEachOtherNeverAFreshNormalConnection() throws Exception {
    // 300 slowloris connections (one head byte each, then nothing) through a port of 50, in
    // rounds; each round a normal client connects first and sends its request only after that
    // round's slow connections arrived: its fresh connection is never the one closed for them.
    int cap = 50;
    HttpServerConfig config =
        HttpServerConfig.ephemeral()
            .withLimits(
                HttpServerConfig.Limits.defaults()
                    .withTimeouts(SHORT, SHORT, SHORT)
                    .withMaxConnections(cap));
    List<Socket> slow = new ArrayList<>();
    try (HttpServer s = new HttpServer(service, config).start()) {
      for (int round = 0; round < 20; round++) {
        try (RawConnection normal = new RawConnection(s.port())) {
          for (int i = 0; i < 15; i++) {
            Socket c = new Socket("127.0.0.1", s.port());
            slow.add(c);
            try {
              c.getOutputStream().write('G');
            } catch (IOException e) {
              // refused at the cap: closed at once
            }
          }
          normal.send("GET", "/v2/health/live", "", new byte[0]);
          assertThat(normal.read().status()).as("normal request in round %d", round).isEqualTo(200);
        }
        // Past the eviction grace, so that the next round's arrivals find slow ones to evict
        // rather than being refused (refusing them would be right too, but proves less).
        Thread.sleep(3 * ConnectionLimit.EVICTION_GRACE.toMillis());
      }
      assertThat(s.openConnections()).isLessThanOrEqualTo(cap);
      long closedByServer = 0;
      for (Socket c : slow) {
        c.setSoTimeout(1);
        try {
          closedByServer += c.getInputStream().read() < 0 ? 1 : 0;
        } catch (java.net.SocketTimeoutException e) {
          // still open
        } catch (IOException e) {
          closedByServer++; // reset: closed with its byte unread
        }
      }
      assertThat(closedByServer).isGreaterThanOrEqualTo(slow.size() - cap);
    } finally {
      for (Socket c : slow) {
        c.close();
      }
    }
  }

  @Test
  void h2cAdvertisesItsConcurrentStreamLimit() throws Exception {
    HttpServerConfig config =
        HttpServerConfig.ephemeral()
            .withLimits(HttpServerConfig.Limits.defaults().withMaxConcurrentStreams(7));
    try (HttpServer s = new HttpServer(service, config).start()) {
      assertThat(serverSettings(s.port())).containsEntry(MAX_CONCURRENT_STREAMS, 7L);
    }
  }

  @Test
  void grpcCapsCallsPerConnectionAndClosesASilentConnection() throws Exception {
    GrpcServerConfig config =
        GrpcServerConfig.ephemeral()
            .withLimits(
                GrpcServerConfig.Limits.defaults()
                    .withMaxConcurrentCallsPerConnection(5)
                    .withHandshakeTimeout(SHORT));
    try (GrpcServer g = new GrpcServer(service, config).start()) {
      assertThat(serverSettings(g.port())).containsEntry(MAX_CONCURRENT_STREAMS, 5L);
      try (RawConnection silent = new RawConnection(g.port())) {
        assertClosedByServer(silent);
      }
    }
  }

  @Test
  void aGrpcConnectionEndedByTheClientsProtocolErrorLogsNoStackTrace() throws Exception {
    // grpc-netty logged "Transport failed" with a ~30-line trace for each such connection (a
    // client flooded the log with 96,000 lines in 10 s of oversized metadata); the record must
    // reach the logger and go no further.
    java.util.logging.Logger transportLog =
        java.util.logging.Logger.getLogger("io.grpc.netty.NettyServerTransport.connections");
    List<java.util.logging.LogRecord> consulted =
        java.util.Collections.synchronizedList(new ArrayList<>());
    List<java.util.logging.LogRecord> published =
        java.util.Collections.synchronizedList(new ArrayList<>());
    java.util.logging.Handler handler =
        new java.util.logging.Handler() {
          @Override
          public void publish(java.util.logging.LogRecord r) {
            published.add(r);
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    try (GrpcServer g = new GrpcServer(service, GrpcServerConfig.ephemeral()).start()) {
      java.util.logging.Filter installed = transportLog.getFilter();
      assertThat(installed).isNotNull();
      transportLog.setFilter(
          r -> {
            consulted.add(r);
            return installed.isLoggable(r);
          });
      transportLog.addHandler(handler);
      try {
        for (String hostile :
            List.of("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")) {
          try (RawConnection c = new RawConnection(g.port())) {
            write(c, hostile);
            assertClosedByServer(c);
          }
        }
        Await.until("both failures reach grpc-netty's logger", () -> consulted.size() >= 2);
        assertThat(consulted)
            .extracting(java.util.logging.LogRecord::getMessage)
            .containsOnly("Transport failed");
        assertThat(published).isEmpty();
      } finally {
        transportLog.removeHandler(handler);
        transportLog.setFilter(installed);
      }
    }
  }

  @Test
  void grpcConnectionsBeyondTheLimitAreClosedAtOnce() throws Exception {
    GrpcServerConfig config =
        GrpcServerConfig.ephemeral()
            .withLimits(GrpcServerConfig.Limits.defaults().withMaxConnections(2));
    try (GrpcServer g = new GrpcServer(service, config).start();
        RawConnection b = new RawConnection(g.port())) {
      RawConnection a = new RawConnection(g.port());
      for (RawConnection c : List.of(a, b)) {
        write(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"); // the preface, then nothing
      }
      Await.until("two connections counted", () -> g.openConnections() == 2);
      try (RawConnection third = new RawConnection(g.port())) {
        assertClosedByServer(third);
      }
      assertThat(g.openConnections()).isEqualTo(2);
      a.close();
      Await.until("a place is free", () -> g.openConnections() < 2);
      assertThat(serverSettings(g.port())).containsKey(MAX_CONCURRENT_STREAMS);
    }
  }

  @Test
  void grpcCallsBeyondTheConnectionsBudgetEndWithResourceExhaustedAndOthersGoOn() throws Exception {
    int max = 256 * 1024;
    int part = 200 * 1024;
    GrpcServerConfig config =
        GrpcServerConfig.ephemeral()
            .withMaxMessageSize(max)
            .withLimits(
                GrpcServerConfig.Limits.defaults().withMaxBufferedBytes(1L << 30, 2L * max));
    try (GrpcServer g = new GrpcServer(service, config).start()) {
      H2cTest.H2Client hostile = new H2cTest.H2Client(g.port());
      try {
        List<CompletableFuture<H2cTest.Reply>> replies = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
          replies.add(partialGrpcMessage(hostile, max, part));
          if (i < 2) {
            long expected = (i + 1L) * part;
            Await.until("budget holds " + expected, () -> g.bufferedBytes() == expected);
          }
        }
        H2cTest.Reply third = replies.get(2).get(30, TimeUnit.SECONDS);
        assertThat(third.headers().get("grpc-status")).hasToString("8"); // RESOURCE_EXHAUSTED
        assertThat(third.headers().get("grpc-message")).asString().contains("request bytes");
        assertThat(replies.get(0)).isNotDone();
        assertThat(g.bufferedBytes()).isEqualTo(2L * part);
        assertNormalGrpcCall(g.port());
      } finally {
        hostile.close();
      }
      Await.until("the budget is given back", () -> g.bufferedBytes() == 0);
      assertNormalGrpcCall(g.port());
    }
  }

  @Test
  void restAndGrpcShareOneServerWideBudget() throws Exception {
    BufferBudget shared = new BufferBudget(3L * BODY);
    int grpcPart = 40 * 1024;
    HttpServerConfig httpConfig =
        HttpServerConfig.ephemeral()
            .withMaxInputSize(64 * 1024)
            .withLimits(
                HttpServerConfig.Limits.defaults().withMaxBufferedBytes(1L << 30, 1L << 30));
    GrpcServerConfig grpcConfig = GrpcServerConfig.ephemeral().withMaxMessageSize(64 * 1024);
    String head =
        "POST /v2/models/echo_fp32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: "
            + BODY
            + "\r\n\r\n";
    List<RawConnection> partial = new ArrayList<>();
    try (HttpServer h = new HttpServer(service, httpConfig).bufferBudget(shared).start();
        GrpcServer g = new GrpcServer(service, grpcConfig).bufferBudget(shared).start()) {
      H2cTest.H2Client hostile = new H2cTest.H2Client(g.port());
      try {
        for (int i = 0; i < 2; i++) {
          RawConnection c = new RawConnection(h.port());
          partial.add(c);
          write(c, head + " ".repeat(1024));
        }
        Await.until("REST holds two bodies", () -> shared.held() == 2L * BODY);
        CompletableFuture<H2cTest.Reply> first = partialGrpcMessage(hostile, 64 * 1024, grpcPart);
        Await.until("gRPC holds its part", () -> g.bufferedBytes() == grpcPart);
        H2cTest.Reply second =
            partialGrpcMessage(hostile, 64 * 1024, grpcPart).get(30, TimeUnit.SECONDS);
        assertThat(second.headers().get("grpc-status")).hasToString("8");
        assertThat(first).isNotDone();
        try (RawConnection over = new RawConnection(h.port())) {
          write(over, head + " ".repeat(1024));
          assertThat(over.read().status()).isEqualTo(503);
        }
        assertThat(shared.held()).isEqualTo(2L * BODY + grpcPart);
      } finally {
        hostile.close();
        for (RawConnection c : partial) {
          c.close();
        }
      }
      Await.until("the shared budget is given back", () -> shared.held() == 0);
    }
  }

  /**
   * Opens a gRPC ModelInfer call on {@code c} and sends the first {@code part} bytes of a message
   * declaring {@code length} bytes; the future completes with the server's response, if any.
   */
  private static CompletableFuture<H2cTest.Reply> partialGrpcMessage(
      H2cTest.H2Client c, int length, int part) throws InterruptedException {
    CompletableFuture<H2cTest.Reply> reply = new CompletableFuture<>();
    Http2StreamChannel stream = c.open(reply);
    HttpRequest head =
        new DefaultHttpRequest(
            HttpVersion.HTTP_1_1, HttpMethod.POST, "/inference.GRPCInferenceService/ModelInfer");
    head.headers()
        .set(HttpHeaderNames.HOST, "x")
        .set(HttpHeaderNames.CONTENT_TYPE, "application/grpc")
        .set(HttpHeaderNames.TE, "trailers");
    stream.write(head);
    byte[] message = new byte[5 + part]; // uncompressed; the length prefix, then zeros
    message[1] = (byte) (length >>> 24);
    message[2] = (byte) (length >>> 16);
    message[3] = (byte) (length >>> 8);
    message[4] = (byte) length;
    stream.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(message)));
    return reply;
  }

  /** A ModelInfer call on a connection of its own is answered. */
  private static void assertNormalGrpcCall(int port) throws InterruptedException {
    ManagedChannel channel = GrpcServerTest.channel(port);
    try {
      ModelInferResponse r =
          GRPCInferenceServiceGrpc.newBlockingStub(channel)
              .withDeadlineAfter(30, TimeUnit.SECONDS)
              .modelInfer(
                  GrpcServerTest.rawRequest(
                      TestModels.echo(DataType.FP32), DataType.FP32, new byte[8], 1, 2));
      assertThat(r.getRawOutputContentsCount()).isEqualTo(1);
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aPartialRequestOnTheMetricsPortDoesNotBlockAScrape() throws Exception {
    try (MetricsServer m =
            new MetricsServer(
                "127.0.0.1",
                0,
                new ServerMetrics(false),
                HttpServerConfig.Limits.defaults().withTimeouts(SHORT, SHORT, SHORT));
        RawConnection stuck = new RawConnection(m.port())) {
      write(stuck, "GET /metrics HTTP/1.1\r\nHo");
      HttpResponse<String> r =
          client.send(
              java.net.http.HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + m.port() + "/metrics"))
                  .timeout(Duration.ofSeconds(30))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).contains("nv_inference_request_success");
      assertClosedByServer(stuck);
    }
  }

  @Test
  void aBudgetBelowTheLargestBodyIsRejectedWithTheFieldsNamed() {
    HttpServerConfig.Limits small =
        HttpServerConfig.Limits.defaults().withMaxBufferedBytes(1L << 20, 1L << 20);
    assertThatThrownBy(() -> HttpServerConfig.ephemeral().withLimits(small))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxBufferedBytesPerConnection")
        .hasMessageContaining("maxInputSize");
  }

  @Test
  void aGrpcBudgetBelowTheLargestMessageIsRejectedWithTheFieldsNamed() {
    GrpcServerConfig.Limits small =
        GrpcServerConfig.Limits.defaults().withMaxBufferedBytes(1L << 30, 1L << 20);
    assertThatThrownBy(() -> GrpcServerConfig.ephemeral().withLimits(small))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxBufferedBytesPerConnection")
        .hasMessageContaining("maxMessageSize");
  }

  private static final int MAX_CONCURRENT_STREAMS = 0x3;

  /**
   * Opens an HTTP/2 connection by prior knowledge and returns the parameters of the server's first
   * SETTINGS frame.
   */
  private static Map<Integer, Long> serverSettings(int port) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(30_000);
      ByteArrayOutputStream hello = new ByteArrayOutputStream();
      hello.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      hello.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // empty SETTINGS
      s.getOutputStream().write(hello.toByteArray());
      s.getOutputStream().flush();
      DataInputStream in = new DataInputStream(s.getInputStream());
      while (true) {
        int length = (in.readUnsignedByte() << 16) | in.readUnsignedShort();
        int type = in.readUnsignedByte();
        int flags = in.readUnsignedByte();
        in.readInt();
        byte[] payload = in.readNBytes(length);
        if (type == 4 && (flags & 1) == 0) {
          Map<Integer, Long> settings = new HashMap<>();
          for (int i = 0; i + 6 <= payload.length; i += 6) {
            int id = ((payload[i] & 0xff) << 8) | (payload[i + 1] & 0xff);
            long value =
                ((payload[i + 2] & 0xffL) << 24)
                    | ((payload[i + 3] & 0xffL) << 16)
                    | ((payload[i + 4] & 0xffL) << 8)
                    | (payload[i + 5] & 0xffL);
            settings.put(id, value);
          }
          return settings;
        }
      }
    }
  }
}
