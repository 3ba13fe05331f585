package dev.fulcrum.testkit.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Pipeline models over the demo's MiniLM for tests: a model folder in a repository of the test's
 * own, its {@code model.onnx} a link to the demo's file and its {@code tokenizer.json} a copy of
 * the demo's, with the {@code config.yaml} the test writes. Stateless.
 */
public final class MiniLmPipelines {
  /** The demo's MiniLM folder, under the demo model repository. */
  public static final String FOLDER = "all_minilm_l6_v2";

  /** The demo's quantized MiniLM, placed there by fulcrum-tools' build. */
  public static final String MODEL_FILE = "1/all-minilm-l6-v2-q.onnx";

  /** The demo's tokenizer, beside it. */
  public static final String TOKENIZER_FILE = "all-minilm-l6-v2-q-tokenizer.json";

  private MiniLmPipelines() {}

  /**
   * Writes {@code repo/name/} (with an empty version folder {@code 1/}) holding a link to the
   * demo's MiniLM as {@code model.onnx}, a copy of its tokenizer as {@code tokenizer.json}, and
   * {@code configYaml} as {@code config.yaml}.
   *
   * @param demoModels the demo model repository ({@code demo/models})
   * @return the model's folder
   */
  public static Path write(Path demoModels, Path repo, String name, String configYaml)
      throws IOException {
    Path minilm = demoModels.resolve(FOLDER);
    Path dir = repo.resolve(name);
    Files.createDirectories(dir.resolve("1"));
    Files.createSymbolicLink(
        dir.resolve("model.onnx"), minilm.resolve(MODEL_FILE).toAbsolutePath().normalize());
    Files.copy(minilm.resolve(TOKENIZER_FILE), dir.resolve("tokenizer.json"));
    Files.writeString(dir.resolve("config.yaml"), configYaml);
    return dir;
  }
}
