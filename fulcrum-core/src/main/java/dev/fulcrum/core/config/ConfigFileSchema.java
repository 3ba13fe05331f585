package dev.fulcrum.core.config;

import dev.fulcrum.core.config.ModelConfigFile.ControlInputFile;
import dev.fulcrum.core.config.ModelConfigFile.DynamicBatchingFile;
import dev.fulcrum.core.config.ModelConfigFile.EnsembleFile;
import dev.fulcrum.core.config.ModelConfigFile.EnsembleStepFile;
import dev.fulcrum.core.config.ModelConfigFile.InstanceGroupFile;
import dev.fulcrum.core.config.ModelConfigFile.MonitoringFile;
import dev.fulcrum.core.config.ModelConfigFile.OnnxRuntimeFile;
import dev.fulcrum.core.config.ModelConfigFile.PipelineFile;
import dev.fulcrum.core.config.ModelConfigFile.QueuePolicyFile;
import dev.fulcrum.core.config.ModelConfigFile.ResponseCacheFile;
import dev.fulcrum.core.config.ModelConfigFile.RolloutFile;
import dev.fulcrum.core.config.ModelConfigFile.SequenceBatchingFile;
import dev.fulcrum.core.config.ModelConfigFile.SloFile;
import dev.fulcrum.core.config.ModelConfigFile.StateFile;
import dev.fulcrum.core.config.ModelConfigFile.StepFile;
import dev.fulcrum.core.config.ModelConfigFile.Tensor;
import dev.fulcrum.core.config.ModelConfigFile.TextFile;
import dev.fulcrum.core.config.ModelConfigFile.VersionPolicyFile;
import dev.fulcrum.core.config.ModelConfigFile.WarmupFile;
import dev.fulcrum.core.config.ModelConfigFile.WarmupInputFile;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The file's schema of each {@link ModelConfigFile} record, written out: its fields' names in the
 * file, in component order, their kinds, and its canonical constructor as a plain call. {@link
 * PlainConfigMapper} maps by it instead of by reflection: a fresh JVM's first {@code
 * Constructor.newInstance} of each record, its {@code getRecordComponents} and generic types cost
 * the start's configuration read ~half of its thread's CPU, on the first answer's path
 * (docs/PERFORMANCE.md, "Cold start", sessions 17 and 18). {@code ConfigFileSchemaTest} checks
 * every record against its components and {@code @JsonProperty} names, so a new field fails a test
 * until it is added here. Immutable and thread-safe.
 */
final class ConfigFileSchema {
  private ConfigFileSchema() {}

  /** What a field holds. */
  sealed interface Kind permits Scalar, ListOf, MapOf, RecordOf {}

  /** A scalar, as its Java type: String, Integer, Long, Double, Boolean. */
  enum Scalar implements Kind {
    STRING,
    INTEGER,
    LONG,
    DOUBLE,
    BOOLEAN
  }

  /** A {@code List} of {@code element}. */
  record ListOf(Kind element) implements Kind {}

  /** A {@code Map} from String keys to {@code value}. */
  record MapOf(Kind value) implements Kind {}

  /**
   * A record: {@code fields[i]} is component i's name in the file, {@code kinds[i]} its kind, and
   * {@code make} calls the canonical constructor with the components in order (null when absent).
   */
  record RecordOf(
      Class<?> type,
      List<String> fields,
      List<Kind> kinds,
      Function<@Nullable Object[], Object> make)
      implements Kind {}

  private static final Scalar S = Scalar.STRING;
  private static final Scalar I = Scalar.INTEGER;
  private static final Scalar L = Scalar.LONG;
  private static final Scalar D = Scalar.DOUBLE;
  private static final Scalar B = Scalar.BOOLEAN;

  private static ListOf listOf(Kind k) {
    return new ListOf(k);
  }

  static final RecordOf TENSOR =
      new RecordOf(
          Tensor.class,
          List.of("name", "datatype", "dims", "allow-non-finite", "labels", "reshape"),
          List.of(S, S, listOf(L), B, S, listOf(L)),
          a ->
              new Tensor(
                  (String) a[0],
                  (String) a[1],
                  longs(a[2]),
                  (Boolean) a[3],
                  (String) a[4],
                  longs(a[5])));

