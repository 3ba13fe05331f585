package dev.fulcrum.tools.tune;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.fulcrum.core.config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A model's configuration with one trial's knobs applied, in config.yaml's field names: sent as the
 * repository load's {@code config} override and written as {@code recommended.yaml}. Immutable
 * apart from the tree it returns, which belongs to the caller.
 */
final class TrialConfig {
  private static final ObjectMapper JSON =
      new ObjectMapper().setDefaultPropertyInclusion(JsonInclude.Include.NON_NULL);
  private static final ObjectMapper YAML =
      new ObjectMapper(
              YAMLFactory.builder()
                  .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                  .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                  .build())
          .setDefaultPropertyInclusion(JsonInclude.Include.NON_NULL);

  private final ObjectNode base;

  private TrialConfig(ObjectNode base) {
    this.base = base;
  }

  /** The model folder's own configuration (config.yaml or config.pbtxt; none: empty). */
  static TrialConfig read(Path modelDir) throws ConfigException {
    return new TrialConfig(
        JSON.valueToTree(TuneServer.configLoader().readFolder(modelDir).config()));
  }

  /**
   * A whole configuration file (a config.yaml or a {@code recommended.yaml}) as a tree, to send as
   * it is.
   */
  static ObjectNode readFile(Path file) throws ConfigException, IOException {
    String text = Files.readString(file);
    return JSON.valueToTree(TuneServer.configLoader().parse(text, file));
  }

  /** The knobs tune turns, as a configuration tree sets them (absent: the server's defaults). */
  static Knobs knobsOf(ObjectNode c) {
    boolean slo = c.path("slo").isObject();
    long delay =
        slo ? 0 : c.path("dynamic-batching").path("max-queue-delay-microseconds").asLong(0);
    return new Knobs(
            c.path("max-batch-size").asInt(0),
            delay,
            c.path("instance-count").asInt(groupedInstances(c)),
            c.path("onnxruntime").path("intra-op-threads").asInt(0),
            slo)
        .normalized();
  }

  /** The sum of the instance groups' counts (a config.pbtxt's), or 1 without groups. */
  private static int groupedInstances(ObjectNode c) {
    int sum = 0;
    for (JsonNode g : c.path("instance-groups")) {
      sum += g.path("count").asInt(0);
    }
    return sum > 0 ? sum : 1;
  }

  /** A configuration given as a tree (tests). */
  static TrialConfig of(ObjectNode base) {
    return new TrialConfig(base.deepCopy());
  }

  /**
   * The model's configuration with the knobs set: max-batch-size, instance-count,
   * onnxruntime.intra-op-threads, and either the dynamic batcher's queue delay or, for the SLO
   * policy, {@code slo: {latency-ms, percentile: 99}}; every other field as the model has it, but
   * for its preferred batch sizes above this max-batch-size (the server refuses those, so each
   * smaller batch size failed to load), which are left out.
   *
   * <p>A max-batch-size of 0 (the model does not batch) is written as 0, not left to the server to
   * infer: for a model whose dynamic first dimension is not a batch, an inferred max-batch-size
   * would be the server's default, and a written one skips the server's check of that dimension.
   *
   * @param sloMs the SLO that the policy keeps (needed when {@code knobs.sloPolicy()})
   */
  ObjectNode with(Knobs knobs, @Nullable Double sloMs) {
    ObjectNode c = base.deepCopy();
    c.put("max-batch-size", knobs.maxBatchSize());
    clipPreferredBatchSizes(c, knobs.maxBatchSize());
    c.put("instance-count", knobs.instanceCount());
    c.remove("instance-groups"); // a config.pbtxt's groups: their sum would have to match
    object(c, "onnxruntime").put("intra-op-threads", knobs.intraOpThreads());
    if (knobs.sloPolicy()) {
      if (sloMs == null) {
        throw new IllegalArgumentException("the SLO policy needs an SLO");
      }
      c.putObject("slo").put("latency-ms", sloMs).put("percentile", 99);
    } else {
      c.remove("slo");
      if (knobs.maxBatchSize() > 1) {
        object(c, "dynamic-batching")
            .put("enabled", true)
            .put("max-queue-delay-microseconds", knobs.maxQueueDelayMicros());
      }
    }
    return c;
  }

  /**
   * Leaves out the preferred batch sizes above {@code maxBatchSize} (all of them for 0), and the
   * field when none is left.
   */
  private static void clipPreferredBatchSizes(ObjectNode c, int maxBatchSize) {
    if (!(c.get("dynamic-batching") instanceof ObjectNode batching)
        || !(batching.get("preferred-batch-sizes") instanceof ArrayNode preferred)) {
      return;
    }
    ArrayNode kept = batching.arrayNode();
    for (JsonNode size : preferred) {
      if (size.canConvertToInt() && size.asInt() <= maxBatchSize) {
        kept.add(size);
      }
    }
    if (kept.isEmpty()) {
      batching.remove("preferred-batch-sizes");
    } else {
      batching.set("preferred-batch-sizes", kept);
    }
  }

  /** Only the model's own configuration plus an SLO: how tune asks whether the server has one. */
  ObjectNode withSlo(double sloMs) {
    ObjectNode c = base.deepCopy();
    c.putObject("slo").put("latency-ms", sloMs).put("percentile", 99);
    return c;
  }

  static String json(ObjectNode config) {
    try {
      return JSON.writeValueAsString(config);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The configuration as config.yaml, after {@code comments} (each line written as "# ..."). */
  static String yaml(ObjectNode config, List<String> comments) {
    StringBuilder out = new StringBuilder();
    for (String line : comments) {
      out.append(line.isEmpty() ? "#" : "# " + line).append('\n');
    }
    try {
      out.append(YAML.writeValueAsString(config));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    return out.toString();
  }

  private static ObjectNode object(ObjectNode parent, String field) {
    if (parent.get(field) instanceof ObjectNode o) {
      return o;
    }
    return parent.putObject(field);
  }
}
