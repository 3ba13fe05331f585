package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;

/**
 * {@code --onnx-global-intra-op-threads}: auto shares one pool once a repository holds many models
 * (a model per tenant), and leaves a repository of a few models (the demo's) its pools per session.
 */
class GlobalIntraOpThreadsTest {

  @Test
  void autoIsTheDefault() {
    ServeCommand c = Objects.requireNonNull(ServeArgs.parse(List.of()));

    assertThat(GlobalIntraOpThreads.parse(c.onnxGlobalIntraOpThreads).auto()).isTrue();
  }

  @Test
  void autoSharesOnePoolOfTheCoresFromManyModels() {
    GlobalIntraOpThreads auto = GlobalIntraOpThreads.parse("auto");

    assertThat(auto.threadsFor(3, 2)).isZero(); // the demo: a pool per session, as measured
    assertThat(auto.threadsFor(GlobalIntraOpThreads.MANY_MODELS - 1, 64)).isZero();
    assertThat(auto.threadsFor(GlobalIntraOpThreads.MANY_MODELS, 2)).isEqualTo(2);
    assertThat(auto.threadsFor(300, 64)).isEqualTo(64);
    // one core: every model's default is one intra-op thread, run on its engine thread, no pool
    assertThat(auto.threadsFor(300, 1)).isZero();
  }

  @Test
  void aNumberIsTakenAsGivenWhateverTheModels() {
    assertThat(GlobalIntraOpThreads.parse("0").threadsFor(300, 64)).isZero();
    assertThat(GlobalIntraOpThreads.parse(" 8 ").threadsFor(1, 64)).isEqualTo(8);
    assertThat(GlobalIntraOpThreads.parse("AUTO").auto()).isTrue();
  }

  @Test
  void anythingElseIsRefusedNamingTheOption() {
    for (String bad : List.of("-1", "1025", "many", "")) {
      assertThatThrownBy(() -> GlobalIntraOpThreads.parse(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("--onnx-global-intra-op-threads must be auto or 0..1024");
    }
  }
}
