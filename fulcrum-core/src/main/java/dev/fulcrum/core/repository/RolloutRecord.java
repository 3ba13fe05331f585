package dev.fulcrum.core.repository;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.io.AtomicFile;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable record of the canary versions rolled back ({@code fulcrum serve --rollout-state-dir};
 * docs/MODEL_CONFIG.md, "Canary rollouts"), so that a restarted server does not make a version it
 * judged bad a canary again: one small JSON file, {@value #FILE}, in a folder the operator names
 * (never the model repository, which may be read-only, polled or kept in git), read once at start
 * and written whole after each change, to a new temporary file of its own first and then renamed
 * over it, so that a crash leaves the old record or the new one, never half of one.
 *
 * <p>It holds, per model, each version rolled back, with the reason and the time; a version is
 * forgotten when it is set going again (an operator's share, a promotion, a changed {@code
 * rollout:}) or when its folder is gone.
 *
 * <p>Thread-safety: the record is guarded by this object; the writes run on one daemon thread of
 * its own ({@value #THREAD_NAME}), one after another, a change made while one is written being
 * written next, so that a verdict reached on a request's thread never waits for the disk.
 */
final class RolloutRecord implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RolloutRecord.class);

  /** The file's name in the folder. */
  static final String FILE = "rollout-state.json";

  /** The thread that writes it. */
  static final String THREAD_NAME = "fulcrum-rollout-state";

  /** The most a record file may hold (one is a few KiB; this is far past any real one). */
  static final int MAX_BYTES = 16 << 20;

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A version rolled back: why, and when (wall clock). */
  record Entry(String reason, Instant at) {}

  private final Path file;
  private final Clock clock;

  /** Guarded by this: model name to its rolled-back versions. */
  private final SortedMap<String, SortedMap<Long, Entry>> models = new TreeMap<>();

  /** Guarded by this: a write is queued that has not taken its copy of the record yet. */
  private boolean queued;

  private final ExecutorService writer =
      Executors.newSingleThreadExecutor(
          Thread.ofPlatform().name(THREAD_NAME).daemon(true).factory());

  private RolloutRecord(Path file, Clock clock) {
    this.file = file;
    this.clock = clock;
  }

  /**
   * The record in {@code dir} (made if missing), read from its file when there is one.
   *
   * @throws IllegalArgumentException naming the file, when it cannot be read or is not a record
   *     this server wrote (a corrupt record is not taken as an empty one: its rolled-back versions
   *     would be canaries again)
   */
  static RolloutRecord open(Path dir, Clock clock) {
    Path file = dir.resolve(FILE);
    RolloutRecord r = new RolloutRecord(file, clock);
    try {
      Files.createDirectories(dir);
      if (Files.exists(file)) {
        r.read(JSON.readTree(readBounded(file)));
      }
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "--rollout-state-dir: " + file + ": cannot be read: " + e.getMessage(), e);
    }
    return r;
  }

  /** The file's bytes, refused past {@link #MAX_BYTES} (a record is a few KiB). */
  private static byte[] readBounded(Path file) throws IOException {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_BYTES + 1);
    }
    if (bytes.length > MAX_BYTES) {
      throw new IllegalArgumentException(
          "--rollout-state-dir: "
              + file
              + ": larger than "
              + (MAX_BYTES >> 20)
              + " MiB, not a rollout record (remove the file to start without one)");
    }
    return bytes;
  }

  /** The file. */
  Path file() {
    return file;
  }

  private void read(JsonNode root) {
    JsonNode ms = root.path("models");
    if (!root.isObject() || !ms.isObject()) {
      throw invalid("its top level must be an object with a 'models' object");
    }
    for (Map.Entry<String, JsonNode> m : ms.properties()) {
      JsonNode list = m.getValue().path("rolled_back");
      if (!list.isArray()) {
        throw invalid("models." + m.getKey() + ".rolled_back must be a list");
      }
      SortedMap<Long, Entry> versions = new TreeMap<>();
      for (JsonNode v : list) {
        if (!v.path("version").canConvertToExactIntegral() || v.path("version").asLong() < 0) {
          throw invalid("models." + m.getKey() + ".rolled_back has an entry without a version");
        }
        Instant at;
        try {
          at = Instant.parse(v.path("at").asText(""));
        } catch (java.time.format.DateTimeParseException e) {
          at = Instant.EPOCH;
        }
        versions.put(v.path("version").asLong(), new Entry(v.path("reason").asText(""), at));
      }
      if (!versions.isEmpty()) {
        models.put(m.getKey(), versions);
      }
    }
  }

  private IllegalArgumentException invalid(String what) {
    return new IllegalArgumentException(
        "--rollout-state-dir: "
            + file
            + ": not a rollout record: "
            + what
            + " (remove the file to start without one)");
  }

  /** The versions of {@code model} recorded as rolled back, with their reasons. */
  synchronized SortedMap<Long, Entry> rolledBack(String model) {
    SortedMap<Long, Entry> v = models.get(model);
    return v == null ? new TreeMap<>() : new TreeMap<>(v);
  }

  /**
   * Records the verdict on {@code model}'s version {@code version}: rolled back (with why, unless
   * recorded so already), or not (promoted, set going again); written when that changes the record.
   */
  void note(String model, long version, boolean rolledBack, String reason) {
    synchronized (this) {
      SortedMap<Long, Entry> v = models.get(model);
      if (rolledBack) {
        if (v != null && v.containsKey(version)) {
          return; // recorded already: its first reason and time stand
        }
        models.computeIfAbsent(model, k -> new TreeMap<>()).put(version, new Entry(reason, now()));
      } else {
        if (v == null || v.remove(version) == null) {
          return;
        }
        if (v.isEmpty()) {
          models.remove(model);
        }
      }
    }
    queueWrite();
  }

  /** Forgets {@code model}'s versions not among {@code versions} (their folders are gone). */
  void retain(String model, Set<Long> versions) {
    synchronized (this) {
      SortedMap<Long, Entry> v = models.get(model);
      if (v == null || !v.keySet().retainAll(versions)) {
        return;
      }
      if (v.isEmpty()) {
        models.remove(model);
      }
    }
    queueWrite();
  }

  private Instant now() {
    return clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
  }

  private void queueWrite() {
    synchronized (this) {
      if (queued) {
        return; // the queued write has not copied the record yet: it takes this change too
      }
      queued = true;
    }
    try {
      writer.execute(this::write);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed: close() wrote the record as it was then; a verdict after it is not kept
      log.warn("rollout record {}: a change after close was not written", file);
    }
  }

  private void write() {
    byte[] bytes;
    synchronized (this) {
      queued = false;
      bytes = render();
    }
    try {
      AtomicFile.replace(file, bytes, AtomicFile.Option.OWNER_ONLY);
    } catch (IOException | UncheckedIOException e) {
      // kept in memory; the next change writes the whole record again
      log.warn(
          "rollout record {} not written ({}): a restart would not know of the latest verdicts",
          file,
          e.toString());
    }
  }

  /** Under the lock: the file's content. */
  private byte[] render() {
    ObjectNode root = JSON.createObjectNode();
    root.put("format", 1);
    ObjectNode ms = root.putObject("models");
    models.forEach(
        (model, versions) -> {
          ArrayNode list = ms.putObject(model).putArray("rolled_back");
          versions.forEach(
              (version, e) ->
                  list.addObject()
                      .put("version", version)
                      .put("reason", e.reason())
                      .put("at", e.at().toString()));
        });
    try {
      return JSON.writerWithDefaultPrettyPrinter()
          .writeValueAsString(root)
          .concat("\n")
          .getBytes(StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes what is queued, then stops the writer thread. */
  @Override
  public void close() {
    writer.shutdown();
    try {
      if (!writer.awaitTermination(10, TimeUnit.SECONDS)) {
        log.warn("rollout record {}: its last write did not finish within 10 s", file);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
