package dev.fulcrum.monitoring;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.fulcrum.core.io.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a model's training data looked like, per feature and per output: the file {@code fulcrum
 * profile} writes beside config.yaml ({@code baseline.json}) and the live monitor and {@code
 * fulcrum skew-check} compare served rows with. Immutable; (de)serialized with Jackson.
 *
 * @param model the model it was made for
 * @param source the training data file's name
 * @param rows training rows read
 * @param inputs which input tensor's columns the features are, as config.yaml named them
 * @param features one entry per input feature, in the inputs' column order
 * @param outputs one entry per output column ({@code name} for a scalar output, {@code name[i]}
 *     otherwise), from the model's own answers on the training data
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Baseline(
    @JsonProperty("model") String model,
    @JsonProperty("source") String source,
    @JsonProperty("rows") long rows,
    @JsonProperty("inputs") List<InputColumns> inputs,
    @JsonProperty("features") List<FeatureBaseline> features,
    @JsonProperty("outputs") List<FeatureBaseline> outputs) {

  /** The mapper, built at its first use: reading a plain baseline needs none. */
  private static final class Databind {
    static final ObjectMapper JSON =
        new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
  }

  public Baseline {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(source, "source");
    inputs = List.copyOf(inputs);
    features = List.copyOf(features);
    outputs = List.copyOf(outputs);
  }

  /** The names of one input tensor's columns. */
  public record InputColumns(
      @JsonProperty("input") String input, @JsonProperty("names") List<String> names) {
    public InputColumns {
      names = List.copyOf(names);
    }
  }

  /** A feature's kind: compared by quantile bins (numeric) or by category frequencies. */
  public enum Kind {
    @JsonProperty("numeric")
    NUMERIC,
    @JsonProperty("categorical")
    CATEGORICAL
  }

  /**
   * One feature (or output column) of the training data.
   *
   * @param count values present (not missing)
   * @param missingRate the share of rows where it was missing (empty or NaN)
   * @param binEdges numeric: the inner edges of the quantile bins, strictly increasing; a value
   *     {@code x} falls in the bin numbered by how many edges are {@code <= x}
   * @param binFrequencies numeric: the share of values in each bin (one more than the edges)
   * @param quantiles numeric: the 0th, 1st, ..., 100th percentiles
   * @param categories categorical: each value seen and its share
   * @param score the sequential test's reference: the standardized normal scores of the training
   *     values (see {@link ScoreTransform})
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record FeatureBaseline(
      @JsonProperty("name") String name,
      @JsonProperty("type") Kind type,
      @JsonProperty("count") long count,
      @JsonProperty("missing_rate") double missingRate,
      @JsonProperty("mean") double mean,
      @JsonProperty("stddev") double stddev,
      @JsonProperty("min") double min,
      @JsonProperty("max") double max,
      @JsonProperty("bin_edges") @Nullable List<Double> binEdges,
      @JsonProperty("bin_frequencies") @Nullable List<Double> binFrequencies,
      @JsonProperty("quantiles") @Nullable List<Double> quantiles,
      @JsonProperty("categories") @Nullable List<Category> categories,
      @JsonProperty("score") @Nullable ScoreReference score) {

    /** The bin edges (numeric), never null. */
    List<Double> edges() {
      return binEdges == null ? List.of() : binEdges;
    }

    FeatureBaseline withScore(ScoreReference s) {
      return new FeatureBaseline(
          name,
          type,
          count,
          missingRate,
          mean,
          stddev,
          min,
          max,
          binEdges,
          binFrequencies,
          quantiles,
          categories,
          s);
    }
  }

  /** A categorical value and its share of the present values. */
  public record Category(
      @JsonProperty("value") double value, @JsonProperty("frequency") double frequency) {}

  /**
   * The distribution of a feature's normal scores on the training data: their mean and standard
   * deviation, and the standardized scores rounded to 0.05 with their shares (what the CUSUM's
   * threshold is computed from).
   */
  public record ScoreReference(
      @JsonProperty("mean") double mean,
      @JsonProperty("std") double std,
      @JsonProperty("values") List<Double> values,
      @JsonProperty("weights") List<Double> weights) {}

  /** Reads a baseline file. */
  public static Baseline read(Path file) throws IOException {
    Baseline b = PlainBaselineReader.read(file); // no databind for a file as profile writes it
    if (b == null) {
      b = Databind.JSON.readValue(file.toFile(), Baseline.class);
    }
    b.check(file);
    return b;
  }

  /** Writes this baseline (pretty-printed JSON). */
  public void write(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    // Written beside it and moved over it: a server polling the repository never reads half a
    // baseline while profile writes one.
    AtomicFile.replace(file, out -> Databind.JSON.writeValue(out, this));
  }

  private void check(Path file) throws IOException {
    for (List<FeatureBaseline> list : List.of(features, outputs)) {
      for (FeatureBaseline f : list) {
        String where = file.getFileName() + ": feature '" + f.name() + "'";
        if (f.score() == null) {
          throw new IOException(where + " has no score reference");
        }
        if (f.type() == Kind.NUMERIC) {
          if (f.binEdges() == null || f.binFrequencies() == null || f.quantiles() == null) {
            throw new IOException(where + " (numeric) needs bin_edges, bin_frequencies, quantiles");
          }
          if (f.binFrequencies().size() != f.binEdges().size() + 1) {
            throw new IOException(
                where + ": bin_frequencies must have one more entry than bin_edges");
          }
        } else if (f.categories() == null || f.categories().isEmpty()) {
          throw new IOException(where + " (categorical) needs categories");
        }
      }
    }
  }
}
