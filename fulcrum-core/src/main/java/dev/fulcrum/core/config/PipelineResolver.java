package dev.fulcrum.core.config;

import dev.fulcrum.core.config.PipelineConfig.Step;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Validates config.yaml's {@code pipeline:} section into a {@link PipelineConfig}: each step's
 * settings, and where a step may stand (tokenize and standardize before the model, first; pooling
 * and the rest after it). Every error names the file and the field. Stateless.
 */
final class PipelineResolver {
  private PipelineResolver() {}

  static PipelineConfig resolve(ModelConfigFile f, Path file) throws ConfigException {
    ModelConfigFile.PipelineFile p = f.pipeline();
    if (p == null) {
      throw new IllegalArgumentException("no pipeline");
    }
    if ((p.model() == null) == (p.modelFile() == null)) {
      throw new ConfigException(
          file,
          "pipeline",
          "give exactly one of 'model: <a model of the repository>' or 'model-file'");
    }
    if (p.model() != null && (p.model().isBlank() || p.model().contains("/"))) {
      throw new ConfigException(file, "pipeline.model", "must be a model's folder name");
    }
    if (p.modelFile() != null && (p.modelFile().isBlank() || p.modelFile().contains(".."))) {
      throw new ConfigException(
          file, "pipeline.model-file", "must be a path inside the model's folder");
    }
    long version = p.modelVersion() == null ? 0 : p.modelVersion();
    if (version < 0 || (version > 0 && p.model() == null)) {
      throw new ConfigException(
          file, "pipeline.model-version", "must be >= 1, and goes with 'model'");
    }
    if (f.modelWarmup() != null && !f.modelWarmup().isEmpty()) {
      throw new ConfigException(
          file,
          "model-warmup",
          "is not supported for a pipeline model (warm up the wrapped model)");
    }
    List<Step> pre = steps(p.pre(), file, "pipeline.pre", true);
    List<Step> post = steps(p.post(), file, "pipeline.post", false);
    String batching = p.batching() == null ? "pad" : p.batching().trim();
    PipelineConfig.Batching mode =
        switch (batching.toLowerCase(Locale.ROOT)) {
          case "pad" -> PipelineConfig.Batching.PAD;
          case "alone" -> PipelineConfig.Batching.ALONE;
          default ->
              throw new ConfigException(
                  file, "pipeline.batching", "'" + batching + "' is not one of [pad, alone]");
        };
    return new PipelineConfig(
        p.model(),
        version,
        p.modelFile(),
        p.input(),
        p.output(),
        p.engineOutput(),
        pre,
        post,
        mode);
  }

  private static List<Step> steps(
      @Nullable List<ModelConfigFile.StepFile> given, Path file, String field, boolean pre)
      throws ConfigException {
    List<Step> out = new ArrayList<>();
    if (given == null) {
      return out;
    }
    for (int i = 0; i < given.size(); i++) {
      ModelConfigFile.StepFile s = given.get(i);
      String here = field + "[" + i + "]";
      if (s == null || s.step() == null) {
        throw new ConfigException(
            file, here + ".step", "is required: one of " + (pre ? PRE : POST));
      }
      String kind = s.step().trim().toLowerCase(Locale.ROOT);
      if (!(pre ? PRE : POST).contains(kind)) {
        throw new ConfigException(
            file,
            here + ".step",
            "'"
                + s.step()
                + "' cannot stand "
                + (pre ? "before" : "after")
                + " the model; use one of "
                + (pre ? PRE : POST));
      }
      if (pre && i > 0) {
        throw new ConfigException(
            file, here, "a pipeline has one step before the model (tokenize or standardize)");
      }
      out.add(step(kind, s, file, here));
    }
    return out;
  }

  private static final List<String> PRE = List.of("tokenize", "standardize");
  private static final List<String> POST = List.of("mean-pool", "normalize", "softmax", "top-k");

  private static Step step(String kind, ModelConfigFile.StepFile s, Path file, String here)
      throws ConfigException {
    List<String> given = new ArrayList<>();
    if (s.tokenizer() != null) given.add("tokenizer");
    if (s.maxLength() != null) given.add("max-length");
    if (s.truncation() != null) given.add("truncation");
    if (s.padding() != null) given.add("padding");
    if (s.statistics() != null) given.add("statistics");
    if (s.k() != null) given.add("k");
    if (s.labels() != null) given.add("labels");
    List<String> allowed =
        switch (kind) {
          case "tokenize" -> List.of("tokenizer", "max-length", "truncation", "padding");
          case "standardize" -> List.of("statistics");
          case "top-k" -> List.of("k", "labels");
          default -> List.of();
        };
    for (String g : given) {
      if (!allowed.contains(g)) {
        throw new ConfigException(
            file,
            here + "." + g,
            "is not a setting of step '"
                + kind
                + "'"
                + (allowed.isEmpty() ? "" : "; it takes " + allowed));
      }
    }
    return switch (kind) {
      case "tokenize" -> {
        String tokenizer = required(s.tokenizer(), file, here + ".tokenizer");
        // Not written: the tokenizer file's own truncation length, read when the tokenizer is
        // opened (a model's tokenizer.json says what it was trained and exported with).
        Integer max = s.maxLength();
        if (max != null && (max < 2 || max > 1 << 16)) {
          throw new ConfigException(file, here + ".max-length", "must be 2..65536, was " + max);
        }
        String padding = s.padding() == null ? "longest" : s.padding().trim();
        PipelineConfig.Padding pad =
            switch (padding.toLowerCase(Locale.ROOT)) {
              case "longest" -> PipelineConfig.Padding.LONGEST;
              case "max-length" -> PipelineConfig.Padding.MAX_LENGTH;
              default ->
                  throw new ConfigException(
                      file,
                      here + ".padding",
                      "'" + padding + "' is not one of [longest, max-length]");
            };
        yield new PipelineConfig.Tokenize(
            tokenizer, max, s.truncation() == null || s.truncation(), pad);
      }
      case "standardize" ->
          new PipelineConfig.Standardize(required(s.statistics(), file, here + ".statistics"));
      case "mean-pool" -> new PipelineConfig.MeanPool();
      case "normalize" -> new PipelineConfig.Normalize();
      case "softmax" -> new PipelineConfig.Softmax();
      case "top-k" -> {
        int k = s.k() == null ? 1 : s.k();
        if (k < 1 || k > 1 << 16) {
          throw new ConfigException(file, here + ".k", "must be 1..65536, was " + k);
        }
        if (s.labels() != null && (s.labels().isBlank() || s.labels().contains(".."))) {
          throw new ConfigException(file, here + ".labels", "must be a file in the model's folder");
        }
        yield new PipelineConfig.TopK(k, s.labels());
      }
      default -> throw new IllegalStateException(kind);
    };
  }

  private static String required(@Nullable String value, Path file, String field)
      throws ConfigException {
    if (value == null || value.isBlank()) {
      throw new ConfigException(file, field, "is required");
    }
    if (value.contains("..")) {
      throw new ConfigException(file, field, "must be a file in the model's folder");
    }
    return value;
  }
}
