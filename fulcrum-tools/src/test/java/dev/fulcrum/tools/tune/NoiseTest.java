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
  void theNoiseIsThePooledSpreadOfTheRemeasurementsNotOfTheMeasurementThatPickedThem() {
    // the first measurement of each made it a candidate (high); the re-measurements' relative
    // sample standard deviation is 0.1 for both
    Trial a = measured(b(8), 150, 90, 100, 110);
    Trial c = measured(b(16), 300, 180, 200, 220);
    Trial once = measured(b(4), 50);
    Sweep s = Sweep.of("m", "quick", 10, 9, NONE, false, List.of(a, c, once));
    Sweep.Noise noise = s.noise();
    assertThat(noise).isNotNull();
    assertThat(noise.cv()).isCloseTo(0.1, within(1e-9));
    assertThat(noise.configurations()).isEqualTo(2);
    assertThat(noise.degreesOfFreedom()).isEqualTo(4);
  }

  @Test
  void configurationsCloseToTheChoiceAreCountedAndMarkedInResultsJson() {
    // re-measurements 190 and 210: cv 0.0707; the choice's median 210, the floor 210 * 0.859 =
    // 180.3
    Trial best = measured(b(16), 230, 190, 210);
    Trial close = measured(b(8), 185);
    Trial far = measured(b(4), 150);
    Sweep s = Sweep.of("m", "quick", 10, 5, NONE, false, List.of(far, close, best));
    assertThat(s.chosen()).isEqualTo(best);
    JsonNode root = s.toJson(new ObjectMapper());
    assertThat(root.at("/measurement_noise/throughput_cv").asDouble())
        .isCloseTo(Math.sqrt(2) * 10 / 200, within(1e-5));
    assertThat(root.at("/measurement_noise/configurations").asInt()).isEqualTo(1);
    assertThat(root.at("/measurement_noise/degrees_of_freedom").asInt()).isEqualTo(1);
    assertThat(root.at("/measurement_noise/within_noise_of_chosen").asInt()).isEqualTo(2);
    assertThat(root.at("/trials/0/within_noise_of_chosen").asBoolean()).isFalse();
    assertThat(root.at("/trials/1/within_noise_of_chosen").asBoolean()).isTrue();
    assertThat(root.at("/trials/2/within_noise_of_chosen").asBoolean()).isTrue();
  }

  @Test
  void aComparisonCountsEveryMeasurementNoneWasPickedForBeingHigh() {
    Compare.Result r =
        new Compare.Result(
            List.of(
                new Compare.Entry("a.yaml", new ObjectMapper().createObjectNode()),
                new Compare.Entry("b.yaml", new ObjectMapper().createObjectNode())),
            List.of(measured(b(8), 90, 100, 110), measured(b(16), 180, 200, 220)),
            3);
    Sweep.Noise noise = r.noise(NONE);
    assertThat(noise).isNotNull();
    assertThat(noise.cv()).isCloseTo(0.1, within(1e-9));
    assertThat(noise.degreesOfFreedom()).isEqualTo(4);
    assertThat(r.toJson(new ObjectMapper(), NONE).at("/measurement_noise/configurations").asInt())
        .isEqualTo(2);
  }

  @Test
  void aComparisonIsToldAfterEachCompleteRoundButTheLast() throws Exception {
    ObjectMapper m = new ObjectMapper();
    List<Compare.Entry> entries =
        List.of(
            new Compare.Entry("a.yaml", m.createObjectNode().put("max-batch-size", 8)),
            new Compare.Entry("b.yaml", m.createObjectNode().put("max-batch-size", 16)));
    double[] next = {100};
    List<Integer> told = new java.util.ArrayList<>();
    List<Integer> measurementsTold = new java.util.ArrayList<>();
    Compare.Result r =
        Compare.run(
            entries,
            3,
            NONE,
            config -> at(next[0]++),
            (trial, done, planned) -> {},
            soFar -> {
              told.add(soFar.rounds());
              measurementsTold.add(soFar.trials().get(1).measurements().size());
            });
    // a partial compare.json after rounds 1 and 2, each holding only the rounds complete then
    assertThat(told).containsExactly(1, 2);
    assertThat(measurementsTold).containsExactly(1, 2);
    assertThat(r.rounds()).isEqualTo(3);
    assertThat(r.trials().get(0).measurements()).hasSize(3);
  }

  @Test
  void trialsOfFewRequestsAreNamedInAWarning() {
    Trial many = measured(b(8), 100); // 1,000 answered
    Trial few =
        NONE.judgeAll(
            b(16), List.of(List.of(new LevelPoint("c=64", 300, 1, 2, 34, 0, 34)))); // 34 answered
    assertThat(TuneCommand.thinTrials(List.of(many))).isNull();
    assertThat(TuneCommand.thinTrials(List.of(many, few)))
        .startsWith("warning: 1 trial answered fewer than 200 requests")
        .contains("the fewest 34")
        .contains("--trial-seconds");
  }

  @Test
  void withoutARemeasuredConfigurationThereIsNoFigure() {
    // measured once, and once again: one re-measurement is no spread
    Sweep s = Sweep.of("m", "quick", 10, 2, NONE, false, List.of(measured(b(8), 100, 90)));
    assertThat(s.noise()).isNull();
    assertThat(s.withinNoiseOfChosen(s.noise())).isEmpty();
    assertThat(s.toJson(new ObjectMapper()).at("/measurement_noise/throughput_cv").isNull())
        .isTrue();
  }
}
