package dev.fulcrum.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.config.RolloutConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.Rollout;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The canary rollouts' families as a scrape writes them. */
class RolloutMetricsTest {
  @Test
  void shareStateVerdictsAndSplitRequests() {
    Rollout r = new Rollout("fraud", 2, 1, RolloutConfig.ofPercent(10), 0, System::nanoTime, null);
    r.record(1, 1_000_000, null);
    r.record(2, 1_000_000, InferenceException.internal("broken", null));
    r.rollBack("by hand");
    StringBuilder sb = new StringBuilder();
    RolloutMetrics.write(sb, n -> true, List.of(r));
    assertThat(sb.toString())
        .contains(
            "fulcrum_rollout_canary_traffic_percent{model=\"fraud\",canary_version=\"2\","
                + "stable_version=\"1\"} 0\n",
            "fulcrum_rollout_state{model=\"fraud\",canary_version=\"2\",stable_version=\"1\","
                + "state=\"rolled_back\"} 1\n",
            "fulcrum_rollout_state{model=\"fraud\",canary_version=\"2\",stable_version=\"1\","
                + "state=\"progressing\"} 0\n",
            "fulcrum_rollout_verdicts_total{model=\"fraud\",verdict=\"rolled_back\"} 1\n",
            "fulcrum_rollout_verdicts_total{model=\"fraud\",verdict=\"promoted\"} 0\n",
            "fulcrum_rollout_requests_total{model=\"fraud\",version=\"2\",arm=\"canary\"} 1\n",
            "fulcrum_rollout_requests_total{model=\"fraud\",version=\"1\",arm=\"stable\"} 1\n",
            "fulcrum_rollout_failed_requests_total{model=\"fraud\",version=\"2\",arm=\"canary\"} 1\n",
            "# TYPE fulcrum_rollout_verdicts_total counter\n");
  }

  @Test
  void theStepIndexFollowsTheSteps() {
    Rollout r =
        new Rollout(
            "fraud",
            2,
            1,
            new RolloutConfig(List.of(5, 50), 1, 10, 1, 1_000_000, 1_000_000_000L, 1, 0, 0),
            0,
            System::nanoTime,
            null);
    String step =
        "fulcrum_rollout_step_index{model=\"fraud\",canary_version=\"2\",stable_version=\"1\"} ";
    StringBuilder sb = new StringBuilder();
    RolloutMetrics.write(sb, n -> true, List.of(r));
    assertThat(sb.toString()).contains(step + "0\n", "fulcrum_rollout_canary_traffic_percent");
    r.record(2, 1_000_000, null); // one answer at step 0 passes it
    sb.setLength(0);
    RolloutMetrics.write(sb, n -> true, List.of(r));
    assertThat(sb.toString())
        .contains(
            step + "1\n",
            "fulcrum_rollout_canary_traffic_percent{model=\"fraud\",canary_version=\"2\","
                + "stable_version=\"1\"} 50\n");
    r.setPercent(20);
    sb.setLength(0);
    RolloutMetrics.write(sb, n -> true, List.of(r));
    assertThat(sb.toString()).contains(step + "-1\n");
  }

  @Test
  void aFamilyNotAskedForIsNotWritten() {
    Rollout r = new Rollout("fraud", 2, 1, RolloutConfig.ofPercent(10), 0, System::nanoTime, null);
    StringBuilder sb = new StringBuilder();
    RolloutMetrics.write(sb, n -> n.equals("fulcrum_rollout_state"), List.of(r));
    assertThat(sb.toString()).contains("fulcrum_rollout_state{").doesNotContain("percent");
  }
}
