package dev.fulcrum.core.config;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the project's committed demo files are, for tests that read them. Stateless. */
final class DemoFiles {
  private DemoFiles() {}

  /** The repository's root: the nearest folder up from the working directory with demo/models. */
  static Path root() {
    Path p = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(p.resolve("demo/models"))) {
      p = p.getParent();
    }
    return p;
  }
}
