package dev.fulcrum.server.http;

import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;

/**
 * The handlers of one HTTP/2 stream (a child channel of the connection, on its event loop): {@code
 * Http2StreamFrameToHttpObjectCodec} turns the stream's frames into HTTP objects and the response
 * back into frames (dropping connection-specific headers), then {@link RequestTimeouts} (a stalled
 * body resets the stream) and the same request handlers as HTTP/1.1, whose aggregator draws on the
 * connection's share of the buffered-bytes budget. A stream the client resets closes its channel,
 * which cancels the request.
 */
final class Http2StreamPipeline extends ChannelInitializer<Http2StreamChannel> {
  private final HttpPipeline connection;
  private final BufferBudget budget;

  Http2StreamPipeline(HttpPipeline connection, BufferBudget budget) {
    this.connection = connection;
    this.budget = budget;
  }

  @Override
  protected void initChannel(Http2StreamChannel ch) {
    ch.pipeline()
        .addLast("h2-http", new Http2StreamFrameToHttpObjectCodec(true))
        .addLast("timeouts", connection.timeouts());
    connection.addRequestHandlers(ch.pipeline(), "timeouts", budget);
  }
}
