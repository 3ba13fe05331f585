package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;

/**
 * The dashboard's gzip stream (session 36): frames deflated each on its own, shared by every page,
 * make one valid gzip member in any order and with any frame skipped (a slow page's), and a frame
 * handed to many pages is compressed once.
 */
class FrameDeflaterTest {
  @Test
  void framesDeflatedOnTheirOwnMakeOneGzipMemberWhateverEachPageGot() throws Exception {
    FrameDeflater d = new FrameDeflater();
    byte[] history =
        "{\"kind\":\"history\",\"t\":[1,2,3,4,5,6,7,8,9]}".getBytes(StandardCharsets.UTF_8);
    byte[] tick = "{\"kind\":\"tick\",\"t\":[9]}".getBytes(StandardCharsets.UTF_8);
    byte[] hello = ": hello\n\n".getBytes(StandardCharsets.US_ASCII);

    byte[] historyEvent = d.event(history);
    assertThat(d.event(history)).as("compressed once per frame").isSameAs(historyEvent);
    byte[] tickEvent = d.event(tick);
    assertThat(d.event(history)).isSameAs(historyEvent);
    assertThat(d.event(tick)).isSameAs(tickEvent);

    // One page got hello, history, tick; another hello and tick only (it joined later).
    String whole = decode(d, hello, history, tick);
    assertThat(whole)
        .isEqualTo(
            ": hello\n\ndata: "
                + new String(history, StandardCharsets.UTF_8)
                + "\n\ndata: "
                + new String(tick, StandardCharsets.UTF_8)
                + "\n\n");
    assertThat(decode(d, hello, tick))
        .isEqualTo(": hello\n\ndata: {\"kind\":\"tick\",\"t\":[9]}\n\n");
  }

  private static String decode(FrameDeflater d, byte[] hello, byte[]... frames) throws Exception {
    ByteArrayOutputStream member = new ByteArrayOutputStream();
    CRC32 crc = new CRC32();
    member.write(FrameDeflater.GZIP_HEADER);
    member.write(d.deflate(hello));
    crc.update(hello);
    long length = hello.length;
    for (byte[] f : frames) {
      member.write(d.event(f));
      byte[] plain =
          ("data: " + new String(f, StandardCharsets.UTF_8) + "\n\n")
              .getBytes(StandardCharsets.UTF_8);
      crc.update(plain);
      length += plain.length;
    }
    member.write(FrameDeflater.trailer(crc.getValue(), length));
    // GZIPInputStream checks the trailer's CRC-32 and length at the member's end.
    try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(member.toByteArray()))) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void gzipIsAcceptedUnlessRefusedByQualityZero() {
    assertThat(FrameDeflater.acceptsGzip("gzip, deflate, br, zstd")).isTrue();
    assertThat(FrameDeflater.acceptsGzip("br;q=1.0, GZIP;q=0.5")).isTrue();
    assertThat(FrameDeflater.acceptsGzip("*")).isTrue();
    assertThat(FrameDeflater.acceptsGzip("gzip;q=0, identity")).isFalse();
    assertThat(FrameDeflater.acceptsGzip("identity")).isFalse();
    assertThat(FrameDeflater.acceptsGzip("gzip;q=zero")).isFalse();
    assertThat(FrameDeflater.acceptsGzip(null)).isFalse();
  }
}
