package dev.fulcrum.tools.bench;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The client side of a gRPC run: {@code n} HTTP/2 channels (plaintext, or TLS) (each its own
 * connection) to one target on {@code threads} event loops of their own (epoll where available, as
 * the REST client), whose call callbacks run on those event loops (a closed loop's next call is
 * sent from there without a thread hop, as the REST client's), without grpc's retries (a call is
 * counted once, as it went); thread-safe, closed once by its owner.
 */
final class GrpcChannels implements AutoCloseable {
  /** Matches the server's default {@code --grpc-max-message-size}. */
  static final int MAX_INBOUND_MESSAGE_SIZE = 64 * 1024 * 1024;

  private final String target;
  private final EventLoopGroup group;
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
    boolean epoll = Epoll.isAvailable();
    this.group =
        new MultiThreadIoEventLoopGroup(
            threads,
            new DefaultThreadFactory("bench-grpc", true),
            epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    for (int i = 0; i < count; i++) {
      NettyChannelBuilder b =
          NettyChannelBuilder.forTarget(target)
              .eventLoopGroup(group)
              .channelType(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
              .directExecutor()
              // A load generator counts each call once: grpc's transparent retries would hide a
              // failure, and their buffering (RetriableStream) costs CPU on every call.
              .disableRetry()
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
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }
}
