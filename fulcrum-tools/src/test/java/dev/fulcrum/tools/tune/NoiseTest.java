package dev.fulcrum.tools.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The measurement noise a sweep reports, and what it cannot tell apart from its choice. */
class NoiseTest {
  private static final Objective NONE = new Objective(null, null, 0);

  private static List<LevelPoint> at(double throughput) {
    return List.of(new LevelPoint("c=64", throughput, 1, 2, 1000, 0, 1000));
  }

  private static Trial measured(Knobs k, double... throughputs) {
    return NONE.judgeAll(k, java.util.Arrays.stream(throughputs).mapToObj(NoiseTest::at).toList());
  }

  private static Knobs b(int batch) {
    return new Knobs(batch, 0, 1, 2, false);
  }

  @Test
  void theNoiseIsThePooledSpreadOfTheConfigurationsMeasuredMoreThanOnce() {
    // each re-measured configuration: relative sample standard deviation 0.1
    Trial a = measured(b(8), 90, 100, 110);
    Trial c = measured(b(16), 180, 200, 220);
    Trial once = measured(b(4), 50);
    Sweep s = Sweep.of("m", "quick", 10, 7, NONE, false, List.of(a, c, once));
    assertThat(s.noise()).isCloseTo(0.1, within(1e-9));
    // the choice (b=16, 200/s); within twice the noise below it: 160/s and up
    assertThat(s.chosen()).isEqualTo(c);
    assertThat(s.withinNoiseOfChosen()).containsExactly(c);
  }

  @Test
  void configurationsCloseToTheChoiceAreCountedAndMarkedInResultsJson() {
    Trial best = measured(b(16), 190, 200, 210); // cv 0.05: the floor is 200 * 0.9 = 180
    Trial close = measured(b(8), 185);
    Trial far = measured(b(4), 150);
    Sweep s = Sweep.of("m", "quick", 10, 5, NONE, false, List.of(far, close, best));
    JsonNode root = s.toJson(new ObjectMapper());
    assertThat(root.at("/measurement_noise/throughput_cv").asDouble())
        .isCloseTo(0.05, within(1e-6));
    assertThat(root.at("/measurement_noise/configurations").asInt()).isEqualTo(1);
    assertThat(root.at("/measurement_noise/within_noise_of_chosen").asInt()).isEqualTo(2);
    assertThat(root.at("/trials/0/within_noise_of_chosen").asBoolean()).isFalse();
    assertThat(root.at("/trials/1/within_noise_of_chosen").asBoolean()).isTrue();
    assertThat(root.at("/trials/2/within_noise_of_chosen").asBoolean()).isTrue();
  }

  @Test
  void withoutARemeasuredConfigurationThereIsNoFigure() {
    Sweep s = Sweep.of("m", "quick", 10, 2, NONE, false, List.of(measured(b(8), 100)));
    assertThat(s.noise()).isNull();
    assertThat(s.withinNoiseOfChosen()).isEmpty();
    assertThat(s.toJson(new ObjectMapper()).at("/measurement_noise/throughput_cv").isNull())
        .isTrue();
  }
}
