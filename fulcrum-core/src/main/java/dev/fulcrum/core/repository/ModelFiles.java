package dev.fulcrum.core.repository;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * The model folders a repository load request brings with it (Triton's {@code
 * file:<version>/<path>} parameters), kept in a folder the server owns, never in the user's model
 * repository.
 *
 * <p>Design. Each push is written whole into a hidden staging folder {@code
 * <folder>/<model>/.<n>.partial}, then renamed to {@code <folder>/<model>/<n>} in one move, so that
 * a load never sees a half-written model; it is then loaded from there through the normal lifecycle
 * (warm-up, version policy, drain of what it replaces). The folders of a model other than the one
 * that serves are deleted once a load or unload of it has ended ({@link #keepOnly}); the whole
 * folder is emptied when the server starts and when it closes, so pushed models do not survive a
 * restart (as on Triton, whose override folders are temporary). The paths are checked before
 * anything is written ({@link #relativePath}): a version folder first, then plain names, no {@code
 * ..}, no absolute path; files are created new (never through an existing link) in a folder made
 * for this push.
 *
 * <p>A push is written as its request is read ({@link Push}): each file's content goes straight to
 * its file, so the server holds no decoded copy of it.
 *
 * <p>Concurrency: any thread; pushes of one model are serialized by the model's control lock (the
 * caller's), the numbering is atomic, and different models write to different folders.
 */
public final class ModelFiles implements AutoCloseable {
  /** The parameter name prefix of a model file, as Triton's. */
  public static final String PREFIX = "file:";

  /** The default of {@link Settings#maxBytes}: 64 MiB, the default request body limit. */
  public static final long DEFAULT_MAX_BYTES = 64L << 20;

  private static final Pattern VERSION_DIR = Pattern.compile("[1-9][0-9]{0,17}");

  /** Folder depth below a version folder that the version's stamp reads (RepositorySource). */
  private static final int MAX_DEPTH = 4;

  /**
   * The file that marks a configured folder as this server's to empty ({@link #claim}); never
   * deleted, so a restart finds it.
   */
  static final String MARKER = ".fulcrum-model-load-dir";

  /**
   * Where pushed models are kept and how large one push may be.
   *
   * @param folder the folder the server owns for them; null: a new temporary folder, deleted at
   *     close
   * @param maxBytes the largest total size of the files of one load request
   */
  public record Settings(@Nullable Path folder, long maxBytes) {
    public Settings {
      if (maxBytes < 1) {
        throw new IllegalArgumentException("maxBytes must be >= 1, was " + maxBytes);
      }
    }

    /** A temporary folder, {@link #DEFAULT_MAX_BYTES}. */
    public static Settings defaults() {
      return new Settings(null, DEFAULT_MAX_BYTES);
    }
  }

  private final Settings settings;
  private final AtomicLong pushes = new AtomicLong();
  private volatile @Nullable Path root;

  public ModelFiles(Settings settings) {
    this.settings = settings;
  }

  public Settings settings() {
    return settings;
  }

  /**
   * The path inside a model folder that a {@code file:} parameter names, checked: a version folder
   * ({@code 1}, not {@code 01}), then one to {@value #MAX_DEPTH} plain names.
   *
   * @throws InferenceException INVALID_ARGUMENT naming the parameter and the rule it breaks
   */
  public static Path relativePath(String parameter) {
    if (!parameter.startsWith(PREFIX)) {
      throw invalid(parameter, "is not a model file parameter ('file:<version>/<path>')");
    }
    String path = parameter.substring(PREFIX.length());
    if (path.startsWith("/") || path.contains("\\") || path.indexOf('\0') >= 0) {
      throw invalid(
          parameter, "must be a relative path with '/' between names: 'file:<version>/<path>'");
    }
    String[] parts = path.split("/", -1);
    if (parts.length < 2) {
      throw invalid(
          parameter,
          "names no file inside a version folder: model files go in a version folder,"
              + " 'file:<version>/<path>' (e.g. 'file:1/model.onnx')");
    }
    if (!VERSION_DIR.matcher(parts[0]).matches()) {
      throw invalid(
          parameter,
          "must start with a version folder, a number from 1 without leading zeros (e.g."
              + " 'file:1/model.onnx'), not '"
              + parts[0]
              + "'");
    }
    if (parts.length - 1 > MAX_DEPTH) {
      throw invalid(parameter, "is more than " + MAX_DEPTH + " folders deep below its version");
    }
    for (String part : parts) {
      if (part.isEmpty() || part.equals(".") || part.equals("..")) {
        throw invalid(
            parameter,
            "has an empty, '.' or '..' name: a model file stays inside its version folder");
      }
      if (part.startsWith(".")) {
        throw invalid(parameter, "names a hidden file ('" + part + "'), which a load ignores");
      }
    }
    Path relative = Path.of(parts[0], java.util.Arrays.copyOfRange(parts, 1, parts.length));
    if (relative.isAbsolute() || !relative.normalize().equals(relative)) {
      throw invalid(parameter, "is not a plain relative path");
    }
    return relative;
  }

  /**
   * Checks a load request's files against the rules and the size limit, before they are written.
   *
   * @param files parameter name ({@code file:<version>/<path>}) → content
   * @return relative path → content, in the request's order
   * @throws InferenceException INVALID_ARGUMENT for a path, TOO_LARGE over {@link
   *     Settings#maxBytes}
   */
  public Map<Path, byte[]> check(String model, Map<String, byte[]> files) {
    checkModelName(model);
    Map<Path, byte[]> out = new LinkedHashMap<>();
    FileTree tree = new FileTree();
    long total = 0;
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      Path p = relativePath(f.getKey());
      Path other = tree.add(p);
      if (other != null) {
        throw clash(f.getKey(), p, other);
      }
      total += f.getValue().length;
      out.put(p, f.getValue());
    }
    if (total > settings.maxBytes()) {
      throw tooLarge(model, total);
    }
    return out;
  }

  /**
   * Writes a checked push into a new folder of the model and returns it, complete: written under a
   * hidden name first, then renamed; on failure nothing of it is left.
   */
  public Path write(String model, Map<Path, byte[]> files) throws IOException {
    try (Push push = begin(model)) {
      for (Map.Entry<Path, byte[]> f : files.entrySet()) {
        try (OutputStream out = push.file(f.getKey().toString(), f.getKey())) {
          out.write(f.getValue());
        }
      }
      return push.finish();
    }
  }

  /**
   * Starts a push of a model whose files are written one after the other as a load request is read
   * ({@link Push#file}), so that a file's content need not be held whole in memory; checked as
   * {@link #check} checks, file by file (a model name that cannot be a folder is refused at the
   * first file). Run it where the model's pushes are serialized (its control lock), as {@link
   * #write}.
   */
  public Push begin(String model) {
    return new Push(model);
  }

  /**
   * One push being written: its files go into a hidden staging folder (made with the first file),
   * which {@link #finish} renames into the model's next folder; closed without it, nothing of it is
   * left. The size limit is counted over all files: once past it nothing more is written, the rest
   * is only counted, and {@link #finish} fails with the total.
   *
   * <p>Not thread-safe: one thread writes a push, one file at a time.
   */
  public final class Push implements AutoCloseable {
    private final String model;
    private final FileTree tree = new FileTree();
    private @Nullable Path staging;
    private long total;
    private boolean finished;

    private Push(String model) {
      this.model = model;
    }

    /**
     * Opens the file a {@code file:<version>/<path>} parameter names, checked ({@link
     * #relativePath}, not a file and a folder of another); the caller writes its content and closes
     * it before the next file.
     *
     * @throws InferenceException INVALID_ARGUMENT naming the parameter
     */
    public OutputStream file(String parameter) throws IOException {
      return file(parameter, relativePath(parameter));
    }

    OutputStream file(String parameter, Path relative) throws IOException {
      Path other = tree.add(relative);
      if (other != null) {
        throw clash(parameter, relative, other);
      }
      Path dir = staging();
      Path target = dir.resolve(relative).normalize();
      if (!target.startsWith(dir)) {
        throw new IOException("model file " + relative + " escapes its folder");
      }
      Path parent = target.getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      OutputStream out =
          Files.newOutputStream(target, StandardOpenOption.CREATE_NEW, LinkOption.NOFOLLOW_LINKS);
      return new BufferedOutputStream(new Counted(out), 1 << 16);
    }

    /** Whether no file was opened. */
    public boolean isEmpty() {
      return tree.size() == 0;
    }

    /**
     * Renames the written files into the model's next folder and returns it.
     *
     * @throws InferenceException TOO_LARGE when the files were over {@link Settings#maxBytes}
     */
    public Path finish() throws IOException {
      if (total > settings.maxBytes()) {
        throw tooLarge(model, total);
      }
      Path dir = staging();
      String name = dir.getFileName().toString();
      Path done = dir.resolveSibling(name.substring(1, name.length() - ".partial".length()));
      try {
        Files.move(dir, done, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(dir, done);
      }
      finished = true;
      return done;
    }

    /** Deletes what was written unless it was {@link #finish finished}. */
    @Override
    public void close() {
      Path dir = staging;
      if (!finished && dir != null) {
        delete(dir);
      }
    }

    private Path staging() throws IOException {
      Path dir = staging;
      if (dir == null) {
        checkModelName(model);
        Path modelDir = root().resolve(model);
        Files.createDirectories(modelDir);
        dir = modelDir.resolve("." + pushes.incrementAndGet() + ".partial");
        Files.createDirectory(dir);
        staging = dir;
      }
      return dir;
    }

    /** A file's stream that counts its bytes in the push's total and writes none past the limit. */
    private final class Counted extends FilterOutputStream {
      Counted(OutputStream out) {
        super(out);
      }

      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        total += len;
        if (total <= settings.maxBytes()) {
          out.write(b, off, len);
        }
      }
    }
  }

  /**
   * Deletes the pushed folders of a model but {@code keep} (the one that serves, or null: all),
   * with any staging folder left by a failed write.
   */
  public void keepOnly(String model, @Nullable Path keep) {
    Path r = root;
    if (r == null || !isPlainName(model)) {
      return;
    }
    Path modelDir = r.resolve(model);
    if (!Files.isDirectory(modelDir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> entries = Files.list(modelDir)) {
      for (Path p : entries.toList()) {
        if (keep == null || !p.equals(keep)) {
          delete(p);
        }
      }
      if (keep == null) {
        Files.deleteIfExists(modelDir);
      }
    } catch (IOException e) {
      // best effort: a folder left behind is removed at the next start or close
    }
  }

  /** Whether {@code dir} is a folder of a push (as opposed to one of the user's repository). */
  public boolean owns(Path dir) {
    Path r = root;
    return r != null && dir.startsWith(r);
  }

  /** Deletes every pushed folder, and the folder itself when it was a temporary one. */
  @Override
  public synchronized void close() {
    Path r = root;
    if (r == null) {
      return;
    }
    if (settings.folder() == null) {
      delete(r);
    } else {
      empty(r);
    }
    root = null;
  }

  /**
   * The folder, made (a temporary one) or emptied (the configured one: anything a previous run left
   * there is not served) on first use.
   */
  private synchronized Path root() throws IOException {
    Path r = root;
    if (r != null) {
      return r;
    }
    Path configured = settings.folder();
    if (configured == null) {
      r = Files.createTempDirectory("fulcrum-model-load-").toRealPath();
    } else {
      Files.createDirectories(configured);
      r = configured.toRealPath();
      claim(r);
      empty(r);
    }
    root = r;
    return r;
  }

  /**
   * Makes sure a configured folder is one this server may empty: new, empty, or marked by an
   * earlier run ({@link #MARKER}); anything else (a typo naming the model repository or a home
   * folder) is refused before a file of it is deleted.
   */
  private static void claim(Path dir) throws IOException {
    Path marker = dir.resolve(MARKER);
    if (!Files.isRegularFile(marker, LinkOption.NOFOLLOW_LINKS)) {
      try (Stream<Path> entries = Files.list(dir)) {
        if (entries.findAny().isPresent()) {
          throw new IOException(
              "the folder is not empty and holds no "
                  + MARKER
                  + " (it was not made by fulcrum serve): name a new or empty folder, which the"
                  + " server empties at each start");
        }
      }
      Files.writeString(marker, "model files of load requests; emptied at each start\n");
    }
  }

  /**
   * Makes the folder now (a temporary one), or empties the configured one (what a previous run left
   * there is never served), so that a folder that cannot be written fails the start, not the first
   * push.
   *
   * @return the folder
   */
  public Path prepare() throws IOException {
    return root();
  }

  private static void empty(Path dir) {
    try (Stream<Path> entries = Files.list(dir)) {
      entries.filter(p -> !p.getFileName().toString().equals(MARKER)).forEach(ModelFiles::delete);
    } catch (IOException e) {
      // best effort
    }
  }

  /** Deletes a file or a folder tree without following links. */
  static void delete(Path p) {
    try {
      Files.walkFileTree(
          p,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                throws IOException {
              Files.deleteIfExists(file);
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, @Nullable IOException e)
                throws IOException {
              Files.deleteIfExists(dir);
              return FileVisitResult.CONTINUE;
            }
          });
    } catch (IOException e) {
      // best effort: what is left is removed at the next start or close
    }
  }

  private static void checkModelName(String model) {
    if (!isPlainName(model)) {
      throw InferenceException.invalid(
          "model name '%s' cannot be a folder: model files can be pushed only for a model whose"
              + " name is a plain folder name",
          model);
    }
  }

  private static boolean isPlainName(String model) {
    return !model.isEmpty()
        && !model.equals(".")
        && !model.equals("..")
        && !model.startsWith(".")
        && model.indexOf('/') < 0
        && model.indexOf('\\') < 0
        && model.indexOf('\0') < 0;
  }

  private static InferenceException clash(String parameter, Path file, Path other) {
    return invalid(
        parameter,
        other.equals(file)
            ? "names the same file as another parameter"
            : "is both a file and a folder of parameter 'file:" + other + "'");
  }

  private InferenceException tooLarge(String model, long total) {
    return new InferenceException(
        ErrorCode.TOO_LARGE,
        String.format(
            "the model files of the load request of '%s' are %d bytes, more than the %d bytes"
                + " allowed (--model-load-max-bytes)",
            model, total, settings.maxBytes()));
  }

  private static InferenceException invalid(String parameter, String why) {
    return InferenceException.invalid("parameter '%s' %s", printable(parameter), why);
  }

  /** A parameter name as a message may quote it: at most 200 characters, controls escaped. */
  private static String printable(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && b.length() < 200; i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  /** For tests: the pushed folders of a model now on disk. */
  List<Path> folders(String model) throws IOException {
    Path r = root;
    List<Path> out = new ArrayList<>();
    if (r == null || !Files.isDirectory(r.resolve(model))) {
      return out;
    }
    try (Stream<Path> entries = Files.list(r.resolve(model))) {
      entries.sorted().forEach(out::add);
    }
    return out;
  }
}
