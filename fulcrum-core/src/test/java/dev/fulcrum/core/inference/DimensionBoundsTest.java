package dev.fulcrum.core.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.ModelSignature.DimensionBound;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link RequestValidator#checkAgainstGraph}'s dimension bounds: a sequence longer than the model's
 * position table is a client error.
 */
class DimensionBoundsTest {
  private static final ModelSignature SIGNATURE =
      new ModelSignature(
          List.of(
              new TensorSpec("ids", DataType.INT64, new long[] {-1, -1}),
              new TensorSpec("mask", DataType.INT64, new long[] {-1, -1})),
          List.of(),
          List.of(),
          List.of(),
          List.of(new DimensionBound("ids", 1, 512)));

  private static Tensor longs(String name, long... shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    ByteBuffer b = ByteBuffer.allocate((int) n * 8).order(ByteOrder.LITTLE_ENDIAN);
    return Tensor.of(name, DataType.INT64, shape, b);
  }

  @Test
  void upToTheBoundPasses() {
    assertThatCode(
            () ->
                RequestValidator.checkAgainstGraph(
                    "m", SIGNATURE, List.of(longs("ids", 2, 512), longs("mask", 2, 512))))
        .doesNotThrowAnyException();
  }

  @Test
  void pastTheBoundIsAClientErrorNamingTheInputDimensionSizeAndLimit() {
    InferenceException e =
        catchThrowableOfType(
            InferenceException.class,
            () ->
                RequestValidator.checkAgainstGraph(
                    "m", SIGNATURE, List.of(longs("ids", 1, 513), longs("mask", 1, 513))));
    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(e)
        .hasMessageContaining("model 'm': input 'ids' has 513 elements in dimension 1")
        .hasMessageContaining("[1, 513]")
        .hasMessageContaining("the model takes at most 512");
  }

  @Test
  void anAbsentInputOrALowerRankIsLeftToTheOtherChecks() {
    assertThatCode(
            () ->
                RequestValidator.checkAgainstGraph("m", SIGNATURE, List.of(longs("mask", 1, 600))))
        .doesNotThrowAnyException();
    assertThatCode(
            () -> RequestValidator.checkAgainstGraph("m", SIGNATURE, List.of(longs("ids", 600))))
        .doesNotThrowAnyException();
  }

  @Test
  void aBoundIsPositiveOnANonNegativeAxis() {
    assertThatThrownBy(() -> new DimensionBound("ids", -1, 512))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new DimensionBound("ids", 1, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
