package dev.fulcrum.tools.tune;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a sweep says when it recommends nothing, and what results.json says of each trial. */
class SweepTest {
  private static final Objective NONE = new Objective(null, null, 0);
  private static final Objective SLO = new Objective(5.0, null, 0);

  private static Knobs b(int batch) {
    return new Knobs(batch, 0, 1, 1, false);
  }

  private static Trial clean(Objective o, int batch, double throughput, double p99) {
    return o.judge(
        b(batch), List.of(new LevelPoint("c=2", throughput, p99 / 2, p99, 1000, 0, 1000)));
  }

  private static Trial refused(int batch, String why) {
    return NONE.judge(b(batch), List.of(LevelPoint.failed(why)));
  }

  private static Trial halfFailed(int batch) {
    return NONE.judge(b(batch), List.of(new LevelPoint("c=4", 500, 1, 2, 500, 500, 500)));
  }

  private static Sweep sweep(Objective o, Trial... trials) {
    return Sweep.of("m", "exhaustive", trials.length, trials.length, o, false, List.of(trials));
  }

  @Test
  void whenEveryTrialFailedToLoadTheFirstReasonIsTheAnswerNotTheConstraints() {
    Sweep s =
        sweep(
            NONE,
            refused(2, "failed to load 'm': field 'max-batch-size': 2 needs ..."),
            refused(4, "failed to load 'm': other"));
    assertThat(s.chosen()).isNull();
    assertThat(s.frontier()).isEmpty();
    assertThat(s.whyNone())
        .isEqualTo(
            "every trial failed, the first with: failed to load 'm': field 'max-batch-size': 2"
                + " needs ...");
  }

  @Test
  void whenRequestsFailedThatIsTheAnswer() {
    Sweep s = sweep(NONE, refused(2, "no"), halfFailed(4), halfFailed(8));
    assertThat(s.chosen()).isNull();
    assertThat(s.whyNone())
        .isEqualTo(
            "no configuration answered its requests: 1 failed to load, 2 had more than 1 % of"
                + " requests fail (first: b=4 d=0us i=1 t=1, 50.0 % of requests failed at c=4,"
                + " 500 of 1000)");
  }

  @Test
  void whenSomeAnsweredButNoneMetTheSloTheConstraintsAreTheAnswer() {
    Trial slow = SLO.judge(b(2), List.of(new LevelPoint("c=2", 100, 20, 50, 1000, 0, 500)));
    Sweep s = sweep(SLO, slow, halfFailed(4));
    assertThat(s.whyNone()).isEqualTo("no configuration met the constraints");
    assertThat(sweep(SLO, clean(SLO, 2, 100, 1)).whyNone()).isNull();
  }

  @Test
  void aPartialSweepRecommendsNothingAndSaysSo() throws Exception {
    Trial fast = clean(NONE, 8, 900, 2);
    Trial slow = clean(NONE, 1, 100, 1);
    Trial failed = refused(4, "failed to load 'm': refused");
    Sweep s = Sweep.of("m", "quick", 30, 3, NONE, false, List.of(fast, slow, failed), true, null);
    assertThat(s.chosen()).isNull();
    assertThat(s.frontier()).containsExactly(fast, slow);
    assertThat(s.whyNone()).isEqualTo("the sweep did not finish");
    ObjectMapper m = new ObjectMapper();
    JsonNode json = m.readTree(m.writeValueAsString(s.toJson(m)));
    assertThat(json.get("partial").asBoolean()).isTrue();
    assertThat(json.get("chosen").isNull()).isTrue();
    assertThat(json.get("why_no_recommendation").asText()).isEqualTo("the sweep did not finish");
    assertThat(json.get("first_dimension_not_a_batch").isNull()).isTrue();
    JsonNode trials = json.get("trials");
    assertThat(trials.get(0).get("problem").isNull()).isTrue();
    assertThat(trials.get(0).get("on_frontier").asBoolean()).isTrue();
    assertThat(trials.get(2).get("problem").asText())
        .isEqualTo("failed: failed to load 'm': refused");
    assertThat(trials.get(2).get("on_frontier").asBoolean()).isFalse();

    // The same trials, finished: the fastest is recommended.
    Sweep done = Sweep.of("m", "quick", 30, 3, NONE, false, List.of(fast, slow, failed));
    assertThat(done.chosen()).isEqualTo(fast);
    JsonNode doneJson = m.readTree(m.writeValueAsString(done.toJson(m)));
    assertThat(doneJson.get("partial").asBoolean()).isFalse();
    assertThat(doneJson.get("why_no_recommendation").isNull()).isTrue();
  }

  @Test
  void theNotABatchVerdictIsInResultsJson() throws Exception {
    Trial t = clean(NONE, 0, 500, 1);
    Sweep s = Sweep.of("m", "quick", 4, 1, NONE, false, List.of(t), false, "rows differ");
    ObjectMapper m = new ObjectMapper();
    JsonNode json = m.readTree(m.writeValueAsString(s.toJson(m)));
    assertThat(json.get("first_dimension_not_a_batch").asText()).isEqualTo("rows differ");
    assertThat(json.at("/trials/0/config/max-batch-size").asInt()).isZero();
  }
}
