package dev.fulcrum.server.http;

import dev.fulcrum.server.ClientText;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.HttpContentDecompressor;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Netty's request body decompressor, refusing the content codings it cannot undo. Netty's passes a
 * body in a coding it has no decoder for (br or zstd without their libraries, any unknown name,
 * codings stacked as {@code gzip, gzip}) on as if it were not encoded: the client got a confusing
 * JSON error, or had one layer of two removed. Here such a request is refused at its head: a {@link
 * RefusedRequest} (415, RFC 9110 15.5.16, with {@code Accept-Encoding}) goes on to the dispatcher
 * in its place, answered in order, and its body is dropped as it arrives, never buffered. The
 * connection stays open for the next request when the body can be skipped within the limits ({@link
 * RefusedRequest#keepsConnection}); otherwise the 415 says {@code Connection: close} and the
 * connection closes after it (an HTTP/2 stream is reset with NO_ERROR). One instance per connection
 * or HTTP/2 stream, on its event loop.
 */
final class KnownCodings extends HttpContentDecompressor {
  private static final Logger log = LoggerFactory.getLogger(KnownCodings.class);

  /** What the 415 names in {@code Accept-Encoding}. */
  static final String ACCEPTED = "gzip, deflate";

  /** The largest body of a refused request that is read and dropped to keep its connection. */
  private final long maxDrained;

  /** Whether the rest of a refused request's body is being dropped. */
  private boolean dropping;

  /**
   * The target of the last request head that passed: a body of it that cannot be decoded fails in
   * this handler, and the dispatcher, which never saw that request, answers it in its API's error
   * shape ({@link #lastHeadShape}, told from it only then).
   */
  private @Nullable String lastHeadUri;

  /**
   * @param maxDrained the largest declared body of a refused request skipped to keep the connection
   *     (the port's input limit: what a request may send anyway)
   */
  KnownCodings(long maxDrained) {
    super(0);
    this.maxDrained = maxDrained;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, HttpObject msg, List<Object> out)
      throws Exception {
    if (dropping) {
      if (!(msg instanceof HttpMessage)) {
        dropping = !(msg instanceof LastHttpContent); // the decoder releases msg
        return;
      }
      dropping = false; // a new message while dropping: the codec ended the last one early
    }
    if (msg instanceof HttpRequest head) {
      lastHeadUri = head.uri();
    }
    try {
      super.decode(ctx, msg, out);
    } catch (UnsupportedCoding e) {
      if (!(msg instanceof HttpRequest request)) {
        throw e;
      }
      dropping = !(msg instanceof LastHttpContent);
      out.add(
          RefusedRequest.unsupportedCoding(
              !RefusedRequest.keepsConnection(request, maxDrained),
              String.valueOf(e.getMessage()),
              ErrorShape.of(request.uri())));
    }
  }

  /**
   * The error shape of the last request head that passed ({@link ErrorShape#of}); read by the
   * dispatcher when a body fails to decode (the failure is raised while that body passes).
   */
  ErrorShape lastHeadShape() {
    String uri = lastHeadUri;
    return uri == null ? ErrorShape.OIP : ErrorShape.of(uri);
  }

  @Override
  protected @Nullable EmbeddedChannel newContentDecoder(String contentEncoding) throws Exception {
    String coding = contentEncoding.strip().toLowerCase(Locale.ROOT);
    if (coding.indexOf(',') >= 0) {
      throw new UnsupportedCoding(
          "the request body's Content-Encoding '"
              + ClientText.printable(contentEncoding, 100)
              + "' stacks codings; send one of: "
              + ACCEPTED);
    }
    EmbeddedChannel decoder = super.newContentDecoder(contentEncoding);
    // Netty asks with the Transfer-Encoding's first coding when there is no Content-Encoding:
    // "chunked" (which the HTTP codec has undone; HTTP/2 requests converted to HTTP/1.1 objects
    // without a length carry it) is no content coding either.
    if (decoder == null && !coding.equals("identity") && !coding.equals("chunked")) {
      throw new UnsupportedCoding(
          "the request body's Content-Encoding '"
              + ClientText.printable(contentEncoding, 100)
              + "' is not supported; send one of: "
              + ACCEPTED
              + " (or none)");
    }
    if (decoder != null) {
      InflatesToSomething check = new InflatesToSomething(coding);
      decoder.pipeline().addFirst(check.input);
      decoder.pipeline().addLast(check.output);
    }
    return decoder;
  }

  /**
   * Fails a body whose bytes inflate to nothing: Netty's inflater waits for the rest of a stream
   * that stops early and, when the body ends, passes on what it inflated so far, which for a body
   * shorter than a gzip header is nothing; the client was then told its body was empty. (A stream
   * cut later inflates to a prefix, which the body's decoder finds short.)
   *
   * <p>A body the inflater already refused (not gzip at all) is not failed again: the inflater's
   * exception is the request's answer (a 400), and it leaves the decoder's channel open, which
   * Netty closes only when the next request or the connection's end cleans it up. A second failure
   * raised then was logged by the decoder's channel as a WARN with its stack trace ("More than one
   * exception was raised") and reached the dispatcher after its answer, as if the server had
   * failed. So after the first failure any later one is dropped here, at debug. Confined to the
   * decoder's channel.
   */
  private static final class InflatesToSomething {
    private final String coding;
    private long in;
    private long out;

    /** Whether the decoder's channel has raised an exception (the request is answered by it). */
    private boolean failed;

    /** First in the decoder's pipeline: counts the bytes sent, and checks once they end. */
    final ChannelInboundHandlerAdapter input =
        new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf b) {
              in += b.readableBytes();
            }
            ctx.fireChannelRead(msg);
          }

          @Override
          public void channelInactive(ChannelHandlerContext ctx) {
            ctx.fireChannelInactive(); // the inflater takes what is left
            if (in > 0 && out == 0 && !failed) {
              throw new DecoderException(
                  "its "
                      + in
                      + (in == 1 ? " byte inflates" : " bytes inflate")
                      + " to nothing (not a whole "
                      + ClientText.printable(coding, 20)
                      + " stream)");
            }
          }
        };

    /** Last in the decoder's pipeline: counts the bytes inflated. */
    final ChannelInboundHandlerAdapter output =
        new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf b) {
              out += b.readableBytes();
            }
            ctx.fireChannelRead(msg);
          }

          @Override
          public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (failed) {
              log.debug("a body already refused failed again: {}", cause.toString());
              return;
            }
            failed = true;
            ctx.fireExceptionCaught(cause); // the decoder's channel raises it to the dispatcher
          }
        };

    InflatesToSomething(String coding) {
      this.coding = coding;
    }
  }

  /** A request whose body is in a coding this server does not undo. */
  static final class UnsupportedCoding extends DecoderException {
    private static final long serialVersionUID = 1L;

    UnsupportedCoding(String message) {
      super(message);
    }
  }
}
