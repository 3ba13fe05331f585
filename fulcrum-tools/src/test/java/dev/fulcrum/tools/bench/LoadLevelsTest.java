package dev.fulcrum.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class LoadLevelsTest {
  @Test
  void parsesSingleAdditiveAndMultiplicativeRanges() {
    assertThat(LoadLevels.parseInts("8")).containsExactly(8);
    assertThat(LoadLevels.parseInts("1:16:4")).containsExactly(1, 5, 9, 13, 16);
    assertThat(LoadLevels.parseInts("1:64:x2")).containsExactly(1, 2, 4, 8, 16, 32, 64);
    assertThat(LoadLevels.parseInts("1:3")).containsExactly(1, 2, 3);
    assertThat(LoadLevels.parse("100:400:x2")).containsExactly(100.0, 200.0, 400.0);
  }

  @Test
  void rejectsNonsense() {
    assertThatThrownBy(() -> LoadLevels.parse("0")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> LoadLevels.parse("4:1")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> LoadLevels.parse("1:8:x1"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> LoadLevels.parseInts("1.5"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> LoadLevels.parse("a:b")).isInstanceOf(IllegalArgumentException.class);
  }
}
