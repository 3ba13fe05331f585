package dev.fulcrum.runtime.onnx;

import dev.fulcrum.core.io.AtomicFile;
import dev.fulcrum.core.runtime.SessionOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;

/**
 * A folder of model graphs as ONNX Runtime left them after its graph optimizations, so that a later
 * start loads the optimized graph instead of optimizing the model again (for MiniLM, most of what a
 * session's creation costs beyond reading the weights; docs/PERFORMANCE.md, "Cold start").
 *
 * <p>Design: an entry's name is a fingerprint of everything that decides the optimized graph: the
 * model file's bytes (its size and two independent checksums, CRC-32C and CRC-32, 64 bits together:
 * the zlib and CPU-intrinsic checksums cost ~10 ms for MiniLM's 23 MB where SHA-256 costs ~130 ms
 * of CPU on a cold JVM, more than the cache saves; they guard against a changed model, not a
 * hostile one, who could write the cache folder as easily), ONNX Runtime's version, the
 * optimization level, the execution provider and device, and this format's version. Thread counts,
 * spinning and memory options are left out: they do not change the graph, so a model's instances
 * and its lone-pass session share one entry. The graph is saved at most at the {@code EXTENDED}
 * level: ORT documents the {@code ALL} level's layout transformations (NCHWc) as specific to the
 * CPU they ran on, so the saved graph stays valid on any machine and the {@code ALL} level's layout
 * pass runs again at each load (cheap: the fusions it would look for are done). An entry file holds
 * a one-line header, the whole fingerprint and the checksums of the graph bytes after it; an entry
 * whose header does not match is deleted and rebuilt, never loaded.
 *
 * <p>Thread-safe and safe across processes: an entry is written to a temporary file and moved into
 * place atomically, so a reader sees a whole entry or none; two loads of one model at once may both
 * optimize it, and the last move wins with the same bytes.
 */
final class OptimizedModelCache {
  /** The first bytes of an entry; a new layout of the entries changes it. */
  static final String FORMAT = "fulcrum-ort-optimized-1";

  private static final String SUFFIX = ".onnx";

  private final Path dir;
  private final String engineVersion;

  /**
   * @param dir the cache folder (created on the first write)
   * @param engineVersion ONNX Runtime's version, part of every entry's fingerprint
   */
  OptimizedModelCache(Path dir, String engineVersion) {
    this.dir = Objects.requireNonNull(dir, "dir").toAbsolutePath().normalize();
    this.engineVersion = Objects.requireNonNull(engineVersion, "engineVersion");
  }

  Path dir() {
    return dir;
  }

  /** What one model file with one set of options optimizes into: an entry of this cache. */
  record Entry(Path file, String fingerprint, SessionOptions.OptimizationLevel savedLevel) {}

  /**
   * The entry for the model in {@code modelFile} loaded with {@code options}, or null when the
   * graph is not optimized at all ({@code DISABLED}: nothing to cache) or has external data. The
   * file is mapped, not copied onto the heap, to take its checksums.
   */
  @Nullable Entry entry(Path modelFile, SessionOptions options) throws IOException {
    SessionOptions.OptimizationLevel saved = savedLevel(options.optimizationLevel());
    if (saved == SessionOptions.OptimizationLevel.DISABLED) {
      return null;
    }
    if (hasExternalData(modelFile)) {
      return null;
    }
    ByteBuffer model = map(modelFile);
    String fingerprint =
        String.join(
            " ",
            FORMAT,
            engineVersion,
            Integer.toString(model.remaining()),
            checksums(model),
            saved.name(),
            options.executionProvider().trim().toLowerCase(Locale.ROOT),
            Integer.toString(options.deviceId()));
    ByteBuffer name = ByteBuffer.wrap(fingerprint.getBytes(StandardCharsets.UTF_8));
    return new Entry(dir.resolve(checksums(name) + SUFFIX), fingerprint, saved);
  }

