package dev.fulcrum.server.grpc;

import dev.fulcrum.server.RateLimitedLog;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameListenerDecorator;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.Map;
import org.slf4j.event.Level;

/**
 * Ends a gRPC call whose request metadata is over the port's limit ({@code
 * --grpc-max-metadata-bytes}, by default the REST port's 8 KiB) with RESOURCE_EXHAUSTED and a
 * message that says so, before grpc sees the call; the connection and its other calls go on.
 *
 * <p>Why: grpc-netty enforces its metadata limit in the HPACK decoder, which answers HTTP 431
 * without a gRPC status (clients report UNKNOWN "Received http2 header with status: 431") and, from
 * 1.25 times the limit, ends the whole connection with GOAWAY (UNAVAILABLE "Socket closed" or
 * "Connection reset by peer", which a client's retry policy retries, and which fails the
 * connection's other calls). So the decoder's limit is {@link #decoderLimit}, far above, and this
 * decorator, in front of grpc's frame listener (installed by {@link BudgetedNegotiator}), applies
 * the limit itself, counting as HTTP/2 and the decoder do: name + value + 32 bytes per entry. Over
 * the decoder's limit its answers remain.
 *
 * <p>Threads: one instance per connection, confined to its event loop.
 */
final class InboundMetadataLimit extends Http2FrameListenerDecorator {
  /**
   * grpc-netty's own limit ({@code maxInboundMetadataSize}) for a port whose calls may send {@code
   * limit} bytes: its HPACK decoder enforces it and advertises it in SETTINGS_MAX_HEADER_LIST_SIZE.
   */
  static int decoderLimit(int limit) {
    return 8 * limit;
  }

  /** Bytes HTTP/2 counts for each header entry besides its name and value (RFC 9113 6.5.2). */
  private static final int ENTRY_OVERHEAD = 32;

  /** The largest request metadata a call may send ({@code --grpc-max-metadata-bytes}). */
  private final int limit;

  private final CallRefusal refusal;

  private InboundMetadataLimit(
      GrpcHttp2ConnectionHandler handler, int limit, RateLimitedLog refusals) {
    super(handler.decoder().frameListener());
    this.limit = limit;
    this.refusal = new CallRefusal(handler, listener, refusals);
  }

  /**
   * Puts the limit in front of {@code handler}'s frame listener; call before the handler reads a
   * frame, after any other decorator that must see only the calls admitted.
   */
  static void install(GrpcHttp2ConnectionHandler handler, int limit, RateLimitedLog refusals) {
    Http2ConnectionDecoder decoder = handler.decoder();
    decoder.frameListener(new InboundMetadataLimit(handler, limit, refusals));
  }

  /** The header list's size as HTTP/2 counts it. */
  static long size(Http2Headers headers) {
    long size = 0;
    for (Map.Entry<CharSequence, CharSequence> e : headers) {
      size += e.getKey().length() + e.getValue().length() + ENTRY_OVERHEAD;
    }
    return size;
  }

  @Override
  public void onHeadersRead(
      ChannelHandlerContext ctx,
      int streamId,
      Http2Headers headers,
      int padding,
      boolean endOfStream)
      throws Http2Exception {
    if (!refused(ctx, streamId, headers)) {
      super.onHeadersRead(ctx, streamId, headers, padding, endOfStream);
    }
  }

  @Override
  public void onHeadersRead(
      ChannelHandlerContext ctx,
      int streamId,
      Http2Headers headers,
      int streamDependency,
      short weight,
      boolean exclusive,
      int padding,
      boolean endOfStream)
      throws Http2Exception {
    if (!refused(ctx, streamId, headers)) {
      super.onHeadersRead(
          ctx, streamId, headers, streamDependency, weight, exclusive, padding, endOfStream);
    }
  }

  private boolean refused(ChannelHandlerContext ctx, int streamId, Http2Headers headers)
      throws Http2Exception {
    long size = size(headers);
    if (size <= limit) {
      return false;
    }
    String message =
        "request metadata of "
            + size
            + " bytes is over the server's limit of "
            + limit
            + " bytes (each entry counted as HTTP/2 does: name + value + 32)";
    refusal.refuse(ctx, streamId, message, Level.INFO, "grpc-metadata");
    return true;
  }
}
