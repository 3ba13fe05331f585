package dev.fulcrum.monitoring;

import dev.fulcrum.core.repository.ModelVersion;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One successful request's numeric inputs and outputs as values: the prediction log's thread copies
 * a {@link Completed} into one to write its line, and the replay ({@code fulcrum skew-check}) reads
 * one back from each line. Nothing here refers to a request's buffers. Immutable after construction
 * (the arrays are never written again).
 *
 * @param source the version that ran it (live only; null when read back from a log)
 * @param model the model's name
 * @param version the version that ran it
 * @param id the request's id ("" when none)
 * @param epochMillis when it completed
 * @param latencyNanos from admission to completion
 * @param inputs the numeric inputs
 * @param outputs the numeric outputs
 */
public record Observation(
    @Nullable ModelVersion source,
    String model,
    String version,
    String id,
    long epochMillis,
    long latencyNanos,
    List<Values> inputs,
    List<Values> outputs) {

  public Observation {
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
  }

  /**
   * One tensor's values, row-major, with its shape: numbers, or for a BYTES tensor its elements as
   * text (then {@code values} is empty). The prediction log writes both; the monitor compares only
   * numbers, and a replay of a text pipeline's log runs the text through the pipeline again.
   *
   * @param strings a BYTES tensor's elements decoded as UTF-8 (malformed bytes replaced), else
   *     empty
   */
  public record Values(String name, long[] shape, double[] values, List<String> strings) {
    public Values {
      strings = List.copyOf(strings);
    }

    /** Numeric values. */
    public Values(String name, long[] shape, double[] values) {
      this(name, shape, values, List.of());
    }

    /** Whether this is a BYTES tensor's text rather than numbers. */
    public boolean isText() {
      return !strings.isEmpty();
    }
  }

  @Nullable Values input(String name) {
    return find(inputs, name);
  }

  @Nullable Values output(String name) {
    return find(outputs, name);
  }

  private static @Nullable Values find(List<Values> list, String name) {
    for (Values v : list) {
      if (v.name().equals(name)) {
        return v;
      }
    }
    return null;
  }
}
