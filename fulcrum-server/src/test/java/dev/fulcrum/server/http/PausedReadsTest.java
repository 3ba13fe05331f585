package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

/**
 * When a connection's socket is read again: at once between requests, from a task of the loop while
 * a body is still arriving (so the loop's other tasks run between a large body's reads), never
 * while the dispatcher holds reads off.
 */
class PausedReadsTest {
  /** Counts the reads that reach the transport (it sits between the socket and PausedReads). */
  private static final class Reads extends ChannelOutboundHandlerAdapter {
    int count;

    @Override
    public void read(ChannelHandlerContext ctx) {
      count++;
      ctx.read();
    }
  }

  private final Reads reads = new Reads();
  private final EmbeddedChannel ch = new EmbeddedChannel(reads, new PausedReads());

  private int readNow() {
    int before = reads.count;
    ch.pipeline().read(); // not ch.read(), which runs the loop's pending tasks after it
    return reads.count - before;
  }

  private void receive(Object msg) {
    ch.writeInbound(msg);
    ReferenceCountUtil.release(ch.readInbound());
  }

  @Test
  void betweenRequestsTheSocketIsReadAtOnce() {
    assertThat(readNow()).isEqualTo(1);
    receive(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/"));
    receive(new DefaultLastHttpContent(Unpooled.wrappedBuffer(new byte[] {1})));
    assertThat(readNow()).isEqualTo(1);
  }

  @Test
  void insideABodyTheNextReadWaitsForTheLoopsTasksAndIsAskedOnce() {
    receive(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/"));
    int before = reads.count;
    assertThat(readNow()).isZero();
    assertThat(readNow()).isZero();
    ch.runPendingTasks();
    assertThat(reads.count - before).as("one read for the two asked while one was queued").isOne();
    receive(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[] {1})));
    before = reads.count;
    assertThat(readNow()).isZero();
    ch.runPendingTasks();
    assertThat(reads.count - before).isOne();
    receive(new DefaultLastHttpContent(Unpooled.wrappedBuffer(new byte[] {2})));
    assertThat(readNow()).isEqualTo(1);
  }

  @Test
  void whileReadsAreHeldOffNothingIsRead() {
    ch.config().setAutoRead(false);
    assertThat(readNow()).isZero();
    receive(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/"));
    ch.config().setAutoRead(true);
    assertThat(readNow()).isZero(); // inside a body: queued
    ch.config().setAutoRead(false);
    int before = reads.count;
    ch.runPendingTasks();
    assertThat(reads.count).as("a queued read finds reads held off").isEqualTo(before);
  }
}
