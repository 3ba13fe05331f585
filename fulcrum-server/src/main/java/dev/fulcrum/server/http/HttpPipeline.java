package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpContentDecompressor;
import io.netty.handler.codec.http.HttpServerCodec;

/**
 * The handlers of one HTTP/1.1 connection: {@code HttpServerCodec} (bytes to HTTP objects and
 * back), {@code HttpContentDecompressor} (undoes {@code Content-Encoding: gzip/deflate}), {@link
 * LimitedAggregator} (one {@code FullHttpRequest} per request, at most {@code maxInputSize} bytes
 * decompressed, 413 beyond), and {@link HttpDispatcher} (routing, ordering, keep-alive).
 */
public final class HttpPipeline extends ChannelInitializer<SocketChannel> {
  private final InferenceService service;
  private final int maxInputSize;
  private final String version;

  /**
   * @param service the core every request goes to
   * @param maxInputSize the largest request body, in bytes
   * @param version the server version reported by {@code GET v2}
   */
  public HttpPipeline(InferenceService service, int maxInputSize, String version) {
    this.service = service;
    this.maxInputSize = maxInputSize;
    this.version = version;
  }

  @Override
  protected void initChannel(SocketChannel ch) {
    ChannelPipeline p = ch.pipeline();
    p.addLast("http", new HttpServerCodec());
    p.addLast("decompress", new HttpContentDecompressor(0));
    p.addLast("aggregate", new LimitedAggregator(maxInputSize));
    p.addLast("dispatch", new HttpDispatcher(service, version));
  }
}
