package dev.fulcrum.server;

import static dev.fulcrum.server.GrpcServerTest.rawRequest;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelStreamInferResponse;
import dev.fulcrum.server.grpc.proto.ServerLiveRequest;
import io.grpc.Codec;
import io.grpc.CompressorRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.InflaterInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a client on the gRPC C-core (Python's {@code grpcio}, under Triton's {@code
 * tritonclient.grpc}) does that grpc-java's own clients do not: the {@code deflate} message
 * encoding, and how an over-size message in a stream reads to it. Reproduced with grpc-java's
 * client speaking the same bytes.
 */
class GrpcClientBehaviourTest {
  private static final int MAX_MESSAGE = 64 * 1024;

  @TempDir static Path repo;
  private static InferenceService service;
  private static GrpcServer server;
  private static ManagedChannel channel;

  /** zlib-wrapped DEFLATE, as the C-core writes {@code grpc-encoding: deflate}. */
  private static final Codec DEFLATE =
      new Codec() {
        @Override
        public String getMessageEncoding() {
          return "deflate";
        }

        @Override
        public OutputStream compress(OutputStream os) {
          return new DeflaterOutputStream(os);
        }

        @Override
        public InputStream decompress(InputStream is) {
          return new InflaterInputStream(is);
        }
      };

  @BeforeAll
  static void start() throws Exception {
    service = TestModels.service(repo);
    server =
        new GrpcServer(service, GrpcServerConfig.ephemeral().withMaxMessageSize(MAX_MESSAGE))
            .start();
    CompressorRegistry compressors = CompressorRegistry.getDefaultInstance();
    compressors.register(DEFLATE);
    channel =
        NettyChannelBuilder.forAddress("127.0.0.1", server.port())
            .usePlaintext()
            .compressorRegistry(compressors)
            .build();
  }

  @AfterAll
  static void stop() throws InterruptedException {
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    server.close();
    service.repository().close();
  }

  private static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub() {
    return GRPCInferenceServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  private static ModelInferRequest fp32(int count) {
    return rawRequest(
        TestModels.echo(DataType.FP32),
        DataType.FP32,
        HttpServerTest.binaryValues(DataType.FP32, count),
        1,
        count);
  }

  /**
   * Sends the HTTP/2 preface, then up to {@code pings} PING frames on a connection with no call,
   * each after the server answered the one before, and returns what the server answered: {@code
   * "ping-ack"} for each ping, and {@code "goaway:<error code>"} when it sent GOAWAY instead (then
   * no more pings are sent).
   */
  private static List<String> pingWithoutCalls(int port, int pings) throws Exception {
    List<String> seen = new ArrayList<>();
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      DataInputStream in = new DataInputStream(s.getInputStream());
      out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // SETTINGS, empty
      for (int i = 0; i < pings; i++) {
        boolean acked = false;
        try {
          out.write(new byte[] {0, 0, 8, 6, 0, 0, 0, 0, 0}); // PING, 8 bytes of payload
          out.writeLong(i);
          out.flush();
        } catch (IOException closed) {
          acked = true; // closed after a GOAWAY that came late: it is still to be read
        }
        // Until this ping's ack, then whatever else came by 200 ms later (a GOAWAY may follow an
        // ack, and the server closes after it: a next ping would meet a closed socket).
        while (true) {
          String frame = readFrame(in);
          if (frame.equals("ping-ack")) {
            seen.add(frame);
            acked = true;
          } else if (frame.startsWith("goaway:")) {
            seen.add(frame);
            return seen;
          }
          if (acked && in.available() == 0) {
            Thread.sleep(200);
            if (in.available() == 0) {
              break;
            }
          }
        }
      }
    }
    return seen;
  }

  @Test
  void keepalivePingsWithoutCallsAreRefusedUnlessPermitted() throws Exception {
    // A client with keepalive_permit_without_calls (grpcio's keepalive options, as Triton's docs
    // suggest them) pings a connection with no call open: without the permit the third such ping
    // is one strike too many, GOAWAY ENHANCE_YOUR_CALM (0xb, "too_many_pings").
    GrpcServerConfig.Limits pingsEvery0s =
        new GrpcServerConfig.Limits(
            Duration.ofSeconds(10),
            Duration.ofSeconds(60),
            Duration.ofHours(2),
            Duration.ofSeconds(20),
            Duration.ZERO, // any interval while a call is open
            100,
            4096);
    GrpcServer strict =
        new GrpcServer(service, GrpcServerConfig.ephemeral().withLimits(pingsEvery0s)).start();
    try {
      assertThat(pingWithoutCalls(strict.port(), 5)).contains("goaway:11");
    } finally {
      strict.close();
    }
    GrpcServer permitting =
        new GrpcServer(
                service,
                GrpcServerConfig.ephemeral()
                    .withLimits(pingsEvery0s.withPermitKeepAliveWithoutCalls(true)))
            .start();
    try {
      assertThat(pingWithoutCalls(permitting.port(), 5))
          .containsExactly("ping-ack", "ping-ack", "ping-ack", "ping-ack", "ping-ack");
    } finally {
      permitting.close();
    }
  }

