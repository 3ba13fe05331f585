package dev.fulcrum.server.grpc;

import dev.fulcrum.server.ClientText;
import dev.fulcrum.server.RateLimitedLog;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameListenerDecorator;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;
import org.slf4j.event.Level;

/**
 * Refuses the client mistakes in a gRPC request's headers and message framing that grpc-java (1.85)
 * answers as a server fault or with a bare stream reset, before grpc sees them: the client gets a
 * status that names its mistake, and the log one rate-limited INFO line, no stack trace.
 *
 * <ul>
 *   <li>{@code content-type} missing, not {@code application/grpc[+...]}, or given more than once:
 *       HTTP 415 (grpc-java checks the first value only, so {@code application/grpc} followed by
 *       {@code text/plain} was served; its own 415 says grpc-status INTERNAL).
 *   <li>{@code grpc-timeout} not 1 to 8 digits and a unit (H M S m u n), or given more than once:
 *       INVALID_ARGUMENT. grpc-java parses the value when the call is created and an exception
 *       there (e.g. {@code abc}, {@code 999999999H}) is reset with INTERNAL_ERROR and logged twice
 *       at WARNING with stack traces; a negative value ({@code -1S}) is taken as a deadline already
 *       past and reset with CANCEL. A zero value is a deadline already past: DEADLINE_EXCEEDED.
 *   <li>a message prefix with reserved flag bits, or the compressed flag on a call without a {@code
 *       grpc-encoding} (or with {@code identity}), or the request ending in the middle of a
 *       message: INVALID_ARGUMENT. grpc-java's deframer says INTERNAL for each.
 * </ul>
 *
 * <p>Where: a decorator of the connection's HTTP/2 frame listener, installed in front of grpc's
 * (and of {@link InboundMessageBudget}) by {@link BudgetedNegotiator}, as the budget is. Refused
 * headers never reach grpc (no call is created); a refused message ends grpc's call as a client's
 * cancel would. Either way the client gets a trailers-only response and, if it was still sending, a
 * reset (NO_ERROR) that stops it. A framing mistake on a call whose response has begun (a stream
 * whose headers went out) is left to grpc-java, which can only reset that stream.
 *
 * <p>Threads: one instance per connection, confined to its event loop.
 */
final class RequestFraming extends Http2FrameListenerDecorator {
  private static final int PREFIX = 5;

  // grpc-netty's request headers are looked up by AsciiString only.
  private static final AsciiString CONTENT_TYPE = AsciiString.cached("content-type");
  private static final AsciiString GRPC_TIMEOUT = AsciiString.cached("grpc-timeout");
  private static final AsciiString GRPC_ENCODING = AsciiString.cached("grpc-encoding");

  private final GrpcHttp2ConnectionHandler handler;
  private final RateLimitedLog refusals;
  private final Http2Connection.PropertyKey key;

  private RequestFraming(GrpcHttp2ConnectionHandler handler, RateLimitedLog refusals) {
    super(handler.decoder().frameListener());
    this.handler = handler;
    this.refusals = refusals;
    this.key = handler.connection().newKey();
  }

  /** Puts the checks in front of {@code handler}'s frame listener, before it reads a frame. */
  static void install(GrpcHttp2ConnectionHandler handler, RateLimitedLog refusals) {
    handler.decoder().frameListener(new RequestFraming(handler, refusals));
  }

  /** What a stream's request has shown so far. */
  private static final class Request {
    /** The compressed flag may be set: the call names a grpc-encoding other than identity. */
    final boolean encoded;

    /** Bytes of the current message's prefix read so far; {@link #PREFIX} once in its body. */
    int prefixRead;

    long length;
    long bodyLeft;

    Request(boolean encoded) {
      this.encoded = encoded;
    }

