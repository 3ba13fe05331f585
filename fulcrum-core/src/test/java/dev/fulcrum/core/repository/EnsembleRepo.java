package dev.fulcrum.core.repository;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Ensembles in a test's repository folder over the {@link FakeRuntime}: an echoing step model and
 * an ensemble's config. Stateless.
 */
public final class EnsembleRepo {
  private EnsembleRepo() {}

  /** Model {@code name}, version 1: x -> y, FP32 [-1, 2], y = x. */
  public static void writeEcho(Path repo, String name) throws IOException {
    FakeRuntime.writeModel(
        repo.resolve(name + "/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
  }

  /** Ensemble {@code name}, version 1, with {@code yaml} as its config.yaml. */
  public static void writeEnsemble(Path repo, String name, String yaml) throws IOException {
    Files.createDirectories(repo.resolve(name + "/1"));
    Files.writeString(repo.resolve(name + "/config.yaml"), yaml);
  }
}
