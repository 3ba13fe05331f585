package dev.fulcrum.core.config;

import java.nio.file.Path;

/**
 * A file of the model repository as messages show it: its last three names ({@code
 * <model>/<version>/model.onnx}, {@code <repository>/<model>/config.yaml}), never the absolute
 * path, because load failures reach unauthenticated clients (503 bodies, the repository index).
 * Stateless.
 */
public final class ShownPath {
  private ShownPath() {}

  /** The last three names of {@code file} (fewer when it has fewer). */
  public static String of(Path file) {
    if (file == null) {
      return "null";
    }
    int n = file.getNameCount();
    if (n == 0) {
      return file.toString();
    }
    return file.subpath(Math.max(0, n - 3), n).toString();
  }
}