    /** Moves past {@code data}; returns what is wrong with the framing, or null. */
    @Nullable String advance(ByteBuf data) {
      int i = data.readerIndex();
      int end = data.writerIndex();
      while (i < end) {
        if (prefixRead < PREFIX) {
          int b = data.getUnsignedByte(i++);
          if (prefixRead == 0) {
            if ((b & 0xFE) != 0) {
              return "the message prefix's flag byte is 0x"
                  + Integer.toHexString(b)
                  + ": only its lowest bit (compressed) may be set";
            }
            if (b == 1 && !encoded) {
              return "the message is marked compressed but the call names no grpc-encoding";
            }
          } else {
            length = (length << 8) | b;
          }
          if (++prefixRead == PREFIX) {
            bodyLeft = length;
            if (bodyLeft == 0) {
              prefixRead = 0;
              length = 0;
            }
          }
        } else {
          int take = (int) Math.min(bodyLeft, end - i);
          i += take;
          bodyLeft -= take;
          if (bodyLeft == 0) {
            prefixRead = 0;
            length = 0;
          }
        }
      }
      return null;
    }

    /** The request ended here: what is missing, or null when it ended between messages. */
    @Nullable String atEnd() {
      if (prefixRead == 0) {
        return null;
      }
      if (prefixRead < PREFIX) {
        return "the request ended inside a message's 5-byte prefix";
      }
      return "the request ended "
          + bodyLeft
          + " bytes short of the message's declared "
          + length
          + " bytes";
    }
  }

