package dev.fulcrum.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Settings;

/**
 * Netty's HTTP/2 frame codec (server side), where a malformed request's stream stays a stream error
 * when its body follows. Netty refuses a HEADERS frame whose fields break RFC 9113's rules for a
 * request (a connection-specific field such as {@code transfer-encoding} or {@code connection}, an
 * uppercase name, a bad pseudo-header) before it opens the stream, and resets the stream unopened.
 * The DATA frames the client had already sent for it then name a stream Netty never opened, which
 * it takes for an idle stream, a connection error: one malformed POST closed the connection and
 * failed every other request on it. RFC 9113 8.1.1 makes a malformed request a stream error, and
 * 5.1 has frames on a stream after its RST_STREAM ignored.
 *
 * <p>So such a stream is opened here before Netty handles its error: the error then goes to the
 * stream's own handlers (the dispatcher answers 400, see {@link HttpDispatcher}) and the stream is
 * reset with PROTOCOL_ERROR, and the DATA that follows is for a closed stream, which Netty drops
 * (counting it against the connection's flow-control window) with a stream error of its own. A
 * stream that cannot be opened (over the concurrent-stream limit, after GOAWAY) is reset unopened
 * as before. Everything runs on the connection's event loop.
 */
final class Http2StreamErrors extends Http2FrameCodec {
  private Http2StreamErrors(
      Http2ConnectionEncoder encoder,
      Http2ConnectionDecoder decoder,
      Http2Settings settings,
      boolean decoupleCloseAndGoAway,
      boolean flushPreface) {
    super(encoder, decoder, settings, decoupleCloseAndGoAway, flushPreface);
  }

  /** The codec of one server connection, with {@code settings} offered to the client. */
  static Http2FrameCodec forServer(Http2Settings settings) {
    return new Builder().initialSettings(settings).build();
  }

  @Override
  public void onError(ChannelHandlerContext ctx, boolean outbound, Throwable cause) {
    if (!outbound) {
      openRefusedStream(cause);
    }
    super.onError(ctx, outbound, cause);
  }

  /** Opens the stream of a request whose HEADERS were refused before Netty opened it. */
  private void openRefusedStream(Throwable cause) {
    Http2Exception e = Http2CodecUtil.getEmbeddedHttp2Exception(cause);
    if (!(e instanceof Http2Exception.StreamException refused)
        || e instanceof Http2Exception.HeaderListSizeException // Netty opens it for its 431
        || refused.error() != Http2Error.PROTOCOL_ERROR) {
      return;
    }
    int id = refused.streamId();
    Http2Connection.Endpoint<?> remote = connection().remote();
    if (connection().stream(id) != null
        || !remote.isValidStreamId(id)
        || id <= remote.lastStreamCreated()) {
      return; // open, or closed already: Netty's handling is the stream's
    }
    try {
      remote.createStream(id, false);
    } catch (Http2Exception notOpened) {
      // Over the concurrent-stream limit or past GOAWAY: reset unopened, as Netty does.
    }
  }

  /** Netty's server builder, building this codec. */
  private static final class Builder extends Http2FrameCodecBuilder {
    Builder() {
      server(true);
      gracefulShutdownTimeoutMillis(0); // as Http2FrameCodecBuilder.forServer()
    }

    @Override
    protected Http2FrameCodec build(
        Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings) {
      Http2StreamErrors codec =
          new Http2StreamErrors(
              encoder, decoder, settings, decoupleCloseAndGoAway(), flushPreface());
      codec.gracefulShutdownTimeoutMillis(gracefulShutdownTimeoutMillis());
      return codec;
    }
  }
}
