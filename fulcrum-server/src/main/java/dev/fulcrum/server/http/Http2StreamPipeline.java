package dev.fulcrum.server.http;

import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;

/**
 * The handlers of one HTTP/2 stream (a child channel of the connection, on its event loop): {@code
 * Http2StreamFrameToHttpObjectCodec} turns the stream's frames into HTTP objects and the response
 * back into frames (dropping connection-specific headers), then the same request handlers as
 * HTTP/1.1. A stream the client resets closes its channel, which cancels the request.
 */
final class Http2StreamPipeline extends ChannelInitializer<Http2StreamChannel> {
  private final HttpPipeline connection;

  Http2StreamPipeline(HttpPipeline connection) {
    this.connection = connection;
  }

  @Override
  protected void initChannel(Http2StreamChannel ch) {
    ch.pipeline().addLast("h2-http", new Http2StreamFrameToHttpObjectCodec(true));
    connection.addRequestHandlers(ch.pipeline(), "h2-http");
  }
}
