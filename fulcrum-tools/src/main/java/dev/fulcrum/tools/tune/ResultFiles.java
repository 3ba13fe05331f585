package dev.fulcrum.tools.tune;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.fulcrum.core.io.AtomicFile;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The files a sweep writes in its {@code --output} folder: results.json and report.html (written
 * after every trial, then once more when the sweep ends) and recommended.yaml (at the end, when
 * there is a recommendation). Stateless.
 */
final class ResultFiles {
  static final String RESULTS = "results.json";
  static final String REPORT = "report.html";
  static final String RECOMMENDED = "recommended.yaml";

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private ResultFiles() {}

  /**
   * Makes {@code dir} a folder this process can write in (creating it and the folders above it if
   * need be), before any measurement: a sweep of many minutes should not end on a bad path.
   *
   * @return null when it is one, else what is wrong, one line that begins with the path
   */
  static @Nullable String prepare(Path dir) {
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      return dir + " is a file, not a folder";
    }
    Path above = dir.toAbsolutePath().getParent();
    while (above != null && !Files.exists(above)) {
      above = above.getParent();
    }
    if (above != null && !Files.isDirectory(above)) {
      return dir + ": " + above + " is a file, not a folder";
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      return dir + ": cannot create this folder (" + reason(e) + ")";
    }
    try {
      Files.delete(Files.createTempFile(dir, ".fulcrum-tune-", ".tmp"));
    } catch (IOException e) {
      return dir + ": cannot write in this folder (" + reason(e) + ")";
    }
    return null;
  }

  /**
   * Removes what an earlier sweep wrote in {@code dir} (results.json, report.html,
   * recommended.yaml), so that a file there always comes from this sweep: a recommended.yaml left
   * by an earlier run, measured under other constraints, would otherwise sit beside results that
   * recommend nothing.
   */
  static void clear(Path dir) throws IOException {
    for (String f : List.of(RECOMMENDED, RESULTS, REPORT)) {
      Files.deleteIfExists(dir.resolve(f));
    }
  }

  /**
   * Writes results.json and report.html for this sweep, each through a temporary file moved into
   * place, so that a reader (or a run stopped midway) never finds one half written.
   */
  static void write(Path dir, Sweep sweep) throws IOException {
    String json = JSON.writeValueAsString(sweep.toJson(JSON));
    AtomicFile.replace(dir.resolve(RESULTS), json + "\n");
    AtomicFile.replace(dir.resolve(REPORT), Report.html(json));
  }

  /** A file error in words: the JDK's messages of these are often the path alone. */
  private static String reason(IOException e) {
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "the file system there refused it";
    }
    if (e instanceof FileSystemException f && f.getReason() != null) {
      return f.getReason();
    }
    return String.valueOf(e.getMessage());
  }
}
