package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.ModelConfigLoader;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The model folders on disk, laid out as Triton's: {@code <repo>/<model>/<version>/model.onnx} with
 * an optional {@code <repo>/<model>/config.yaml} (or Triton's config.pbtxt, through the loader).
 * Lists models and their version folders and reads a model's configuration; it loads nothing.
 * Stateless apart from the immutable roots: any thread.
 */
public final class RepositorySource {
  public static final String CONFIG_FILE = "config.yaml";
  private static final Pattern VERSION_DIR = Pattern.compile("[1-9][0-9]{0,17}");

  private final List<Path> roots;
  private final ModelConfigLoader loader;

  /**
   * @param roots the repository folders, searched in order
   */
  public RepositorySource(List<Path> roots) {
    this(roots, new ModelConfigLoader());
  }

  /**
   * @param roots the repository folders, searched in order
   * @param loader reads a model folder's configuration (config.yaml, or the formats it was given)
   */
  public RepositorySource(List<Path> roots, ModelConfigLoader loader) {
    this.roots = roots.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    this.loader = loader;
  }

  /**
   * What a scan found: model folders by name, and models that cannot be served with the reason.
   *
   * @param models model name → folder, sorted by name
   * @param problems model name → reason (e.g. in two repositories)
   */
  public record Scan(Map<String, Path> models, Map<String, String> problems) {}

  /** Lists the model folders of every root; a name found in two roots is a problem. */
  public Scan scan() {
    Map<String, Path> found = new java.util.TreeMap<>();
    Map<String, String> problems = new LinkedHashMap<>();
    for (Path root : roots) {
      if (!Files.isDirectory(root)) {
        problems.put("", "model repository " + root + " is not a folder");
        continue;
      }
      try (Stream<Path> dirs = Files.list(root)) {
        for (Path dir : dirs.sorted().toList()) {
          String name = dir.getFileName().toString();
          if (name.startsWith(".")) {
            continue;
          }
          if (!Files.isDirectory(dir)) {
            // A link to a model folder that is gone (an unmounted volume, a moved folder) was
            // skipped without a word, as a plain file is: the model was simply not there.
            if (Files.isSymbolicLink(dir) && !Files.exists(dir)) {
              problems.put(name, "model folder '" + name + "' is a symbolic link to nothing");
            }
            continue;
          }
          Path earlier = found.putIfAbsent(name, dir);
          if (earlier != null) {
            problems.put(name, "model '" + name + "' is in more than one model repository");
          }
        }
      } catch (IOException e) {
        problems.put("", "cannot list model repository " + root + ": " + ModelManager.why(e));
      }
    }
    problems.keySet().forEach(found::remove);
    return new Scan(found, problems);
  }

  /** The version folders of a model (numeric names without leading zeros). */
  public SortedSet<Long> versions(Path modelDir) throws IOException {
    SortedSet<Long> out = new TreeSet<>();
    try (Stream<Path> entries = Files.list(modelDir)) {
      entries
          .filter(Files::isDirectory)
          .map(p -> p.getFileName().toString())
          .filter(s -> VERSION_DIR.matcher(s).matches())
          .forEach(s -> out.add(Long.parseLong(s)));
    }
    return out;
  }

  /**
   * Reads a model's configuration (config.yaml, else another format the loader knows; absent: the
   * empty configuration) and the file it came from, relative to the repository.
   */
  public ModelConfigLoader.FolderConfig readConfig(Path modelDir) throws ConfigException {
    return loader.readFolder(modelDir);
  }

  /**
   * Parses a configuration given as text in config.yaml's schema (JSON is YAML), e.g. the override
   * of a repository load request.
   *
   * @param source how messages name it
   */
  public ModelConfigFile parseConfig(String text, Path source) throws ConfigException {
    return loader.parse(text, source);
  }

  /**
   * A fingerprint of a model's configuration, to notice a changed one: the SHA-256 of every {@code
   * config.*} file beside the version folders, and of the name, size and modification time of every
   * other file there but hidden ones (the labels, baseline and tokenizer files a configuration
   * names, read when a version loads; Triton too reloads a model whose files changed). "" when
   * there is no such file.
   */
  public String configStamp(Path modelDir) {
    try (Stream<Path> entries = Files.list(modelDir)) {
      return stamp(entries, modelDir, true);
    } catch (IOException e) {
      return "unreadable: " + e.getMessage();
    }
  }

  /**
   * A fingerprint of one version folder's files: the relative path, size and modification time of
   * every file in it (sub-folders too, four levels deep: an ONNX model's external data may sit
   * beside or below it), hidden ones left out. It changes when a model file is replaced in place or
   * a copy into the folder completes, so that a load, or a poll, loads the version again rather
   * than keep what it loaded before (or keep the failure of a half-copied file). "" when the folder
   * is empty or absent.
   */
  public String versionStamp(Path modelDir, long version) {
    Path folder = modelDir.resolve(Long.toString(version));
    if (!Files.isDirectory(folder)) {
      return "";
    }
    try (Stream<Path> entries = Files.walk(folder, 4)) {
      return stamp(entries, folder, false);
    } catch (IOException | java.io.UncheckedIOException e) {
      return "unreadable: " + e.getMessage();
    }
  }

  /**
   * The SHA-256 of the regular files among {@code entries}, in path order, hidden ones (a name part
   * starting with a dot: an editor's swap file, a folder's metadata) left out: each file's path
   * relative to {@code base}, then its content ({@code config.*} files, when {@code
   * configContents}) or its size and modification time. "" when there is no such file.
   */
  private static String stamp(Stream<Path> entries, Path base, boolean configContents)
      throws IOException {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    boolean any = false;
    for (Path p : entries.filter(Files::isRegularFile).sorted().toList()) {
      Path relative = base.relativize(p);
      boolean hidden = false;
      for (Path part : relative) {
        hidden |= part.toString().startsWith(".");
      }
      if (hidden) {
        continue;
      }
      sha.update((relative + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
      if (configContents && relative.getFileName().toString().startsWith("config.")) {
        sha.update(Files.readAllBytes(p));
      } else {
        sha.update(
            (Files.size(p) + ":" + Files.getLastModifiedTime(p).toMillis())
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
      sha.update((byte) '\n');
      any = true;
    }
    return any ? HexFormat.of().formatHex(sha.digest()) : "";
  }

  /**
   * A message fit for clients: every repository root is cut off the paths in it, so that they name
   * the model and the file relative to the repository (logs keep the full message).
   */
  public String forClients(String message) {
    String out = message;
    for (Path root : roots) {
      out = out.replace(root + File.separator, "").replace(root.toString(), "<repository>");
    }
    return out;
  }
}
