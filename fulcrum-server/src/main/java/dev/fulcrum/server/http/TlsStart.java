package dev.fulcrum.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Waits for a TLS connection's handshake (on its event loop), then sets it up for the protocol ALPN
 * chose: h2 gets the HTTP/2 handlers, http/1.1 — also a client that offered no ALPN — gets {@code
 * HttpServerCodec} ahead of the timeouts; then it steps out. A failed handshake (no or an untrusted
 * client certificate under mutual TLS, a client that does not trust the server) closes the
 * connection with one DEBUG line: it is the client's business, not the server's.
 */
final class TlsStart extends ApplicationProtocolNegotiationHandler {
  private static final Logger log = LoggerFactory.getLogger(TlsStart.class);

  private final HttpPipeline connection;
  private final BufferBudget budget;

  TlsStart(HttpPipeline connection, BufferBudget budget) {
    super(ApplicationProtocolNames.HTTP_1_1);
    this.connection = connection;
    this.budget = budget;
  }

  @Override
  protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
    if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
      connection.addHttp2(ctx.pipeline(), budget);
      // The timeouts, after this handler, see only bytes on h2: without the event they kept the
      // connection in its head phase, and the header timeout closed it 10 s after its start
      // however busy it was.
      ctx.fireUserEventTriggered(RequestTimeouts.HTTP2_BY_ALPN);
    } else if (ApplicationProtocolNames.HTTP_1_1.equals(protocol)) {
      ctx.pipeline().addAfter(ctx.name(), "http1", HttpPipeline.http1Codec());
    } else {
      throw new IllegalStateException("ALPN chose an unknown protocol: " + protocol);
    }
  }

  @Override
  protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("TLS handshake with {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }
}
