package dev.fulcrum.server.http;

import dev.fulcrum.server.codec.JsonStreams;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http2.DecoratingHttp2ConnectionEncoder;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * as before.
 *
 * <p>Frames on a stream this server reset are ignored (RFC 9113 5.1: "An endpoint MUST ignore
 * frames that it receives on closed streams after it has sent a RST_STREAM frame"). Netty forgets a
 * stream once it is closed, takes each later DATA or HEADERS frame on it for a frame on an unknown
 * stream and answered every one with a RST_STREAM (STREAM_CLOSED): a client streaming the body of a
 * refused request drew one reset per frame. The codec's encoder notes the ids of the streams it
 * resets ({@link RecentResets}, the last {@value RecentResets#SIZE}), and such an error for one of
 * them is dropped here (the frame's bytes were already counted against the connection's
 * flow-control window and given back by Netty). A stream Netty resets for such a frame (one closed
 * normally, or reset by the client) is noted too: one RST_STREAM, then silence. Everything runs on
 * the connection's event loop.
 *
 * <p>A request whose header list is over the limit ({@code SETTINGS_MAX_HEADER_LIST_SIZE}) is
 * answered 431 with the OIP error body {@code {"error": "..."}}, as HTTP/1.1's 431 is; Netty's own
 * 431 has no body. Netty opens the stream for it and calls {@link
 * #handleServerHeaderDecodeSizeError} (its hook for that answer), then resets the stream: the body
 * is flushed from the hook so that it leaves before the reset, which would drop a DATA frame still
 * queued for flow control (a client whose window is full then gets Netty's 431 head without a body,
 * as before).
 */
final class Http2StreamErrors extends Http2FrameCodec {
  private static final Logger log = LoggerFactory.getLogger(Http2StreamErrors.class);

  private final RecentResets resets;

  private Http2StreamErrors(
      RecentResets resets,
      Http2ConnectionEncoder encoder,
      Http2ConnectionDecoder decoder,
      Http2Settings settings,
      boolean decoupleCloseAndGoAway,
      boolean flushPreface) {
    super(encoder, decoder, settings, decoupleCloseAndGoAway, flushPreface);
    this.resets = resets;
  }

  /** The codec of one server connection, with {@code settings} offered to the client. */
  static Http2FrameCodec forServer(Http2Settings settings) {
    return new Builder().initialSettings(settings).build();
  }

  @Override
  public void onError(ChannelHandlerContext ctx, boolean outbound, Throwable cause) {
    if (!outbound) {
      if (onStreamResetHere(cause)) {
        return;
      }
      openRefusedStream(cause);
    }
    super.onError(ctx, outbound, cause);
  }

  @Override
  protected void handleServerHeaderDecodeSizeError(ChannelHandlerContext ctx, Http2Stream stream) {
    Long limit =
        java.util.Objects.requireNonNullElse(
            decoder().localSettings().maxHeaderListSize(), Http2CodecUtil.DEFAULT_HEADER_LIST_SIZE);
    ByteBuf body =
        ctx.alloc()
            .buffer()
            .writeBytes(
                JsonStreams.object(
                    "error",
                    "the request's headers are over the server's limit of "
                        + limit
                        + " bytes (each header counted as HTTP/2 does: name + value + 32)"));
    Http2Headers headers =
        new DefaultHttp2Headers()
            .status(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE.codeAsText())
            .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
            .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
    encoder().writeHeaders(ctx, stream.id(), headers, 0, false, ctx.newPromise());
    encoder().writeData(ctx, stream.id(), body, 0, true, ctx.newPromise());
    flush(ctx); // the DATA frame out of the flow controller's queue before Netty's reset
  }

  /**
   * Whether {@code cause} is a frame on a stream this server has reset: ignored, logged at debug.
   */
  private boolean onStreamResetHere(Throwable cause) {
    Http2Exception e = Http2CodecUtil.getEmbeddedHttp2Exception(cause);
    if (!(e instanceof Http2Exception.StreamException closed)
        || closed.error() != Http2Error.STREAM_CLOSED
        || connection().stream(closed.streamId()) != null
        || !resets.contains(closed.streamId())) {
      return false;
    }
    log.debug("ignored a frame on stream {}, which this server reset", closed.streamId());
    return true;
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
      RecentResets resets = new RecentResets();
      Http2StreamErrors codec =
          new Http2StreamErrors(
              resets,
              new NotingResets(encoder, resets),
              decoder,
              settings,
              decoupleCloseAndGoAway(),
              flushPreface());
      codec.gracefulShutdownTimeoutMillis(gracefulShutdownTimeoutMillis());
      return codec;
    }
  }

  /** The codec's encoder, noting the id of each stream it sends RST_STREAM for. */
  private static final class NotingResets extends DecoratingHttp2ConnectionEncoder {
    private final RecentResets resets;

    NotingResets(Http2ConnectionEncoder encoder, RecentResets resets) {
      super(encoder);
      this.resets = resets;
    }

    @Override
    public ChannelFuture writeRstStream(
        ChannelHandlerContext ctx, int streamId, long errorCode, ChannelPromise promise) {
      resets.add(streamId);
      return super.writeRstStream(ctx, streamId, errorCode, promise);
    }
  }

  /**
   * The ids of the last {@value #SIZE} streams one connection reset, a ring allocated at the first
   * (a connection that never resets a stream pays nothing). "Recently", as RFC 9113 5.1 allows: a
   * frame on an older one draws Netty's RST_STREAM again, once. Loop-confined.
   */
  static final class RecentResets {
    static final int SIZE = 32;

    private int @Nullable [] ids;
    private int next;

    void add(int streamId) {
      int[] ring = ids;
      if (ring == null) {
        ring = new int[SIZE];
        ids = ring;
      }
      ring[next] = streamId;
      next = (next + 1) % SIZE;
    }

    boolean contains(int streamId) {
      int[] ring = ids;
      if (ring == null || streamId == 0) {
        return false;
      }
      for (int id : ring) {
        if (id == streamId) {
          return true;
        }
      }
      return false;
    }
  }
}