  static final RecordOf VERSION_POLICY =
      new RecordOf(
          VersionPolicyFile.class,
          List.of("latest", "all", "specific"),
          List.of(I, B, listOf(L)),
          a -> new VersionPolicyFile((Integer) a[0], (Boolean) a[1], longs(a[2])));

  static final RecordOf ONNX_RUNTIME =
      new RecordOf(
          OnnxRuntimeFile.class,
          List.of(
              "intra-op-threads",
              "inter-op-threads",
              "graph-optimization-level",
              "execution-mode",
              "memory-arena",
              "memory-pattern",
              "execution-provider",
              "device-id",
              "allow-spinning",
              "intra-op-threads-alone",
              "intra-op-threads-one-row"),
          List.of(I, I, S, S, B, B, S, I, B, I, I),
          a ->
              new OnnxRuntimeFile(
                  (Integer) a[0],
                  (Integer) a[1],
                  (String) a[2],
                  (String) a[3],
                  (Boolean) a[4],
                  (Boolean) a[5],
                  (String) a[6],
                  (Integer) a[7],
                  (Boolean) a[8],
                  (Integer) a[9],
                  (Integer) a[10]));

  static final RecordOf DYNAMIC_BATCHING =
      new RecordOf(
          DynamicBatchingFile.class,
          List.of(
              "enabled",
              "max-queue-delay-microseconds",
              "preferred-batch-sizes",
              "preserve-ordering",
              "priority-levels",
              "default-priority-level"),
          List.of(B, L, listOf(I), B, I, I),
          a ->
              new DynamicBatchingFile(
                  (Boolean) a[0],
                  (Long) a[1],
                  ints(a[2]),
                  (Boolean) a[3],
                  (Integer) a[4],
                  (Integer) a[5]));

  static final RecordOf QUEUE_POLICY =
      new RecordOf(
          QueuePolicyFile.class,
          List.of(
              "max-queue-size",
              "default-timeout-microseconds",
              "timeout-action",
              "allow-timeout-override"),
          List.of(I, L, S, B),
          a -> new QueuePolicyFile((Integer) a[0], (Long) a[1], (String) a[2], (Boolean) a[3]));

  static final RecordOf WARMUP_INPUT =
      new RecordOf(
          WarmupInputFile.class,
          List.of("data-type", "dims", "zero-data", "random-data", "input-data-file"),
          List.of(S, listOf(L), B, B, S),
          a ->
              new WarmupInputFile(
                  (String) a[0], longs(a[1]), (Boolean) a[2], (Boolean) a[3], (String) a[4]));

  static final RecordOf WARMUP =
      new RecordOf(
          WarmupFile.class,
          List.of("name", "batch-size", "count", "inputs"),
          List.of(S, I, I, new MapOf(WARMUP_INPUT)),
          a ->
              new WarmupFile(
                  (String) a[0],
                  (Integer) a[1],
                  (Integer) a[2],
                  ConfigFileSchema.<WarmupInputFile>map(a[3])));

  static final RecordOf SLO =
      new RecordOf(
          SloFile.class,
          List.of("latency-ms", "percentile", "cost-per-hour"),
          List.of(D, D, D),
          a -> new SloFile((Double) a[0], (Double) a[1], (Double) a[2]));

  static final RecordOf TEXT =
      new RecordOf(
          TextFile.class,
          List.of("input", "mask", "unk-id", "output"),
          List.of(S, S, I, S),
          a -> new TextFile((String) a[0], (String) a[1], (Integer) a[2], (String) a[3]));

