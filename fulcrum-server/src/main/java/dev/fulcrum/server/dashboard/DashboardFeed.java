package dev.fulcrum.server.dashboard;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.fulcrum.core.repository.LifecycleEvent;
import dev.fulcrum.core.repository.LifecycleListener;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.repository.ModelVersionStatus;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dashboard's data: once a second samples every served model version (requests and inferences
 * per second, latency p50/p95/p99 of that second, queue vs compute time, formed batch sizes,
 * rejections, timeouts and errors by reason, pending requests, instance utilization, and for a
 * version with a latency objective its load ratio and attainment over the last 10 s) and the server
 * (process CPU, heap, GC time), keeps the last five minutes of each in a bounded ring, serializes
 * one JSON frame and hands the same bytes to every subscriber. A new subscriber's first frame
 * carries the whole history, so a page that opens fills its charts at once.
 *
 * <p>Design: the request path pays one wait-free {@code Recorder.recordValue} per request (the
 * observer this factory gives each version); everything else is read from the counters the
 * schedulers keep anyway ({@code ModelStatistics}), as deltas, on the feed's own thread. A
 * version's history is dropped when the version stops serving. A subscriber that cannot take a
 * frame (its bounded outbound buffer is still full a second later) is dropped and ended; the others
 * never wait for it.
 *
 * <p>Threads: one daemon thread, {@code fulcrum-dashboard}, owns the histories, the per-model event
 * logs and the serialization; {@link #create} and {@link #onEvent} are called by the repository's
 * threads and only add to concurrent structures; {@link #subscribe} and {@link #unsubscribe} may be
 * called from any thread (the REST event loops).
 */
public final class DashboardFeed
    implements SchedulerEnvironment.ObserverFactory, LifecycleListener, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DashboardFeed.class);

  /** Five minutes of one-second samples. */
  public static final int HISTORY_SECONDS = 300;

  /** Streams open at once at most; a page beyond it is refused (503). */
  public static final int MAX_SUBSCRIBERS = 32;

  /** Lifecycle lines kept per model version. */
  static final int EVENTS_PER_VERSION = 5;

  private static final JsonFactory JSON = new JsonFactory();

  /** A receiver of frames: one open dashboard page. */
  public interface Subscriber {
    /**
     * Takes one frame (UTF-8 JSON, shared by every subscriber: never modified). Returns false when
     * it cannot take it (the page reads too slowly, or the server drains): it is then dropped.
     * Called on the feed's thread; must not block.
     */
    boolean send(byte[] frame);

    /** The feed dropped this subscriber, or closed: end the stream. Called at most once. */
    void end();
  }

  private record Key(String model, long version) {}

  private final int capacity;
  private final Map<Key, VersionTrack> tracks = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<LifecycleEvent> events = new ConcurrentLinkedQueue<>();
  private final CopyOnWriteArrayList<Subscriber> subscribers = new CopyOnWriteArrayList<>();
  private final ConcurrentLinkedQueue<Subscriber> newcomers = new ConcurrentLinkedQueue<>();
  private final AtomicInteger subscriberCount = new AtomicInteger();
  private volatile @Nullable ModelRepository repository;

  /**
   * The drift panel each row sent in the last frame, by "model/version" (the feed's thread only). A
   * tick frame repeats a row's drift only when it changed: with monitoring it was two thirds of a
   * tick (about 1.2 KB of a version's 1.8), and most versions of a server with many are idle, their
   * drift unchanged. Every page open at a tick got that tick's frame (one that could not take it is
   * dropped), so it holds what was sent last.
   */
  private Map<String, SentDrift> driftSent = new HashMap<>();

  private record SentDrift(DashboardSource.@Nullable Drift drift) {}

  private volatile DashboardSource source = DashboardSource.none();
  private volatile double startupSeconds = Double.NaN;
  private volatile boolean startupReady = true;
  private volatile @Nullable BooleanSupplier readiness;
  private @Nullable ScheduledExecutorService timer;

  // The feed thread's.
  private final Map<Key, ArrayDeque<String>> eventLog = new HashMap<>();
  private final History server;
  private final ServerSampler sampler = new ServerSampler();

  /** A feed with five minutes of history. */
  public DashboardFeed() {
    this(HISTORY_SECONDS);
  }

  /** A feed that keeps {@code capacity} samples per series (tests use small ones). */
  public DashboardFeed(int capacity) {
    this.capacity = capacity;
    this.server = new History(capacity, ServerSampler.COLUMNS, 0);
  }

  /** Bytes of history one model version holds (the recorder adds a few KiB). */
  public static long historyBytesPerVersion() {
    return VersionTrack.historyBytes(HISTORY_SECONDS);
  }

  /** The repository whose served versions are sampled; call before {@link #start()}. */
  public void bind(ModelRepository repository) {
    this.repository = repository;
  }

  /** Where the SLO/cost and drift panels come from; {@link DashboardSource#none()} by default. */
  public void source(DashboardSource source) {
    this.source = source;
  }

  /** Records the process's start → ready time, for the server strip. */
  public void startupDone(double seconds) {
    startupDone(seconds, true);
  }

  /**
   * Records the time the process's start took, and whether the server was ready then: when not
   * (e.g. a model failed to load and readiness is strict), the strip says so rather than showing
   * the time as a "start → ready" time.
   */
  public void startupDone(double seconds, boolean ready) {
    this.startupReady = ready;
    this.startupSeconds = seconds;
  }

  /** Whether the server is ready now ({@code /v2/health/ready}), for the server strip. */
  public void readiness(BooleanSupplier ready) {
    this.readiness = ready;
  }

  /** Starts the {@code fulcrum-dashboard} thread, which ticks once a second until closed. */
  public synchronized DashboardFeed start() {
    if (timer != null) {
      throw new IllegalStateException("already started");
    }
    ScheduledExecutorService t =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("fulcrum-dashboard").daemon(true).factory());
    t.scheduleAtFixedRate(this::tickSafely, 0, 1, TimeUnit.SECONDS);
    timer = t;
    return this;
  }

  /** Stops ticking and ends every stream. */
  @Override
  public synchronized void close() {
    if (timer != null) {
      timer.shutdownNow();
      try {
        timer.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      timer = null;
    }
    endStreams();
  }

  /**
   * Ends every open stream now (each writes its last chunk), and goes on ticking: the REST port
   * calls it before it closes its connections, so that a page sees its stream end rather than cut
   * (a drain shorter than a tick would otherwise close them first).
   */
  public void endStreams() {
    // Each one removed here is counted out and ended once, whatever the feed's thread does.
    List<Subscriber> all = new ArrayList<>();
    for (Subscriber s : subscribers) {
      if (subscribers.remove(s)) {
        all.add(s);
      }
    }
    Subscriber n;
    while ((n = newcomers.poll()) != null) {
      all.add(n);
    }
    for (Subscriber s : all) {
      subscriberCount.decrementAndGet();
      endQuietly(s);
    }
  }

  @Override
  public SchedulerObserver create(String model, String version) {
    long v;
    try {
      v = Long.parseLong(version);
    } catch (NumberFormatException e) {
      return SchedulerObserver.none();
    }
    return tracks.computeIfAbsent(new Key(model, v), k -> new VersionTrack(model, v, capacity));
  }

  @Override
  public void onEvent(LifecycleEvent event) {
    events.add(event);
  }

  /**
   * Adds a subscriber; its first frame (at the next tick) carries the history. Returns false when
   * {@link #MAX_SUBSCRIBERS} are open already.
   */
  public boolean subscribe(Subscriber s) {
    if (subscriberCount.incrementAndGet() > MAX_SUBSCRIBERS) {
      subscriberCount.decrementAndGet();
      return false;
    }
    newcomers.add(s);
    return true;
  }

  /** Removes a subscriber that went away by itself (its connection closed); no {@code end()}. */
  public void unsubscribe(Subscriber s) {
    if (subscribers.remove(s) || newcomers.remove(s)) {
      subscriberCount.decrementAndGet();
    }
  }

  /** Streams open now. */
  public int subscribers() {
    return subscriberCount.get();
  }

  /** Model versions that hold a history now (for tests and diagnostics). */
  public int versionsWithHistory() {
    return tracks.size();
  }

  private void tickSafely() {
    try {
      tick(System.nanoTime(), System.currentTimeMillis());
    } catch (RuntimeException e) {
      driftSent = new HashMap<>(); // the pages may lack some of it: the next tick sends it all
      log.warn("dashboard tick failed", e);
    }
  }

  /** One tick: sample, then send. Runs on the feed's thread (or a test's). */
  void tick(long nowNanos, long nowMillis) {
    ModelRepository repo = repository;
    List<ModelVersion> served = repo == null ? List.of() : repo.served();
    drainEvents(repo, served);
    // The newcomers of this tick are taken first: one that subscribes after this gets its history
    // frame at the next tick, as one that subscribed after the frame was sent always did.
    List<Subscriber> fresh = new ArrayList<>();
    Subscriber n;
    while ((n = newcomers.poll()) != null) {
      fresh.add(n);
    }
    // Only the feed's thread adds to subscribers: with none and no newcomer this tick sends no
    // frame, so it keeps the histories (a page that opens later gets them) and builds no rows:
    // the verdicts, the SLO and drift panels and the index are read only for a frame. A tick runs
    // once a second, too rarely for the JIT, so each part of it is interpreted every time.
    boolean framed = !fresh.isEmpty() || !subscribers.isEmpty();
    if (!framed) {
      driftSent = new HashMap<>();
      sampleOnly(served, nowNanos, nowMillis);
      return;
    }
    server.add(nowMillis, sampler.sample(nowNanos), new long[0]);
    Verdict.MachineCpu machineCpu =
        new Verdict.MachineCpu(
            server.recentMean(ServerSampler.MACHINE_CPU, Verdict.WINDOW),
            server.recentMean(ServerSampler.THROTTLED, Verdict.WINDOW));
    List<Row> rows = new ArrayList<>();
    Set<Key> seen = new HashSet<>();
    DashboardSource extras = source;
    for (ModelVersion v : served) {
      Key key = new Key(v.name(), v.version());
      if (!seen.add(key)) {
        continue;
      }
      VersionTrack track =
          tracks.computeIfAbsent(key, k -> new VersionTrack(v.name(), v.version(), capacity));
      track.sample(v, nowNanos, nowMillis);
      DashboardSource.Extras x = extrasOf(extras, v);
      Verdict verdict =
          Verdict.of(
              track.history,
              v.config().maxBatchSize(),
              v.config().dynamicBatching(),
              x.slo(),
              x.drift(),
              machineCpu);
      rows.add(new Row(v.name(), v.versionString(), v.state().name(), "", v, track, x, verdict));
    }
    if (repo != null) {
      for (ModelVersionStatus s : repo.index()) {
        long version = parse(s.version());
        if (seen.contains(new Key(s.name(), version))) {
          continue;
        }
        String level = s.state() == ModelState.UNAVAILABLE ? "bad" : "warn";
        String text = s.state().name().toLowerCase(Locale.ROOT);
        if (!s.reason().isEmpty() && !s.reason().equalsIgnoreCase(text)) {
          text += ": " + s.reason(); // not "unloaded: unloaded"
        }
        rows.add(
            new Row(
                s.name(),
                s.version(),
                s.state().name(),
                s.reason(),
                null,
                null,
                DashboardSource.Extras.NONE,
                new Verdict(level, text)));
      }
    }
    send(rows, fresh, nowMillis);
  }

  /** A tick without a frame to send: each served version's and the server's sample, kept. */
  private void sampleOnly(List<ModelVersion> served, long nowNanos, long nowMillis) {
    Set<Key> seen = new HashSet<>();
    for (ModelVersion v : served) {
      Key key = new Key(v.name(), v.version());
      if (seen.add(key)) {
        tracks
            .computeIfAbsent(key, k -> new VersionTrack(v.name(), v.version(), capacity))
            .sample(v, nowNanos, nowMillis);
      }
    }
    server.add(nowMillis, sampler.sample(nowNanos), new long[0]);
  }

  private static DashboardSource.Extras extrasOf(DashboardSource source, ModelVersion v) {
    try {
      DashboardSource.Extras x = source.extras(v.name(), v.version());
      return x == null ? DashboardSource.Extras.NONE : x;
    } catch (RuntimeException e) {
      log.debug("dashboard source failed for {} v{}: {}", v.name(), v.version(), e.toString());
      return DashboardSource.Extras.NONE;
    }
  }

  private static long parse(String version) {
    try {
      return Long.parseLong(version);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /**
   * Lifecycle lines for the page, each in its version's log (a new version's panel shows its own
   * load, not its predecessor's unload), and dropping the history of versions that stopped serving.
   */
  private void drainEvents(@Nullable ModelRepository repo, List<ModelVersion> served) {
    LifecycleEvent e;
    boolean any = false;
    while ((e = events.poll()) != null) {
      any = true;
      String line =
          switch (e) {
            case LifecycleEvent.StateChanged c ->
                "v"
                    + c.version()
                    + " "
                    + (c.from() == null ? "" : c.from().name() + " → ")
                    + c.to().name()
                    + (c.reason().isEmpty() ? "" : ": " + c.reason());
            case LifecycleEvent.Loaded l ->
                String.format(
                    Locale.ROOT,
                    "v%d loaded in %.2f s (warm-up %.2f s)",
                    l.version(),
                    l.loadDuration().toNanos() / 1e9,
                    l.warmupDuration().toNanos() / 1e9);
            case LifecycleEvent.LoadFailed f ->
                "v" + f.version() + " failed to load: " + f.reason();
          };
      ArrayDeque<String> lines =
          eventLog.computeIfAbsent(new Key(e.model(), e.version()), k -> new ArrayDeque<>());
      lines.addLast(line);
      while (lines.size() > EVENTS_PER_VERSION) {
        lines.removeFirst();
      }
      boolean gone =
          switch (e) {
            case LifecycleEvent.StateChanged c ->
                c.to() == ModelState.UNLOADED || c.to() == ModelState.UNAVAILABLE;
            case LifecycleEvent.LoadFailed f -> true;
            case LifecycleEvent.Loaded l -> false;
          };
      if (gone) {
        String model = e.model();
        long version = e.version();
        boolean serving =
            served.stream().anyMatch(v -> v.name().equals(model) && v.version() == version);
        if (!serving) {
          tracks.remove(new Key(model, version));
        }
      }
    }
    if (any && repo != null) {
      // The logs of versions the repository no longer lists (a polled repository drops them).
      Set<Key> known = new HashSet<>();
      served.forEach(v -> known.add(new Key(v.name(), v.version())));
      repo.index().forEach(st -> known.add(new Key(st.name(), parse(st.version()))));
      eventLog.keySet().retainAll(known);
    }
  }

  /**
   * One row of the page.
   *
   * @param version null for a version that does not serve (loading, failed, unloaded)
   */
  private record Row(
      String model,
      String versionName,
      String state,
      String reason,
      @Nullable ModelVersion version,
      @Nullable VersionTrack track,
      DashboardSource.Extras extras,
      Verdict verdict) {}

  private void send(List<Row> rows, List<Subscriber> fresh, long nowMillis) {
    if (!subscribers.isEmpty()) {
      byte[] tick = frame(rows, nowMillis, false);
      for (Subscriber s : subscribers) {
        deliver(s, tick);
      }
    }
    if (!fresh.isEmpty()) {
      byte[] history = frame(rows, nowMillis, true);
      for (Subscriber s : fresh) {
        subscribers.add(s);
        deliver(s, history);
      }
    }
    Map<String, SentDrift> sent = new HashMap<>();
    for (Row r : rows) {
      sent.put(r.model() + "/" + r.versionName(), new SentDrift(r.extras().drift()));
    }
    driftSent = sent;
  }

  private void deliver(Subscriber s, byte[] frame) {
    boolean taken;
    try {
      taken = s.send(frame);
    } catch (RuntimeException e) {
      log.debug("dashboard subscriber failed: {}", e.toString());
      taken = false;
    }
    if (!taken && subscribers.remove(s)) {
      subscriberCount.decrementAndGet();
      endQuietly(s);
    }
  }

  private void endQuietly(Subscriber s) {
    try {
      s.end();
    } catch (RuntimeException e) {
      log.debug("ending a dashboard subscriber failed: {}", e.toString());
    }
  }

  // ---- frames ----------------------------------------------------------------------------------

  /**
   * One frame: the server strip and a row per model version. A history frame carries every sample
   * kept; a tick frame only the newest. Series are columns, as the page's charts take them.
   */
  private byte[] frame(List<Row> rows, long nowMillis, boolean full) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(full ? 64 * 1024 : 4096);
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("kind", full ? "history" : "tick");
      g.writeNumberField("now", nowMillis);
      g.writeNumberField("historySeconds", capacity);
      writeServer(g, full);
      g.writeArrayFieldStart("models");
      for (Row r : rows) {
        writeRow(g, r, full);
      }
      g.writeEndArray();
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private void writeServer(JsonGenerator g, boolean full) throws IOException {
    g.writeObjectFieldStart("server");
    number(g, "startToReadyS", startupSeconds);
    g.writeBooleanField("readyAtStart", startupReady);
    BooleanSupplier ready = readiness;
    if (ready != null) {
      g.writeBooleanField("ready", ready.getAsBoolean());
    }
    number(g, "uptimeS", ManagementFactory.getRuntimeMXBean().getUptime() / 1000.0);
    number(g, "heapMaxMb", ServerSampler.heapMaxMb());
    g.writeNumberField("cores", ServerSampler.cores());
    g.writeNumberField("subscribers", subscriberCount.get());
    int from = full ? 0 : Math.max(0, server.size() - 1);
    times(g, server, from);
    column(g, "cpu", server, ServerSampler.CPU, from);
    column(g, "heapMb", server, ServerSampler.HEAP_MB, from);
    column(g, "gcMsPerS", server, ServerSampler.GC_MS, from);
    column(g, "machineCpu", server, ServerSampler.MACHINE_CPU, from);
    column(g, "steal", server, ServerSampler.STEAL, from);
    column(g, "throttled", server, ServerSampler.THROTTLED, from);
    g.writeEndObject();
  }

  private void writeRow(JsonGenerator g, Row r, boolean full) throws IOException {
    g.writeStartObject();
    g.writeStringField("model", r.model());
    g.writeStringField("version", r.versionName());
    g.writeStringField("state", r.state());
    g.writeStringField("reason", r.reason());
    g.writeObjectFieldStart("verdict");
    g.writeStringField("level", r.verdict().level());
    g.writeStringField("text", r.verdict().text());
    g.writeEndObject();
    ModelVersion v = r.version();
    if (v != null) {
      g.writeNumberField("instances", v.scheduler().instanceCount());
      g.writeNumberField("maxBatchSize", v.config().maxBatchSize());
      g.writeBooleanField("dynamicBatching", v.config().dynamicBatching());
      number(g, "loadMs", v.loadDuration().toNanos() / 1e6);
      number(g, "warmupMs", v.warmupDuration().toNanos() / 1e6);
    }
    g.writeArrayFieldStart("events");
    for (String line :
        eventLog.getOrDefault(new Key(r.model(), parse(r.versionName())), new ArrayDeque<>())) {
      g.writeString(line);
    }
    g.writeEndArray();
    writeSlo(g, r.extras().slo());
    // A tick frame leaves out a drift panel the pages already hold (the page keeps the last one).
    SentDrift before = full ? null : driftSent.get(r.model() + "/" + r.versionName());
    if (before == null || !java.util.Objects.equals(before.drift(), r.extras().drift())) {
      writeDrift(g, r.extras().drift());
    }
    VersionTrack t = r.track();
    if (t != null) {
      History h = t.history;
      int from = full ? 0 : Math.max(0, h.size() - 1);
      // A history frame sends a run of samples equal to the newest (an idle version's whole
      // history: zero rates, no latencies) once: "same" says how many of them precede the newest,
      // at the server strip's times before it, and the page repeats the newest for them. At 300
      // mostly idle demo models after five minutes the first frame was ~8 MB of such repeats.
      int same = full ? Math.min(h.repeatsOfNewest(h.size()), h.timesShared(server)) : 0;
      int skipTo = h.size() - 1 - same;
      g.writeObjectFieldStart("series");
      if (same > 0) {
        g.writeNumberField("same", same);
      }
      g.writeArrayFieldStart("t");
      for (int i = from; i < h.size(); i++) {
        if (i < skipTo || i == h.size() - 1 || same == 0) {
          g.writeNumber(h.time(i));
        }
      }
      g.writeEndArray();
      for (VersionTrack.Column c : VersionTrack.Column.values()) {
        g.writeArrayFieldStart(c.json);
        for (int i = from; i < h.size(); i++) {
          if (i < skipTo || i == h.size() - 1 || same == 0) {
            value(g, h.value(c.index, i));
          }
        }
        g.writeEndArray();
      }
      g.writeArrayFieldStart("batch");
      for (int i = from; i < h.size(); i++) {
        if (i < skipTo || i == h.size() - 1 || same == 0) {
          g.writeStartArray();
          for (int b = 0; b < h.buckets(); b++) {
            g.writeNumber(h.count(b, i));
          }
          g.writeEndArray();
        }
      }
      g.writeEndArray();
      g.writeEndObject();
    }
    g.writeEndObject();
  }

  private static void writeSlo(JsonGenerator g, DashboardSource.@Nullable Slo slo)
      throws IOException {
    if (slo == null) {
      g.writeNullField("slo");
      return;
    }
    g.writeObjectFieldStart("slo");
    number(g, "latencyMs", slo.latencyMs());
    number(g, "percentile", slo.percentile());
    number(g, "attainment", slo.attainment());
    number(g, "utilization", slo.utilization());
    number(g, "costPerMillion", slo.costPerMillion());
    number(g, "costPerHour", slo.costPerHour());
    DashboardSource.Capacity c = slo.capacity();
    if (c == null) {
      g.writeNullField("capacity");
    } else {
      g.writeObjectFieldStart("capacity");
      g.writeStringField("state", c.state());
      number(g, "requestsPerS", c.requestsPerSecond());
      if (c.bound() == null) {
        g.writeNullField("bound");
      } else {
        g.writeStringField("bound", c.bound());
      }
      number(g, "loadRatio", c.loadRatio());
      number(g, "offeredPerS", c.offeredPerSecond());
      g.writeStringField("cpu", c.cpuState());
      number(g, "budgetCores", c.budgetCores());
      number(g, "allowedCores", c.allowedCores());
      number(g, "othersCores", c.othersCores());
      number(g, "ownCores", c.ownCores());
      number(g, "pressureSomeRatio", c.pressureSomeRatio());
      g.writeEndObject();
    }
    g.writeEndObject();
  }

  private static void writeDrift(JsonGenerator g, DashboardSource.@Nullable Drift drift)
      throws IOException {
    if (drift == null) {
      g.writeNullField("drift");
      return;
    }
    g.writeObjectFieldStart("drift");
    if (drift.problem() != null) {
      g.writeStringField("problem", drift.problem());
    }
    g.writeArrayFieldStart("features");
    for (DashboardSource.FeatureDrift f : drift.features()) {
      g.writeStartObject();
      g.writeStringField("feature", f.feature());
      g.writeStringField("status", f.status());
      number(g, "score", f.score());
      number(g, "threshold", f.threshold());
      g.writeBooleanField("drifting", f.drifting());
      g.writeBooleanField("output", f.output());
      g.writeEndObject();
    }
    g.writeEndArray();
    g.writeEndObject();
  }

  private static void times(JsonGenerator g, History h, int from) throws IOException {
    g.writeArrayFieldStart("t");
    for (int i = from; i < h.size(); i++) {
      g.writeNumber(h.time(i));
    }
    g.writeEndArray();
  }

  private static void column(JsonGenerator g, String name, History h, int column, int from)
      throws IOException {
    g.writeArrayFieldStart(name);
    for (int i = from; i < h.size(); i++) {
      value(g, h.value(column, i));
    }
    g.writeEndArray();
  }

  private static void number(JsonGenerator g, String name, double v) throws IOException {
    g.writeFieldName(name);
    value(g, v);
  }

  /** A number rounded to 3 decimals (frames stay small), or null for NaN and infinities. */
  private static void value(JsonGenerator g, double v) throws IOException {
    if (!Double.isFinite(v)) {
      g.writeNull();
    } else if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      g.writeNumber((long) v);
    } else {
      g.writeNumber(Math.round(v * 1000) / 1000.0);
    }
  }
}