  /**
   * Whether the model's initializers name external data files ({@link ExternalData}). Such a model
   * is never cached: the graph ONNX Runtime saves still refers to them, and a session made from
   * those bytes has no folder to find them in (its load fails: "model_path must not be empty"); and
   * a model re-exported with new weights changes only them. A file that cannot be read as a model
   * has none here; ONNX Runtime's load then says what is wrong with it.
   */
  private static boolean hasExternalData(Path modelFile) {
    try {
      return !ExternalData.locations(modelFile).isEmpty();
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** The level a graph is saved at: the configured one, at most {@code EXTENDED} (portable). */
  static SessionOptions.OptimizationLevel savedLevel(SessionOptions.OptimizationLevel configured) {
    return configured == SessionOptions.OptimizationLevel.ALL
        ? SessionOptions.OptimizationLevel.EXTENDED
        : configured;
  }

  /**
   * The optimized graph of an entry, checked against its header, or null when there is none. An
   * entry that is unreadable or does not match its header is deleted (the caller then rebuilds it).
   * The graph is a direct buffer on the mapped file (no copy; unmapped when collected).
   */
  @Nullable ByteBuffer read(Entry entry) {
    ByteBuffer all;
    try {
      all = map(entry.file());
    } catch (IOException e) {
      return null; // absent (the common first start) or unreadable: optimize from the model
    }
    int newline = indexOf(all, (byte) '\n');
    if (newline > 0) {
      byte[] header = new byte[newline];
      all.get(0, header);
      ByteBuffer graph = all.slice(newline + 1, all.limit() - newline - 1);
      String expected = entry.fingerprint() + " " + checksums(graph);
      if (new String(header, StandardCharsets.UTF_8).equals(expected)) {
        return graph;
      }
    }
    discard(entry);
    return null;
  }

  /**
   * A fresh temporary file beside the entries, for ONNX Runtime to write the optimized graph to.
   */
  Path temporaryFile() throws IOException {
    Files.createDirectories(dir);
    return Files.createTempFile(dir, "writing-", SUFFIX);
  }

  /**
   * Makes the graph ONNX Runtime wrote to {@code written} (a {@link #temporaryFile}) the entry's,
   * with its header, and deletes {@code written}.
   */
  void store(Entry entry, Path written) throws IOException {
    try {
      byte[] graph = Files.readAllBytes(written);
      byte[] header =
          (entry.fingerprint() + " " + checksums(ByteBuffer.wrap(graph)) + "\n")
              .getBytes(StandardCharsets.UTF_8);
      AtomicFile.replace(
          entry.file(),
          out -> {
            out.write(header);
            out.write(graph);
          },
          // owner-only as createTempFile made it; unsynced: a torn entry fails its header's
          // checksums and is rebuilt, and syncing hundreds of MB would lengthen the load
          AtomicFile.Option.OWNER_ONLY,
          AtomicFile.Option.NO_SYNC);
    } finally {
      Files.deleteIfExists(written);
    }
  }

  /** Deletes an entry (one that ONNX Runtime could not load, or that failed its check). */
  void discard(Entry entry) {
    try {
      Files.deleteIfExists(entry.file());
    } catch (IOException e) {
      // Left in place; the next read fails its check again and the model is optimized again.
    }
  }

  /** The whole of a file, mapped read-only. */
  private static ByteBuffer map(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      if (size > Integer.MAX_VALUE) {
        throw new IOException(file + " is over 2 GiB");
      }
      return channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
    }
  }

  /** CRC-32C and CRC-32 of a buffer's remaining bytes (its position is left as it was). */
  private static String checksums(ByteBuffer bytes) {
    CRC32C c = new CRC32C();
    c.update(bytes.duplicate());
    CRC32 z = new CRC32();
    z.update(bytes.duplicate());
    return HexFormat.of().toHexDigits((int) c.getValue())
        + HexFormat.of().toHexDigits((int) z.getValue());
  }

  private static int indexOf(ByteBuffer bytes, byte b) {
    int limit = Math.min(bytes.limit(), 1024); // the header is one short line
    for (int i = 0; i < limit; i++) {
      if (bytes.get(i) == b) {
        return i;
      }
    }
    return -1;
  }
}