  /**
   * HTTP/2 rapid reset (CVE-2023-44487) on the gRPC port: a connection that opens calls and resets
   * them at once, past {@link GrpcServer#MAX_RST_STREAMS_PER_WINDOW} in the window, is sent GOAWAY
   * ENHANCE_YOUR_CALM; one that resets fewer (a client cancelling) is not.
   */
  @Test
  void aConnectionResettingCallsFasterThanTheCapIsSentGoaway() throws Exception {
    assertThat(resetCalls(server.port(), 500)).isEqualTo("ping-ack");
    assertThat(resetCalls(server.port(), GrpcServer.MAX_RST_STREAMS_PER_WINDOW + 500))
        .isEqualTo("goaway:11");
    assertThat(stub().serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
  }

  /**
   * Opens {@code calls} ServerLive calls on one connection, each reset (CANCEL) right after its
   * HEADERS, then a PING; returns {@code "ping-ack"} when the ping is answered first, or {@code
   * "goaway:<error code>"}.
   */
  private static String resetCalls(int port, int calls) throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      DataOutputStream out =
          new DataOutputStream(new java.io.BufferedOutputStream(s.getOutputStream(), 1 << 16));
      DataInputStream in = new DataInputStream(s.getInputStream());
      out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // SETTINGS, empty
      io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder hpack =
          new io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder();
      io.netty.handler.codec.http2.Http2Headers headers =
          new io.netty.handler.codec.http2.DefaultHttp2Headers()
              .method("POST")
              .scheme("http")
              .authority("127.0.0.1")
              .path("/" + GRPCInferenceServiceGrpc.getServerLiveMethod().getFullMethodName())
              .set("content-type", "application/grpc")
              .set("te", "trailers");
      try {
        for (int i = 0; i < calls; i++) {
          int stream = 1 + 2 * i;
          io.netty.buffer.ByteBuf block = io.netty.buffer.Unpooled.buffer();
          hpack.encodeHeaders(stream, headers, block);
          int length = block.readableBytes();
          out.write(new byte[] {(byte) (length >> 16), (byte) (length >> 8), (byte) length});
          out.write(new byte[] {1, 4}); // HEADERS, END_HEADERS
          out.writeInt(stream);
          block.readBytes(out, length);
          block.release();
          out.write(new byte[] {0, 0, 4, 3, 0}); // RST_STREAM
          out.writeInt(stream);
          out.writeInt(8); // CANCEL
        }
        out.write(new byte[] {0, 0, 8, 6, 0, 0, 0, 0, 0}); // PING
        out.writeLong(42);
        out.flush();
      } catch (IOException closed) {
        // closed after its GOAWAY: that is still to be read
      }
      while (true) {
        String frame = readFrame(in);
        if (frame.equals("ping-ack") || frame.startsWith("goaway:")) {
          return frame;
        }
      }
    }
  }

  /**
   * Reads one HTTP/2 frame: {@code "ping-ack"}, {@code "goaway:<error code>"}, or {@code
   * "type:<type>"} for any other.
   */
  private static String readFrame(DataInputStream in) throws IOException {
    int length = in.readUnsignedShort() << 8 | in.readUnsignedByte();
    int type = in.readUnsignedByte();
    int flags = in.readUnsignedByte();
    in.readInt(); // stream id
    byte[] payload = new byte[length];
    in.readFully(payload);
    if (type == 6 && (flags & 1) != 0) {
      return "ping-ack";
    } else if (type == 7) {
      return "goaway:" + ByteBuffer.wrap(payload, 4, 4).getInt();
    }
    return "type:" + type;
  }

  @Test
  void deflateCompressedRequestsAreServed() {
    // tritonclient.grpc's compression_algorithm="deflate"; grpc-java alone answers UNIMPLEMENTED
    ModelInferResponse r = stub().withCompression("deflate").modelInfer(fp32(1000));
    assertThat(r.getRawOutputContents(0).toByteArray())
        .isEqualTo(HttpServerTest.binaryValues(DataType.FP32, 1000));
    r = stub().withCompression("gzip").modelInfer(fp32(1000));
    assertThat(r.getRawOutputContentsCount()).isEqualTo(1);
  }

  @Test
  void aCompressedMessageTooLargeOnceDecompressedIsResourceExhausted() {
    // 400 KB of zeros: a few hundred bytes compressed, past the 64 KiB limit once decompressed
    ModelInferRequest zeros =
        rawRequest(
            TestModels.echo(DataType.FP32), DataType.FP32, new byte[4 * 100_000], 1, 100_000);
    for (String encoding : new String[] {"gzip", "deflate"}) {
      GrpcServerTest.assertStatus(
          () -> stub().withCompression(encoding).modelInfer(zeros),
          Status.Code.RESOURCE_EXHAUSTED,
          "exceeds maximum size " + MAX_MESSAGE);
    }
    assertThat(stub().modelInfer(fp32(1)).getRawOutputContentsCount()).isEqualTo(1);
  }

  @Test
  void anOverSizeMessageAfterTheStreamsFirstAnswerIsResourceExhaustedNotCancelled()
      throws Exception {
    StreamCall call = new StreamCall(channel, 30);
    call.requests.onNext(fp32(1).toBuilder().setId("small").build());
    ModelStreamInferResponse first = call.answers.poll(30, TimeUnit.SECONDS);
    assertThat(first).isNotNull();
    assertThat(first.getInferResponse().getId()).isEqualTo("small");
    // the response headers are out: grpc-java alone would reset the stream with CANCEL
    call.requests.onNext(fp32(MAX_MESSAGE / 4 + 100).toBuilder().setId("big").build());
    Status status = call.ended.get(30, TimeUnit.SECONDS);
    assertThat(status.getCode()).as(status.toString()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    // the connection goes on
    assertThat(stub().modelInfer(fp32(1)).getRawOutputContentsCount()).isEqualTo(1);
  }

  @Test
  void metadataOverTheLimitIsResourceExhaustedAndTheConnectionsOtherCallsGoOn() throws Exception {
    // grpc-netty alone answered HTTP 431 without a gRPC status (UNKNOWN) from 8 KiB, and from
    // 10 KiB sent GOAWAY, failing every call of the connection (UNAVAILABLE)
    StreamCall open = new StreamCall(channel, 60);
    open.requests.onNext(fp32(1).toBuilder().setId("before").build());
    assertThat(open.answers.poll(30, TimeUnit.SECONDS)).isNotNull();
    assertThat(liveWithHeader(channel, 7 * 1024, 1)).containsExactly("OK");
    for (int bytes : new int[] {9 * 1024, 12 * 1024, 40 * 1024}) {
      assertThat(liveWithHeader(channel, bytes, 2))
          .as(bytes + " bytes")
          .allSatisfy(
              seen ->
                  assertThat(seen)
                      .startsWith("RESOURCE_EXHAUSTED: request metadata of ")
                      .endsWith(
                          " bytes is over the server's limit of 8192 bytes (each entry counted as"
                              + " HTTP/2 does: name + value + 32)"));
    }
    open.requests.onNext(fp32(1).toBuilder().setId("after").build());
    ModelStreamInferResponse after = open.answers.poll(30, TimeUnit.SECONDS);
    assertThat(after).as("the open call on the same connection goes on").isNotNull();
    assertThat(after.getInferResponse().getId()).isEqualTo("after");
    open.requests.onCompleted();
    assertThat(open.ended.get(30, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.OK);
  }

  @Test
  void theMetadataLimitIsAPortSetting() throws Exception {
    // --grpc-max-metadata-bytes: a port that takes 16 KiB answers what the default refuses
    GrpcServer roomy =
        new GrpcServer(service, GrpcServerConfig.ephemeral().withMaxMetadataSize(16 * 1024))
            .start();
    ManagedChannel toRoomy =
        NettyChannelBuilder.forAddress("127.0.0.1", roomy.port()).usePlaintext().build();
    try {
      assertThat(liveWithHeader(toRoomy, 12 * 1024, 1)).containsExactly("OK");
      assertThat(liveWithHeader(toRoomy, 20 * 1024, 2))
          .allSatisfy(
              seen ->
                  assertThat(seen)
                      .startsWith("RESOURCE_EXHAUSTED: request metadata of ")
                      .contains(" bytes is over the server's limit of 16384 bytes "));
      assertThat(liveWithHeader(toRoomy, 1024, 1)).containsExactly("OK");
    } finally {
      toRoomy.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      roomy.close();
    }
    assertThat(liveWithHeader(channel, 12 * 1024, 1))
        .singleElement()
        .asString()
        .contains("limit of 8192 bytes");
    for (int bytes : new int[] {1023, (1 << 20) + 1}) {
      assertThatThrownBy(() -> GrpcServerConfig.ephemeral().withMaxMetadataSize(bytes))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("maxMetadataSize must be 1024 to 1048576, was " + bytes);
    }
  }

  /**
   * {@code n} ServerLive calls on {@code on} with one header of {@code bytes} value bytes; returns
   * each call's status ("OK", or the code and description).
   */
  private static List<String> liveWithHeader(ManagedChannel on, int bytes, int n) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("x-large", Metadata.ASCII_STRING_MARSHALLER), "a".repeat(bytes));
    List<String> seen = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      try {
        GRPCInferenceServiceGrpc.newBlockingStub(on)
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
            .serverLive(ServerLiveRequest.getDefaultInstance());
        seen.add("OK");
      } catch (StatusRuntimeException e) {
        seen.add(e.getStatus().getCode() + ": " + e.getStatus().getDescription());
      }
    }
    return seen;
  }
}
