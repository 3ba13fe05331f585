package dev.fulcrum.core.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.ModelSignature.DimensionUse;
import dev.fulcrum.core.runtime.ModelSignature.SharedDimension;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link RequestValidator#checkAgainstGraph}'s shared dimensions: one size per named dimension
 * across inputs.
 */
class SharedDimensionsTest {
  /**
   * ids [batch, seq] and a mask [batch, 1, seq]: "seq" is axis 1 of one and axis 2 of the other.
   */
  private static final ModelSignature SIGNATURE =
      new ModelSignature(
          List.of(
              new TensorSpec("ids", DataType.INT64, new long[] {-1, -1}),
              new TensorSpec("mask", DataType.INT64, new long[] {-1, 1, -1})),
          List.of(),
          List.of(),
          List.of(
              new SharedDimension(
                  "seq", List.of(new DimensionUse("ids", 1), new DimensionUse("mask", 2)))));

  private static Tensor longs(String name, long... shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    ByteBuffer b = ByteBuffer.allocate((int) n * 8).order(ByteOrder.LITTLE_ENDIAN);
    return Tensor.of(name, DataType.INT64, shape, b);
  }

  @Test
  void oneSizeOnEveryUsePasses() {
    assertThatCode(
            () ->
                RequestValidator.checkAgainstGraph(
                    "m", SIGNATURE, List.of(longs("ids", 2, 5), longs("mask", 2, 1, 5))))
        .doesNotThrowAnyException();
  }

  @Test
  void twoSizesAreAClientErrorNamingBothInputsAndTheDimension() {
    InferenceException e =
        catchThrowableOfType(
            InferenceException.class,
            () ->
                RequestValidator.checkAgainstGraph(
                    "m", SIGNATURE, List.of(longs("ids", 2, 5), longs("mask", 2, 1, 4))));
    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(e)
        .hasMessageContaining("input 'mask' has shape [2, 1, 4] but input 'ids' has [2, 5]")
        .hasMessageContaining("dimension 'seq' (axis 2 of 'mask', 1 of the other)");
  }

  @Test
  void anAbsentInputOrAnotherRankIsLeftToTheOtherChecks() {
    assertThatCode(
            () -> RequestValidator.checkAgainstGraph("m", SIGNATURE, List.of(longs("ids", 2, 5))))
        .doesNotThrowAnyException();
    assertThatCode(
            () ->
                RequestValidator.checkAgainstGraph(
                    "m", SIGNATURE, List.of(longs("ids", 2, 5), longs("mask", 2))))
        .doesNotThrowAnyException();
  }
}
