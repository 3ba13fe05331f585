package dev.fulcrum.server.triton;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.JsonFormat;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.config.SequenceBatchingConfig;
import dev.fulcrum.core.config.SequenceBatchingConfig.Kind;
import dev.fulcrum.core.config.StatefulConfigs;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.protocol.ModelJson;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A stateful model's {@code GET v2/models/<m>/config} (Triton's JSON, which tritonclient's
 * get_model_config returns and load_model(config=...) sends back) converts to the same {@code
 * sequence-batching}, with no sequence_batching field ignored.
 */
class SequenceBatchingRoundTripTest {
  @Test
  void tritonJsonOfASequenceModelLoadsBackUnchanged() throws Exception {
    SequenceBatchingConfig seq =
        new SequenceBatchingConfig(
            2_000_000,
            List.of(
                new SequenceBatchingConfig.ControlInput("START", Kind.START, DataType.INT32),
                new SequenceBatchingConfig.ControlInput("READY", Kind.READY, DataType.FP32),
                new SequenceBatchingConfig.ControlInput("END", Kind.END, DataType.BOOL),
                new SequenceBatchingConfig.ControlInput("CORRID", Kind.CORRID, DataType.UINT64)),
            List.of(
                new SequenceBatchingConfig.State(
                    "STATE_IN", "STATE_OUT", DataType.FP32, List.of(4L))));
    PbtxtConverter.Converted back =
        roundTrip(config(SchedulingConfig.defaults().withMaxQueueDelayMicros(100), seq));
    assertThat(back.ignored()).noneMatch(p -> p.startsWith("sequence_batching"));
    assertThat(back.config().sequenceBatching())
        .isEqualTo(
            new ModelConfigFile.SequenceBatchingFile(
                2_000_000L,
                List.of(
                    new ModelConfigFile.ControlInputFile("START", "start"),
                    new ModelConfigFile.ControlInputFile("READY", "ready"),
                    new ModelConfigFile.ControlInputFile("END", "end"),
                    new ModelConfigFile.ControlInputFile("CORRID", "corrid")),
                List.of(
                    new ModelConfigFile.StateFile("STATE_IN", "STATE_OUT", "FP32", List.of(4L)))));
    assertThat(back.config().dynamicBatching().maxQueueDelayMicroseconds()).isEqualTo(100L);
  }

  @Test
  void theOldestStrategyLoadsBackWithItsCandidatesAndBatchingSettings() throws Exception {
    SequenceBatchingConfig seq =
        new SequenceBatchingConfig(
            SequenceBatchingConfig.Strategy.OLDEST,
            32,
            1_000_000,
            List.of(
                new SequenceBatchingConfig.ControlInput("START", Kind.START, DataType.INT32),
                new SequenceBatchingConfig.ControlInput("CORRID", Kind.CORRID, DataType.UINT64)),
            List.of());
    SchedulingConfig sc =
        SchedulingConfig.defaults()
            .withMaxQueueDelayMicros(250)
            .withPreferredBatchSizes(List.of(4, 8), true);
    PbtxtConverter.Converted back = roundTrip(config(sc, seq));
    assertThat(back.ignored()).noneMatch(p -> p.startsWith("sequence_batching"));
    assertThat(back.config().sequenceBatching())
        .isEqualTo(
            new ModelConfigFile.SequenceBatchingFile(
                1_000_000L,
                List.of(
                    new ModelConfigFile.ControlInputFile("START", "start"),
                    new ModelConfigFile.ControlInputFile("CORRID", "corrid")),
                null,
                "oldest",
                32));
    assertThat(back.config().dynamicBatching())
        .isEqualTo(
            new ModelConfigFile.DynamicBatchingFile(true, 250L, List.of(4, 8), true, null, null));
  }

  /** Triton's JSON of {@code c}, read back as tritonclient's load_model(config=...) sends it. */
  private static PbtxtConverter.Converted roundTrip(ModelConfig c) throws Exception {
    String json = ModelJson.tritonConfig(c).toString();
    dev.fulcrum.server.grpc.proto.ModelConfig.Builder b =
        dev.fulcrum.server.grpc.proto.ModelConfig.newBuilder();
    JsonFormat.parser().merge(json, b);
    return PbtxtConverter.convert(b.build(), Path.of("acc/config.pbtxt"));
  }

  private static ModelConfig config(SchedulingConfig sc, SequenceBatchingConfig seq) {
    return StatefulConfigs.accumulator(8, sc, seq);
  }
}
