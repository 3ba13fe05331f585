package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link Profiler} given a column's present values and its missing count, as profile reads it. */
class ProfilerTest {
  @Test
  void presentValuesAndAMissingCountProfileAsTheColumnWithNaNs() {
    Random r = new Random(7);
    double[] column = new double[1000];
    for (int i = 0; i < column.length; i++) {
      column[i] = i % 9 == 0 ? Double.NaN : r.nextGaussian() * 3 + 10;
    }
    double[] present = Arrays.stream(column).filter(v -> !Double.isNaN(v)).toArray();
    Baseline.FeatureBaseline f = Profiler.profile("x", present, column.length - present.length);
    assertThat(f).isEqualTo(Profiler.profile("x", column));
    assertThat(f.missingRate()).isEqualTo(112 / 1000.0);
    assertThat(f.count()).isEqualTo(888);
    assertThat(present).isSorted(); // in place, not copied
  }

  @Test
  void noValuesOrANonFiniteOneIsRefused() {
    assertThatThrownBy(() -> Profiler.profile("x", new double[0], 5))
        .hasMessage("feature 'x' has no values");
    assertThatThrownBy(() -> Profiler.profile("x", new double[] {1, Double.POSITIVE_INFINITY}, 0))
        .hasMessage("feature 'x' has a value that is not finite");
    assertThatThrownBy(() -> Profiler.profile("x", new double[] {Double.NEGATIVE_INFINITY, 1}, 0))
        .hasMessage("feature 'x' has a value that is not finite");
  }
}
