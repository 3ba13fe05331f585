package dev.fulcrum.core.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A model's training-serving skew and drift monitoring, as resolved from config.yaml's {@code
 * monitoring:} section (docs/MONITORING.md). Immutable.
 *
 * @param enabled whether served requests are compared with the baseline
 * @param baseline the baseline file: as config.yaml names it until {@link ModelConfig#locatedIn}
 *     resolves it against the model's folder when a version loads (it may not exist yet: {@code
 *     fulcrum profile} writes it)
 * @param sampleRate the share of successful requests monitored, in (0, 1]
 * @param features the named columns of each monitored input tensor, in the model's input order
 * @param window observations per window of the distribution tests (PSI, L-infinity)
 * @param falseAlarmRate the false alarms per observation the model's detectors may raise together
 *     when nothing drifted (split across features and tests, Bonferroni)
 * @param cusumK the sequential test's allowance, in standard deviations (half the smallest shift it
 *     is tuned to catch fast)
 * @param rangeWindow the last observations in which out-of-range and missing values are counted
 * @param clearAfter observations without a test firing before a feature's alert clears
 * @param psiFloor the smallest PSI that counts as drift, whatever the sample size
 * @param text for a model whose input holds token ids: which input and mask, and the [UNK] id; null
 *     for a tabular model
 */
public record MonitoringConfig(
    boolean enabled,
    Path baseline,
    double sampleRate,
    List<InputFeatures> features,
    int window,
    double falseAlarmRate,
    double cusumK,
    int rangeWindow,
    int clearAfter,
    double psiFloor,
    @Nullable TextInput text) {

  /** The file name of a baseline when config.yaml names none. */
  public static final String DEFAULT_BASELINE = "baseline.json";

  public MonitoringConfig {
    Objects.requireNonNull(baseline, "baseline");
    features = List.copyOf(features);
  }

  /** The baseline file inside a model's folder. */
  public Path locatedBaselineIn(Path modelDir) {
    return modelDir.resolve(baseline).toAbsolutePath();
  }

  /** The same settings with the baseline at {@code file}. */
  public MonitoringConfig withBaseline(Path file) {
    return new MonitoringConfig(
        enabled,
        file,
        sampleRate,
        features,
        window,
        falseAlarmRate,
        cusumK,
        rangeWindow,
        clearAfter,
        psiFloor,
        text);
  }

  /**
   * The names of one input tensor's columns.
   *
   * @param input the input tensor's name
   * @param names one name per element of the tensor's last dimension
   */
  public record InputFeatures(String input, List<String> names) {
    public InputFeatures {
      Objects.requireNonNull(input, "input");
      names = List.copyOf(names);
    }
  }

  /**
   * A token-id input (config.yaml's {@code monitoring.text}): the monitor compares the derived
   * features seq_len, padding_share and unk_rate of each row (docs/MONITORING.md, "Text models")
   * instead of the ids themselves.
   *
   * @param input the input holding {@code [batch, seq]} token ids
   * @param mask the input holding the attention mask, same shape (1 token, 0 padding)
   * @param unkId the [UNK] token's id
   * @param output the embedding output ({@code [batch, seq, dim]}, mean-pooled over the mask, or
   *     {@code [batch, dim]}) whose {@link #OUTPUT_FEATURES} are compared as the model's outputs;
   *     null when only the inputs are monitored
   */
  public record TextInput(String input, String mask, int unkId, @Nullable String output) {
    /** The names of the derived features, in the order the monitor computes them. */
    public static final List<String> FEATURES = List.of("seq_len", "padding_share", "unk_rate");

    /** The names of the derived output features: the pooled embedding's L2 norm and mean. */
    public static final List<String> OUTPUT_FEATURES = List.of("embedding_norm", "embedding_mean");

    /** Without an embedding output. */
    public TextInput(String input, String mask, int unkId) {
      this(input, mask, unkId, null);
    }

    /** [UNK] in the BERT uncased WordPiece vocabulary (MiniLM) when no vocabulary says. */
    public static final int DEFAULT_UNK_ID = 100;

    public TextInput {
      Objects.requireNonNull(input, "input");
      Objects.requireNonNull(mask, "mask");
    }
  }
}
