package dev.fulcrum.core.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.RequestOptions.SloClass;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RequestOptionsTest {

  @Test
  void noParametersAreNoOptions() {
    assertThat(RequestOptions.parse("m", Map.of())).isEqualTo(RequestOptions.NONE);
  }

  @Test
  void integersMayComeAsNumbersOrStrings() {
    RequestOptions o =
        RequestOptions.parse(
            "m", Map.of("priority", 2L, "timeout", " 1500 ", "slo_class", "best_effort"));
    assertThat(o).isEqualTo(new RequestOptions(2, 1500, SloClass.BEST_EFFORT));
    assertThat(RequestOptions.parse("m", Map.of("timeout", 7.0)).timeoutMicros()).isEqualTo(7);
  }

  @Test
  void badValuesAreClientMistakesNamingTheModelAndParameter() {
    assertThatThrownBy(() -> RequestOptions.parse("m", Map.of("priority", "high")))
        .isInstanceOf(InferenceException.class)
        .satisfies(
            e -> assertThat(((InferenceException) e).code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
        .hasMessageContaining("model 'm'")
        .hasMessageContaining("'priority' must be an integer");
    assertThatThrownBy(() -> RequestOptions.parse("m", Map.of("timeout", -1L)))
        .hasMessageContaining("timeout must be >= 0 microseconds, was -1");
    assertThatThrownBy(() -> RequestOptions.parse("m", Map.of("timeout", 1.5)))
        .hasMessageContaining("'timeout' must be an integer");
    assertThatThrownBy(() -> RequestOptions.parse("m", Map.of("slo_class", "gold")))
        .hasMessageContaining("'slo_class' must be 'standard' or 'best_effort'");
    assertThatThrownBy(() -> RequestOptions.parse("m", Map.of("slo_class", true)))
        .hasMessageContaining("slo_class");
  }

  @Test
  void timingIsABooleanOffByDefault() {
    assertThat(RequestOptions.NONE.timing()).isFalse();
    assertThat(RequestOptions.parse("m", Map.of("priority", 1L)).timing()).isFalse();
    assertThat(RequestOptions.parse("m", Map.of("timing", true)).timing()).isTrue();
    assertThat(RequestOptions.parse("m", Map.of("timing", false)).timing()).isFalse();
    assertThat(RequestOptions.parse("m", Map.of("timing", " TRUE ")).timing())
        .as("a boolean sent as a string, as some clients send every parameter")
        .isTrue();
    assertThat(RequestOptions.parse("m", Map.of("timing", true)).withTimeoutMicros(5).timing())
        .isTrue();
  }

  @Test
  void timingOfAnotherTypeIsAClientMistakeNamingTheParameter() {
    for (Object bad : List.<Object>of(1L, 0L, 1.0, "yes", "")) {
      assertThatThrownBy(() -> RequestOptions.parse("m", Map.of("timing", bad)))
          .as("timing = %s", bad)
          .isInstanceOf(InferenceException.class)
          .satisfies(
              e ->
                  assertThat(((InferenceException) e).code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
          .hasMessageContaining("model 'm'")
          .hasMessageContaining("parameter 'timing' must be a boolean");
    }
  }

  @Test
  void theRequestParsesItsOptionsOnceWhenBuilt() {
    InferenceRequest r =
        new InferenceRequest("m", "", "", Map.of("priority", 1L), List.of(), List.of());
    assertThat(r.options().priority()).isEqualTo(1);
  }

  @Test
  void sequenceParametersAreTypedOnce() {
    RequestOptions.Sequence n =
        RequestOptions.parse(
                "m", Map.of("sequence_id", 42L, "sequence_start", true, "sequence_end", "false"))
            .sequence();
    assertThat(n).isEqualTo(new RequestOptions.Sequence(SequenceId.of(42), true, false));
    RequestOptions.Sequence t =
        RequestOptions.parse("m", Map.of("sequence_id", "user-7", "sequence_end", true)).sequence();
    assertThat(t.id()).isEqualTo(SequenceId.of("user-7"));
    assertThat(t.id()).as("a string id is not the number it spells").isNotEqualTo(SequenceId.of(7));
    assertThat(t.end()).isTrue();
    assertThat(RequestOptions.parse("m", Map.of("sequence_id", 0L)).sequence())
        .as("0, like Triton's, is no sequence")
        .isEqualTo(RequestOptions.Sequence.NONE);
    assertThat(RequestOptions.parse("m", Map.of("priority", 1L)).sequence())
        .isEqualTo(RequestOptions.Sequence.NONE);
    assertThatThrownBy(() -> RequestOptions.parse("m", Map.of("sequence_id", -3L)))
        .hasMessageContaining("'sequence_id' must be an unsigned integer");
    assertThatThrownBy(() -> RequestOptions.parse("m", Map.of("sequence_id", 1.5e20)))
        .hasMessageContaining("'sequence_id' must be an unsigned integer");
    assertThatThrownBy(() -> RequestOptions.parse("m", Map.of("sequence_start", 1L)))
        .hasMessageContaining("'sequence_start' must be a boolean");
  }
}
