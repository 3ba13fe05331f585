package dev.fulcrum.server.grpc;

import dev.fulcrum.server.RateLimitedLog;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameListener;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Stream;
import org.slf4j.event.Level;

/**
 * Ends one gRPC call with RESOURCE_EXHAUSTED from in front of grpc's frame listener, for the frame
 * listener decorators that refuse calls ({@link InboundMetadataLimit}, {@link
 * InboundMessageBudget}): a rate-limited log line, grpc's call ended as on a client's cancel, a
 * trailers-only response with the status and message (or, when the call's response headers went out
 * already, RST_STREAM {@code ENHANCE_YOUR_CALM}, which gRPC clients also read as
 * RESOURCE_EXHAUSTED), and the stream reset so that the client stops sending. The connection and
 * its other calls go on.
 *
 * <p>Threads: one instance per connection and decorator, used on the connection's event loop only.
 */
final class CallRefusal {
  private final GrpcHttp2ConnectionHandler handler;

  /** The listener behind the refusing decorator: told of the end of a call it knows. */
  private final Http2FrameListener behind;

  private final RateLimitedLog refusals;

  CallRefusal(
      GrpcHttp2ConnectionHandler handler, Http2FrameListener behind, RateLimitedLog refusals) {
    this.handler = handler;
    this.behind = behind;
    this.refusals = refusals;
  }

  /**
   * Ends the call on {@code streamId} with RESOURCE_EXHAUSTED and {@code message}.
   *
   * @param level and {@code kind}: the log line's level and its rate-limiting key
   */
  void refuse(ChannelHandlerContext ctx, int streamId, String message, Level level, String kind)
      throws Http2Exception {
    refusals.log(
        level,
        kind,
        "gRPC call ended with RESOURCE_EXHAUSTED: "
            + message
            + " (client "
            + ctx.channel().remoteAddress()
            + ")",
        null);
    // grpc's call ends as on a client's cancel: its message reader and the bytes it holds go. A
    // call whose headers were refused never reached grpc, which ignores the reset.
    behind.onRstStreamRead(ctx, streamId, Http2Error.CANCEL.code());
    long resetCode = Http2Error.ENHANCE_YOUR_CALM.code();
    Http2Stream stream = handler.connection().stream(streamId);
    if (stream != null && !stream.isHeadersSent()) {
      Http2Headers trailers =
          new DefaultHttp2Headers()
              .status("200")
              .set("content-type", "application/grpc")
              .set("grpc-status", "8") // RESOURCE_EXHAUSTED
              .set("grpc-message", message);
      handler.encoder().writeHeaders(ctx, streamId, trailers, 0, true, ctx.newPromise());
      // A complete response went out: ask the client to stop sending, without error (RFC 9113
      // 8.1).
      resetCode = Http2Error.NO_ERROR.code();
    }
    handler.resetStream(ctx, streamId, resetCode, ctx.newPromise());
    ctx.flush();
  }
}
