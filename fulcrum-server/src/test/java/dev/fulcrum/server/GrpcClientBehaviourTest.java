package dev.fulcrum.server;

import static dev.fulcrum.server.GrpcServerTest.rawRequest;
import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelStreamInferResponse;
import io.grpc.Codec;
import io.grpc.CompressorRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
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
    BlockingQueue<ModelStreamInferResponse> answers = new LinkedBlockingQueue<>();
    CompletableFuture<Status> end = new CompletableFuture<>();
    StreamObserver<ModelInferRequest> requests =
        GRPCInferenceServiceGrpc.newStub(channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .modelStreamInfer(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ModelStreamInferResponse r) {
                    answers.add(r);
                  }

                  @Override
                  public void onError(Throwable t) {
                    end.complete(Status.fromThrowable(t));
                  }

                  @Override
                  public void onCompleted() {
                    end.complete(Status.OK);
                  }
                });
    requests.onNext(fp32(1).toBuilder().setId("small").build());
    ModelStreamInferResponse first = answers.poll(30, TimeUnit.SECONDS);
    assertThat(first).isNotNull();
    assertThat(first.getInferResponse().getId()).isEqualTo("small");
    // the response headers are out: grpc-java alone would reset the stream with CANCEL
    requests.onNext(fp32(MAX_MESSAGE / 4 + 100).toBuilder().setId("big").build());
    Status status = end.get(30, TimeUnit.SECONDS);
    assertThat(status.getCode()).as(status.toString()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    // the connection goes on
    assertThat(stub().modelInfer(fp32(1)).getRawOutputContentsCount()).isEqualTo(1);
  }
}
