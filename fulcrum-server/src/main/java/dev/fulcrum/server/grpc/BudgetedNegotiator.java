package dev.fulcrum.server.grpc;

import dev.fulcrum.server.RateLimitedLog;
import dev.fulcrum.server.http.BufferBudget;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiator;
import io.netty.channel.ChannelHandler;
import io.netty.util.AsciiString;

/**
 * grpc-netty's plaintext or TLS negotiator, which also gives each new connection's HTTP/2 handler
 * an {@link InboundMessageBudget} drawing on its own share of the port's budget, and the request
 * metadata limit ({@link InboundMetadataLimit}). grpc-netty builds each connection's pipeline
 * itself; the negotiator is the one supported place (through its {@code Internal*} accessors) that
 * sees a connection's HTTP/2 handler before it reads a frame.
 *
 * <p>Threads: one instance for the port; {@link #newHandler} runs on each new connection's event
 * loop, and the budgets it hands out are thread-safe.
 */
final class BudgetedNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {
  private final InternalProtocolNegotiator.ProtocolNegotiator delegate;
  private final BufferBudget port;
  private final long perConnection;
  private final int maxMessageSize;
  private final int maxMetadataSize;
  private final RateLimitedLog refusals;

  /**
   * @param port the budget of the port's connections together
   * @param perConnection each connection's share of it, in bytes
   * @param maxMessageSize the largest request message accepted
   * @param maxMetadataSize the largest request metadata accepted
   */
  BudgetedNegotiator(
      InternalProtocolNegotiator.ProtocolNegotiator delegate,
      BufferBudget port,
      long perConnection,
      int maxMessageSize,
      int maxMetadataSize,
      RateLimitedLog refusals) {
    this.delegate = delegate;
    this.port = port;
    this.perConnection = perConnection;
    this.maxMessageSize = maxMessageSize;
    this.maxMetadataSize = maxMetadataSize;
    this.refusals = refusals;
  }

  @Override
  public AsciiString scheme() {
    return delegate.scheme();
  }

  @Override
  public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
    InboundMessageBudget.install(grpcHandler, port.child(perConnection), maxMessageSize, refusals);
    InboundMetadataLimit.install(
        grpcHandler, maxMetadataSize, refusals); // in front: a refused call costs nothing
    return delegate.newHandler(grpcHandler);
  }

  @Override
  public void close() {
    delegate.close();
  }
}
