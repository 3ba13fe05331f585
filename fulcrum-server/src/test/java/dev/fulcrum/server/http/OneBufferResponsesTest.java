package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A response's header and body buffers reach the socket as one buffer, byte for byte the same. */
class OneBufferResponsesTest {
  private static final byte[] GET =
      "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  /** The codec behind the handler, as on a cleartext HTTP/1.1 connection, with one request read. */
  private static EmbeddedChannel channel(boolean joining, int requests) {
    EmbeddedChannel ch =
        joining
            ? new EmbeddedChannel(new OneBufferResponses(), HttpPipeline.http1Codec())
            : new EmbeddedChannel(HttpPipeline.http1Codec());
    for (int i = 0; i < requests; i++) {
      ch.writeInbound(Unpooled.wrappedBuffer(GET));
      Object request = ch.readInbound();
      ReferenceCountUtil.release(request);
      ReferenceCountUtil.release(ch.readInbound()); // the empty last content
    }
    return ch;
  }

  private static FullHttpResponse json(int bodyBytes) {
    byte[] body = new byte[bodyBytes];
    Arrays.fill(body, (byte) 'x');
    FullHttpResponse r =
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.directBuffer().writeBytes(body));
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
    HttpUtil.setContentLength(r, bodyBytes);
    return r;
  }

  /** The buffers written to the socket, each as its bytes (released). */
  private static List<byte[]> written(EmbeddedChannel ch) {
    List<byte[]> out = new ArrayList<>();
    ByteBuf b;
    while ((b = ch.readOutbound()) != null) {
      byte[] bytes = new byte[b.readableBytes()];
      b.readBytes(bytes);
      b.release();
      out.add(bytes);
    }
    return out;
  }

  private static byte[] concat(List<byte[]> parts) {
    int n = parts.stream().mapToInt(p -> p.length).sum();
    byte[] all = new byte[n];
    int at = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, all, at, p.length);
      at += p.length;
    }
    return all;
  }

  @Test
  void aJsonAnswerOverTheEncodersCopyLimitIsWrittenAsOneBufferWithTheSameBytes() {
    EmbeddedChannel plain = channel(false, 1);
    plain.writeAndFlush(json(2000));
    List<byte[]> two = written(plain);
    assertThat(two).as("Netty's encoder alone: header buffer and body buffer").hasSize(2);

    EmbeddedChannel ch = channel(true, 1);
    ChannelFuture f = ch.writeAndFlush(json(2000));
    List<byte[]> one = written(ch);
    assertThat(one).hasSize(1);
    assertThat(one.get(0)).isEqualTo(concat(two));
    assertThat(f.isSuccess()).as("the writer's promise completes with the joined write").isTrue();
    assertThat(ch.finishAndReleaseAll()).isFalse();
    plain.finishAndReleaseAll();
  }

  @Test
  void aCompositeBodyOfReadOnlyPartsIsJoinedWithTheSameBytes() {
    // a binary response's body: its JSON header, then each tensor's bytes as a read-only view
    byte[] header = "{\"outputs\":[]}".getBytes(StandardCharsets.US_ASCII);
    byte[] tensor = new byte[300];
    for (int i = 0; i < tensor.length; i++) {
      tensor[i] = (byte) (i * 7);
    }
    ByteBuf body =
        Unpooled.compositeBuffer()
            .addComponent(true, Unpooled.directBuffer().writeBytes(header))
            .addComponent(
                true, Unpooled.wrappedBuffer(java.nio.ByteBuffer.wrap(tensor).asReadOnlyBuffer()))
            .addComponent(true, Unpooled.wrappedBuffer(tensor, 0, 5));
    ByteBuf head =
        Unpooled.directBuffer()
            .writeBytes("HTTP/1.1 200 OK\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    EmbeddedChannel ch = new EmbeddedChannel(new io.netty.channel.ChannelInboundHandlerAdapter());
    ByteBuf joined = OneBufferResponses.join(ch.pipeline().firstContext(), head, body);
    byte[] expected =
        concat(
            List.of(
                "HTTP/1.1 200 OK\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
                header,
                tensor,
                Arrays.copyOf(tensor, 5)));
    byte[] got = new byte[joined.readableBytes()];
    joined.getBytes(joined.readerIndex(), got);
    assertThat(got).isEqualTo(expected);
    assertThat(head.refCnt()).isZero();
    assertThat(body.refCnt()).isZero();
    joined.release();
    ch.finishAndReleaseAll();
  }

  @Test
  void pipelinedAnswersStayInOrderAndEachIsOneBuffer() {
    EmbeddedChannel ch = channel(true, 3);
    List<ChannelFuture> futures = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      futures.add(ch.writeAndFlush(json(1000 + i)));
    }
    List<byte[]> out = written(ch);
    assertThat(out).hasSize(3);
    for (int i = 0; i < 3; i++) {
      String s = new String(out.get(i), StandardCharsets.US_ASCII);
      assertThat(s).startsWith("HTTP/1.1 200 OK").endsWith("x".repeat(1000 + i));
      assertThat(futures.get(i).isSuccess()).isTrue();
    }
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void aBodyOverTheJoinLimitIsPassedOnAsItsOwnBufferAfterTheHeaders() {
    int big = OneBufferResponses.MAX_JOINED + 1;
    EmbeddedChannel ch = channel(true, 1);
    ChannelFuture f = ch.writeAndFlush(json(big));
    List<byte[]> out = written(ch);
    assertThat(out).hasSize(2);
    assertThat(new String(out.get(0), StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200 OK");
    assertThat(out.get(1)).hasSize(big);
    assertThat(f.isSuccess()).isTrue();
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void aStreamedAnswerKeepsItsBytesAndOrderAcrossFlushes() {
    EmbeddedChannel plain = channel(false, 1);
    EmbeddedChannel ch = channel(true, 1);
    for (EmbeddedChannel c : List.of(plain, ch)) {
      HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      HttpUtil.setTransferEncodingChunked(head, true);
      c.writeAndFlush(head);
      c.write(
          new DefaultHttpContent(Unpooled.copiedBuffer("data: one\n\n", StandardCharsets.UTF_8)));
      c.writeAndFlush(
          new DefaultHttpContent(Unpooled.copiedBuffer("data: two\n\n", StandardCharsets.UTF_8)));
      c.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
    }
    List<byte[]> expected = written(plain);
    List<byte[]> joined = written(ch);
    assertThat(concat(joined)).isEqualTo(concat(expected));
    assertThat(joined.size()).isLessThanOrEqualTo(expected.size());
    assertThat(ch.finishAndReleaseAll()).isFalse();
    plain.finishAndReleaseAll();
  }

  @Test
  void aHeldBufferIsPassedOnWhenTheHandlerIsRemovedOrTheChannelCloses() {
    EmbeddedChannel ch = new EmbeddedChannel(new OneBufferResponses());
    ChannelFuture f = ch.write(Unpooled.copiedBuffer("held", StandardCharsets.US_ASCII));
    assertThat(ch.<Object>readOutbound()).as("held until a flush").isNull();
    ch.pipeline().remove(OneBufferResponses.class);
    ch.flush();
    assertThat(concat(written(ch))).isEqualTo("held".getBytes(StandardCharsets.US_ASCII));
    assertThat(f.isSuccess()).isTrue();

    EmbeddedChannel closing = new EmbeddedChannel(new OneBufferResponses());
    ChannelFuture g = closing.write(Unpooled.copiedBuffer("late", StandardCharsets.US_ASCII));
    closing.close();
    assertThat(g.isDone()).as("written (or failed) by the close, never left pending").isTrue();
    closing.finishAndReleaseAll();
  }
}
