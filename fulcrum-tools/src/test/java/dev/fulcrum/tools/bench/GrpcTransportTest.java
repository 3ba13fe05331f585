package dev.fulcrum.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The gRPC transport's status mapping and encoding, against a fake server that answers a status.
 */
class GrpcTransportTest {
  private static final ModelInfo MODEL =
      new ModelInfo(
          "m", 0, List.of(new TensorSpec("x", DataType.FP32, new long[] {2})), List.of("y"));

  /** The status the fake server answers with; OK answers an empty response. */
  private static final AtomicReference<Status> ANSWER = new AtomicReference<>(Status.OK);

  /** The last request the fake server received. */
  private static final AtomicReference<ModelInferRequest> LAST = new AtomicReference<>();

  private static Server server;

  @BeforeAll
  static void start() throws Exception {
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(
                new GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase() {
                  @Override
                  public void modelInfer(
                      ModelInferRequest request, StreamObserver<ModelInferResponse> observer) {
                    LAST.set(request);
                    Status s = ANSWER.get();
                    if (s == null) {
                      return; // never answers: the client's deadline must end the call
                    }
                    if (s.isOk()) {
                      observer.onNext(ModelInferResponse.getDefaultInstance());
                      observer.onCompleted();
                    } else {
                      observer.onError(s.withDescription("fake").asRuntimeException());
                    }
                  }
                })
            .build()
            .start();
  }

  @AfterAll
  static void stop() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private static Sample sample() {
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    b.putFloat(1.5f).putFloat(-2f).flip();
    return new Sample(List.of(Tensor.of("x", DataType.FP32, new long[] {2}, b)), 1);
  }

  private static Outcome sendOnce(Status answer, Duration timeout, boolean raw) {
    ANSWER.set(answer);
    try (GrpcChannels channels = new GrpcChannels("127.0.0.1:" + server.getPort(), 2, 1);
        GrpcTransport t = new GrpcTransport(channels, MODEL, "", List.of(sample()), raw, timeout)) {
      return t.send(0).join();
    }
  }

  @ParameterizedTest
  @CsvSource({
    "OK, OK",
    "RESOURCE_EXHAUSTED, REJECTED",
    "UNAVAILABLE, UNAVAILABLE",
    "DEADLINE_EXCEEDED, TIMED_OUT",
    "INVALID_ARGUMENT, OTHER",
    "INTERNAL, OTHER",
    "NOT_FOUND, OTHER"
  })
  void aServerStatusMapsToItsOutcome(Status.Code code, Outcome expected) {
    assertThat(sendOnce(code.toStatus(), Duration.ofSeconds(30), true)).isEqualTo(expected);
  }

  @Test
  void theClientTimeoutIsTheDeadline() {
    assertThat(sendOnce(null, Duration.ofMillis(200), true)).isEqualTo(Outcome.TIMED_OUT);
  }

  @Test
  void noServerIsUnavailable() {
    ANSWER.set(Status.OK);
    try (GrpcChannels channels = new GrpcChannels("127.0.0.1:1", 1, 1);
        GrpcTransport t =
            new GrpcTransport(
                channels, MODEL, "", List.of(sample()), true, Duration.ofSeconds(30))) {
      assertThat(t.send(0).join()).isEqualTo(Outcome.UNAVAILABLE);
    }
  }

  @Test
  void classifyReadsTheStatusOfAnyWrapping() {
    StatusRuntimeException rejected = Status.RESOURCE_EXHAUSTED.asRuntimeException();
    assertThat(GrpcTransport.classify(rejected)).isEqualTo(Outcome.REJECTED);
    assertThat(GrpcTransport.classify(new CompletionException(rejected)))
        .isEqualTo(Outcome.REJECTED);
    assertThat(GrpcTransport.classify(Status.UNAVAILABLE.asException()))
        .isEqualTo(Outcome.UNAVAILABLE);
    assertThat(GrpcTransport.classify(new IllegalStateException("boom"))).isEqualTo(Outcome.OTHER);
  }

  @Test
  void rawAndTypedRequestsCarryTheSameValues() {
    assertThat(sendOnce(Status.OK, Duration.ofSeconds(30), true)).isEqualTo(Outcome.OK);
    ModelInferRequest raw = LAST.get();
    assertThat(raw.getModelName()).isEqualTo("m");
    assertThat(raw.getInputs(0).getShapeList()).containsExactly(2L);
    assertThat(raw.getInputs(0).hasContents()).isFalse();
    ByteBuffer bytes =
        raw.getRawInputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    assertThat(bytes.getFloat()).isEqualTo(1.5f);
    assertThat(bytes.getFloat()).isEqualTo(-2f);
    assertThat(raw.getOutputs(0).getName()).isEqualTo("y");

    assertThat(sendOnce(Status.OK, Duration.ofSeconds(30), false)).isEqualTo(Outcome.OK);
    ModelInferRequest typed = LAST.get();
    assertThat(typed.getRawInputContentsCount()).isZero();
    assertThat(typed.getInputs(0).getContents().getFp32ContentsList()).containsExactly(1.5f, -2f);
  }

  @Test
  void typedContentsUseTheDatatypesField() {
    Map<DataType, InferTensorContents> typed =
        Map.of(
            DataType.UINT16, GrpcRequestEncoder.typed(tensor(DataType.UINT16)),
            DataType.INT8, GrpcRequestEncoder.typed(tensor(DataType.INT8)),
            DataType.BYTES,
                GrpcRequestEncoder.typed(
                    Tensor.ofBytes("s", new long[] {2}, List.of(new byte[] {'a'}, new byte[0]))));
    assertThat(typed.get(DataType.UINT16).getUintContentsList()).containsExactly(65535, 1);
    assertThat(typed.get(DataType.INT8).getIntContentsList()).containsExactly(-1, 1);
    assertThat(typed.get(DataType.BYTES).getBytesContentsCount()).isEqualTo(2);
  }

  /** Two elements: all bits set, then 1. */
  private static Tensor tensor(DataType type) {
    ByteBuffer b = ByteBuffer.allocate(2 * type.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < type.byteSize(); i++) {
      b.put((byte) -1);
    }
    b.put((byte) 1);
    for (int i = 1; i < type.byteSize(); i++) {
      b.put((byte) 0);
    }
    b.flip();
    return Tensor.of("t", type, new long[] {2}, b);
  }
}
