package dev.fulcrum.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class StrictUtf8Test {
  private static byte[] bytes(int... b) {
    byte[] out = new byte[b.length];
    for (int i = 0; i < b.length; i++) {
      out[i] = (byte) b[i];
    }
    return out;
  }

  @Test
  void decodesUtf8IncludingFourByteSequences() throws Exception {
    String text = "héllo, 世界 🙂";
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    assertThat(StrictUtf8.decode(b, 0, b.length)).isEqualTo(text);
    assertThat(StrictUtf8.decode(ByteBuffer.allocate(0))).isEmpty();
  }

  @Test
  void namesTheOffsetOfTheFirstMalformedByteFromTheBuffersPosition() {
    ByteBuffer b = ByteBuffer.wrap(bytes('x', 'y', 'a', 'b', 'c', 0xE9, 'd'));
    b.position(2);
    assertThatThrownBy(() -> StrictUtf8.decode(b))
        .isInstanceOfSatisfying(
            StrictUtf8.MalformedException.class,
            e -> {
              assertThat(e.offset()).isEqualTo(3);
              assertThat(e.value()).isEqualTo(0xE9);
              assertThat(e).hasMessage("not valid UTF-8 at byte offset 3 (0xE9)");
            });
    assertThat(b.position()).isEqualTo(2); // left as it was
  }

  @Test
  void refusesWhatLenientDecodingWouldReplace() {
    assertThat(StrictUtf8.isValid(ByteBuffer.wrap(bytes('a', 0xE4, 0xB8)))).isFalse(); // cut short
    assertThat(StrictUtf8.isValid(ByteBuffer.wrap(bytes(0xC0, 0x80)))).isFalse(); // overlong NUL
    assertThat(StrictUtf8.isValid(ByteBuffer.wrap(bytes(0xED, 0xA0, 0x80)))).isFalse(); // surrogate
    assertThat(StrictUtf8.isValid(ByteBuffer.wrap(bytes(0xF4, 0x90, 0x80, 0x80)))).isFalse();
    assertThat(StrictUtf8.isValid(ByteBuffer.wrap(bytes(0xEF, 0xBF, 0xBD)))).isTrue(); // U+FFFD
  }
}
