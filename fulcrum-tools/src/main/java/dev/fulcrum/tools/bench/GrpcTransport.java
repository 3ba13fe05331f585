package dev.fulcrum.tools.bench;

import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Sends pre-encoded OIP gRPC {@code ModelInfer} requests, round-robin over the channels of a {@link
 * GrpcChannels} (callbacks on its executor), each call with the client timeout as its deadline;
 * thread-safe.
 *
 * <p>As the REST client sends pre-encoded bodies and reads a response only as far as its status,
 * each request message is serialized once, up front, and a response message is skipped unread (its
 * status, from the trailers, is the outcome): the client's CPU per call is then the transport's,
 * not protobuf's (docs/PERFORMANCE.md, "Session 16: gRPC at c=1").
 */
final class GrpcTransport implements Transport {
  /** {@code ModelInfer} with the request as its serialized bytes and the response skipped. */
  private static final MethodDescriptor<byte[], Object> MODEL_INFER =
      GRPCInferenceServiceGrpc.getModelInferMethod().toBuilder(new PreEncoded(), new Skipped())
          .build();

  private final Channel[] channels;
  private final byte[][] requests;
  private final long timeoutNanos;
  private final AtomicInteger next = new AtomicInteger();

  /**
   * @param raw tensors in {@code raw_input_contents}, else typed {@code contents}
   * @param timeout the deadline of each call; missing it counts as timed out
   */
  GrpcTransport(
      GrpcChannels channels,
      ModelInfo model,
      String version,
      List<Sample> samples,
      boolean raw,
      Duration timeout) {
    this.channels = channels.all().toArray(Channel[]::new);
    this.requests = new byte[samples.size()][];
    for (int i = 0; i < requests.length; i++) {
      requests[i] =
          GrpcRequestEncoder.encode(samples.get(i), model.name(), version, model.outputs(), raw)
              .toByteArray();
    }
    this.timeoutNanos = timeout.toNanos();
  }

  @Override
  public CompletableFuture<Outcome> send(int sample) {
    CompletableFuture<Outcome> f = new CompletableFuture<>();
    try {
      Channel channel = channels[Math.floorMod(next.getAndIncrement(), channels.length)];
      ClientCalls.asyncUnaryCall(
          channel.newCall(
              MODEL_INFER,
              CallOptions.DEFAULT.withDeadlineAfter(timeoutNanos, TimeUnit.NANOSECONDS)),
          requests[sample],
          new StreamObserver<Object>() {
            @Override
            public void onNext(Object response) {
              // The response is only counted; its tensors are not looked at.
            }

            @Override
            public void onError(Throwable t) {
              f.complete(classify(t));
            }

            @Override
            public void onCompleted() {
              f.complete(Outcome.OK);
            }
          });
    } catch (RuntimeException e) {
      f.complete(Outcome.OTHER);
    }
    return f;
  }

  /** The outcome of a failed call, from its gRPC status (connection errors are UNAVAILABLE). */
  static Outcome classify(Throwable t) {
    Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    return ofStatus(Status.fromThrowable(c).getCode());
  }

  static Outcome ofStatus(Status.Code code) {
    return switch (code) {
      case OK -> Outcome.OK;
      case RESOURCE_EXHAUSTED -> Outcome.REJECTED;
      case DEADLINE_EXCEEDED -> Outcome.TIMED_OUT;
      case UNAVAILABLE -> Outcome.UNAVAILABLE;
      default -> Outcome.OTHER;
    };
  }

  /**
   * A request message as the bytes {@link ModelInferRequest#toByteArray()} made once; a stream
   * grpc's framer writes by {@link Drainable#drainTo} in one copy, its length known up front.
   */
  private static final class PreEncoded implements MethodDescriptor.Marshaller<byte[]> {
    @Override
    public InputStream stream(byte[] message) {
      return new BytesStream(message);
    }

    @Override
    public byte[] parse(InputStream stream) {
      throw new UnsupportedOperationException("the client never parses a request");
    }
  }

  /** A response message skipped unread: only the call's status is looked at. */
  private static final class Skipped implements MethodDescriptor.Marshaller<Object> {
    private static final Object SKIPPED = new Object();

    @Override
    public InputStream stream(Object message) {
      throw new UnsupportedOperationException("the client never sends a response");
    }

    @Override
    public Object parse(InputStream stream) {
      try {
        while (stream.skip(Integer.MAX_VALUE) > 0 || stream.read() >= 0) {
          // grpc's message stream skips its buffer in place; read() ends the loop at its end.
        }
      } catch (IOException e) {
        throw Status.INTERNAL
            .withDescription("cannot read the response")
            .withCause(e)
            .asRuntimeException();
      }
      return SKIPPED;
    }
  }

  /** One request's bytes; not thread-safe (one stream per call, read by its framer). */
  private static final class BytesStream extends InputStream implements KnownLength, Drainable {
    private final byte[] bytes;
    private int position;

    BytesStream(byte[] bytes) {
      this.bytes = bytes;
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      int n = bytes.length - position;
      target.write(bytes, position, n);
      position = bytes.length;
      return n;
    }

    @Override
    public int available() {
      return bytes.length - position;
    }

    @Override
    public int read() {
      return position < bytes.length ? bytes[position++] & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (len == 0) {
        return 0;
      }
      int n = Math.min(len, bytes.length - position);
      if (n <= 0) {
        return -1;
      }
      System.arraycopy(bytes, position, b, off, n);
      position += n;
      return n;
    }
  }

  @Override
  public int samples() {
    return requests.length;
  }

  @Override
  public void close() {
    // The channels are shared and owned by the caller.
  }
}
