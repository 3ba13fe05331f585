package dev.fulcrum.tools.bench;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The client side of a gRPC run: {@code n} HTTP/2 channels (plaintext, or TLS) (each its own
 * connection) to one target, whose call callbacks run on one small fixed executor of named daemon
 * threads; thread-safe, closed once by its owner.
 */
final class GrpcChannels implements AutoCloseable {
  /** Matches the server's default {@code --grpc-max-message-size}. */
  static final int MAX_INBOUND_MESSAGE_SIZE = 64 * 1024 * 1024;

  private final String target;
  private final ExecutorService executor;
  private final List<ManagedChannel> channels = new ArrayList<>();

  /**
   * @param target {@code host:port} or any gRPC target URI ({@code dns:///host:port})
   * @param count the number of channels (connections), at least 1
   * @param threads the callback threads shared by all channels
   */
  GrpcChannels(String target, int count, int threads) {
    this(target, count, threads, ClientSecurity.none());
  }

  /** {@code security}: TLS instead of plaintext, and the token as every call's metadata. */
  GrpcChannels(String target, int count, int threads, ClientSecurity security) {
    if (count < 1) {
      throw new IllegalArgumentException("--grpc-channels must be at least 1, not " + count);
    }
    if (threads < 1) {
      throw new IllegalArgumentException("--client-threads must be at least 1, not " + threads);
    }
    this.target = target;
    this.executor =
        Executors.newFixedThreadPool(
            threads, Thread.ofPlatform().name("bench-grpc-", 0).daemon(true).factory());
    for (int i = 0; i < count; i++) {
      NettyChannelBuilder b =
          NettyChannelBuilder.forTarget(target)
              .executor(executor)
              .maxInboundMessageSize(MAX_INBOUND_MESSAGE_SIZE);
      if (security.tls()) {
        b.sslContext(security.grpcContext());
      } else {
        b.usePlaintext();
      }
      security.grpcInterceptor().ifPresent(b::intercept);
      channels.add(b.build());
    }
  }

  String target() {
    return target;
  }

  /** The channels, in round-robin order. */
  List<ManagedChannel> all() {
    return List.copyOf(channels);
  }

  ManagedChannel first() {
    return channels.get(0);
  }

  /** Shuts the channels down (calls in flight get a few seconds), then the executor. */
  @Override
  public void close() {
    channels.forEach(ManagedChannel::shutdown);
    try {
      for (ManagedChannel c : channels) {
        if (!c.awaitTermination(5, TimeUnit.SECONDS)) {
          c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
    } catch (InterruptedException e) {
      channels.forEach(ManagedChannel::shutdownNow);
      Thread.currentThread().interrupt();
    }
    executor.shutdown();
  }
}
