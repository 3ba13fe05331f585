package dev.fulcrum.server.triton;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.JsonFormat;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.config.SchedulingConfig.QueuePolicy;
import dev.fulcrum.core.config.SchedulingConfig.TimeoutAction;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.config.VersionPolicy;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.protocol.ModelJson;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A model's per-level queue policies in {@code GET v2/models/<m>/config} (Triton's {@code
 * dynamic_batching.priority_queue_policy}, keyed by the level) convert back to the same {@code
 * priority-queue-policy}, nothing ignored: what {@code load_model(config=...)} sends back keeps
 * them.
 */
class PriorityQueuePolicyRoundTripTest {
  @Test
  void tritonJsonOfPerLevelQueuePoliciesLoadsBackUnchanged() throws Exception {
    SchedulingConfig scheduling =
        SchedulingConfig.defaults()
            .withPriorities(3, 2)
            .withPriorityQueuePolicies(
                Map.of(
                    1, new QueuePolicy(4, 250, TimeoutAction.DELAY, true),
                    3, new QueuePolicy(0, 0, TimeoutAction.REJECT, false)));
    ModelConfig c =
        new ModelConfig(
            "ranked",
            "onnxruntime_onnx",
            8,
            List.of(new TensorConfig("x", DataType.FP32, new long[] {4})),
            List.of(new TensorConfig("y", DataType.FP32, new long[] {2})),
            new VersionPolicy.Latest(1),
            1,
            SessionOptions.defaults(),
            "model.onnx",
            scheduling);
    var json = ModelJson.tritonConfig(c);
    assertThat(json.at("/dynamic_batching/priority_queue_policy/1/max_queue_size").asInt())
        .isEqualTo(4);
    assertThat(json.at("/dynamic_batching/priority_queue_policy/1/timeout_action").asText())
        .isEqualTo("DELAY");
    dev.fulcrum.server.grpc.proto.ModelConfig.Builder b =
        dev.fulcrum.server.grpc.proto.ModelConfig.newBuilder();
    JsonFormat.parser().merge(json.toString(), b);
    PbtxtConverter.Converted back =
        PbtxtConverter.convert(b.build(), Path.of("ranked/config.pbtxt"));
    assertThat(back.ignored()).noneMatch(p -> p.startsWith("dynamic_batching"));
    assertThat(back.config().priorityQueuePolicy())
        .containsExactly(
            Map.entry("1", new ModelConfigFile.QueuePolicyFile(4, 250L, "delay", true)),
            Map.entry("3", new ModelConfigFile.QueuePolicyFile(0, 0L, "reject", false)));
    assertThat(back.config().dynamicBatching().priorityLevels()).isEqualTo(3);
  }
}
