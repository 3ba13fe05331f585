package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.stats.ModelStatistics;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.SslContext;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HTTP/2 cleartext on the REST port: by {@code Upgrade: h2c} and by prior knowledge. */
class H2cTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SIMPLE =
      """
      {"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":%s},
                 {"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":%s}]}"""
          .formatted("[" + "3,".repeat(15) + "3]", "[" + "1,".repeat(15) + "1]");
  private static final String ONE_FP32 =
      "{\"inputs\":[{\"name\":\"IN\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[7]}]}";

  @TempDir static Path repo;
  private static InferenceService service;
  private static HttpServer server;

  @BeforeAll
  static void start() throws Exception {
    service = TestModels.service(repo);
    server = new HttpServer(service, HttpServerConfig.ephemeral().withMaxInputSize(64 * 1024));
    server.start();
  }

  @AfterAll
  static void stop() {
    FakeRuntime.openGate();
    server.close();
    service.repository().close();
  }

  // ---- Upgrade: h2c, as the JDK client does it -------------------------------------------------

  @Test
  void jdkClientUpgradesThenReusesTheHttp2Connection() throws Exception {
    HttpClient client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_2)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    String base = "http://127.0.0.1:" + server.port();

    // A GET without a body carries the Upgrade; its answer comes on stream 1.
    HttpResponse<String> ready = client.send(get(base + "/v2/health/ready"), ofString());
    assertThat(ready.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(ready.body()).get("ready").asBoolean()).isTrue();

    HttpResponse<String> infer =
        client.send(post(base + "/v2/models/simple/infer", SIMPLE), ofString());
    assertThat(infer.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(infer.statusCode()).isEqualTo(200);
    JsonNode outputs = JSON.readTree(infer.body()).get("outputs");
    assertThat(outputs.get(0).get("name").asText()).isEqualTo("OUTPUT0");
    assertThat(outputs.get(0).get("data").get(0).asInt()).isEqualTo(4);
    assertThat(outputs.get(1).get("data").get(15).asInt()).isEqualTo(2);

    HttpResponse<String> unknown =
        client.send(post(base + "/v2/models/nope/infer", SIMPLE), ofString());
    assertThat(unknown.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(unknown.headers().firstValue("content-type")).hasValue("application/json");
    assertThat(JSON.readTree(unknown.body()).get("error").asText()).contains("nope");
  }

  private static HttpRequest get(String uri) {
    return HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(30)).GET().build();
  }

  private static HttpRequest post(String uri, String json) {
    return HttpRequest.newBuilder(URI.create(uri))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json))
        .build();
  }

  private static HttpResponse.BodyHandler<String> ofString() {
    return HttpResponse.BodyHandlers.ofString();
  }

  // ---- prior knowledge ---------------------------------------------------------------------

  @Test
  void headOfAnUnknownModelOrVersionHasNoData() throws Exception {
    try (H2Client c = new H2Client(server.port())) {
      // The lookup's NOT_FOUND was answered past the HEAD handling, with its JSON in a DATA frame:
      // h2 (httpx's) fails the stream and the connection ("Expected 0 bytes, received 32").
      for (String path : List.of("/v2/models/nope", "/v2/models/simple/versions/9")) {
        Reply head = c.send(c.request(HttpMethod.HEAD, path, null)).get(30, SECONDS);
        assertThat(head.status()).as(path).isEqualTo(404);
        assertThat(head.body()).as(path).isEmpty();
        assertThat(head.headers().getInt(HttpHeaderNames.CONTENT_LENGTH)).as(path).isPositive();
      }
      Reply ready = c.send(c.request(HttpMethod.GET, "/v2/health/ready", null)).get(30, SECONDS);
      assertThat(ready.status()).isEqualTo(200);
    }
  }

  @Test
  void priorKnowledgeGetAndInferWithoutConnectionHeaders() throws Exception {
    try (H2Client c = new H2Client(server.port())) {
      // HEAD: GET's status and length, no DATA frame (one would be a protocol error).
      Reply head = c.send(c.request(HttpMethod.HEAD, "/v2/health/live", null)).get(30, SECONDS);
      assertThat(head.status()).isEqualTo(200);
      assertThat(head.body()).isEmpty();
      Reply headRefused =
          c.send(c.request(HttpMethod.HEAD, "/v2/models/simple/infer", null)).get(30, SECONDS);
      assertThat(headRefused.status()).isEqualTo(405);
      assertThat(headRefused.body()).isEmpty();
      Reply ready = c.send(c.request(HttpMethod.GET, "/v2/health/ready", null)).get(30, SECONDS);
      assertThat(ready.status()).isEqualTo(200);
      assertThat(JSON.readTree(ready.body()).get("ready").asBoolean()).isTrue();

      Reply infer =
          c.send(c.request(HttpMethod.POST, "/v2/models/simple/infer", SIMPLE)).get(30, SECONDS);
      assertThat(infer.status()).isEqualTo(200);
      assertThat(JSON.readTree(infer.body()).at("/outputs/1/data/0").asInt()).isEqualTo(2);
      // HttpDispatcher sets Connection/Keep-Alive; HTTP/2 forbids them (RFC 9113 8.2.2).
      for (Reply r : List.of(ready, infer)) {
        assertThat(r.headers().contains(HttpHeaderNames.CONNECTION)).isFalse();
        assertThat(r.headers().contains("keep-alive")).isFalse();
        assertThat(r.headers().get(HttpHeaderNames.CONTENT_TYPE).toString())
            .isEqualTo("application/json");
      }

      Reply missing = c.send(c.request(HttpMethod.GET, "/v2/nope", null)).get(30, SECONDS);
      assertThat(missing.status()).isEqualTo(404);
      assertThat(JSON.readTree(missing.body()).get("error").asText()).contains("/v2/nope");
    }
  }

  @Test
  void twoConcurrentStreamsOnOneConnectionAreAnsweredIndependently() throws Exception {
    FakeRuntime.closeGate();
    try (H2Client c = new H2Client(server.port())) {
      CompletableFuture<Reply> held =
          c.send(c.request(HttpMethod.POST, "/v2/models/gated/infer", ONE_FP32));
      // The second stream is answered while the first still waits in the engine.
      Reply live = c.send(c.request(HttpMethod.GET, "/v2/health/live", null)).get(30, SECONDS);
      assertThat(live.status()).isEqualTo(200);
      assertThat(held).isNotDone();
      FakeRuntime.openGate();
      Reply infer = held.get(30, SECONDS);
      assertThat(infer.status()).isEqualTo(200);
      assertThat(JSON.readTree(infer.body()).at("/outputs/0/data/0").asDouble()).isEqualTo(7.0);
    } finally {
      FakeRuntime.openGate();
    }
  }

  @Test
  void aResetStreamCancelsItsQueuedRequest() throws Exception {
    ModelVersion gated = service.repository().resolve("gated", "");
    ModelStatistics.Snapshot before = gated.statistics().snapshot();
    FakeRuntime.closeGate();
    try (H2Client c = new H2Client(server.port())) {
      CompletableFuture<Reply> running =
          c.send(c.request(HttpMethod.POST, "/v2/models/gated/infer", ONE_FP32));
      Await.until(
          "the first request runs",
          () -> gated.scheduler().pending() == 1 && gated.scheduler().queued() == 0);
      Http2StreamChannel queued = c.open(new CompletableFuture<>());
      queued.writeAndFlush(c.request(HttpMethod.POST, "/v2/models/gated/infer", ONE_FP32));
      Await.until("the second request is queued", () -> gated.scheduler().queued() == 1);
      queued.close().sync(); // RST_STREAM(CANCEL)
      Await.until(
          "the reset stream's request leaves the queue",
          () -> gated.statistics().snapshot().cancelled() == before.cancelled() + 1);
      assertThat(gated.scheduler().queued()).isZero();
      FakeRuntime.openGate();
      assertThat(running.get(30, SECONDS).status()).isEqualTo(200);
      // The connection survives the reset.
      Reply ready = c.send(c.request(HttpMethod.GET, "/v2/health/ready", null)).get(30, SECONDS);
      assertThat(ready.status()).isEqualTo(200);
    } finally {
      FakeRuntime.openGate();
    }
    assertThat(gated.statistics().snapshot().executionCount())
        .as("only the request that was not cancelled ran")
        .isEqualTo(before.executionCount() + 1);
  }

  @Test
  void oversizedBodyIs413OnItsStreamAndTheConnectionStaysUsable() throws Exception {
    try (H2Client c = new H2Client(server.port())) {
      FullHttpRequest big = c.request(HttpMethod.POST, "/v2/models/echo_fp32/infer", null);
      big.content().writeZero(70 * 1024);
      big.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 70 * 1024);
      Reply r = c.send(big).get(30, SECONDS);
      assertThat(r.status()).isEqualTo(413);
      assertThat(JSON.readTree(r.body()).get("error").asText()).contains("exceeds");
      Reply ready = c.send(c.request(HttpMethod.GET, "/v2/health/ready", null)).get(30, SECONDS);
      assertThat(ready.status()).isEqualTo(200);
    }
  }

  @Test
  void headersOverTheLimitAre431WithAnErrorBodyAndTheConnectionStaysUsable() throws Exception {
    // Netty answered 431 without a body; HTTP/1.1's 431 has the OIP error body
    try (H2Client c = new H2Client(server.port())) {
      FullHttpRequest large = c.request(HttpMethod.GET, "/v2/health/live", null);
      large.headers().set("x-large", "a".repeat(9000));
      Reply r = c.send(large).get(30, SECONDS);
      assertThat(r.status()).isEqualTo(431);
      assertThat(r.headers().get(HttpHeaderNames.CONTENT_TYPE).toString())
          .isEqualTo("application/json");
      assertThat(JSON.readTree(r.body()).get("error").asText())
          .isEqualTo(
              "the request's headers are over the server's limit of 8192 bytes (each header"
                  + " counted as HTTP/2 does: name + value + 32)");
      Reply ready = c.send(c.request(HttpMethod.GET, "/v2/health/ready", null)).get(30, SECONDS);
      assertThat(ready.status()).isEqualTo(200);
    }
  }

  /** A POST's HEADERS as a client writes them, unchecked (so they can break HTTP/2's rules). */
  private static Http2Headers post(String path, String... extra) {
    Http2Headers h =
        new DefaultHttp2Headers(false)
            .method("POST")
            .scheme("http")
            .path(path)
            .authority("127.0.0.1")
            .set("content-type", "application/json");
    for (int i = 0; i < extra.length; i += 2) {
      h.add(extra[i], extra[i + 1]);
    }
    return h;
  }

  /** Sends a request's HEADERS and then its body in a DATA frame, on a new stream. */
  private static CompletableFuture<Reply> sendFrames(H2Client c, Http2Headers headers, String body)
      throws InterruptedException {
    CompletableFuture<Reply> reply = new CompletableFuture<>();
    Http2StreamChannel stream = c.open(reply);
    stream.write(new DefaultHttp2HeadersFrame(headers, false));
    stream.writeAndFlush(
        new DefaultHttp2DataFrame(Unpooled.copiedBuffer(body, StandardCharsets.UTF_8), true));
    return reply;
  }

  @Test
  void aBodyThatDoesNotMatchItsContentLengthResetsItsStreamNotARetryable503() throws Exception {
    try (H2Client c = new H2Client(server.port())) {
      // A malformed request (RFC 9113 8.1.1): reset PROTOCOL_ERROR, not a 503 "retry later".
      CompletableFuture<Reply> r =
          sendFrames(c, post("/v2/models/echo_fp32/infer", "content-length", "5"), ONE_FP32);
      assertThatThrownBy(() -> r.get(30, SECONDS))
          .hasRootCauseMessage("stream reset with PROTOCOL_ERROR");
      Reply ready = c.send(c.request(HttpMethod.GET, "/v2/health/ready", null)).get(30, SECONDS);
      assertThat(ready.status()).isEqualTo(200);
    }
  }

  @Test
  void aMalformedRequestWithABodyFailsItsStreamOnlyNotTheConnection() throws Exception {
    FakeRuntime.closeGate();
    try (H2Client c = new H2Client(server.port())) {
      CompletableFuture<Reply> held =
          c.send(c.request(HttpMethod.POST, "/v2/models/gated/infer", ONE_FP32));
      // Connection-specific fields (RFC 9113 8.2.2): Netty refused the HEADERS before it opened
      // the stream, and took the DATA after them for a frame on an idle stream, a connection
      // error; the connection was closed (without GOAWAY), failing the request in flight.
      for (String[] field :
          List.of(
              new String[] {"transfer-encoding", "chunked"},
              new String[] {"connection", "close"})) {
        CompletableFuture<Reply> bad =
            sendFrames(c, post("/v2/models/echo_fp32/infer", field), ONE_FP32);
        assertThatThrownBy(() -> bad.get(30, SECONDS))
            .as(field[0])
            .hasRootCauseMessage("stream reset with PROTOCOL_ERROR");
      }
      assertThat(held).isNotDone();
      FakeRuntime.openGate();
      assertThat(held.get(30, SECONDS).status()).isEqualTo(200);
      Reply ready = c.send(c.request(HttpMethod.GET, "/v2/health/ready", null)).get(30, SECONDS);
      assertThat(ready.status()).isEqualTo(200);
    } finally {
      FakeRuntime.openGate();
    }
  }

  /**
   * DATA frames that keep coming on a stream the server reset for a malformed request are ignored
   * (RFC 9113 5.1): one RST_STREAM for the stream, however many frames follow. Netty forgot the
   * stream at its reset and answered each later frame with a RST_STREAM (STREAM_CLOSED) of its own.
   */
  @Test
  void framesOnAStreamTheServerResetAreIgnoredNotEachAnsweredWithAReset() throws Exception {
    int frames = 20;
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(10_000);
      java.io.DataOutputStream out =
          new java.io.DataOutputStream(new java.io.BufferedOutputStream(s.getOutputStream()));
      java.io.DataInputStream in = new java.io.DataInputStream(s.getInputStream());
      out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // SETTINGS, empty
      io.netty.buffer.ByteBuf block = Unpooled.buffer();
      new io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder()
          .encodeHeaders(1, post("/v2/models/echo_fp32/infer", "content-length", "5"), block);
      int length = block.readableBytes();
      out.write(new byte[] {(byte) (length >> 16), (byte) (length >> 8), (byte) length, 1, 4});
      out.writeInt(1); // HEADERS on stream 1, END_HEADERS, a body of 5 bytes announced
      block.readBytes(out, length);
      block.release();
      for (int i = 0; i < frames; i++) { // 10 bytes each: the first already breaks the 5
        out.write(new byte[] {0, 0, 10, 0, 0});
        out.writeInt(1);
        out.write(new byte[10]);
      }
      out.write(new byte[] {0, 0, 8, 6, 0, 0, 0, 0, 0}); // PING: the frames before it are read
      out.writeLong(42);
      out.flush();
      List<String> resets = new java.util.ArrayList<>();
      while (true) {
        int n = in.readUnsignedShort() << 8 | in.readUnsignedByte();
        int type = in.readUnsignedByte();
        int flags = in.readUnsignedByte();
        int stream = in.readInt();
        byte[] payload = in.readNBytes(n);
        if (type == 3) {
          resets.add(stream + ":" + java.nio.ByteBuffer.wrap(payload).getInt());
        } else if (type == 6 && (flags & 1) != 0) {
          break; // the ping's ack: the connection lives, and every DATA frame was read
        } else if (type == 7) {
          throw new AssertionError("GOAWAY");
        }
      }
      assertThat(resets).containsExactly("1:1"); // PROTOCOL_ERROR, once
    }
  }

  private static final TimeUnit SECONDS = TimeUnit.SECONDS;

  /** A response as the test sees it; the body copied out of Netty's buffer. */
  record Reply(int status, Http2Headers headers, String body) {}

  /** A minimal prior-knowledge HTTP/2 client: one connection, one child channel per request. */
  static final class H2Client implements AutoCloseable {
    private final EventLoopGroup group =
        new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel connection;

    /** The error code of the first GOAWAY the server sent, if it sent one. */
    final CompletableFuture<Long> goAway = new CompletableFuture<>();

    H2Client(int port) throws InterruptedException {
      this(port, null);
    }

    /** Over TLS with {@code tls} (ALPN h2) when it is not null, else cleartext. */
    H2Client(int port, @Nullable SslContext tls) throws InterruptedException {
      connection =
          new Bootstrap()
              .group(group)
              .channel(NioSocketChannel.class)
              .handler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                      if (tls != null) {
                        ch.pipeline().addLast(tls.newHandler(ch.alloc(), "localhost", port));
                      }
                      ch.pipeline()
                          // sends headers over the server's limit, to test its answer
                          .addLast(
                              Http2FrameCodecBuilder.forClient()
                                  .encoderIgnoreMaxHeaderListSize(true)
                                  .build())
                          .addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()))
                          .addLast(
                              new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                  if (msg instanceof Http2GoAwayFrame g) {
                                    goAway.complete(g.errorCode());
                                  }
                                  ctx.fireChannelRead(msg);
                                }
                              });
                    }
                  })
              .connect("127.0.0.1", port)
              .sync()
              .channel();
    }

    FullHttpRequest request(HttpMethod method, String path, String json) {
      FullHttpRequest r =
          new DefaultFullHttpRequest(
              HttpVersion.HTTP_1_1,
              method,
              path,
              json == null
                  ? Unpooled.buffer(0)
                  : Unpooled.copiedBuffer(json, StandardCharsets.UTF_8));
      r.headers().set(HttpHeaderNames.HOST, "127.0.0.1");
      if (json != null) {
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
      }
      return r;
    }

    CompletableFuture<Reply> send(FullHttpRequest request) throws InterruptedException {
      CompletableFuture<Reply> reply = new CompletableFuture<>();
      open(reply).writeAndFlush(request);
      return reply;
    }

    /** A new stream whose response completes {@code reply}. */
    Http2StreamChannel open(CompletableFuture<Reply> reply) throws InterruptedException {
      List<Http2Headers> raw = new CopyOnWriteArrayList<>();
      return new Http2StreamChannelBootstrap(connection)
          .handler(
              new ChannelInitializer<Http2StreamChannel>() {
                @Override
                protected void initChannel(Http2StreamChannel ch) {
                  ch.pipeline()
                      .addLast(
                          new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                              if (msg instanceof Http2HeadersFrame h) {
                                raw.add(h.headers());
                              }
                              ctx.fireChannelRead(msg);
                            }
                          })
                      .addLast(new Http2StreamFrameToHttpObjectCodec(false))
                      .addLast(new HttpObjectAggregator(1 << 20))
                      .addLast(
                          new SimpleChannelInboundHandler<FullHttpResponse>() {
                            @Override
                            protected void channelRead0(
                                ChannelHandlerContext ctx, FullHttpResponse msg) {
                              reply.complete(
                                  new Reply(
                                      msg.status().code(),
                                      raw.get(0),
                                      msg.content().toString(StandardCharsets.UTF_8)));
                            }

                            @Override
                            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                              if (evt instanceof Http2ResetFrame reset) {
                                reply.completeExceptionally(
                                    new IllegalStateException(
                                        "stream reset with "
                                            + Http2Error.valueOf(reset.errorCode())
                                            + (raw.isEmpty()
                                                ? ""
                                                : " after a response head, :status "
                                                    + raw.get(0).status())));
                              }
                              ctx.fireUserEventTriggered(evt);
                            }

                            @Override
                            public void channelInactive(ChannelHandlerContext ctx) {
                              reply.completeExceptionally(
                                  new IllegalStateException("stream closed without a response"));
                              ctx.fireChannelInactive();
                            }
                          });
                }
              })
          .open()
          .sync()
          .getNow();
    }

    /** Whether the server has closed the connection (or it was closed here). */
    boolean closed() {
      return !connection.isActive();
    }

    /**
     * Keeps the connection busy for {@code millis}: {@code GET /v2/health/live} on a new stream
     * every 0.4 s, each answered 200 on a connection still open (a connection closed under it
     * fails, naming how many requests it had answered).
     */
    void keepBusy(long millis) throws Exception {
      long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
      int sent = 0;
      while (System.nanoTime() < end) {
        assertThat(closed()).as("closed after %d requests", sent).isFalse();
        Reply r = send(request(HttpMethod.GET, "/v2/health/live", null)).get(30, TimeUnit.SECONDS);
        assertThat(r.status()).isEqualTo(200);
        sent++;
        Thread.sleep(400);
      }
    }

    @Override
    public void close() {
      connection.close().syncUninterruptibly();
      group.shutdownGracefully(0, 1, SECONDS).syncUninterruptibly();
    }
  }
}
