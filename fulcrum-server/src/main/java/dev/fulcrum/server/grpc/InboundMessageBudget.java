package dev.fulcrum.server.grpc;

import dev.fulcrum.server.RateLimitedLog;
import dev.fulcrum.server.http.BufferBudget;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameListenerDecorator;
import io.netty.handler.codec.http2.Http2Stream;
import org.slf4j.event.Level;

/**
 * Counts the bytes of gRPC request messages that a connection has received but that are not yet
 * whole, against the connection's share of the buffered-bytes budget, and ends the call whose bytes
 * would exceed it with RESOURCE_EXHAUSTED at once.
 *
 * <p>Why here: grpc-java's message reader takes a unary call's bytes as they arrive and gives the
 * HTTP/2 flow-control window back before the message is whole (the call always has demand), so
 * nothing but the largest message size bounds what a partial message holds; grpc-netty offers no
 * setting for that. It does let a {@code ProtocolNegotiator} see each connection's HTTP/2 handler
 * ({@link BudgetedNegotiator}), whose decoder's frame listener is Netty's public API: this
 * decorator sits in front of grpc's listener and sees every DATA frame before grpc does.
 *
 * <p>What counts: per stream, the body bytes of the message being received, from its 5-byte length
 * prefix until its last byte (then grpc delivers it to the call at once and the bytes are given
 * back). Whole messages that a streaming call has not asked for yet are not counted: grpc holds
 * those back from the flow-control window, which bounds them. A stream that closes (answered,
 * cancelled, reset, or the connection gone) gives back what it held.
 *
 * <p>Over the budget: grpc's call is ended as if the client had cancelled it (its reader and the
 * bytes it holds are released), the client gets a trailers-only response with RESOURCE_EXHAUSTED
 * (or, when the call's response headers went out already, RST_STREAM {@code ENHANCE_YOUR_CALM},
 * which gRPC clients also read as RESOURCE_EXHAUSTED), and the stream is reset so that the client
 * stops sending; frames still in flight are discarded by Netty and their bytes returned to the
 * connection's window. The connection and its other calls go on.
 *
 * <p>Threads: one instance per connection, confined to its event loop (frame callbacks and stream
 * closes both run there); the budget it draws on is shared and thread-safe.
 */
final class InboundMessageBudget extends Http2FrameListenerDecorator {
  /** The gRPC message prefix: a compressed flag and a 4-byte length. */
  private static final int PREFIX = 5;

  private final GrpcHttp2ConnectionHandler handler;
  private final BufferBudget budget;

  /** The largest request message accepted ({@code --grpc-max-message-size}). */
  private final int maxMessageSize;

  private final CallRefusal refusal;
  private final Http2Connection.PropertyKey key;

  private InboundMessageBudget(
      GrpcHttp2ConnectionHandler handler,
      BufferBudget budget,
      int maxMessageSize,
      RateLimitedLog refusals) {
    super(handler.decoder().frameListener());
    this.handler = handler;
    this.budget = budget;
    this.maxMessageSize = maxMessageSize;
    this.refusal = new CallRefusal(handler, listener, refusals);
    this.key = handler.connection().newKey();
  }

  /**
   * Puts a budget in front of {@code handler}'s frame listener; call before the handler reads a
   * frame (from the protocol negotiator).
   *
   * @param budget the connection's share of the server-wide budget
   * @param maxMessageSize the largest request message accepted: a stream whose next message
   *     declares more is refused as soon as its length prefix is read
   */
  static void install(
      GrpcHttp2ConnectionHandler handler,
      BufferBudget budget,
      int maxMessageSize,
      RateLimitedLog refusals) {
    InboundMessageBudget counter =
        new InboundMessageBudget(handler, budget, maxMessageSize, refusals);
    Http2ConnectionDecoder decoder = handler.decoder();
    decoder.frameListener(counter);
    handler
        .connection()
        .addListener(
            new Http2ConnectionAdapter() {
              @Override
              public void onStreamClosed(Http2Stream stream) {
                counter.giveBack(stream);
              }
            });
  }

  @Override
  public int onDataRead(
      ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endOfStream)
      throws Http2Exception {
    Http2Stream stream = handler.connection().stream(streamId);
    if (stream == null) {
      return super.onDataRead(ctx, streamId, data, padding, endOfStream);
    }
    PartialMessage partial = stream.getProperty(key);
    if (partial == null) {
      partial = new PartialMessage();
      stream.setProperty(key, partial);
    }
    long before = partial.held;
    long tooLarge = partial.advance(data, maxMessageSize);
    if (tooLarge >= 0) {
      // grpc-java would refuse it too, but once the call's response headers are out it resets the
      // stream with CANCEL, which clients read as CANCELLED: refused here, it is RESOURCE_EXHAUSTED
      // either way, as for a unary call. Its bytes were never counted.
      partial.held = before;
      giveBack(stream);
      refusal.refuse(
          ctx,
          streamId,
          "gRPC message exceeds maximum size " + maxMessageSize + ": " + tooLarge,
          Level.INFO,
          "grpc-too-large");
      return data.readableBytes() + padding;
    }
    long grown = partial.held - before;
    if (grown > 0 && !budget.tryReserve(grown)) {
      partial.held = before;
      giveBack(stream);
      refusal.refuse(
          ctx,
          streamId,
          "the server holds as many request bytes as it may (at most "
              + budget.limit()
              + " bytes of unfinished messages on a connection, and a server-wide budget); retry"
              + " later",
          Level.WARN,
          "grpc-budget");
      return data.readableBytes() + padding;
    }
    if (grown < 0) {
      budget.release(-grown);
    }
    return super.onDataRead(ctx, streamId, data, padding, endOfStream);
  }

  /** Gives back what {@code stream}'s partial message holds. */
  private void giveBack(Http2Stream stream) {
    PartialMessage partial = stream.getProperty(key);
    if (partial != null && partial.held > 0) {
      budget.release(partial.held);
      partial.held = 0;
    }
  }

  /**
   * Where a stream is in its request messages: the length prefix being read, or the body bytes
   * still to come. Confined to the connection's event loop.
   */
  private static final class PartialMessage {
    /** Bytes of the current message's prefix read so far; {@link #PREFIX} once in its body. */
    int prefixRead;

    /** The current message's declared length, as its prefix bytes arrive. */
    long length;

    /** Body bytes of the current message still to come. */
    long bodyLeft;

    /** Body bytes of the current message received so far (counted against the budget). */
    long held;

    /**
     * Moves past {@code data}'s bytes: prefixes are parsed, whole messages end the count.
     *
     * @return the declared length of a message longer than {@code maxMessageSize} (this stream's
     *     bytes after its prefix are then not looked at), or -1
     */
    long advance(ByteBuf data, int maxMessageSize) {
      int i = data.readerIndex();
      int end = data.writerIndex();
      while (i < end) {
        if (prefixRead < PREFIX) {
          int b = data.getUnsignedByte(i++);
          if (prefixRead > 0) {
            length = (length << 8) | b;
          }
          if (++prefixRead == PREFIX) {
            if (length > maxMessageSize) {
              return length;
            }
            bodyLeft = length;
            held = 0;
            if (bodyLeft == 0) {
              next();
            }
          }
        } else {
          int take = (int) Math.min(bodyLeft, end - i);
          i += take;
          bodyLeft -= take;
          held += take;
          if (bodyLeft == 0) {
            next();
          }
        }
      }
      return -1;
    }

    private void next() {
      prefixRead = 0;
      length = 0;
      bodyLeft = 0;
      held = 0;
    }
  }
}
