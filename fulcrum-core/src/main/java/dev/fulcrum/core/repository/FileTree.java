package dev.fulcrum.core.repository;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The relative paths of one push's files, added one by one, which finds the one that is both a file
 * and a folder of another (or named twice) in as many set look-ups as the path has names, not one
 * comparison with every earlier file: a push of many files is checked in linear time.
 *
 * <p>Not thread-safe: one push's reader adds its files in order.
 */
final class FileTree {
  private final Set<Path> files = new HashSet<>();

  /** Every folder above a file added → the first file added below it. */
  private final Map<Path, Path> folders = new HashMap<>();

  /**
   * Adds a file's path.
   *
   * @return null when added, else the earlier path it clashes with: the same path, a file that is
   *     one of its folders, or a file inside it
   */
  @Nullable Path add(Path file) {
    if (files.contains(file)) {
      return file;
    }
    Path below = folders.get(file);
    if (below != null) {
      return below;
    }
    for (Path folder = file.getParent(); folder != null; folder = folder.getParent()) {
      if (files.contains(folder)) {
        return folder;
      }
    }
    files.add(file);
    for (Path folder = file.getParent(); folder != null; folder = folder.getParent()) {
      if (folders.putIfAbsent(folder, file) != null) {
        break; // its folders above are there already
      }
    }
    return null;
  }

  int size() {
    return files.size();
  }
}
