package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ClientTextTest {
  @Test
  void controlCharactersAreEscapedAndLongTextCut() {
    assertThat(ClientText.printable("unknown model 'fraud'", 100))
        .isEqualTo("unknown model 'fraud'");
    assertThat(ClientText.printable("x\n07:20:00.000 [main] WARN forged\r\u001b[31m", 100))
        .isEqualTo("x\\u000a07:20:00.000 [main] WARN forged\\u000d\\u001b[31m")
        .doesNotContain("\n", "\r", "\u001b");
    assertThat(ClientText.printable("abcdef", 3)).isEqualTo("abc...");
    assertThat(ClientText.printable("a\nbcdef", 3)).isEqualTo("a\\u000ab...");
    assertThat(ClientText.printable("\u2028\u0085é", 10)).isEqualTo("\\u2028\\u0085é");
  }
}