  static final RecordOf MONITORING =
      new RecordOf(
          MonitoringFile.class,
          List.of(
              "enabled",
              "baseline",
              "sample-rate",
              "features",
              "window",
              "false-alarm-rate",
              "cusum-k",
              "range-window",
              "clear-after",
              "psi-floor",
              "text"),
          List.of(B, S, D, new MapOf(listOf(S)), I, D, D, I, I, D, TEXT),
          a ->
              new MonitoringFile(
                  (Boolean) a[0],
                  (String) a[1],
                  (Double) a[2],
                  ConfigFileSchema.<List<String>>map(a[3]),
                  (Integer) a[4],
                  (Double) a[5],
                  (Double) a[6],
                  (Integer) a[7],
                  (Integer) a[8],
                  (Double) a[9],
                  (TextFile) a[10]));

  static final RecordOf STEP =
      new RecordOf(
          StepFile.class,
          List.of(
              "step",
              "tokenizer",
              "max-length",
              "truncation",
              "padding",
              "statistics",
              "k",
              "labels"),
          List.of(S, S, I, B, S, S, I, S),
          a ->
              new StepFile(
                  (String) a[0],
                  (String) a[1],
                  (Integer) a[2],
                  (Boolean) a[3],
                  (String) a[4],
                  (String) a[5],
                  (Integer) a[6],
                  (String) a[7]));

  static final RecordOf PIPELINE =
      new RecordOf(
          PipelineFile.class,
          List.of(
              "model",
              "model-version",
              "model-file",
              "input",
              "output",
              "engine-output",
              "pre",
              "post",
              "batching"),
          List.of(S, L, S, S, S, S, listOf(STEP), listOf(STEP), S),
          a ->
              new PipelineFile(
                  (String) a[0],
                  (Long) a[1],
                  (String) a[2],
                  (String) a[3],
                  (String) a[4],
                  (String) a[5],
                  ConfigFileSchema.<StepFile>list(a[6]),
                  ConfigFileSchema.<StepFile>list(a[7]),
                  (String) a[8]));

  static final RecordOf RESPONSE_CACHE =
      new RecordOf(
          ResponseCacheFile.class,
          List.of("enabled", "max-bytes"),
          List.of(B, L),
          a -> new ResponseCacheFile((Boolean) a[0], (Long) a[1]));

  static final RecordOf INSTANCE_GROUP =
      new RecordOf(
          InstanceGroupFile.class,
          List.of("name", "kind", "count", "gpus"),
          List.of(S, S, I, listOf(I)),
          a -> new InstanceGroupFile((String) a[0], (String) a[1], (Integer) a[2], ints(a[3])));

  static final RecordOf CONTROL_INPUT =
      new RecordOf(
          ControlInputFile.class,
          List.of("name", "kind"),
          List.of(S, S),
          a -> new ControlInputFile((String) a[0], (String) a[1]));

  static final RecordOf STATE =
      new RecordOf(
          StateFile.class,
          List.of("input-name", "output-name", "datatype", "dims"),
          List.of(S, S, S, listOf(L)),
          a -> new StateFile((String) a[0], (String) a[1], (String) a[2], longs(a[3])));

  static final RecordOf SEQUENCE_BATCHING =
      new RecordOf(
          SequenceBatchingFile.class,
          List.of(
              "max-sequence-idle-microseconds",
              "control-inputs",
              "states",
              "strategy",
              "max-candidate-sequences"),
          List.of(L, listOf(CONTROL_INPUT), listOf(STATE), S, I),
          a ->
              new SequenceBatchingFile(
                  (Long) a[0],
                  ConfigFileSchema.<ControlInputFile>list(a[1]),
                  ConfigFileSchema.<StateFile>list(a[2]),
                  (String) a[3],
                  (Integer) a[4]));

  static final RecordOf ENSEMBLE_STEP =
      new RecordOf(
          EnsembleStepFile.class,
          List.of("model", "model-version", "input-map", "output-map"),
          List.of(S, L, new MapOf(S), new MapOf(S)),
          a ->
              new EnsembleStepFile(
                  (String) a[0],
                  (Long) a[1],
                  ConfigFileSchema.<String>map(a[2]),
                  ConfigFileSchema.<String>map(a[3])));

