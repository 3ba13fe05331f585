package dev.fulcrum.tools.tune;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.config.ModelConfigFile;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A trial's configuration, as loaded for the trial and written as recommended.yaml. */
class TrialConfigTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The model's own configuration: batching with preferred sizes 4 and 8 (repoP/pb's). */
  private static TrialConfig preferring4And8() throws Exception {
    return TrialConfig.of(
        (ObjectNode)
            JSON.readTree(
                """
                {"max-batch-size": 16,
                 "dynamic-batching": {"enabled": true, "preferred-batch-sizes": [4, 8],
                                      "priority-levels": 2}}
                """));
  }

  private static ModelConfigFile parsed(ObjectNode config) throws Exception {
    return TuneServer.configLoader()
        .parse(TrialConfig.yaml(config, List.of("comment")), Path.of("m/recommended.yaml"));
  }

  @Test
  void preferredBatchSizesAboveTheTrialsMaxBatchSizeAreLeftOut() throws Exception {
    // The server refuses a preferred size above max-batch-size: each trial below 8 failed to load.
    TrialConfig c = preferring4And8();
    ObjectNode b16 = c.with(new Knobs(16, 100, 1, 1, false), null);
    assertThat(b16.at("/dynamic-batching/preferred-batch-sizes").toString()).isEqualTo("[4,8]");
    ObjectNode b4 = c.with(new Knobs(4, 100, 1, 1, false), null);
    assertThat(b4.at("/dynamic-batching/preferred-batch-sizes").toString()).isEqualTo("[4]");
    ObjectNode b2 = c.with(new Knobs(2, 100, 1, 1, false), null);
    assertThat(b2.at("/dynamic-batching").has("preferred-batch-sizes")).isFalse();
    assertThat(b2.at("/dynamic-batching/priority-levels").asInt()).isEqualTo(2); // the rest kept
    assertThat(b2.get("max-batch-size").asInt()).isEqualTo(2);
    ModelConfigFile file = parsed(b2);
    assertThat(file.maxBatchSize()).isEqualTo(2);
    assertThat(file.dynamicBatching()).isNotNull();
    assertThat(file.dynamicBatching().preferredBatchSizes()).isNull();
    // The model's own configuration is left as it is for the next trial.
    assertThat(
            c.with(new Knobs(8, 0, 1, 1, false), null)
                .at("/dynamic-batching/preferred-batch-sizes")
                .toString())
        .isEqualTo("[4,8]");
  }

  @Test
  void aModelThatDoesNotBatchGetsMaxBatchSizeZeroWritten() throws Exception {
    // No max-batch-size in the model's files (batching inferred): the server's check of the first
    // dimension runs only then; a written one skips it. So 0 is written, never left out.
    TrialConfig inferred = TrialConfig.of(JSON.createObjectNode());
    ObjectNode c = inferred.with(new Knobs(0, 0, 2, 1, false), null);
    assertThat(c.get("max-batch-size").asInt()).isZero();
    assertThat(c.has("dynamic-batching")).isFalse();
    ModelConfigFile file = parsed(c);
    assertThat(file.maxBatchSize()).isZero();
    assertThat(file.instanceCount()).isEqualTo(2);

    // Preferred sizes mean nothing without batching (the server refuses them): left out.
    ObjectNode fromBatching = preferring4And8().with(new Knobs(0, 0, 1, 1, false), null);
    assertThat(fromBatching.get("max-batch-size").asInt()).isZero();
    assertThat(fromBatching.at("/dynamic-batching").has("preferred-batch-sizes")).isFalse();
  }
}
