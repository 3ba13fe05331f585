package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpContentDecompressor;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;

/**
 * The handlers of one HTTP/2 stream (a child channel of the connection, on its event loop): {@code
 * Http2StreamFrameToHttpObjectCodec} turns the stream's frames into HTTP objects and the response
 * back into frames (dropping connection-specific headers), then the same request handlers as
 * HTTP/1.1. A stream the client resets closes its channel, which cancels the request.
 */
final class Http2StreamPipeline extends ChannelInitializer<Http2StreamChannel> {
  private final InferenceService service;
  private final int maxInputSize;
  private final String version;

  Http2StreamPipeline(InferenceService service, int maxInputSize, String version) {
    this.service = service;
    this.maxInputSize = maxInputSize;
    this.version = version;
  }

  @Override
  protected void initChannel(Http2StreamChannel ch) {
    ChannelPipeline p = ch.pipeline();
    p.addLast("h2-http", new Http2StreamFrameToHttpObjectCodec(true));
    addRequestHandlers(p, "h2-http", service, maxInputSize, version);
  }

  /** Decompression, aggregation and dispatch, after the handler {@code name}. */
  static void addRequestHandlers(
      ChannelPipeline p, String name, InferenceService service, int maxInputSize, String version) {
    p.addAfter(name, "decompress", new HttpContentDecompressor(0))
        .addAfter("decompress", "aggregate", new LimitedAggregator(maxInputSize))
        .addAfter("aggregate", "dispatch", new HttpDispatcher(service, version));
  }
}
