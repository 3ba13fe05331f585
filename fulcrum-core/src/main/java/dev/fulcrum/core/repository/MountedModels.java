package dev.fulcrum.core.repository;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * The models loaded by name from folders under one root, as SageMaker's multi-model endpoint loads
 * them ({@code POST /models {"model_name", "url"}}): each folder is checked to lie under the root
 * (no {@code ..}, no symbolic link out of it, its files' too) and loaded by the {@link
 * ModelManager} as a repository folder would be (a model folder: its {@code config.yaml} or {@code
 * config.pbtxt}, or none, and its version folders), under the name given, so that it serves, counts
 * and unloads as any other model. At most {@link Settings#maxModels} at once: past it a load is
 * refused {@link ErrorCode#NO_CAPACITY} (HTTP 507), which SageMaker answers by unloading a model.
 *
 * <p>Threads: any; the names and their folders are kept under this object's lock, held only to read
 * or change them, never across a load or unload, which run on the manager's control threads.
 */
public final class MountedModels {
  /** How many files a mounted folder may hold: its check walks them all. */
  static final int MAX_FILES = 10_000;

  /**
   * @param root the folder under which every loaded folder must lie (SageMaker's {@code
   *     /opt/ml/models})
   * @param maxModels how many models may be loaded this way at once
   */
  public record Settings(Path root, int maxModels) {
    public Settings {
      if (maxModels < 1) {
        throw new IllegalArgumentException("maxModels must be >= 1, was " + maxModels);
      }
      root = root.toAbsolutePath().normalize();
    }
  }

  /**
   * A model loaded (or being loaded) from a folder.
   *
   * @param name the name it serves under
   * @param url the folder as the load request named it
   * @param ready false while its load or unload runs
   */
  public record Mounted(String name, String url, boolean ready) {}

  private final ModelManager manager;
  private final Settings settings;

  /** Name → its model; under the lock. */
  private final TreeMap<String, Mounted> models = new TreeMap<>();

  MountedModels(ModelManager manager, Settings settings) {
    this.manager = manager;
    this.settings = settings;
  }

  public Settings settings() {
    return settings;
  }

  /**
   * Loads the model folder {@code url} as model {@code name}; completes when it serves.
   *
   * @return fails with INVALID_ARGUMENT for a bad name or a folder outside the root, NOT_FOUND for
   *     no such folder, FAILED_PRECONDITION when the name is already loaded (or served from the
   *     repository), NO_CAPACITY at the cap, and as {@link ModelManager#loadFrom}
   */
  public CompletableFuture<Void> load(String name, String url) {
    try {
      checkName(name);
      synchronized (models) {
        forgetUnloadedElsewhere();
        if (models.containsKey(name)) {
          throw InferenceException.failedPrecondition("model '%s' is already loaded", name);
        }
        if (served(name) || manager.inRepository(name)) {
          // a repository model, served or not: its own load would replace this one's folder
          throw InferenceException.failedPrecondition(
              "model '%s' is a model of the model repository", name);
        }
        if (models.size() >= settings.maxModels()) {
          throw new InferenceException(
              ErrorCode.NO_CAPACITY,
              "cannot load model '"
                  + name
                  + "': "
                  + models.size()
                  + " models are loaded, the most --sagemaker-mme-max-models allows; unload one");
        }
        models.put(name, new Mounted(name, url, false));
      }
    } catch (InferenceException e) {
      return CompletableFuture.failedFuture(e);
    }
    CompletableFuture<Void> load;
    try {
      // the folder is checked on the control thread that loads it: the check reads its files
      load = manager.loadFrom(name, () -> folder(url));
    } catch (RuntimeException e) {
      forget(name);
      return CompletableFuture.failedFuture(e);
    }
    return load.whenComplete(
        (v, t) -> {
          if (t == null) {
            synchronized (models) {
              models.put(name, new Mounted(name, url, true));
            }
          } else {
            forget(name);
          }
        });
  }

  /** Whether a version of the model serves (one read of the manager's published list). */
  private boolean served(String name) {
    return !manager.versions(name).isEmpty();
  }

  /**
   * Under the lock: forgets the models loaded here that no longer serve because something else
   * unloaded them (the repository API's unload), so that their names load again and count no more
   * against the cap.
   */
  private void forgetUnloadedElsewhere() {
    models.values().removeIf(m -> m.ready() && !served(m.name()));
  }

  /**
   * Drains and unloads a model loaded by {@link #load}; completes when done.
   *
   * @return fails with NOT_FOUND when no such model is loaded (or its load or unload runs, or it
   *     was unloaded by other means)
   */
  public CompletableFuture<Void> unload(String name) {
    Mounted m;
    synchronized (models) {
      m = models.get(name);
      if (m == null || !m.ready() || !served(name)) {
        return CompletableFuture.failedFuture(notLoaded(name));
      }
      models.put(name, new Mounted(name, m.url(), false));
    }
    return manager
        .unload(name)
        .whenComplete(
            (v, t) -> {
              if (t == null) {
                forget(name);
              } else {
                synchronized (models) {
                  models.put(name, m); // still served
                }
              }
            });
  }

  /** The model of that name, loaded and serving, or null. */
  public @Nullable Mounted get(String name) {
    synchronized (models) {
      Mounted m = models.get(name);
      return m != null && m.ready() && served(name) ? m : null;
    }
  }

  /**
   * Up to {@code limit} loaded models in name order, from the first whose name comes after {@code
   * after} ("" for the first page).
   */
  public List<Mounted> list(String after, int limit) {
    List<Mounted> out = new ArrayList<>();
    synchronized (models) {
      Iterator<Mounted> it =
          (after.isEmpty() ? models : models.tailMap(after, false)).values().iterator();
      while (it.hasNext() && out.size() < limit) {
        Mounted m = it.next();
        if (m.ready() && served(m.name())) {
          out.add(m);
        }
      }
    }
    return out;
  }

  private void forget(String name) {
    synchronized (models) {
      models.remove(name);
    }
  }

  static InferenceException notLoaded(String name) {
    return InferenceException.notFound("model '%s' is not loaded", name);
  }

  /**
   * The name a load gives: what the repository's names may be (not empty, no path separator, no
   * control character, at most 256 characters).
   */
  static void checkName(String name) {
    if (name.isEmpty() || name.length() > 256) {
      throw InferenceException.invalid("model_name must be 1 to 256 characters");
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) {
        throw InferenceException.invalid(
            "model_name '%s' may not hold '/', '\\' or a control character",
            name.replaceAll("\\p{Cntrl}", "?"));
      }
    }
    if (name.equals(".") || name.equals("..")) {
      throw InferenceException.invalid("model_name may not be '.' or '..'");
    }
  }

  /**
   * The folder a load's {@code url} names, checked: absolute or relative to the root, no {@code ..}
   * segment, under the root once every symbolic link is followed, not the root itself, a folder,
   * and every file in it under the root too. Hard links cannot be told from files (a hard link into
   * the root needs write access to it), nor can a folder swapped between this check and the load
   * (that needs write access to the root too).
   *
   * @throws InferenceException INVALID_ARGUMENT for a folder outside the root or not a folder,
   *     NOT_FOUND for none
   */
  Path folder(String url) {
    if (url.isBlank()) {
      throw InferenceException.invalid("url must name the model's folder");
    }
    Path asked;
    try {
      asked = Path.of(url);
    } catch (InvalidPathException e) {
      throw InferenceException.invalid(
          "url '%s' is not a path: %s", InferenceException.shown(url), e.getReason());
    }
    for (Path part : asked) {
      if (part.toString().equals("..")) {
        throw InferenceException.invalid(
            "url '%s' may not hold '..'", InferenceException.shown(url));
      }
    }
    Path root = settings.root();
    Path path = root.resolve(asked).normalize();
    if (!path.startsWith(root)) {
      throw outside(url);
    }
    if (!Files.exists(path)) {
      throw InferenceException.notFound("url '%s': no such folder", InferenceException.shown(url));
    }
    Path real;
    Path realRoot;
    try {
      realRoot = root.toRealPath();
      real = path.toRealPath();
    } catch (IOException e) {
      throw InferenceException.notFound(
          "url '%s': %s", InferenceException.shown(url), ModelManager.why(e));
    }
    if (!real.startsWith(realRoot)) {
      throw outside(url);
    }
    if (real.equals(realRoot)) {
      // the root itself would walk every extracted model before failing
      throw InferenceException.invalid(
          "url '%s': url must name a folder under the root", InferenceException.shown(url));
    }
    if (!Files.isDirectory(real, LinkOption.NOFOLLOW_LINKS)) {
      throw InferenceException.invalid(
          "url '%s' is not a folder: give the folder that holds the model's version folders"
              + " (1/model.onnx) and its config.yaml or config.pbtxt",
          InferenceException.shown(url));
    }
    checkFiles(url, real, realRoot);
    return real;
  }

  /** Every file and folder under {@code folder}, links followed, lies under the root. */
  private static void checkFiles(String url, Path folder, Path realRoot) {
    try (Stream<Path> files = Files.walk(folder, FileVisitOption.FOLLOW_LINKS)) {
      int n = 0;
      for (Iterator<Path> it = files.iterator(); it.hasNext(); ) {
        Path f = it.next();
        if (++n > MAX_FILES) {
          throw InferenceException.invalid(
              "url '%s' holds more than %d files", InferenceException.shown(url), MAX_FILES);
        }
        if (Files.isSymbolicLink(f) && !f.toRealPath().startsWith(realRoot)) {
          throw InferenceException.invalid(
              "url '%s': %s is a symbolic link out of the model root",
              InferenceException.shown(url), folder.relativize(f));
        }
      }
    } catch (IOException e) {
      throw InferenceException.invalid(
          "url '%s': %s", InferenceException.shown(url), ModelManager.why(e));
    } catch (UncheckedIOException e) {
      if (e.getCause() instanceof FileSystemLoopException) {
        throw InferenceException.invalid(
            "url '%s' holds a loop of symbolic links", InferenceException.shown(url));
      }
      throw InferenceException.invalid(
          "url '%s': %s", InferenceException.shown(url), e.getMessage());
    }
  }

  private InferenceException outside(String url) {
    return InferenceException.invalid(
        "url '%s' is not under the model root %s (--sagemaker-mme-root)",
        InferenceException.shown(url), settings.root());
  }
}
