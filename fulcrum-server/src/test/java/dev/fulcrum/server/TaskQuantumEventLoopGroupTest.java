package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * The REST port's event loops: a loop whose task queue never empties (as under a connection flood,
 * one registration after another) still polls and answers its sockets.
 */
class TaskQuantumEventLoopGroupTest {
  @Test
  void aLoopWhoseTasksNeverRunOutStillReadsAndWritesItsSockets() throws Exception {
    TaskQuantumEventLoopGroup group =
        new TaskQuantumEventLoopGroup(
            1,
            new DefaultThreadFactory("quantum-test"),
            NioIoHandler.newFactory(),
            Duration.ofMillis(5));
    AtomicBoolean busy = new AtomicBoolean(true);
    try {
      Channel server =
          new ServerBootstrap()
              .group(group)
              .channel(NioServerSocketChannel.class)
              .childHandler(
                  new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                      ctx.writeAndFlush(((ByteBuf) msg).retain());
                      ((ByteBuf) msg).release();
                    }
                  })
              .bind("127.0.0.1", 0)
              .sync()
              .channel();
      EventLoop loop = server.eventLoop();
      Runnable[] chain = new Runnable[1];
      chain[0] =
          () -> {
            if (busy.get()) {
              loop.execute(chain[0]); // always one more task queued
            }
          };
      loop.execute(chain[0]);
      try (Socket client = new Socket()) {
        client.connect((InetSocketAddress) server.localAddress(), 10_000);
        client.setSoTimeout(30_000);
        client.getOutputStream().write('x');
        InputStream in = client.getInputStream();
        assertThat(in.read()).isEqualTo('x');
      } finally {
        busy.set(false);
        server.close().sync();
      }
    } finally {
      busy.set(false);
      group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
    }
  }

  @Test
  void aConnectionAcceptedOnOneOfTheLoopsIsRegisteredOnThatLoopInline() throws Exception {
    TaskQuantumEventLoopGroup group =
        new TaskQuantumEventLoopGroup(
            2,
            new DefaultThreadFactory("quantum-next-test"),
            NioIoHandler.newFactory(),
            Duration.ofMillis(5));
    try {
      for (io.netty.util.concurrent.EventExecutor e : group) {
        EventLoop loop = (EventLoop) e;
        // On a loop, next() is that loop (registration then runs inline, no task queued) ...
        assertThat(loop.submit(() -> group.next() == loop).get()).isTrue();
      }
      // ... off the loops, the loops in turn.
      EventLoop first = group.next();
      assertThat(group.next()).isNotSameAs(first);
      assertThat(group.next()).isSameAs(first);
    } finally {
      group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
    }
  }

  @Test
  void aQuantumUnderOneMillisecondIsRefused() {
    assertThatThrownBy(
            () ->
                new TaskQuantumEventLoopGroup(
                    1,
                    new DefaultThreadFactory("quantum-test"),
                    NioIoHandler.newFactory(),
                    Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least 1 ms");
  }
}
