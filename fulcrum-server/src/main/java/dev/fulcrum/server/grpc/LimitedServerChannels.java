package dev.fulcrum.server.grpc;

import dev.fulcrum.server.NettyTransport;
import dev.fulcrum.server.http.ConnectionLimit;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ServerChannel;

/**
 * Makes the gRPC port's listening socket, of whichever transport the port runs on (epoll, io_uring
 * or NIO: {@link NettyTransport}), with {@link ConnectionLimit}'s acceptor first in its pipeline.
 * grpc-netty builds each connection's pipeline itself and offers no hook before the HTTP/2
 * handshake, and its builder has no server-channel handler; but the factory of the listening socket
 * is ours, and a handler added to a server channel's pipeline before the bootstrap initialises it
 * stays ahead of Netty's own acceptor. So a connection beyond the cap is closed as soon as it is
 * accepted, on the accepting loop ({@code fulcrum-grpc-accept}), before it is registered with an
 * event loop and before any HTTP/2 work: the same place as the REST port's cap, without a subclass
 * of one transport's socket. The limit's count is shared with the connections' event loops, which
 * give places back when their connections close.
 */
final class LimitedServerChannels implements ChannelFactory<ServerChannel> {
  private final ChannelFactory<? extends ServerChannel> sockets;
  private final ConnectionLimit limit;

  LimitedServerChannels(NettyTransport transport, ConnectionLimit limit) {
    this.sockets = transport.serverChannels();
    this.limit = limit;
  }

  @Override
  public ServerChannel newChannel() {
    ServerChannel ch = sockets.newChannel();
    ch.pipeline().addLast("connection-limit", limit.acceptor());
    return ch;
  }
}
