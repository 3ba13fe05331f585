package dev.fulcrum.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.ssl.SslHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of a connection (on its event loop) until its first HTTP/1.1 request that is not
 * an h2c upgrade: then it commits the connection to HTTP/1.1 by removing the upgrade handler (a
 * later {@code Upgrade: h2c} would otherwise switch protocols under requests still being answered),
 * adds {@link OneBufferResponses} ahead of the codec (cleartext only) and the request handlers, and
 * steps out. On an HTTP/2 connection it stays, and only closes the connection on errors that the
 * HTTP/2 handlers pass on.
 */
final class Http1Start extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(Http1Start.class);

  private final HttpPipeline connection;
  private final BufferBudget budget;

  Http1Start(HttpPipeline connection, BufferBudget budget) {
    this.connection = connection;
    this.budget = budget;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest) {
      ChannelPipeline p = ctx.pipeline();
      if (p.get(HttpServerUpgradeHandler.class) != null) {
        p.remove(HttpServerUpgradeHandler.class);
      }
      ChannelHandlerContext codec = p.context(HttpServerCodec.class);
      if (codec != null && p.get(SslHandler.class) == null) {
        p.addBefore(codec.name(), "one-buffer", new OneBufferResponses());
      }
      connection.addRequestHandlers(p, ctx.name(), budget);
      p.remove(this);
    }
    ctx.fireChannelRead(msg);
  }

  /**
   * Closes the connection on an error nothing before handled. Not on an HTTP/2 protocol error: the
   * HTTP/2 codec passes a connection error here before it answers it with GOAWAY and then closes,
   * and closing here first dropped the connection without the GOAWAY (the client could not tell
   * which of its streams were processed, RFC 9113 5.4.1, 6.8).
   */
  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (Http2CodecUtil.getEmbeddedHttp2Exception(cause) != null) {
      log.debug(
          "HTTP/2 error on connection {} (the codec answers it): {}",
          ctx.channel().remoteAddress(),
          cause.toString());
      return;
    }
    log.debug("closing connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }
}
