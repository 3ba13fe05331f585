package dev.fulcrum.monitoring;

import dev.fulcrum.core.config.MonitoringConfig;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import dev.fulcrum.core.monitor.ModelMonitor;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.PassListener;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live skew and drift monitor: compares every sampled successful request of a model that
 * enables {@code monitoring:} in config.yaml with the model's baseline, off the request path.
 *
 * <p>Per pass (session 9): for a version it compares, {@link #passListener} gives the core's
 * scheduler a listener that queues one {@link PassCompleted} per forward pass (references to the
 * pass's joined inputs and whole outputs; docs/MONITORING.md, "Per-pass hand-off"), and {@link
 * #completed} then queues a request for the detectors only when it did not run in such a pass (a
 * cache hit). A pipeline's passes hold its steps' tensors (the token ids, the model's output),
 * which its {@code monitoring.text} names, so a pipeline is compared per pass only; its requests
 * (text) hold nothing the detectors read. What follows describes that per-request path, which the
 * prediction log always takes.
 *
 * <p>Design: {@link #completed} (the core's hook, on the thread that completed the request) wraps
 * references to the request and its response in a {@link Completed} (one small object; the tensors
 * are immutable and own their buffers, so nothing is copied there) and offers it to a bounded
 * lock-free queue ({@link MpscRing}); when the queue is full it is dropped and counted, never
 * waited for. One thread, {@code fulcrum-monitor}, drains the queue into each version's {@link
 * VersionMonitor} (created on first use, reading the baseline file once), which reads the values it
 * compares into arrays it reuses, logs the alerts raised or cleared (one line per version per
 * event, rate-limited across versions: {@link DriftLog}), tells the {@link DriftListener}s (the
 * webhook), and publishes each version's report as an immutable snapshot that transports read
 * without locking, whenever it has emptied the queue (and at least every {@value #PUBLISH_EVERY}
 * requests). The same {@link Completed} goes to the {@link PredictionLog}, when there is one, whose
 * thread makes its copy.
 *
 * <p>Rate limit (session 19, {@code fulcrum serve --monitor-max-rate}): with a limit, the pass
 * listener counts the rows it is offered (compared and shed) as the passes end, the monitor thread
 * reads that count over windows of {@value #RATE_WINDOW_MILLIS} ms (what it took from its queue in
 * a window would count a backlog it drains after a stall as a burst), and while they exceed the
 * limit the pass listener compares each pass with probability limit / offered rate and sheds
 * (counts, {@link #shed}) the others before copying them; below the limit every pass is compared,
 * exactly as without one. What is compared is then a uniform sample of the passes, so the
 * detectors' statistics are those of the same stream at a lower rate; alerts come after as many
 * compared rows as without shedding.
 *
 * <p>Threads: {@link #completed} on the threads that complete requests (engine threads, event
 * loops), concurrently; the detectors and the rate window only on {@code fulcrum-monitor}, which
 * publishes the share to keep in a volatile the listeners read; {@link #drift} and {@link #reports}
 * on any thread (volatile snapshots).
 */
public final class DriftMonitor implements ModelMonitor, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DriftMonitor.class);

  /** The queue's default capacity: observations waiting for the monitor thread. */
  public static final int DEFAULT_QUEUE = 8192;

  /**
   * How long the monitor thread first sleeps when it finds the queue empty; each further empty look
   * doubles it up to {@link #MAX_IDLE_PARK_NANOS}. An observation found does not set it back: under
   * a steady load the thread drains what arrived during one sleep and sleeps longer next time, up
   * to the longest (at 4,000 requests a second 12 wake-ups a second instead of 200, each a context
   * switch and a publication of the reports), so reports are at most one longest sleep old while
   * requests come.
   */
  static final long IDLE_PARK_NANOS = 5_000_000;

  /**
   * The longest sleep: an idle server's monitor wakes 12 times a second rather than 200 (each
   * wake-up costs a context switch); 8192 slots still last 160 ms at 50,000 observations a second,
   * twice this.
   */
  static final long MAX_IDLE_PARK_NANOS = 80_000_000;

  /**
   * The most requests compared between two publications of the reports while the queue never
   * empties (at saturation); otherwise they are published each time the queue is found empty.
   */
  static final int PUBLISH_EVERY = 4096;

  /** No rate limit: every sampled pass is compared. */
  public static final long NO_RATE_LIMIT = 0;

  /** How long the monitor thread counts the rows offered to it before it sets the share to keep. */
  static final long RATE_WINDOW_MILLIS = 250;

  /**
   * The share of passes to compare when {@code offered} rows came in {@code nanos} and the monitor
   * may compare {@code maxRate} rows a second: 1 at or below the limit (or without one), else limit
   * / offered rate.
   */
  static double keep(long offered, long nanos, long maxRate) {
    if (maxRate <= 0 || nanos <= 0) {
      return 1;
    }
    double rate = offered * 1e9 / nanos;
    return rate <= maxRate ? 1 : maxRate / rate;
  }

  /** The sleep after one that found the queue still empty. */
  static long nextPark(long park) {
    return Math.min(park * 2, MAX_IDLE_PARK_NANOS);
  }

  private final MpscRing<Handed> queue;
  private final @Nullable PredictionLog predictionLog;
  private final List<DriftListener> listeners;
  private final ConcurrentHashMap<String, Entry> versions = new ConcurrentHashMap<>();
  private final LongAdder dropped = new LongAdder();
  private final LongAdder shed = new LongAdder();

  /**
   * Rows of the passes offered to {@link #admit} (compared and shed); counted with a limit only.
   */
  private final LongAdder offeredRows = new LongAdder();

  /** Versions to make detectors for on the monitor thread ({@link #watch}). */
  private final ConcurrentLinkedQueue<ModelVersion> arriving = new ConcurrentLinkedQueue<>();

  /** Versions unloaded ({@link #unloaded}): their detectors are dropped on the monitor thread. */
  private final ConcurrentLinkedQueue<String> leaving = new ConcurrentLinkedQueue<>();

  /** Detectors of versions replaced in {@link #versions}: their raised alerts are ended. */
  private final ConcurrentLinkedQueue<Entry> replaced = new ConcurrentLinkedQueue<>();

  private final long maxRate;
  private volatile double keep = 1; // written by the monitor thread only
  private final AtomicLong processed = new AtomicLong();
  private final Thread thread;
  private final boolean detect;
  private final @Nullable Consumer<Handed> process;
  private volatile boolean closed;
  private final VersionMonitor.Listener onChange = this::changed; // one, not one per request

  /** The alert changes' log lines, one per version per event (monitor thread only). */
  private final DriftLog driftLog =
      new DriftLog(
          new DriftLog.Sink() {
            @Override
            public void warn(String line) {
              log.warn("{}", line);
            }

            @Override
            public void info(String line) {
              log.info("{}", line);
            }
          });

  /** One version's detectors and its latest published report. */
  private static final class Entry {
    final ModelVersion version;
    final VersionMonitor monitor;
    final String baselineStamp; // the baseline file's size and time when the detectors were made
    volatile DriftReport report;

    Entry(ModelVersion version, VersionMonitor monitor, String baselineStamp) {
      this.version = version;
      this.monitor = monitor;
      this.baselineStamp = baselineStamp;
      this.report = monitor.report(0);
    }

    /** The same detectors, for a reloaded copy of the version that monitors as this one did. */
    Entry(ModelVersion version, Entry before) {
      this.version = version;
      this.monitor = before.monitor;
      this.baselineStamp = before.baselineStamp;
      this.report = before.report;
    }

    /**
     * Whether a reloaded copy monitors exactly as this one (same monitoring section, same baseline
     * file): a reload that changed something else (instances, batching) keeps the detectors, their
     * observations and any raised alert, rather than ending and raising them again.
     */
    boolean monitorsAs(ModelVersion mv, String stamp) {
      return Objects.equals(version.config().monitoring(), mv.config().monitoring())
          && baselineStamp.equals(stamp);
    }
  }

  /** The baseline file's size and modification time, or "" when it cannot be read. */
  private static String baselineStamp(ModelVersion mv) {
    MonitoringConfig m = mv.config().monitoring();
    if (m == null) {
      return "";
    }
    try {
      return Files.size(m.baseline()) + "@" + Files.getLastModifiedTime(m.baseline()).toMillis();
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  /**
   * Starts the {@code fulcrum-monitor} thread.
   *
   * @param queueCapacity observations that may wait; more are dropped and counted
   * @param predictionLog where sampled requests are also logged, or null
   * @param listeners told of each alert raised or cleared (besides the log line)
   * @param detect false to only write the prediction log ({@code fulcrum serve --monitoring false})
   */
  public DriftMonitor(
      int queueCapacity,
      @Nullable PredictionLog predictionLog,
      List<DriftListener> listeners,
      boolean detect) {
    this(queueCapacity, predictionLog, listeners, detect, NO_RATE_LIMIT, null);
  }

  /**
   * Starts the {@code fulcrum-monitor} thread, comparing at most {@code maxRate} rows a second.
   *
   * @param maxRate rows a second the monitor compares at most (all versions together); above it a
   *     uniform sample of passes, the rest shed and counted; {@link #NO_RATE_LIMIT} for every pass
   */
  public DriftMonitor(
      int queueCapacity,
      @Nullable PredictionLog predictionLog,
      List<DriftListener> listeners,
      boolean detect,
      long maxRate) {
    this(queueCapacity, predictionLog, listeners, detect, maxRate, null);
  }

  /**
   * @param process what the monitor thread does with each request (tests stall it); null for the
   *     detectors
   */
  DriftMonitor(
      int queueCapacity,
      @Nullable PredictionLog predictionLog,
      List<DriftListener> listeners,
      boolean detect,
      long maxRate,
      @Nullable Consumer<Handed> process) {
    if (maxRate < 0) {
      throw new IllegalArgumentException("the monitor's rate limit must be >= 0, was " + maxRate);
    }
    this.maxRate = maxRate;
    this.process = process;
    this.detect = detect;
    this.queue = new MpscRing<>(queueCapacity);
    this.predictionLog = predictionLog;
    this.listeners = List.copyOf(listeners);
    this.thread = Thread.ofPlatform().name("fulcrum-monitor").daemon(true).start(this::run);
  }

  @Override
  public void completed(
      ModelVersion version,
      InferenceRequest request,
      InferenceResponse response,
      long latencyNanos,
      boolean inPass) {
    MonitoringConfig m = version.config().monitoring();
    // A request that ran in a pass was compared with its pass (passListener); the others (cache
    // hits) are compared one by one.
    boolean monitor = detect && !inPass && m != null && m.enabled() && sampled(m.sampleRate());
    PredictionLog plog = predictionLog;
    boolean logged = plog != null && plog.sampled();
    if (!monitor && !logged) {
      return;
    }
    // References, not copies: the consumers read the values on their own threads.
    Completed c =
        new Completed(version, request, response, System.currentTimeMillis(), latencyNanos);
    if (monitor) {
      offer(c);
    }
    if (logged && plog != null) {
      plog.offer(c);
    }
  }

  /**
   * The per-pass hand-off for a monitored version: each successful pass (sampled as a whole at the
   * configured rate) is queued as one {@link PassCompleted}; null when the version is not compared
   * (no or disabled {@code monitoring:}, or detection off), so its passes cost nothing.
   */
  @Override
  public @Nullable PassListener passListener(ModelVersion version) {
    MonitoringConfig m = version.config().monitoring();
    if (!detect || m == null || !m.enabled()) {
      return null;
    }
    double rate = m.sampleRate();
    PassCopy.@Nullable Layout layout = copyLayout(version);
    return pass -> {
      if (sampled(rate) && admit(pass.totalRows())) {
        long millis = System.currentTimeMillis();
        PassCopy copy = layout == null ? null : PassCopy.of(version, pass, layout, millis);
        offer(copy != null ? copy : new PassCompleted(version, pass, millis));
      }
    };
  }

  /**
   * What a tabular version's small passes are copied as on the thread that ran them: the inputs its
   * {@code monitoring.features} name and its declared outputs; null for a text model (its token ids
   * and embeddings are handed by reference).
   */
  static PassCopy.@Nullable Layout copyLayout(ModelVersion version) {
    MonitoringConfig m = version.config().monitoring();
    if (m == null || m.text() != null) {
      return null;
    }
    List<String> inputs = new ArrayList<>();
    for (MonitoringConfig.InputFeatures f : m.features()) {
      if (!inputs.contains(f.input())) {
        inputs.add(f.input());
      }
    }
    List<String> outputs = new ArrayList<>();
    version.config().outputs().forEach(o -> outputs.add(o.name()));
    return new PassCopy.Layout(inputs, outputs);
  }

  /**
   * Whether a pass of {@code rows} rows is compared under the rate limit: always below it; above it
   * with the probability the monitor thread last set, else counted as shed (then it is neither
   * copied nor queued). Any thread; one volatile read below the limit.
   */
  boolean admit(int rows) {
    if (maxRate > 0) {
      offeredRows.add(rows);
    }
    double k = keep;
    if (k < 1 && ThreadLocalRandom.current().nextDouble() >= k) {
      shed.add(rows);
      return false;
    }
    return true;
  }

  /** Queues a request or a pass for the monitor thread, or drops and counts it; never blocks. */
  void offer(Handed c) {
    if (!queue.offer(c)) {
      dropped.increment();
    }
  }

  private static boolean sampled(double rate) {
    return rate >= 1 || ThreadLocalRandom.current().nextDouble() < rate;
  }

  @Override
  public Optional<DriftReport> drift(ModelVersion version) {
    if (version.config().monitoring() == null) {
      return Optional.empty();
    }
    if (!detect) {
      return Optional.of(
          new DriftReport(
              version.name(),
              version.versionString(),
              false,
              "drift monitoring is off in this server (fulcrum serve --monitoring false)",
              "",
              0,
              0,
              0,
              List.of(),
              List.of()));
    }
    return Optional.of(entry(version).report);
  }

  @Override
  public List<DriftReport> reports() {
    List<DriftReport> out = new ArrayList<>();
    for (Entry e : versions.values()) {
      if (e.version.isReady()) {
        out.add(e.report);
      }
    }
    return out;
  }

  @Override
  public dev.fulcrum.core.monitor.@Nullable PredictionLogCounts predictionLog() {
    PredictionLog plog = predictionLog;
    return plog == null
        ? null
        : new dev.fulcrum.core.monitor.PredictionLogCounts(plog.written(), plog.dropped());
  }

  /** Requests dropped because the queue was full (or could not be copied). */
  public long dropped() {
    return dropped.sum();
  }

  /** Rows not compared because the monitor was over its rate limit. */
  public long shed() {
    return shed.sum();
  }

  /** The share of passes compared now: 1 unless the offered rows exceed the rate limit. */
  double keep() {
    return keep;
  }

  /**
   * Waits until every observation accepted so far has been compared and its report published
   * (tests, and the bench before it reads a verdict); true when done in time.
   */
  public boolean awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (processed.get() < queue.accepted()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(2);
    }
    return true;
  }

  /**
   * Makes a monitored version's detectors now, on the monitor thread, rather than at its first
   * compared request or report: a baseline that cannot be read is logged when the version loads,
   * and its metrics exist from then. Any thread; does not block (the baseline is read on the
   * monitor thread).
   */
  public void watch(ModelVersion mv) {
    if (detect && mv.config().monitoring() != null) {
      arriving.add(mv);
      LockSupport.unpark(thread);
    }
  }

  /**
   * Drops an unloaded version's detectors, and ends each alert it had raised: the listeners are
   * told the feature is clear ({@link DriftListener#ended}), so that an incident opened by the
   * webhook is closed rather than left open forever. A reloaded copy that monitors as the one
   * before (same monitoring section and baseline file) takes its detectors over instead: their
   * observations and alerts go on. Any thread; does not block.
   */
  @Override
  public void unloaded(String model, long version, @Nullable ModelVersion successor) {
    if (detect) {
      if (successor != null && successor.config().monitoring() != null) {
        arriving.add(successor); // takes the detectors over if it monitors as the copy before
      }
      leaving.add(key(model, Long.toString(version)));
      LockSupport.unpark(thread);
    }
  }

  private static String key(String model, String version) {
    return model + '\u0000' + version;
  }

  private Entry entry(ModelVersion mv) {
    String key = key(mv.name(), mv.versionString());
    Entry e = versions.get(key);
    if (e != null && e.version == mv) {
      return e;
    }
    String stamp = baselineStamp(mv);
    return versions.compute(
        key,
        (k, old) -> {
          if (old != null && old.version == mv) {
            return old;
          }
          if (old != null && old.monitorsAs(mv, stamp)) {
            return new Entry(mv, old); // a reload that monitors as before: the same detectors
          }
          if (old != null) {
            replaced.add(old); // a reload: the old version's alerts end with it
          }
          return new Entry(mv, create(mv), stamp);
        });
  }

  /** Drops the detectors of versions unloaded since last time; on the monitor thread. */
  private void retireLeaving() {
    for (String key = leaving.poll(); key != null; key = leaving.poll()) {
      Entry e = versions.get(key);
      if (e != null && gone(e.version) && versions.remove(key, e)) {
        end(e, "the version was unloaded");
      }
    }
    for (Entry e = replaced.poll(); e != null; e = replaced.poll()) {
      end(e, "the version was reloaded");
    }
  }

  private static boolean gone(ModelVersion mv) {
    ModelState s = mv.state();
    return s == ModelState.UNLOADING || s == ModelState.UNLOADED || s == ModelState.UNAVAILABLE;
  }

  /** Tells the listeners that each alert a dropped version had raised is over. */
  private void end(Entry e, String why) {
    DriftReport r = e.monitor.report(dropped.sum(), shed.sum());
    List<String> named = new ArrayList<>();
    for (FeatureDrift f : r.features()) {
      if (f.drift()) {
        named.add("feature " + f.name());
        ended(e.monitor, cleared(f), false, why);
      }
    }
    for (FeatureDrift f : r.outputs()) {
      if (f.drift()) {
        named.add("output " + f.name());
        ended(e.monitor, cleared(f), true, why);
      }
    }
    driftLog.ended(e.monitor.model(), e.monitor.version(), named, why);
  }

  private static FeatureDrift cleared(FeatureDrift f) {
    return new FeatureDrift(
        f.name(), false, f.score(), f.threshold(), f.test(), null, 0, f.tests());
  }

  /** A version's detectors, from its configuration and its baseline file. */
  static VersionMonitor create(ModelVersion mv) {
    MonitoringConfig m = mv.config().monitoring();
    if (m == null) {
      throw new IllegalStateException("not monitored: " + mv.name());
    }
    List<Baseline.InputColumns> columns = new ArrayList<>();
    m.features().forEach(f -> columns.add(new Baseline.InputColumns(f.input(), f.names())));
    MonitoringConfig.TextInput text = m.text();
    if (text != null) {
      columns.add(new Baseline.InputColumns(text.input(), MonitoringConfig.TextInput.FEATURES));
    }
    Path file = m.baseline();
    String shown = shown(file);
    Baseline baseline = null;
    String problem = null;
    try {
      baseline = Baseline.read(file);
    } catch (NoSuchFileException | FileNotFoundException e) {
      problem =
          "no baseline "
              + shown
              + "; make it with: fulcrum profile --model "
              + mv.name()
              + (text == null ? " --data <training.csv>" : " --text <sentences.txt>");
    } catch (IOException | RuntimeException e) {
      problem = "cannot read the baseline " + shown + ": " + e.getMessage();
    }
    if (problem != null) {
      log.warn(
          "drift monitoring of {} version {} is off: {}", mv.name(), mv.versionString(), problem);
    }
    return new VersionMonitor(
        mv.name(),
        mv.versionString(),
        m.enabled(),
        shown,
        columns,
        baseline,
        problem,
        DetectorSettings.of(m),
        text);
  }

  /** A file as clients see it: its last three path names. */
  static String shown(Path file) {
    int n = file.getNameCount();
    return n <= 3 ? file.toString() : file.subpath(n - 3, n).toString();
  }

  private void run() {
    List<Entry> dirty = new ArrayList<>();
    @Nullable Entry last = null; // most requests are of the version before them
    long park = IDLE_PARK_NANOS;
    long unpublished = 0; // compared since the reports were last published
    boolean failed = false;
    long windowStart = System.nanoTime();
    long offeredAtStart = 0; // offeredRows at the window's start
    while (!closed) {
      if (driftLog.hasPending()) {
        driftLog.flush(System.nanoTime(), false);
      }
      if (maxRate > 0) {
        long now = System.nanoTime();
        if (now - windowStart >= RATE_WINDOW_MILLIS * 1_000_000) {
          long offered = offeredRows.sum();
          keep = keep(offered - offeredAtStart, now - windowStart, maxRate);
          windowStart = now;
          offeredAtStart = offered;
        }
      }
      for (ModelVersion w = arriving.poll(); w != null; w = arriving.poll()) {
        entry(w); // its first report is made with it
      }
      if (!leaving.isEmpty() || !replaced.isEmpty()) {
        retireLeaving();
        last = null;
        dirty.clear(); // a retired version's report is not published again
      }
      Handed c = queue.poll();
      if (c == null) {
        if (unpublished > 0) {
          publish(dirty, unpublished);
          unpublished = 0;
          continue; // look once more before sleeping
        }
        // Sleep rather than wait on the queue: a waiting consumer makes every offer wake it (a
        // futex call and a context switch per request on the engine's side); a sleeping one
        // leaves offer one compare-and-set and two stores. The cost is up to one sleep of delay.
        LockSupport.parkNanos(park);
        park = nextPark(park);
        if (Thread.interrupted()) {
          return;
        }
        continue;
      }
      try {
        if (process != null) {
          process.accept(c);
        } else {
          ModelVersion mv = c.source();
          // An unloaded version's last passes are not compared: its detectors are gone.
          if (mv != null && ((last != null && last.version == mv) || !gone(mv))) {
            Entry e = last != null && last.version == mv ? last : entry(mv);
            last = e;
            switch (c) {
              case Completed one -> e.monitor.observe(one, onChange);
              case PassCompleted pass -> e.monitor.observe(pass, onChange);
              case PassCopy pass -> e.monitor.observe(pass, onChange);
            }
            if (!dirty.contains(e)) {
              dirty.add(e);
            }
          }
        }
      } catch (RuntimeException e) {
        // A malformed tensor is simply not compared: counted with the drops, logged once.
        dropped.increment();
        if (!failed) {
          failed = true;
          log.error("drift monitor: a request could not be compared (logged once)", e);
        }
      }
      if (++unpublished >= PUBLISH_EVERY) {
        publish(dirty, unpublished);
        unpublished = 0;
      }
    }
  }

  /** Publishes the reports of the versions compared since last time; they are then up to date. */
  private void publish(List<Entry> dirty, long compared) {
    try {
      long drops = dropped.sum();
      long shedRows = shed.sum();
      for (Entry e : dirty) {
        e.report = e.monitor.report(drops, shedRows);
      }
    } catch (RuntimeException e) {
      log.error("drift monitor: a report failed", e);
    } finally {
      dirty.clear();
      processed.addAndGet(compared);
    }
  }

  private void ended(VersionMonitor vm, FeatureDrift f, boolean output, String why) {
    for (DriftListener l : listeners) {
      try {
        l.ended(vm.model(), vm.version(), f, output, why);
      } catch (RuntimeException e) {
        log.warn("drift listener failed: {}", e.toString());
      }
    }
  }

  private void changed(VersionMonitor vm, FeatureDrift f, boolean output) {
    driftLog.changed(vm.model(), vm.version(), f, output, System.nanoTime());
    for (DriftListener l : listeners) {
      try {
        l.changed(vm.model(), vm.version(), f, output);
      } catch (RuntimeException e) {
        log.warn("drift listener failed: {}", e.toString());
      }
    }
  }

  /** Stops the monitor thread (pending observations are dropped) and closes the log. */
  @Override
  public void close() {
    closed = true;
    thread.interrupt();
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (!thread.isAlive()) {
      driftLog.flush(System.nanoTime(), true); // the monitor thread is gone: the log is ours
    }
    if (predictionLog != null) {
      predictionLog.close();
    }
  }
}
