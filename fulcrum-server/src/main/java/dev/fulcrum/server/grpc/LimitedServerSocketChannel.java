package dev.fulcrum.server.grpc;

import dev.fulcrum.server.http.ConnectionLimit;
import io.netty.channel.Channel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.util.List;

/**
 * The gRPC port's listening socket, which closes a connection beyond {@link ConnectionLimit} as
 * soon as it is accepted: grpc-netty builds each connection's pipeline itself and offers no hook
 * before the HTTP/2 handshake, so the cap sits where connections are born. Runs on the accepting
 * event loop ({@code fulcrum-grpc-accept}); the limit's count is shared with the connections' event
 * loops, which give places back when their connections close.
 */
final class LimitedServerSocketChannel extends NioServerSocketChannel {
  private final ConnectionLimit limit;

  LimitedServerSocketChannel(ConnectionLimit limit) {
    this.limit = limit;
  }

  @Override
  protected int doReadMessages(List<Object> buf) throws Exception {
    int before = buf.size();
    int accepted = super.doReadMessages(buf);
    for (int i = buf.size() - 1; i >= before; i--) {
      Channel child = (Channel) buf.get(i);
      if (!limit.admit(child)) {
        buf.remove(i);
        accepted--;
        child.unsafe().closeForcibly();
      }
    }
    return accepted;
  }
}
