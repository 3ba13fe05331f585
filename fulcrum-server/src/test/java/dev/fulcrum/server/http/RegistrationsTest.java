package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.util.AttributeKey;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Registrations} on real sockets (epoll): what it registers carries the bootstrap's child
 * options and attributes, as Netty's acceptor would have set them; and a connection evicted at the
 * cap while it still waits for its registration is closed, unregistered, with a reset the client
 * sees, its place given back. No timing assertions: waits are bounded polls.
 */
class RegistrationsTest {
  private static final AttributeKey<String> TENANT =
      AttributeKey.valueOf(RegistrationsTest.class, "tenant");

  private EventLoopGroup boss;
  private EventLoopGroup workers;
  private Channel server;

  @BeforeEach
  void loops() {
    assumeTrue(Epoll.isAvailable(), "epoll transport (Linux)");
    boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    workers = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
  }

  @AfterEach
  void close() throws InterruptedException {
    if (server != null) {
      server.close().sync();
    }
    if (boss != null) {
      boss.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
      workers.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
    }
  }

  @Test
  void aConnectionItRegistersGetsTheBootstrapsChildOptionsAndAttributes() throws Exception {
    List<String> seen = new CopyOnWriteArrayList<>();
    ChannelHandler child = // shared by every connection, as a port's child handler is
        new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline()
                .addLast(
                    new ChannelInboundHandlerAdapter() {
                      @Override
                      public void channelActive(ChannelHandlerContext ctx) {
                        ByteBuf first = Registrations.takeFirstBytes(ch);
                        if (first != null) {
                          first.release();
                        }
                        seen.add(
                            ch.config().getOption(ChannelOption.SO_KEEPALIVE)
                                + " "
                                + ch.config().getOption(ChannelOption.TCP_NODELAY)
                                + " "
                                + ch.attr(TENANT).get());
                        ctx.fireChannelActive();
                      }
                    });
          }
        };
    ServerBootstrap b =
        new ServerBootstrap()
            .group(boss, workers)
            .channel(EpollServerSocketChannel.class)
            .childOption(ChannelOption.SO_KEEPALIVE, true) // off by default
            .childOption(ChannelOption.TCP_NODELAY, false) // Netty's epoll sockets default to on
            .childAttr(TENANT, "a")
            .childHandler(child);
    Registrations registrations = new Registrations(workers, b.config());
    server = bind(b, registrations);
    try (Socket line = connect();
        Socket silent = connect()) {
      // One sends its request line (registered at once), one nothing (queued, registered later).
      assertThat(silent.isConnected()).isTrue();
      line.getOutputStream()
          .write("GET /v2/health/live HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
      waitUntil(() -> seen.size() == 2);
    }
    assertThat(seen).containsExactly("true false a", "true false a");
  }

  @Test
  void aConnectionEvictedWhileWaitingForItsRegistrationIsClosedUnregisteredWithAReset()
      throws Exception {
    AtomicLong now = new AtomicLong(1_000_000_000L);
    ConnectionLimit cap =
        ConnectionLimit.evictingSlowStartsCountedFromFirstRead(
            1, ConnectionLimit.EVICTION_GRACE, now::get);
    EventLoop loop = workers.next();
    List<Channel> waiting = new CopyOnWriteArrayList<>();
    // Where Registrations leaves a flood's silent connection: admitted, its loop named, not yet
    // registered (here never: the loop's queue of registrations is what this stands in for).
    ChannelHandler holdsUnregistered =
        new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Channel ch = (Channel) msg;
            ConnectionLimit.registeringOn(ch, loop);
            waiting.add(ch);
          }
        };
    ServerBootstrap b =
        new ServerBootstrap()
            .group(boss, workers)
            .channel(EpollServerSocketChannel.class)
            .childHandler(new ChannelInboundHandlerAdapter());
    server =
        b.handler(
                new ChannelInitializer<ServerChannel>() {
                  @Override
                  protected void initChannel(ServerChannel ch) {
                    ch.pipeline().addLast(cap.acceptor(), holdsUnregistered);
                  }
                })
            .bind("127.0.0.1", 0)
            .sync()
            .channel();
    try (Socket slow = connect()) {
      waitUntil(() -> waiting.size() == 1);
      Channel victim = waiting.get(0);
      now.addAndGet(ConnectionLimit.EVICTION_GRACE.multipliedBy(5).toNanos());
      try (Socket next = connect()) {
        assertThat(next.isConnected()).isTrue();
        waitUntil(() -> waiting.size() == 2); // admitted: the slow one chosen for eviction
        waitUntil(() -> cap.evicted() == 1);
        assertThat(victim.isOpen()).isFalse();
        assertThat(victim.isRegistered()).isFalse();
        assertThat(cap.open()).isEqualTo(1); // its place given back, though it never registered
        assertThat(readsEndOrReset(slow)).isTrue();
        assertThat(waiting.get(1).isOpen()).isTrue();
      }
    }
    for (Channel ch : waiting) {
      ch.unsafe().closeForcibly();
    }
  }

  private static Channel bind(ServerBootstrap b, Registrations registrations)
      throws InterruptedException {
    return b.handler(
            new ChannelInitializer<ServerChannel>() {
              @Override
              protected void initChannel(ServerChannel ch) {
                ch.pipeline().addLast(registrations);
              }
            })
        .bind("127.0.0.1", 0)
        .sync()
        .channel();
  }

  private Socket connect() throws IOException {
    Socket s = new Socket("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort());
    s.setSoTimeout((int) Duration.ofSeconds(10).toMillis());
    return s;
  }

  /** Whether the server ended the connection: end of stream, or a reset (SO_LINGER 0). */
  private static boolean readsEndOrReset(Socket s) throws IOException {
    InputStream in = s.getInputStream();
    try {
      return in.read() == -1;
    } catch (SocketException reset) {
      return true;
    }
  }

  private static void waitUntil(BooleanSupplier done) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!done.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waited 10 s").isLessThan(end);
      Thread.sleep(5);
    }
  }
}