  @Override
  public void onHeadersRead(
      ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding, boolean end)
      throws Http2Exception {
    if (admit(ctx, streamId, headers, end)) {
      super.onHeadersRead(ctx, streamId, headers, padding, end);
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
      boolean end)
      throws Http2Exception {
    if (admit(ctx, streamId, headers, end)) {
      super.onHeadersRead(
          ctx, streamId, headers, streamDependency, weight, exclusive, padding, end);
    }
  }

  @Override
  public int onDataRead(
      ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean end)
      throws Http2Exception {
    Http2Stream stream = handler.connection().stream(streamId);
    Request request = stream == null ? null : stream.getProperty(key);
    if (stream == null || request == null || stream.isHeadersSent()) {
      return super.onDataRead(ctx, streamId, data, padding, end);
    }
    String wrong = request.advance(data);
    if (wrong == null && end) {
      wrong = request.atEnd();
    }
    if (wrong == null) {
      return super.onDataRead(ctx, streamId, data, padding, end);
    }
    stream.removeProperty(key);
    // grpc's call ends as on a client's cancel: its message reader and what it holds go.
    super.onRstStreamRead(ctx, streamId, Http2Error.CANCEL.code());
    refuse(ctx, stream, end, "200", 3, "malformed gRPC request: " + wrong, "grpc-framing");
    return data.readableBytes() + padding;
  }

  /**
   * Checks a stream's first headers; true to pass them on to grpc. Trailers (headers on a stream
   * already seen) pass unchecked.
   */
  private boolean admit(ChannelHandlerContext ctx, int streamId, Http2Headers headers, boolean end)
      throws Http2Exception {
    Http2Stream stream = handler.connection().stream(streamId);
    if (stream == null || stream.getProperty(key) != null) {
      return true;
    }
    List<CharSequence> types = headers.getAll(CONTENT_TYPE);
    if (types.size() != 1 || !isGrpc(types.get(0))) {
      String message =
          types.isEmpty()
              ? "a gRPC request needs content-type application/grpc; it has none"
              : "a gRPC request needs one content-type, application/grpc[+format]; it has "
                  + types.stream()
                      .map(t -> "'" + ClientText.printable(t.toString(), 64) + "'")
                      .toList();
      refuse(ctx, stream, end, "415", 3, message, "grpc-content-type");
      return false;
    }
    List<CharSequence> timeouts = headers.getAll(GRPC_TIMEOUT);
    if (!timeouts.isEmpty()) {
      String wrong = timeouts.size() > 1 ? "it is given more than once" : timeout(timeouts.get(0));
      if (wrong != null) {
        refuse(
            ctx,
            stream,
            end,
            "200",
            3,
            "malformed grpc-timeout "
                + timeouts.stream()
                    .map(t -> "'" + ClientText.printable(t.toString(), 64) + "'")
                    .toList()
                + ": "
                + wrong,
            "grpc-timeout");
        return false;
      }
      if (isZero(timeouts.get(0))) {
        refuse(
            ctx,
            stream,
            end,
            "200",
            4,
            "the call's deadline had passed when it arrived (grpc-timeout "
                + ClientText.printable(timeouts.get(0).toString(), 64)
                + ")",
            "grpc-deadline");
        return false;
      }
    }
    CharSequence encoding = headers.get(GRPC_ENCODING);
    stream.setProperty(key, new Request(encoding != null && !"identity".contentEquals(encoding)));
    return true;
  }

  /** {@code application/grpc}, alone or followed by {@code +format} or {@code ;parameters}. */
  static boolean isGrpc(CharSequence contentType) {
    String t = contentType.toString().toLowerCase(Locale.ROOT);
    String base = "application/grpc";
    return t.startsWith(base)
        && (t.length() == base.length()
            || t.charAt(base.length()) == '+'
            || t.charAt(base.length()) == ';');
  }

  /**
   * What is wrong with a grpc-timeout value (gRPC over HTTP/2: 1 to 8 digits and a unit), or null.
   */
  static @Nullable String timeout(CharSequence value) {
    int n = value.length();
    if (n < 2 || n > 9) {
      return "it must be 1 to 8 digits followed by a unit (H, M, S, m, u or n)";
    }
    for (int i = 0; i < n - 1; i++) {
      char c = value.charAt(i);
      if (c < '0' || c > '9') {
        return "it must be 1 to 8 digits followed by a unit (H, M, S, m, u or n)";
      }
    }
    if ("HMSmun".indexOf(value.charAt(n - 1)) < 0) {
      return "its unit must be one of H, M, S, m, u or n";
    }
    return null;
  }

  private static boolean isZero(CharSequence value) {
    for (int i = 0; i < value.length() - 1; i++) {
      if (value.charAt(i) != '0') {
        return false;
      }
    }
    return true;
  }

  /**
   * Answers {@code stream} with a trailers-only response (and, for 415, the message as a text
   * body), then resets it if the client was still sending.
   */
  private void refuse(
      ChannelHandlerContext ctx,
      Http2Stream stream,
      boolean clientDone,
      String httpStatus,
      int grpcStatus,
      String message,
      String kind)
      throws Http2Exception {
    int id = stream.id();
    refusals.log(
        Level.INFO,
        kind,
        "gRPC call refused: " + message + " (client " + ctx.channel().remoteAddress() + ")",
        null);
    ChannelPromise sent = ctx.newPromise();
    if (stream.isHeadersSent()) {
      sent.setSuccess();
    } else {
      boolean text = !"200".equals(httpStatus);
      Http2Headers head =
          new DefaultHttp2Headers()
              .status(httpStatus)
              .set("content-type", text ? "text/plain; charset=utf-8" : "application/grpc")
              .set("grpc-status", Integer.toString(grpcStatus))
              .set("grpc-message", percentEncode(message));
      handler.encoder().writeHeaders(ctx, id, head, 0, !text, text ? ctx.newPromise() : sent);
      if (text) {
        handler
            .encoder()
            .writeData(ctx, id, ByteBufUtil.writeUtf8(ctx.alloc(), message + "\n"), 0, true, sent);
      }
    }
    if (!clientDone) {
      // Once the whole answer is out (a reset would discard DATA still queued for the stream), ask
      // the client to stop sending, without error (RFC 9113 8.1).
      sent.addListener(
          f -> {
            if (handler.connection().stream(id) != null) {
              handler.resetStream(ctx, id, Http2Error.NO_ERROR.code(), ctx.newPromise());
              ctx.flush();
            }
          });
    }
    ctx.flush();
  }

  /** The grpc-message form of {@code message}: percent-encoded UTF-8 outside printable ASCII. */
  static String percentEncode(String message) {
    StringBuilder out = new StringBuilder(message.length());
    for (byte b : message.getBytes(StandardCharsets.UTF_8)) {
      if (b >= 0x20 && b < 0x7F && b != '%') {
        out.append((char) b);
      } else {
        out.append('%').append(String.format(Locale.ROOT, "%02X", b & 0xFF));
      }
    }
    return out.toString();
  }
}