  static final RecordOf ENSEMBLE =
      new RecordOf(
          EnsembleFile.class,
          List.of("steps", "max-inflight-requests"),
          List.of(listOf(ENSEMBLE_STEP), I),
          a -> new EnsembleFile(ConfigFileSchema.<EnsembleStepFile>list(a[0]), (Integer) a[1]));

  static final RecordOf ROLLOUT =
      new RecordOf(
          RolloutFile.class,
          List.of(
              "canary-traffic-percent",
              "min-requests",
              "window",
              "max-failed-percent-increase",
              "max-p99-ratio",
              "p99-slack-ms",
              "max-slo-miss-percent-increase",
              "promote-after-requests",
              "promote-after-seconds",
              "canary-steps"),
          List.of(I, I, I, D, D, D, D, L, D, listOf(I)),
          a ->
              new RolloutFile(
                  (Integer) a[0],
                  (Integer) a[1],
                  (Integer) a[2],
                  (Double) a[3],
                  (Double) a[4],
                  (Double) a[5],
                  (Double) a[6],
                  (Long) a[7],
                  (Double) a[8],
                  ConfigFileSchema.<Integer>list(a[9])));

  /** The root: a whole {@code config.yaml}. */
  static final RecordOf MODEL_CONFIG =
      new RecordOf(
          ModelConfigFile.class,
          List.of(
              "name",
              "platform",
              "default-model-filename",
              "max-batch-size",
              "inputs",
              "outputs",
              "version-policy",
              "instance-count",
              "onnxruntime",
              "dynamic-batching",
              "queue-policy",
              "model-warmup",
              "slo",
              "monitoring",
              "pipeline",
              "response-cache",
              "instance-groups",
              "slow-request-ms",
              "sequence-batching",
              "ensemble",
              "priority-queue-policy",
              "rollout"),
          List.of(
              S,
              S,
              S,
              I,
              listOf(TENSOR),
              listOf(TENSOR),
              VERSION_POLICY,
              I,
              ONNX_RUNTIME,
              DYNAMIC_BATCHING,
              QUEUE_POLICY,
              listOf(WARMUP),
              SLO,
              MONITORING,
              PIPELINE,
              RESPONSE_CACHE,
              listOf(INSTANCE_GROUP),
              D,
              SEQUENCE_BATCHING,
              ENSEMBLE,
              new MapOf(QUEUE_POLICY),
              ROLLOUT),
          a ->
              new ModelConfigFile(
                  (String) a[0],
                  (String) a[1],
                  (String) a[2],
                  (Integer) a[3],
                  ConfigFileSchema.<Tensor>list(a[4]),
                  ConfigFileSchema.<Tensor>list(a[5]),
                  (VersionPolicyFile) a[6],
                  (Integer) a[7],
                  (OnnxRuntimeFile) a[8],
                  (DynamicBatchingFile) a[9],
                  (QueuePolicyFile) a[10],
                  ConfigFileSchema.<WarmupFile>list(a[11]),
                  (SloFile) a[12],
                  (MonitoringFile) a[13],
                  (PipelineFile) a[14],
                  (ResponseCacheFile) a[15],
                  ConfigFileSchema.<InstanceGroupFile>list(a[16]),
                  (Double) a[17],
                  (SequenceBatchingFile) a[18],
                  (EnsembleFile) a[19],
                  ConfigFileSchema.<QueuePolicyFile>map(a[20]),
                  (RolloutFile) a[21]));

  /** A list the mapper built for a {@link ListOf} of T's kind (or null). */
  @SuppressWarnings("unchecked")
  private static <T> @Nullable List<T> list(@Nullable Object v) {
    return (List<T>) v;
  }

  /** A map the mapper built for a {@link MapOf} of T's kind (or null). */
  @SuppressWarnings("unchecked")
  private static <T> @Nullable Map<String, T> map(@Nullable Object v) {
    return (Map<String, T>) v;
  }

  private static @Nullable List<Long> longs(@Nullable Object v) {
    return list(v);
  }

  private static @Nullable List<Integer> ints(@Nullable Object v) {
    return list(v);
  }
}
