package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.unix.UnixChannelOption;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The BPF program, and the kernel sending a port's new connections where it says. */
class ReusePortSteeringTest {
  @Test
  void oneSocketIsOneReturnAndSeveralAreARandomPick() {
    ByteBuffer one = ReusePortSteering.program(2, 1).order(ByteOrder.nativeOrder());
    assertThat(one.capacity()).isEqualTo(8);
    assertThat(one.getShort(0)).isEqualTo((short) 0x06); // BPF_RET | BPF_K
    assertThat(one.getInt(4)).isEqualTo(2);
    ByteBuffer two = ReusePortSteering.program(3, 2).order(ByteOrder.nativeOrder());
    assertThat(two.capacity()).isEqualTo(32);
    assertThat(two.getShort(0)).isEqualTo((short) 0x20); // A = random
    assertThat(two.getInt(4)).isEqualTo(-0x1000 + 56);
    assertThat(two.getInt(12)).isEqualTo(2); // A %= 2
    assertThat(two.getInt(20)).isEqualTo(3); // A += 3
    assertThat(two.getShort(24)).isEqualTo((short) 0x16); // return A
  }

  @Test
  void theKernelSendsNewConnectionsToTheSocketsNamed() throws Exception {
    assumeTrue(NettyTransport.NATIVE.unavailability(Transport.EPOLL) == null, "no epoll");
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    AtomicIntegerArray accepted = new AtomicIntegerArray(3);
    List<Channel> sockets = new ArrayList<>();
    try {
      int port = 0;
      for (int i = 0; i < 3; i++) {
        int index = i;
        Channel ch =
            new ServerBootstrap()
                .group(group)
                .channel(EpollServerSocketChannel.class)
                .option(UnixChannelOption.SO_REUSEPORT, true)
                .childHandler(
                    new ChannelInitializer<Channel>() {
                      @Override
                      protected void initChannel(Channel child) {
                        accepted.incrementAndGet(index);
                        child.close();
                      }
                    })
                .bind("127.0.0.1", port)
                .sync()
                .channel();
        port = ((InetSocketAddress) ch.localAddress()).getPort();
        sockets.add(ch);
      }
      assertThat(ReusePortSteering.steer(sockets.get(0), 2, 1)).isNull();
      connect(port, 24, accepted);
      assertThat(accepted.get(0) + accepted.get(1)).isZero();
      assertThat(accepted.get(2)).isEqualTo(24);

      assertThat(ReusePortSteering.steer(sockets.get(1), 0, 2)).isNull(); // any member will do
      connect(port, 48, accepted);
      assertThat(accepted.get(2)).isEqualTo(24); // none more
      assertThat(accepted.get(0)).isPositive(); // 24 of 48 each on average
      assertThat(accepted.get(1)).isPositive();
    } finally {
      for (Channel ch : sockets) {
        ch.close().sync();
      }
      group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
    }
  }

  @Test
  void aSocketWithoutAFileDescriptorIsRefusedWithAReason() {
    NioServerSocketChannel nio = new NioServerSocketChannel();
    try {
      assertThat(ReusePortSteering.steer(nio, 0, 1)).contains("not a native socket");
    } finally {
      nio.unsafe().closeForcibly();
    }
  }

  /** Opens {@code n} connections one after another, each until the server has counted it. */
  private static void connect(int port, int n, AtomicIntegerArray accepted) throws Exception {
    AtomicInteger before = new AtomicInteger(sum(accepted));
    for (int i = 0; i < n; i++) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        assertThat(s.isConnected()).isTrue();
        int want = before.incrementAndGet();
        Await.until("the connection accepted", () -> sum(accepted) >= want);
      }
    }
  }

  private static int sum(AtomicIntegerArray a) {
    int n = 0;
    for (int i = 0; i < a.length(); i++) {
      n += a.get(i);
    }
    return n;
  }
}
