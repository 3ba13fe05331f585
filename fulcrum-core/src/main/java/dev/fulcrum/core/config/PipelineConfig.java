package dev.fulcrum.core.config;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A pipeline model as served: the model file it wraps and the typed steps before and after it,
 * validated by {@link ModelConfigResolver}. Step files (tokenizer, labels, statistics) are paths as
 * written, relative to the model's folder; the pipeline runtime opens them at load.
 *
 * @param model the repository model whose file is wrapped, or null when {@code modelFile} is given
 * @param modelVersion that model's version folder; 0 for its newest
 * @param modelFile a model file relative to the model's folder, or null when {@code model} is given
 * @param input the pipeline input's name, or null for the default (see docs/MODEL_CONFIG.md)
 * @param output the pipeline output's name, or null for the wrapped model's output name
 * @param engineOutput the wrapped model's output the post steps take, or null for its first
 * @param pre the steps before the model
 * @param post the steps after the model
 * @param batching whether rows share a forward pass (padded) or each runs alone
 */
public record PipelineConfig(
    @Nullable String model,
    long modelVersion,
    @Nullable String modelFile,
    @Nullable String input,
    @Nullable String output,
    @Nullable String engineOutput,
    List<Step> pre,
    List<Step> post,
    Batching batching) {

  /** The platform name under which a pipeline model is served. */
  public static final String PLATFORM = "fulcrum_pipeline";

  public PipelineConfig {
    pre = List.copyOf(pre);
    post = List.copyOf(post);
    java.util.Objects.requireNonNull(batching, "batching");
    if ((model == null) == (modelFile == null)) {
      throw new IllegalArgumentException("exactly one of model and modelFile");
    }
  }

  /** True when the first pre step tokenizes text and rows share passes: a batch pads its ids. */
  public boolean padsSequences() {
    return batching == Batching.PAD && !pre.isEmpty() && pre.get(0) instanceof Tokenize;
  }

  /** Whether rows (sentences) share a forward pass. */
  public enum Batching {
    /**
     * Rows of a request and of concurrent requests share passes, token ids padded to the longest
     * (exact for a float model whose attention honours the mask).
     */
    PAD,
    /**
     * Every row runs in a pass of its own, never beside another, so that its answer does not depend
     * on what it was batched with (a model with dynamically quantized activations scales them by
     * the whole batch); concurrency comes from instance-count.
     */
    ALONE
  }

  /** One step; each record holds the settings of its kind. */
  public sealed interface Step permits Tokenize, Standardize, MeanPool, Normalize, Softmax, TopK {
    /** The name config.yaml gives the step. */
    String kind();
  }

  /** How a tokenized batch is padded. */
  public enum Padding {
    /** To the longest sentence of the batch (no wasted positions). */
    LONGEST,
    /** Every sentence to {@code max-length}. */
    MAX_LENGTH
  }

  /**
   * Text (BYTES, one sentence per row) to token ids, attention mask and token types.
   *
   * @param tokenizer a Hugging Face tokenizer.json
   * @param maxLength the most tokens per sentence, special tokens included; null when config.yaml
   *     does not say: then the tokenizer file's own {@code truncation.max_length}, else {@link
   *     #DEFAULT_MAX_LENGTH}
   * @param truncation cut longer sentences; when false a longer one is refused (400)
   */
  public record Tokenize(
      String tokenizer, @Nullable Integer maxLength, boolean truncation, Padding padding)
      implements Step {
    /** The most tokens per sentence when neither config.yaml nor the tokenizer file says. */
    public static final int DEFAULT_MAX_LENGTH = 512;

    public Tokenize {
      Objects.requireNonNull(tokenizer, "tokenizer");
      Objects.requireNonNull(padding, "padding");
    }

    @Override
    public String kind() {
      return "tokenize";
    }
  }

  /** (x - mean) / std per feature, from a JSON file {@code {"mean": [..], "std": [..]}}. */
  public record Standardize(String statistics) implements Step {
    public Standardize {
      Objects.requireNonNull(statistics, "statistics");
    }

    @Override
    public String kind() {
      return "standardize";
    }
  }

  /** Token vectors [n, L, H] to one vector [n, H]: their mean over the attention mask. */
  public record MeanPool() implements Step {
    @Override
    public String kind() {
      return "mean-pool";
    }
  }

  /** Each row divided by its L2 norm. */
  public record Normalize() implements Step {
    @Override
    public String kind() {
      return "normalize";
    }
  }

  /** Softmax over the last dimension. */
  public record Softmax() implements Step {
    @Override
    public String kind() {
      return "softmax";
    }
  }

  /**
   * The k best classes of each row as Triton's classification strings {@code "score:index:label"}
   * (BYTES [n, k]); a request's output parameter {@code classification: k} overrides k.
   *
   * @param labels a labels file (line i names class i), or null for {@code "score:index"}
   */
  public record TopK(int k, @Nullable String labels) implements Step {
    public TopK {
      if (k < 1) {
        throw new IllegalArgumentException("k must be >= 1, was " + k);
      }
    }

    @Override
    public String kind() {
      return "top-k";
    }
  }
}
