package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class KnownCodingsTest {
  /**
   * A body that is not gzip fails once: the inflater refuses it again when its channel is cleaned
   * up (the next request, the connection's end), and the "inflates to nothing" check would fail it
   * a third time; those reached the dispatcher after its 400 as a server fault (a WARN, and a close
   * at once), with a "More than one exception" stack trace from Netty's decoder channel.
   */
  @Test
  void aBodyThatIsNotGzipFailsOnceOnly() {
    List<Throwable> seen = new CopyOnWriteArrayList<>();
    EmbeddedChannel ch =
        new EmbeddedChannel(
            new KnownCodings(1 << 20),
            new ChannelInboundHandlerAdapter() {
              @Override
              public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
              }

              @Override
              public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                seen.add(cause);
              }
            });
    ch.writeInbound(gzipRequest());
    ch.writeInbound(
        new DefaultLastHttpContent(
            Unpooled.copiedBuffer("this is not gzip at all", StandardCharsets.US_ASCII)));
    assertThat(seen).hasSize(1);
    assertThat(seen.get(0)).isInstanceOf(DecoderException.class).hasMessageContaining("GZIP");
    ch.writeInbound(gzipRequest()); // a pipelined request cleans the failed decoder up
    ch.finishAndReleaseAll(); // and so does the connection's end
    assertThat(seen).hasSize(1);
  }

  private static HttpRequest gzipRequest() {
    HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v2");
    r.headers().set(HttpHeaderNames.CONTENT_ENCODING, "gzip");
    r.headers().set(HttpHeaderNames.CONTENT_LENGTH, 23);
    return r;
  }
}
