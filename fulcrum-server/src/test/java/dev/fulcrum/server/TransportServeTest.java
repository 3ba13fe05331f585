package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.HttpServerTest.RawConnection;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import io.grpc.ManagedChannel;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The REST and gRPC ports on each transport this machine has, forced by name: health, an inference,
 * and pipelined keep-alive requests answered in order (REST); an inference, and the connection cap
 * closing a connection beyond it before the HTTP/2 handshake (gRPC). A transport the machine lacks
 * (io_uring refused by a container's seccomp profile, say) is skipped, not failed. The whole
 * contract suites run on one transport with {@code -Dfulcrum.transport=io_uring|epoll|nio}
 * (docs/PERFORMANCE.md, "io_uring").
 */
class TransportServeTest {
  @TempDir Path repo;

  @ParameterizedTest
  @EnumSource(
      value = Transport.class,
      names = {"IO_URING", "EPOLL", "NIO"})
  void servesOnTheNamedTransport(Transport transport) throws Exception {
    assumeTrue(
        NettyTransport.NATIVE.unavailability(transport) == null,
        () -> transport.label() + " is unavailable here");
    InferenceService service = TestModels.service(repo);
    HttpServer server =
        new HttpServer(service, HttpServerConfig.ephemeral().withTransport(transport));
    try {
      assertThat(server.moveToWarmTransport()).isEmpty(); // not started
      server.start();
      assertThat(server.transport().orElseThrow().kind()).isEqualTo(transport);
      assertThat(server.moveToWarmTransport()).isEmpty(); // a transport named is never moved
      assertThat(server.transport().orElseThrow().kind()).isEqualTo(transport);
      String base = "http://127.0.0.1:" + server.port();
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      HttpResponse<String> live =
          client.send(
              HttpRequest.newBuilder(URI.create(base + "/v2/health/live"))
                  .timeout(Duration.ofSeconds(30))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(live.statusCode()).isEqualTo(200);
      HttpResponse<String> infer =
          client.send(
              HttpRequest.newBuilder(URI.create(base + "/v2/models/echo_fp32/infer"))
                  .timeout(Duration.ofSeconds(30))
                  .header("Content-Type", "application/json")
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[1,2],"
                              + "\"data\":[1.5,-2]}]}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(infer.statusCode()).isEqualTo(200);
      assertThat(infer.body()).contains("\"OUT\"").contains("1.5");
      assertThat(pipelined(server.port(), 20)).isEqualTo(20);
    } finally {
      server.close();
      service.repository().close();
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = Transport.class,
      names = {"IO_URING", "EPOLL", "NIO"})
  void grpcServesAndCapsConnectionsOnTheNamedTransport(Transport transport) throws Exception {
    assumeTrue(
        NettyTransport.NATIVE.unavailability(transport) == null,
        () -> transport.label() + " is unavailable here");
    InferenceService service = TestModels.service(repo);
    GrpcServerConfig config =
        GrpcServerConfig.ephemeral()
            .withTransport(transport)
            .withLimits(GrpcServerConfig.Limits.defaults().withMaxConnections(1));
    try (GrpcServer server = new GrpcServer(service, config).start()) {
      assertThat(server.transport().orElseThrow().kind()).isEqualTo(transport);
      ManagedChannel channel = GrpcServerTest.channel(server.port());
      try {
        assertThat(grpcEcho(channel).getRawOutputContentsCount()).isEqualTo(1);
        assertThat(server.openConnections()).isEqualTo(1);
        // The port is full: the next connection is closed as soon as it is accepted, before the
        // server's HTTP/2 handler exists, so not even its SETTINGS frame is written (an admitted
        // connection gets SETTINGS at once, and is closed only by the 10 s handshake timeout).
        assertThat(bytesOverTheCap(server.port())).isZero();
        assertThat(grpcEcho(channel).getRawOutputContentsCount()).isEqualTo(1);
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
      Await.until("the place is given back", () -> server.openConnections() == 0);
      ManagedChannel next = GrpcServerTest.channel(server.port());
      try {
        assertThat(grpcEcho(next).getRawOutputContentsCount()).isEqualTo(1);
      } finally {
        next.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    } finally {
      service.repository().close();
    }
  }

  /**
   * {@code --http-acceptors}: several listening sockets on one port with SO_REUSEPORT (epoll,
   * io_uring; NIO keeps one), and one connection cap for all of them: connections beyond it are
   * closed whichever socket the kernel hashed them to, and a place given back is taken again.
   */
  @ParameterizedTest
  @EnumSource(
      value = Transport.class,
      names = {"IO_URING", "EPOLL", "NIO"})
  void severalAcceptorsShareOneConnectionCapOnTheNamedTransport(Transport transport)
      throws Exception {
    assumeTrue(
        NettyTransport.NATIVE.unavailability(transport) == null,
        () -> transport.label() + " is unavailable here");
    int cap = 4;
    int acceptors = 3;
    int expected = transport == Transport.NIO ? 1 : acceptors;
    InferenceService service = TestModels.service(repo);
    HttpServer server =
        new HttpServer(
            service,
            // Two event loops: the listening sockets are the acceptors asked for, at least one a
            // loop.
            new HttpServerConfig("127.0.0.1", 0, HttpServerConfig.DEFAULT_MAX_INPUT_SIZE, 2)
                .withTransport(transport)
                .withLimits(
                    HttpServerConfig.Limits.defaults()
                        .withMaxConnections(cap)
                        .withAcceptors(acceptors)));
    List<RawConnection> served = new ArrayList<>();
    try {
      assertThat(server.listeningSockets()).isZero();
      server.start();
      assertThat(server.listeningSockets()).isEqualTo(expected);
      OptionalInt kernel = listeners(server.port());
      if (kernel.isPresent()) { // where iproute2 is installed, the kernel's own count
        assertThat(kernel.getAsInt()).isEqualTo(expected);
      }
      for (int i = 0; i < cap; i++) { // each sends its head: started, never evicted
        RawConnection c = new RawConnection(server.port());
        served.add(c);
        c.send("GET", "/v2/health/live", "", new byte[0]);
        assertThat(c.read().status()).isEqualTo(200);
      }
      for (int i = 0; i < 8 * acceptors; i++) { // source ports differ: spread over the sockets
        assertThat(bytesOverTheCap(server.port())).as("connection %d over the cap", i).isZero();
      }
      assertThat(server.openConnections()).isLessThanOrEqualTo(cap);
      served.remove(0).close();
      Await.until("a place is free", () -> server.openConnections() < cap);
      try (RawConnection next = new RawConnection(server.port())) {
        next.send("GET", "/v2/health/live", "", new byte[0]);
        assertThat(next.read().status()).isEqualTo(200);
      }
    } finally {
      for (RawConnection c : served) {
        c.close();
      }
      server.close();
      service.repository().close();
    }
    assertThat(server.listeningSockets()).isZero();
  }

  /**
   * {@code --http-acceptors 0}: no accept threads; each event loop listens on a socket of its own
   * (SO_REUSEPORT) and serves what it accepts (epoll, io_uring; NIO keeps one socket with an accept
   * thread).
   */
  @ParameterizedTest
  @EnumSource(
      value = Transport.class,
      names = {"IO_URING", "EPOLL", "NIO"})
  void withZeroAcceptorsTheEventLoopsAccept(Transport transport) throws Exception {
    assumeTrue(
        NettyTransport.NATIVE.unavailability(transport) == null,
        () -> transport.label() + " is unavailable here");
    int loops = 2;
    InferenceService service = TestModels.service(repo);
    HttpServer server =
        new HttpServer(
            service,
            new HttpServerConfig("127.0.0.1", 0, HttpServerConfig.DEFAULT_MAX_INPUT_SIZE, loops)
                .withTransport(transport)
                .withLimits(HttpServerConfig.Limits.defaults().withAcceptors(0)));
    try {
      server.start();
      assertThat(server.listeningSockets()).isEqualTo(transport == Transport.NIO ? 1 : loops);
      for (int i = 0; i < 8; i++) { // source ports differ: spread over the sockets
        try (RawConnection c = new RawConnection(server.port())) {
          c.send("GET", "/v2/health/live", "", new byte[0]);
          assertThat(c.read().status()).isEqualTo(200);
        }
      }
    } finally {
      server.close();
      service.repository().close();
    }
    assertThat(server.listeningSockets()).isZero();
  }

  /**
   * HttpServer sets no TCP_NODELAY child option (a setsockopt per connection on the accept thread)
   * because Netty's socket configs turn it on for every connection: this guards that default.
   */
  @Test
  void nettyTurnsTcpNoDelayOnForEveryConnectionByDefault() {
    io.netty.channel.socket.nio.NioSocketChannel nio =
        new io.netty.channel.socket.nio.NioSocketChannel();
    try {
      assertThat(nio.config().isTcpNoDelay()).isTrue();
    } finally {
      nio.unsafe().closeForcibly();
    }
    if (NettyTransport.NATIVE.unavailability(Transport.EPOLL) == null) {
      io.netty.channel.epoll.EpollSocketChannel epoll =
          new io.netty.channel.epoll.EpollSocketChannel();
      try {
        assertThat(epoll.config().isTcpNoDelay()).isTrue();
      } finally {
        epoll.unsafe().closeForcibly();
      }
    }
  }

  @Test
  void acceptorsAreCheckedAndNioKeepsOneListeningSocket() {
    assertThat(HttpServer.listeningSockets(4, NettyTransport.choose(Transport.NIO))).isEqualTo(1);
    assertThat(HttpServerConfig.Limits.defaults().acceptors())
        .isEqualTo(HttpServerConfig.Limits.DEFAULT_ACCEPTORS);
    assertThatThrownBy(() -> HttpServerConfig.Limits.defaults().withAcceptors(-1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () ->
                HttpServerConfig.Limits.defaults()
                    .withAcceptors(HttpServerConfig.Limits.MAX_ACCEPTORS + 1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** How many sockets listen on {@code port} ({@code ss}), or empty without {@code ss}. */
  private static OptionalInt listeners(int port) throws InterruptedException {
    try {
      Process ss =
          new ProcessBuilder("ss", "-Hltn", "sport = :" + port).redirectErrorStream(true).start();
      String out = new String(ss.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      if (!ss.waitFor(30, TimeUnit.SECONDS) || ss.exitValue() != 0) {
        return OptionalInt.empty();
      }
      return OptionalInt.of((int) out.lines().filter(l -> !l.isBlank()).count());
    } catch (java.io.IOException e) {
      return OptionalInt.empty();
    }
  }

  @Test
  void grpcAutoRunsOnTheSameTransportAsRest() throws Exception {
    InferenceService service = TestModels.service(repo);
    try (GrpcServer server =
        new GrpcServer(service, GrpcServerConfig.ephemeral().withTransport(Transport.AUTO))
            .start()) {
      assertThat(server.transport().orElseThrow().kind())
          .isEqualTo(NettyTransport.choose(Transport.AUTO).kind());
    } finally {
      service.repository().close();
    }
  }

  private static ModelInferResponse grpcEcho(ManagedChannel channel) {
    return GRPCInferenceServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .modelInfer(
            GrpcServerTest.rawRequest(
                TestModels.echo(DataType.FP32), DataType.FP32, new byte[8], 1, 2));
  }

  /**
   * What a connection over the cap reads before its close; a reset counts as that close, even one
   * that arrives before {@code connect} returns (the server's SO_LINGER 0 close can beat it).
   */
  private static int bytesOverTheCap(int port) throws Exception {
    Socket over;
    try {
      over = new Socket("127.0.0.1", port);
    } catch (java.net.SocketException reset) {
      return 0;
    }
    try (over) {
      over.setSoTimeout(30_000);
      return readAll(over.getInputStream());
    }
  }

  /**
   * Reads until the peer closes, by FIN or by reset (a refused connection is reset: see
   * ConnectionLimit); the count of bytes it sent.
   */
  private static int readAll(InputStream in) throws Exception {
    int n = 0;
    byte[] buf = new byte[8192];
    try {
      for (int r; (r = in.read(buf)) >= 0; ) {
        n += r;
      }
    } catch (java.net.SocketException reset) {
      // the server closed it with SO_LINGER 0: the same answer as a close, sooner
    }
    return n;
  }

  @Test
  void autoRunsOnTheFirstTransportThatWorksHere() throws Exception {
    InferenceService service = TestModels.service(repo);
    HttpServer server =
        new HttpServer(service, HttpServerConfig.ephemeral().withTransport(Transport.AUTO));
    try {
      server.start();
      Transport expected =
          NettyTransport.NATIVE.unavailability(Transport.EPOLL) == null
              ? Transport.EPOLL
              : NettyTransport.NATIVE.unavailability(Transport.IO_URING) == null
                  ? Transport.IO_URING
                  : Transport.NIO;
      assertThat(server.transport().orElseThrow().kind()).isEqualTo(expected);
    } finally {
      server.close();
      service.repository().close();
    }
  }

  /**
   * {@code auto}: the port starts on epoll, and once moved ({@link HttpServer#moveToWarmTransport})
   * its new connections are io_uring's while those open before stay on epoll; a client connecting
   * over and over through the move gets every answer (no connection reset in an accept queue).
   */
  @Test
  void autoMovesNewConnectionsToIoUringOnceWarmAndLosesNone() throws Exception {
    assumeTrue(NettyTransport.NATIVE.unavailability(Transport.EPOLL) == null, "no epoll");
    assumeTrue(NettyTransport.NATIVE.unavailability(Transport.IO_URING) == null, "no io_uring");
    InferenceService service = TestModels.service(repo);
    HttpServer server =
        new HttpServer(
            service,
            new HttpServerConfig("127.0.0.1", 0, HttpServerConfig.DEFAULT_MAX_INPUT_SIZE, 1)
                .withTransport(Transport.AUTO));
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger answered = new AtomicInteger();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    try (RawConnection early = new RawConnection(server.start().port())) {
      assertThat(server.transport().orElseThrow().kind()).isEqualTo(Transport.EPOLL);
      early.send("GET", "/v2/health/live", "", new byte[0]);
      assertThat(early.read().status()).isEqualTo(200);
      Thread client =
          Thread.ofPlatform()
              .start(
                  () -> {
                    while (!stop.get() || answered.get() < 50) {
                      try (RawConnection c = new RawConnection(server.port())) {
                        c.send("GET", "/v2/health/live", "", new byte[0]);
                        assertThat(c.read().status()).isEqualTo(200);
                        answered.incrementAndGet();
                      } catch (Throwable e) {
                        failures.add(e);
                        return;
                      }
                    }
                  });
      Await.until("the client is connecting", () -> answered.get() >= 20);
      assertThat(server.moveToWarmTransport().orElseThrow().kind()).isEqualTo(Transport.IO_URING);
      int atMove = answered.get();
      Await.until("connections after the move", () -> answered.get() >= atMove + 50);
      stop.set(true);
      client.join(30_000);
      assertThat(failures).isEmpty();
      assertThat(server.transport().orElseThrow().kind()).isEqualTo(Transport.IO_URING);
      assertThat(server.moveToWarmTransport()).isEmpty(); // once
      try (RawConnection late = new RawConnection(server.port())) {
        late.send("GET", "/v2/health/live", "", new byte[0]);
        assertThat(late.read().status()).isEqualTo(200);
        early.send("GET", "/v2/health/live", "", new byte[0]);
        assertThat(early.read().status()).isEqualTo(200);
        Await.until(
            "the early connection on epoll, the late one on io_uring",
            () ->
                server.openConnections(Transport.EPOLL) == 1
                    && server.openConnections(Transport.IO_URING) == 1,
            () ->
                "epoll "
                    + server.openConnections(Transport.EPOLL)
                    + ", io_uring "
                    + server.openConnections(Transport.IO_URING));
      }
    } finally {
      stop.set(true);
      server.close();
      service.repository().close();
    }
    assertThat(server.listeningSockets()).isZero();
    assertThat(server.moveToWarmTransport()).isEmpty(); // closed
  }

  /**
   * Two listening sockets with {@code SO_REUSEPORT} (the default acceptors) must not let a second
   * server join the first one's port: its start fails as a taken port does.
   */
  @ParameterizedTest
  @EnumSource(
      value = Transport.class,
      names = {"AUTO", "IO_URING", "EPOLL", "NIO"})
  void aSecondServerOnATakenPortFailsToStart(Transport transport) throws Exception {
    assumeTrue(
        transport == Transport.AUTO || NettyTransport.NATIVE.unavailability(transport) == null,
        () -> transport.label() + " is unavailable here");
    InferenceService service = TestModels.service(repo);
    HttpServerConfig config = HttpServerConfig.ephemeral().withTransport(transport);
    HttpServer first = new HttpServer(service, config);
    try {
      first.start();
      HttpServer second = new HttpServer(service, config.withPort(first.port()));
      assertThatThrownBy(second::start)
          .satisfies(
              e -> {
                StringBuilder causes = new StringBuilder();
                for (Throwable t = e; t != null; t = t.getCause()) {
                  causes.append(t).append('\n');
                }
                assertThat(causes.toString()).containsPattern("bind|Address already in use");
              });
      second.close();
      try (RawConnection c = new RawConnection(first.port())) { // the first one still serves
        c.send("GET", "/v2/health/live", "", new byte[0]);
        assertThat(c.read().status()).isEqualTo(200);
      }
    } finally {
      first.close();
      service.repository().close();
    }
  }

  /** Writes {@code n} GETs in one go on one connection and counts the 200s read back. */
  private static int pipelined(int port, int n) throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(30_000);
      String one = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
      OutputStream out = s.getOutputStream();
      out.write(one.repeat(n).getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      StringBuilder seen = new StringBuilder();
      byte[] buf = new byte[8192];
      int count = 0;
      while (count < n) {
        int r = in.read(buf);
        if (r < 0) {
          break;
        }
        seen.append(new String(buf, 0, r, StandardCharsets.US_ASCII));
        count = seen.toString().split("HTTP/1.1 200 OK", -1).length - 1;
      }
      return count;
    }
  }
}
