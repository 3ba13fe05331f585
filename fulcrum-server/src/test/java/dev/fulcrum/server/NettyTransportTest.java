package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.uring.IoUringServerSocketChannel;
import java.io.IOException;
import java.util.EnumSet;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * How the REST port's transport is chosen, against a fake of Netty's availability checks: {@code
 * auto} takes epoll, then io_uring, then NIO, silently; a named one that is unavailable fails with
 * the reason.
 */
class NettyTransportTest {
  /** Availability as a container would report it: {@code blocked} transports fail to set up. */
  private static NettyTransport.Probe blocking(Set<Transport> blocked) {
    return t -> blocked.contains(t) ? failure(t) : null;
  }

  private static @Nullable Throwable failure(Transport t) {
    return t == Transport.IO_URING
        ? new RuntimeException(
            "failed to create io_uring ring fd", new IOException("Operation not permitted"))
        : new UnsatisfiedLinkError("could not load libnetty_transport_native_" + t.label());
  }

  @Test
  void autoTakesEpollWhenItWorks() {
    NettyTransport t = NettyTransport.choose(Transport.AUTO, blocking(Set.of()));
    assertThat(t.kind()).isEqualTo(Transport.EPOLL);
    assertThat(t.serverChannel()).isEqualTo(EpollServerSocketChannel.class);
    assertThat(t.skipped()).isEmpty();
    assertThat(t.describe()).isEqualTo("epoll");
  }

  @Test
  void aContainerThatRefusesIoUringChangesNothing() {
    NettyTransport t = NettyTransport.choose(Transport.AUTO, blocking(Set.of(Transport.IO_URING)));
    assertThat(t.kind()).isEqualTo(Transport.EPOLL);
    assertThat(t.skipped()).isEmpty();
  }

  @Test
  void autoTakesIoUringWhenEpollDoesNotLoad() {
    NettyTransport t = NettyTransport.choose(Transport.AUTO, blocking(Set.of(Transport.EPOLL)));
    assertThat(t.kind()).isEqualTo(Transport.IO_URING);
    assertThat(t.serverChannel()).isEqualTo(IoUringServerSocketChannel.class);
    assertThat(t.describe())
        .as("the root cause, for the start-up log line")
        .isEqualTo("io_uring (epoll unavailable: could not load libnetty_transport_native_epoll)");
  }

  @Test
  void autoFallsBackToNioSilentlyWhenNeitherNativeTransportWorks() {
    NettyTransport t =
        NettyTransport.choose(
            Transport.AUTO, blocking(EnumSet.of(Transport.IO_URING, Transport.EPOLL)));
    assertThat(t.kind()).isEqualTo(Transport.NIO);
    assertThat(t.serverChannel()).isEqualTo(NioServerSocketChannel.class);
    assertThat(t.skipped())
        .containsExactly(
            "epoll unavailable: could not load libnetty_transport_native_epoll",
            "io_uring unavailable: Operation not permitted");
  }

  @Test
  void theListeningSocketsFactoryMakesTheTransportsChannelClass() {
    for (NettyTransport t :
        new NettyTransport[] {
          NettyTransport.choose(Transport.AUTO), NettyTransport.choose(Transport.NIO)
        }) {
      ServerChannel ch = t.serverChannels().newChannel();
      try {
        assertThat(ch).isExactlyInstanceOf(t.serverChannel());
        assertThat(t.serverChannels().newChannel())
            .as("a new channel per call")
            .isNotSameAs(ch)
            .satisfies(other -> other.unsafe().closeForcibly());
      } finally {
        ch.unsafe().closeForcibly();
      }
    }
  }

  @Test
  void aNamedTransportIsTakenEvenWhenABetterOneWorks() {
    assertThat(NettyTransport.choose(Transport.EPOLL, blocking(Set.of())).kind())
        .isEqualTo(Transport.EPOLL);
    assertThat(NettyTransport.choose(Transport.NIO, blocking(Set.of())).kind())
        .isEqualTo(Transport.NIO);
    assertThat(NettyTransport.choose(Transport.IO_URING, blocking(Set.of())).kind())
        .isEqualTo(Transport.IO_URING);
  }

  @Test
  void aNamedTransportThatIsUnavailableStopsTheStart() {
    assertThatThrownBy(
            () -> NettyTransport.choose(Transport.IO_URING, blocking(Set.of(Transport.IO_URING))))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("transport io_uring was asked for but is unavailable here")
        .hasMessageContaining("Operation not permitted")
        .hasMessageContaining("--transport auto");
  }

  @Test
  void nioIsNeverProbedAway() {
    NettyTransport t =
        NettyTransport.choose(Transport.NIO, blocking(EnumSet.allOf(Transport.class)));
    assertThat(t.kind()).isEqualTo(Transport.NIO);
  }

  @Test
  void namesParse() {
    assertThat(Transport.parse("auto")).isEqualTo(Transport.AUTO);
    assertThat(Transport.parse("io_uring")).isEqualTo(Transport.IO_URING);
    assertThat(Transport.parse("IO-URING")).isEqualTo(Transport.IO_URING);
    assertThat(Transport.parse(" iouring ")).isEqualTo(Transport.IO_URING);
    assertThat(Transport.parse("Epoll")).isEqualTo(Transport.EPOLL);
    assertThat(Transport.parse("nio")).isEqualTo(Transport.NIO);
    assertThatThrownBy(() -> Transport.parse("kqueue"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("unknown transport 'kqueue'; expected auto, io_uring, epoll or nio");
  }

  @Test
  void theRealProbeAlwaysFindsATransport() {
    NettyTransport t = NettyTransport.choose(Transport.AUTO);
    assertThat(t.kind()).isNotEqualTo(Transport.AUTO);
    assertThat(NettyTransport.NATIVE.unavailability(t.kind())).isNull();
  }
}
