package dev.fulcrum.monitoring;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The prediction log: sampled requests (inputs, outputs, model, version, request id, latency) as
 * JSON lines in rotating files {@code predictions-<n>.jsonl} under one folder, each at most {@code
 * maxFileBytes} (about), at most {@code maxFiles} kept (the oldest deleted). {@code fulcrum
 * skew-check} replays them. A NaN value is written as {@code null} and an infinite one as {@code
 * 1e999} or {@code -1e999} (valid JSON that readers take as infinite), so that the replay sees what
 * the live monitor saw: a missing value, a value out of range.
 *
 * <p>Threads: {@link #offer} on the threads that complete requests, never blocking (a full queue
 * drops and counts); one writer thread, {@code fulcrum-prediction-log}, owns the files.
 */
public final class PredictionLog implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PredictionLog.class);
  private static final JsonFactory JSON = new JsonFactory();

  /** How a line writes +Infinity and -Infinity: valid JSON, read back as infinite. */
  static final String INFINITY = "1e999";

  static final String NEGATIVE_INFINITY = "-1e999";

  /**
   * @param dir the folder (created if missing)
   * @param maxFileBytes rotate when a file reaches this size
   * @param maxFiles files kept, the newest
   * @param sampleRate the share of successful requests logged, in (0, 1]
   * @param queueCapacity lines that may wait for the writer; more are dropped and counted
   */
  public record Settings(
      Path dir, long maxFileBytes, int maxFiles, double sampleRate, int queueCapacity) {
    public Settings {
      if (maxFileBytes < 1024 || maxFiles < 1 || !(sampleRate > 0 && sampleRate <= 1)) {
        throw new IllegalArgumentException(
            "prediction log: max file bytes >= 1024, max files >= 1, sample rate in (0, 1]");
      }
    }
  }

  private final Settings settings;
  private final MpscRing<Completed> queue;
  private final LongAdder dropped = new LongAdder();
  private final AtomicLong written = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final java.util.concurrent.atomic.AtomicBoolean warnedDrop =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final Thread thread;
  private volatile boolean closed;
  private @Nullable OutputStream out;
  private long fileBytes;
  private long sequence;

  public PredictionLog(Settings settings) throws IOException {
    this.settings = settings;
    Files.createDirectories(settings.dir());
    this.sequence = nextSequence(settings.dir());
    this.queue = new MpscRing<>(settings.queueCapacity());
    this.thread = Thread.ofPlatform().name("fulcrum-prediction-log").daemon(true).start(this::run);
  }

  boolean sampled() {
    return settings.sampleRate() >= 1
        || ThreadLocalRandom.current().nextDouble() < settings.sampleRate();
  }

  /**
   * Queues one request for writing (references: this log's thread copies its values); drops and
   * counts it when the queue is full.
   */
  void offer(Completed c) {
    if (!queue.offer(c)) {
      dropped.increment();
      if (warnedDrop.compareAndSet(false, true)) {
        log.warn(
            "prediction log {}: the writer fell behind; sampled requests are dropped and counted"
                + " (fulcrum_prediction_log_dropped_total), not waited for",
            settings.dir().getFileName());
      }
    }
  }

  /** Lines dropped because the writer fell behind (or failed). */
  public long dropped() {
    return dropped.sum();
  }

  /** Lines written so far. */
  public long written() {
    return written.get();
  }

  /** Waits until every accepted line is written and flushed; true when done in time. */
  public boolean awaitFlushed(java.time.Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (written.get() + failed.get() < queue.accepted()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(2);
    }
    return true;
  }

  private void run() {
    List<Completed> batch = new ArrayList<>();
    long park = DriftMonitor.IDLE_PARK_NANOS;
    while (true) {
      try {
        for (Completed c = queue.poll(); c != null; c = batch.size() < 1024 ? queue.poll() : null) {
          batch.add(c);
        }
        if (batch.isEmpty()) {
          if (closed) {
            break;
          }
          // Sleep rather than wait on the queue, so that an offer never wakes this thread (as the
          // drift monitor's thread).
          LockSupport.parkNanos(park);
          park = DriftMonitor.nextPark(park);
          continue;
        }
        park = DriftMonitor.IDLE_PARK_NANOS;
        int ok = 0; // written
        int done = 0; // written or given up
        try {
          for (Completed c : batch) {
            Observation o;
            try {
              o = c.observation();
            } catch (RuntimeException e) { // a malformed tensor: not logged, counted
              dropped.increment();
              failed.incrementAndGet();
              done++;
              continue;
            }
            write(o);
            ok++;
            done++;
          }
          OutputStream s = out;
          if (s != null) {
            s.flush();
          }
          written.addAndGet(ok);
        } catch (IOException e) {
          written.addAndGet(ok);
          int lost = batch.size() - done;
          dropped.add(lost);
          failed.addAndGet(lost);
          log.warn("prediction log: cannot write to {}: {}", settings.dir(), e.toString());
          closeFile();
        }
      } finally {
        batch.clear();
      }
    }
    closeFile();
  }

  private void write(Observation o) throws IOException {
    OutputStream s = out;
    if (s == null || fileBytes >= settings.maxFileBytes()) {
      closeFile();
      s = open();
    }
    CountingStream counting = new CountingStream(s);
    try (JsonGenerator g = JSON.createGenerator(counting, JsonEncoding.UTF8)) {
      g.configure(JsonGenerator.Feature.AUTO_CLOSE_TARGET, false);
      g.writeStartObject();
      g.writeStringField("time", Instant.ofEpochMilli(o.epochMillis()).toString());
      g.writeStringField("model", o.model());
      g.writeStringField("version", o.version());
      g.writeStringField("id", o.id());
      g.writeNumberField("latency_us", o.latencyNanos() / 1000.0);
      g.writeObjectFieldStart("inputs");
      tensors(g, o.inputs());
      g.writeEndObject();
      g.writeObjectFieldStart("outputs");
      tensors(g, o.outputs());
      g.writeEndObject();
      g.writeEndObject();
    }
    counting.write('\n');
    fileBytes += counting.count;
  }

  private static void tensors(JsonGenerator g, List<Observation.Values> list) throws IOException {
    for (Observation.Values v : list) {
      g.writeObjectFieldStart(v.name());
      g.writeArrayFieldStart("shape");
      for (long d : v.shape()) {
        g.writeNumber(d);
      }
      g.writeEndArray();
      g.writeArrayFieldStart("data");
      for (String text : v.strings()) { // a BYTES tensor (then there are no numbers)
        g.writeString(text);
      }
      for (double d : v.values()) {
        if (d == Math.rint(d) && Math.abs(d) < 1e15) {
          g.writeNumber((long) d);
        } else if (Double.isFinite(d)) {
          g.writeNumber(d);
        } else if (Double.isNaN(d)) {
          g.writeNull(); // missing on replay, as live
        } else {
          // Infinity: a JSON number beyond a double's range, which JSON readers (the replay's,
          // Python's, JavaScript's) read back as infinite: out of range on replay, as live.
          g.writeNumber(d > 0 ? INFINITY : NEGATIVE_INFINITY);
        }
      }
      g.writeEndArray();
      g.writeEndObject();
    }
  }

  private OutputStream open() throws IOException {
    Path file = settings.dir().resolve(String.format("predictions-%06d.jsonl", sequence++));
    OutputStream s = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16);
    out = s;
    fileBytes = 0;
    prune();
    return s;
  }

  private void closeFile() {
    OutputStream s = out;
    out = null;
    if (s != null) {
      try {
        s.close();
      } catch (IOException e) {
        log.warn("prediction log: close failed: {}", e.toString());
      }
    }
  }

  /** Deletes the oldest files beyond maxFiles. */
  private void prune() throws IOException {
    List<Path> files = files(settings.dir());
    for (int i = 0; i < files.size() - settings.maxFiles(); i++) {
      Files.deleteIfExists(files.get(i));
    }
  }

  /** The log's files in a folder, oldest first. */
  public static List<Path> files(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().matches("predictions-\\d+\\.jsonl"))
          .sorted()
          .toList();
    }
  }

  private static long nextSequence(Path dir) throws IOException {
    List<Path> files = files(dir);
    if (files.isEmpty()) {
      return 0;
    }
    String last = files.get(files.size() - 1).getFileName().toString();
    return Long.parseLong(last.substring("predictions-".length(), last.length() - 6)) + 1;
  }

  /** Stops accepting, writes what is queued, closes the file. */
  @Override
  public void close() {
    closed = true;
    LockSupport.unpark(thread); // not a sleep's length later
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Counts the bytes of one line. */
  private static final class CountingStream extends OutputStream {
    private final OutputStream out;
    long count;

    CountingStream(OutputStream out) {
      this.out = out;
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      count += len;
    }
  }
}
