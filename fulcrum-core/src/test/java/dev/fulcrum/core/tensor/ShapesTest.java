package dev.fulcrum.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ShapesTest {

  @Test
  void aShapeMatchesItsDeclarationDimensionByDimensionWithMinusOneForAny() {
    assertThat(Shapes.matches(new long[] {-1, 8}, new long[] {3, 8})).isTrue();
    assertThat(Shapes.matches(new long[] {-1, 8}, new long[] {3, 7})).isFalse();
    assertThat(Shapes.matches(new long[] {-1, 8}, new long[] {8})).isFalse();
    assertThat(Shapes.matches(new long[] {}, new long[] {})).isTrue();
  }

  @Test
  void leadingDimensionsOfAnySizeComeBeforeTheDeclaredOnes() {
    long[] dims = {-1, 384};
    assertThat(Shapes.matches(dims, new long[] {16, 7, 384}, 1)).isTrue();
    assertThat(Shapes.matches(dims, new long[] {16, 7, 383}, 1)).isFalse();
    assertThat(Shapes.matches(dims, new long[] {7, 384}, 1)).isFalse(); // no batch dimension
    assertThat(Shapes.matches(dims, new long[] {1, 16, 7, 384}, 1)).isFalse();
    assertThat(Shapes.matches(new long[] {}, new long[] {5}, 1)).isTrue();
  }
}
