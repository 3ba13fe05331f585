package dev.fulcrum.server;

import io.netty.channel.ChannelFactory;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The Netty transport a port runs on, chosen once at start: its event loops' I/O handler and its
 * listening socket's channel class. Immutable; safe to share between threads.
 *
 * <p>Design: {@link Transport#AUTO} tries epoll, then io_uring, then NIO, and takes the first whose
 * native part loads and works here. A kernel without io_uring, a container whose seccomp profile
 * refuses {@code io_uring_setup} (Docker's default does), another CPU architecture or {@code
 * -Dio.netty.transport.noNative=true} each make Netty report that transport unavailable, and the
 * server falls back without an error: the reason is kept for the start-up log line ({@link
 * #describe()}). A transport forced by name that is unavailable is an error at start, so that a
 * measurement or a deployment never runs on another transport than the one it asked for.
 *
 * <p>Why epoll before io_uring, and io_uring after the start (measured A/B on one build, one REST
 * event loop, interleaved; docs/PERFORMANCE.md, "Session 24 (lead): io_uring", "Session 28 (lead)"
 * and "Session 29 (lead)"): io_uring serves tiny requests at saturation far better (the demo fraud
 * model at c=64: 1.3-1.6x the requests, one {@code io_uring_enter} for a pass's answers and the
 * next reads where epoll makes a {@code writev} and a {@code read} each) and no worse on MiniLM or
 * 21 KB image bodies; but a fresh server's first fraud answer came 0.06-0.08 s later with it (its
 * rings and Netty's feature probes, run by a cold JVM). So {@link Transport#AUTO} starts the REST
 * port on epoll, and {@link HttpServer#moveToWarmTransport()} then moves the port's new connections
 * to io_uring (serve does it a second after the start). Under a flood of request bodies io_uring's
 * loop answers later (a normal request's p99 under 110 connections of 60 MB bodies ~200-260 ms
 * against epoll's ~140-165, with {@code PausedReads}); {@code --transport epoll} keeps epoll
 * throughout. A port given io_uring by name starts on it.
 */
public final class NettyTransport {
  /** Says why a transport cannot be used here, or {@code null} when it can. */
  @FunctionalInterface
  interface Probe {
    @Nullable Throwable unavailability(Transport transport);
  }

  /** Netty's own checks: each loads the transport's native library once and tries it. */
  static final Probe NATIVE =
      transport ->
          switch (transport) {
            case IO_URING -> IoUring.isAvailable() ? null : IoUring.unavailabilityCause();
            case EPOLL -> Epoll.isAvailable() ? null : Epoll.unavailabilityCause();
            case NIO -> null;
            case AUTO -> throw new IllegalArgumentException("AUTO is not a transport to probe");
          };

  private static final List<Transport> PREFERENCE =
      List.of(Transport.EPOLL, Transport.IO_URING, Transport.NIO);

  private final Transport kind;
  private final List<String> skipped;

  private NettyTransport(Transport kind, List<String> skipped) {
    this.kind = kind;
    this.skipped = List.copyOf(skipped);
  }

  /**
   * The transport to run on for {@code requested}, as Netty finds this machine.
   *
   * @throws IllegalStateException if {@code requested} names a transport that is unavailable here
   */
  public static NettyTransport choose(Transport requested) {
    return choose(requested, NATIVE);
  }

  static NettyTransport choose(Transport requested, Probe probe) {
    if (requested != Transport.AUTO) {
      Throwable why = unavailability(probe, requested);
      if (why != null) {
        throw new IllegalStateException(
            "transport "
                + requested.label()
                + " was asked for but is unavailable here: "
                + reason(why)
                + " (use --transport auto to fall back)",
            why);
      }
      return new NettyTransport(requested, List.of());
    }
    List<String> skipped = new ArrayList<>();
    for (Transport t : PREFERENCE) {
      Throwable why = unavailability(probe, t);
      if (why == null) {
        return new NettyTransport(t, skipped);
      }
      skipped.add(t.label() + " unavailable: " + reason(why));
    }
    throw new AssertionError("NIO is always available");
  }

  /** The transport chosen: never {@link Transport#AUTO}. */
  public Transport kind() {
    return kind;
  }

  /** What {@link Transport#AUTO} passed over, and why; empty when nothing was. */
  public List<String> skipped() {
    return skipped;
  }

  /** For the start-up log: {@code epoll}, or e.g. {@code io_uring (epoll unavailable: ...)}. */
  public String describe() {
    return skipped.isEmpty()
        ? kind.label()
        : kind.label() + " (" + String.join("; ", skipped) + ")";
  }

  /** A new factory of the event loops' I/O handlers (one handler per event loop). */
  public IoHandlerFactory ioHandlers() {
    return switch (kind) {
      case IO_URING -> IoUringIoHandler.newFactory();
      case EPOLL -> EpollIoHandler.newFactory();
      case NIO, AUTO -> NioIoHandler.newFactory();
    };
  }

  /**
   * A factory of the listening socket's channel, which matches {@link #ioHandlers()}: a constructor
   * call, not Netty's {@code ReflectiveChannelFactory}, whose first {@code Constructor.newInstance}
   * in a fresh JVM spins the JDK's reflection method handles on the REST port's start thread (~20 %
   * of that thread's CPU; docs/PERFORMANCE.md, "Session 17 (second helper)").
   */
  public ChannelFactory<ServerChannel> serverChannels() {
    return switch (kind) {
      case IO_URING -> IoUringServerSocketChannel::new;
      case EPOLL -> EpollServerSocketChannel::new;
      case NIO, AUTO -> NioServerSocketChannel::new;
    };
  }

  /** The listening socket's channel class, which matches {@link #ioHandlers()}. */
  public Class<? extends ServerChannel> serverChannel() {
    return switch (kind) {
      case IO_URING -> IoUringServerSocketChannel.class;
      case EPOLL -> EpollServerSocketChannel.class;
      case NIO, AUTO -> NioServerSocketChannel.class;
    };
  }

  @Override
  public String toString() {
    return describe();
  }

  /** NIO is part of the JDK and always works; only the native transports are probed. */
  private static @Nullable Throwable unavailability(Probe probe, Transport t) {
    return t == Transport.NIO ? null : probe.unavailability(t);
  }

  private static String reason(Throwable why) {
    Throwable root = why;
    for (int depth = 0; depth < 16; depth++) { // bounded: a cause chain may loop
      Throwable c = root.getCause();
      if (c == null) {
        break;
      }
      root = c;
    }
    String message = root.getMessage();
    return message == null ? root.getClass().getSimpleName() : message;
  }
}
