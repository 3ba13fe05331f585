package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class AcceptQueueWaitTest {
  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

  @Test
  void theWholeWaitCountsAgainstTheHeaderTimeoutButAFloorIsLeftAfterTheAccept() {
    assertThat(RequestTimeouts.queuedCounted(0, 10 * SECOND)).isZero();
    assertThat(RequestTimeouts.queuedCounted(3 * SECOND, 10 * SECOND)).isEqualTo(3 * SECOND);
    // A wait past the timeout still leaves 1 s to read a head already in the socket's buffer.
    assertThat(RequestTimeouts.queuedCounted(12 * SECOND, 10 * SECOND)).isEqualTo(9 * SECOND);
    // A header timeout under 2 s leaves half of itself.
    assertThat(RequestTimeouts.queuedCounted(5 * SECOND, SECOND)).isEqualTo(SECOND / 2);
  }

  @Test
  void aTransportWithoutTcpInfoReportsNoWait() {
    EmbeddedChannel ch = new EmbeddedChannel();
    assertThat(AcceptQueueWait.nanos(ch)).isZero();
    ch.finishAndReleaseAll();
  }

  @Test
  void epollReportsTheTimeAConnectionWaitedToBeAccepted() throws Exception {
    assumeTrue(Epoll.isAvailable(), "epoll transport (Linux)");
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    CompletableFuture<Long> waited = new CompletableFuture<>();
    try {
      Channel server =
          new ServerBootstrap()
              .group(group)
              .channel(EpollServerSocketChannel.class)
              .option(ChannelOption.AUTO_READ, false) // nothing is accepted until read() below
              .childHandler(
                  new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                      waited.complete(AcceptQueueWait.nanos(ctx.channel()));
                      ctx.close();
                    }
                  })
              .bind("127.0.0.1", 0)
              .sync()
              .channel();
      int port = ((InetSocketAddress) server.localAddress()).getPort();
      try (Socket client = new Socket("127.0.0.1", port)) {
        // The handshake is complete (connect returned); the connection waits in the queue.
        assertThat(client.isConnected()).isTrue();
        Thread.sleep(Duration.ofMillis(300));
        server.read();
        long nanos = waited.get(10, TimeUnit.SECONDS);
        // At least the time slept (the kernel's clock ticks in milliseconds or 4 ms jiffies).
        assertThat(nanos).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(290));
      } finally {
        server.close().sync();
      }
    } finally {
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
    }
  }
}
