package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.server.security.AccessPolicy;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a body being aggregated holds: its own buffers, sized to what it declared and counted by the
 * budget as they are; never the read buffers it arrived in.
 */
class LimitedAggregatorTest {
  private static final int READ = 48 * 1024; // a socket read, less than the 64 KiB buffer it fills
  private static final int LIMIT = 64 << 20;

  private static HttpRequest head(long contentLength) {
    HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v2/x");
    if (contentLength >= 0) {
      r.headers().set(HttpHeaderNames.CONTENT_LENGTH, contentLength);
    } else {
      r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
    }
    return r;
  }

  /** A read's bytes as the HTTP codec passes them: a slice of a larger read buffer. */
  private static ByteBuf read(int n, int fill) {
    byte[] bytes = new byte[n];
    for (int i = 0; i < n; i++) {
      bytes[i] = (byte) (fill + i);
    }
    ByteBuf buffer = Unpooled.directBuffer(64 * 1024).writeBytes(bytes);
    ByteBuf slice = buffer.retainedSlice(0, n);
    buffer.release();
    return slice;
  }

  @Test
  void aDeclaredBodyIsHeldInBuffersOfExactlyItsLengthAndTheReadsAreReleasedAtOnce() {
    BufferBudget budget = new BufferBudget(1L << 30);
    EmbeddedChannel ch =
        new EmbeddedChannel(new LimitedAggregator(LIMIT, budget, AccessPolicy.open()));
    int length = 10 * 1024 * 1024 + 12_345;
    ch.writeInbound(head(length));
    List<ByteBuf> reads = new ArrayList<>();
    int sent = 0;
    while (length - sent > READ) {
      ByteBuf r = read(READ, sent);
      reads.add(r);
      ch.writeInbound(new DefaultHttpContent(r));
      sent += READ;
      assertThat(budget.held()).isEqualTo(length); // the declared length, from the head on
    }
    assertThat(reads).allSatisfy(r -> assertThat(r.refCnt()).isZero());
    Object early = ch.readInbound();
    assertThat(early).isNull();

    ch.writeInbound(new DefaultLastHttpContent(read(length - sent, sent)));
    FullHttpRequest whole = ch.readInbound();
    try {
      ByteBuf body = whole.content();
      assertThat(body.readableBytes()).isEqualTo(length);
      assertThat(body.capacity()).isEqualTo(length);
      assertThat(((CompositeByteBuf) body).numComponents())
          .isEqualTo((length + LimitedAggregator.BLOCK - 1) / LimitedAggregator.BLOCK);
      for (int i = 0; i < length; i += 4099) {
        assertThat(body.getByte(i)).isEqualTo((byte) i);
      }
      assertThat(budget.held()).isZero();
    } finally {
      whole.release();
    }
    ch.finishAndReleaseAll();
  }

  @Test
  void aBodyOfUnknownLengthReservesTheBuffersItIsCopiedInto() {
    BufferBudget budget = new BufferBudget(1L << 30);
    EmbeddedChannel ch =
        new EmbeddedChannel(new LimitedAggregator(LIMIT, budget, AccessPolicy.open()));
    ch.writeInbound(head(-1));
    long sent = 0;
    for (int i = 0; i < 200; i++) {
      ch.writeInbound(new DefaultHttpContent(read(READ, i)));
      sent += READ;
      assertThat(budget.held()).isBetween(sent, 2 * sent + 64 * 1024);
    }
    ch.writeInbound(new DefaultLastHttpContent(read(10, 0)));
    FullHttpRequest whole = ch.readInbound();
    try {
      assertThat(whole.content().readableBytes()).isEqualTo(sent + 10);
      assertThat(whole.headers().getInt(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(sent + 10);
      assertThat(budget.held()).isZero();
    } finally {
      whole.release();
    }
    ch.finishAndReleaseAll();
  }

  @Test
  void aBodyOverTheBudgetIsRefusedAndItsBuffersFreed() {
    BufferBudget budget = new BufferBudget(300 * 1024);
    EmbeddedChannel ch =
        new EmbeddedChannel(new LimitedAggregator(LIMIT, budget, AccessPolicy.open()));
    ch.writeInbound(head(-1));
    for (int i = 0; i < 10; i++) {
      ch.writeInbound(new DefaultHttpContent(read(READ, i)));
    }
    Object refused = ch.readInbound();
    assertThat(refused).isInstanceOf(RefusedRequest.class);
    assertThat(budget.held()).isZero();
    ch.finishAndReleaseAll();
  }

  @Test
  void aChannelClosedMidBodyGivesItsBufferBack() {
    BufferBudget budget = new BufferBudget(1L << 30);
    EmbeddedChannel ch =
        new EmbeddedChannel(new LimitedAggregator(LIMIT, budget, AccessPolicy.open()));
    ch.writeInbound(head(-1));
    ch.writeInbound(new DefaultHttpContent(read(READ, 0)));
    assertThat(budget.held()).isPositive();
    assertThatThrownBy(ch::finishAndReleaseAll) // Netty's aggregator reports the cut message
        .isInstanceOf(PrematureChannelClosureException.class);
    assertThat(budget.held()).isZero();
  }
}
