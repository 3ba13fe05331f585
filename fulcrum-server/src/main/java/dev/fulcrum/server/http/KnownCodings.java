package dev.fulcrum.server.http;

import dev.fulcrum.server.ClientText;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.HttpContentDecompressor;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Netty's request body decompressor, refusing the content codings it cannot undo. Netty's passes a
 * body in a coding it has no decoder for (br or zstd without their libraries, any unknown name,
 * codings stacked as {@code gzip, gzip}) on as if it were not encoded: the client got a confusing
 * JSON error, or had one layer of two removed. Here such a request fails with {@link
 * UnsupportedCoding}, which the dispatcher answers 415 (RFC 9110 15.5.16). One instance per
 * connection or HTTP/2 stream, on its event loop.
 */
final class KnownCodings extends HttpContentDecompressor {
  /** What the 415 names in {@code Accept-Encoding}. */
  static final String ACCEPTED = "gzip, deflate";

  KnownCodings() {
    super(0);
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
    return decoder;
  }

  /** A request whose body is in a coding this server does not undo. */
  static final class UnsupportedCoding extends DecoderException {
    private static final long serialVersionUID = 1L;

    UnsupportedCoding(String message) {
      super(message);
    }
  }
}
