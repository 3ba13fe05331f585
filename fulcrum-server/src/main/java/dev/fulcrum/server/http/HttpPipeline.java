package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.server.RequestFailureLog;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpContentDecompressor;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http2.CleartextHttp2ServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.AsciiString;
import org.slf4j.LoggerFactory;

/**
 * The handlers of one connection on the REST port, which speaks HTTP/1.1 and HTTP/2 cleartext
 * (h2c), all on the connection's event loop.
 *
 * <p>A connection starts with {@code CleartextHttp2ServerUpgradeHandler}: a client that opens with
 * the HTTP/2 preface (prior knowledge) gets the HTTP/2 handlers at once; otherwise the bytes go to
 * {@code HttpServerCodec} and {@code HttpServerUpgradeHandler}, which switches to HTTP/2 on an
 * {@code Upgrade: h2c} request (answered on stream 1). The first request that is not an upgrade
 * commits the connection to HTTP/1.1 ({@link Http1Start}): {@code HttpServerCodec} (bytes to HTTP
 * objects and back), {@code HttpContentDecompressor} (undoes {@code Content-Encoding:
 * gzip/deflate}), {@link LimitedAggregator} (one {@code FullHttpRequest} per request, at most
 * {@code maxInputSize} bytes decompressed, 413 beyond), and {@link HttpDispatcher} (routing,
 * ordering, keep-alive). On HTTP/2, {@code Http2FrameCodec} and {@code Http2MultiplexHandler} give
 * each stream a child channel with the same handlers behind {@code
 * Http2StreamFrameToHttpObjectCodec} ({@link Http2StreamPipeline}).
 */
public final class HttpPipeline extends ChannelInitializer<SocketChannel> {
  /** Concurrent streams a client may open on one HTTP/2 connection. */
  static final int MAX_CONCURRENT_STREAMS = 256;

  /** The HTTP/2 header list limit: the 8 KiB that {@code HttpServerCodec} allows HTTP/1.1. */
  static final int MAX_HEADER_LIST_SIZE = 8192;

  private static final String HTTP1_START = "http1-start";

  private final InferenceService service;
  private final int maxInputSize;
  private final String version;
  private final RequestFailureLog failures =
      new RequestFailureLog(LoggerFactory.getLogger(HttpDispatcher.class));

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
    HttpServerCodec http1 = new HttpServerCodec();
    HttpServerUpgradeHandler upgrade =
        new HttpServerUpgradeHandler(
            http1,
            protocol ->
                AsciiString.contentEquals(Http2CodecUtil.HTTP_UPGRADE_PROTOCOL_NAME, protocol)
                    ? new Http2ServerUpgradeCodec(http2Codec(), streams())
                    : null,
            maxInputSize);
    ChannelPipeline p = ch.pipeline();
    p.addLast("h2c", new CleartextHttp2ServerUpgradeHandler(http1, upgrade, priorKnowledge()));
    p.addLast(HTTP1_START, new Http1Start(this));
  }

  /**
   * Adds the handlers that turn HTTP objects into answered requests, after the handler {@code
   * name}: decompression, aggregation and dispatch, the same for HTTP/1.1 and each HTTP/2 stream.
   */
  void addRequestHandlers(ChannelPipeline p, String name) {
    p.addAfter(name, "decompress", new HttpContentDecompressor(0))
        .addAfter("decompress", "aggregate", new LimitedAggregator(maxInputSize))
        .addAfter("aggregate", "dispatch", new HttpDispatcher(service, version, failures));
  }

  private ChannelHandler priorKnowledge() {
    return new ChannelInitializer<Channel>() {
      @Override
      protected void initChannel(Channel ch) {
        ch.pipeline()
            .addBefore(HTTP1_START, "h2", http2Codec())
            .addBefore(HTTP1_START, "h2-streams", streams());
      }
    };
  }

  private static Http2FrameCodec http2Codec() {
    return Http2FrameCodecBuilder.forServer()
        .initialSettings(
            Http2Settings.defaultSettings()
                .maxConcurrentStreams(MAX_CONCURRENT_STREAMS)
                .maxHeaderListSize(MAX_HEADER_LIST_SIZE))
        .build();
  }

  private Http2MultiplexHandler streams() {
    return new Http2MultiplexHandler(new Http2StreamPipeline(this));
  }
}
