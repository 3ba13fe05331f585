package dev.fulcrum.server;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.server.codec.InferResponseEncoder;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The slow-request log ({@code fulcrum serve --log-slow-requests-ms}): one line on the logger
 * {@value #LOGGER_NAME} for each inference request whose time in the server exceeded its threshold,
 * and for each request refused for load ({@code 429} / {@code RESOURCE_EXHAUSTED}: a full queue or
 * the SLO policy's refusal; {@code 504} / {@code DEADLINE_EXCEEDED}: its queue timeout) however
 * quick, since those are what the slow ones' overload looks like from outside. A line names the
 * model, version, transport, status, rows, the request's total time and its split (queue, compute,
 * pipeline steps, the transport's share), the pass's rows, whether the response cache answered it,
 * an ensemble request's steps (each one's model, version, start and split), the client's address
 * (and, behind a proxy, the {@code X-Forwarded-For} it sent, as the client's text: a proxy's own
 * address is the connection's), the request's {@code id} and the W3C trace id of its {@code
 * traceparent}.
 *
 * <p>The time measured (total_ms) is the transport's: from when the transport had the whole request
 * (REST: the aggregated body reached the dispatcher; gRPC: the parsed message reached the service)
 * to when its answer, encoded, was handed to the transport to write (REST: {@code writeAndFlush};
 * gRPC: {@code onNext}/{@code onError} returned). It is what the server can account for of the
 * client's latency; the network, the kernel's buffers and (REST) the wait of a pipelined request
 * behind the answers before it on its connection are outside it.
 *
 * <p>Bounded: at most {@link Settings#maxLinesPerSecond()} lines in each second; the others are
 * counted and said in one line at the end of the second in which some were left out ({@code
 * event=slow_requests_suppressed count=N}).
 *
 * <p>Threads: {@link #wants} and {@link #write} are called by the transports' event loops and never
 * block: the threshold check is arithmetic, the rate limit one compare-and-set, and a line to write
 * is handed to a bounded queue (a full queue counts it as suppressed). One daemon thread ({@value
 * #THREAD_NAME}) formats the lines and writes them to the logger, so that a slow log destination (a
 * full disk, a blocked pipe: the CLI's SLF4J provider writes and flushes each line synchronously)
 * stalls that thread, never an event loop. Thread-safe.
 */
public final class SlowRequestLog implements AutoCloseable {
  /** The logger the lines go to, so that SLF4J's configuration can route them on their own. */
  public static final String LOGGER_NAME = "fulcrum.slow";

  /** The thread that writes the lines. */
  public static final String THREAD_NAME = "fulcrum-slow-log";

  /** The rate limit's default: lines a second before the rest are counted in a summary line. */
  public static final int DEFAULT_MAX_LINES_PER_SECOND = 100;

  /** The most characters of client text (a request id, an error message) a line quotes. */
  static final int MAX_TEXT = 200;

  private static final long SECOND = 1_000_000_000L;

  /** The rate limit's state packs the window's second and its count: the count's bits. */
  private static final int COUNT_BITS = 20;

  private static final long COUNT_MASK = (1L << COUNT_BITS) - 1;

  /** How a line is written. */
  public enum Format {
    /** {@code key=value} pairs (logfmt: Loki, Vector, Grafana, Humio parse it). */
    LOGFMT,
    /** One JSON object a line. */
    JSON;

    /** The option's value: {@code logfmt} or {@code json}. */
    public static Format parse(String value) {
      return switch (value.trim().toLowerCase(Locale.ROOT)) {
        case "logfmt", "kv" -> LOGFMT;
        case "json" -> JSON;
        default ->
            throw new IllegalArgumentException(
                "--log-slow-format must be logfmt or json, was '" + value + "'");
      };
    }
  }

  /** The transport that carried a request, as a line names it. */
  public enum Protocol {
    /** REST with JSON tensors. */
    REST_JSON("rest-json"),
    /** REST with the binary tensor extension ({@code Inference-Header-Content-Length}). */
    REST_BINARY("rest-binary"),
    /** The OpenAI-compatible embeddings API ({@code POST /v1/embeddings}). */
    REST_OPENAI("rest-openai"),
    /** Hugging Face TEI's routes ({@code POST /embed}, {@code /similarity}). */
    REST_TEI("rest-tei"),
    /** Ollama's embedding API ({@code POST /api/embed}, {@code /api/embeddings}). */
    REST_OLLAMA("rest-ollama"),
    /** TF Serving's and KServe v1's predict ({@code POST /v1/models/<m>:predict}). */
    REST_TF_SERVING("rest-tfserving"),
    /** MLflow's and SageMaker's scoring endpoint ({@code POST /invocations}). */
    REST_MLFLOW("rest-mlflow"),
    /** gRPC ModelInfer. */
    GRPC("grpc"),
    /** One request of a gRPC ModelStreamInfer stream. */
    GRPC_STREAM("grpc-stream"),
    /** TF Serving's gRPC Predict ({@code tensorflow.serving.PredictionService/Predict}). */
    GRPC_TF_SERVING("grpc-tfserving");

    private final String label;

    Protocol(String label) {
      this.label = label;
    }

    /** The name a line gives it. */
    public String label() {
      return label;
    }
  }

  /**
   * What the log writes, validated once.
   *
   * @param thresholdNanos a request slower than this is logged, when its model has no threshold of
   *     its own ({@code slow-request-ms} or {@code slo.latency-ms} in its config.yaml); {@link
   *     Long#MAX_VALUE}: only models with a threshold of their own are judged ({@code
   *     --log-slow-requests-ms slo})
   * @param format how a line is written
   * @param maxLinesPerSecond lines a second before the rest are counted (1 to 100000)
   */
  public record Settings(long thresholdNanos, Format format, int maxLinesPerSecond) {
    public Settings {
      if (thresholdNanos < 0) {
        throw new IllegalArgumentException(
            "--log-slow-requests-ms must be >= 0 (0: every request), was "
                + thresholdNanos / 1_000_000);
      }
      if (maxLinesPerSecond < 1 || maxLinesPerSecond > 100_000) {
        throw new IllegalArgumentException(
            "--log-slow-max-lines-per-sec must be 1 to 100000, was " + maxLinesPerSecond);
      }
    }

    /**
     * The option's value: a number of milliseconds ({@code 0}: every request), or {@code slo}: only
     * the requests of models with a latency objective, judged by it.
     */
    public static long thresholdNanos(String value) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      if (v.equals("slo")) {
        return Long.MAX_VALUE;
      }
      double ms;
      try {
        ms = Double.parseDouble(v);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--log-slow-requests-ms must be a number of milliseconds or 'slo', was '" + value + "'",
            e);
      }
      if (!(ms >= 0) || ms > 3_600_000) {
        throw new IllegalArgumentException(
            "--log-slow-requests-ms must be 0 to 3600000 milliseconds, was " + value);
      }
      return (long) (ms * 1_000_000);
    }
  }

  /**
   * One request to log, made by a transport only after {@link #wants} said so.
   *
   * @param protocol the transport
   * @param model the model name the request named
   * @param version the version it named ("" for the one the policy serves)
   * @param status the answer's status: the HTTP code, or the gRPC code's name
   * @param totalNanos the transport's time for it (see the class comment)
   * @param thresholdNanos the threshold it was judged by
   * @param timing where its time in the core went; null when it got no answer from the core (it was
   *     refused, or failed)
   * @param client the client's address, or null when unknown
   * @param forwardedFor the request's {@code X-Forwarded-For} (client text: whatever a proxy in
   *     front, or the client itself, wrote), or null
   * @param id the request's {@code id} field (client text), or null
   * @param trace the request's W3C trace context (parsed once, when it arrived), or null
   * @param failure what it was answered with when not a result, or null
   */
  public record SlowRequest(
      Protocol protocol,
      String model,
      String version,
      String status,
      long totalNanos,
      long thresholdNanos,
      @Nullable RequestTiming timing,
      @Nullable SocketAddress client,
      @Nullable String forwardedFor,
      @Nullable String id,
      @Nullable TraceParent trace,
      @Nullable Throwable failure) {}

  /** Where the lines go: the logger, or a test's list. */
  public interface Sink {
    void line(String line);
  }

  private final Settings settings;
  private final Sink sink;
  private final LongSupplier nanoClock;
  private final Clock wallClock;
  private final ArrayBlockingQueue<SlowRequest> queue;

  /** The rate limit's window: its second (high bits) and the lines admitted in it (low bits). */
  private final AtomicLong window = new AtomicLong(Long.MIN_VALUE);

  /** Requests left out since the last summary: over the rate, or the queue was full. */
  private final AtomicLong suppressed = new AtomicLong();

  /** Requests' lines written, and requests left out, since the start ({@code /metrics}). */
  private final AtomicLong loggedTotal = new AtomicLong();

  private final AtomicLong suppressedTotal = new AtomicLong();

  private final @Nullable Thread writer;
  private volatile boolean closed;
  private long lastSummaryNanos;

  /** A log to the logger {@value #LOGGER_NAME}, with its writer thread started. */
  public SlowRequestLog(Settings settings) {
    this(
        settings,
        logSink(LoggerFactory.getLogger(LOGGER_NAME)),
        System::nanoTime,
        Clock.systemUTC(),
        true);
  }

  /**
   * @param wallClock each line's {@code time}
   * @param threaded false: no writer thread; lines are written by {@link #drain} (tests)
   */
  SlowRequestLog(
      Settings settings, Sink sink, LongSupplier nanoClock, Clock wallClock, boolean threaded) {
    this.settings = settings;
    this.sink = sink;
    this.nanoClock = nanoClock;
    this.wallClock = wallClock;
    this.queue = new ArrayBlockingQueue<>(Math.max(64, settings.maxLinesPerSecond()));
    this.lastSummaryNanos = nanoClock.getAsLong();
    if (threaded) {
      Thread t = new Thread(this::run, THREAD_NAME);
      t.setDaemon(true);
      t.start();
      this.writer = t;
    } else {
      this.writer = null;
    }
  }

  private static Sink logSink(Logger log) {
    return log::info;
  }

  /** Its settings. */
  public Settings settings() {
    return settings;
  }

  /** A transport's clock for {@link #wants}: one call to {@link System#nanoTime()}. */
  public long now() {
    return nanoClock.getAsLong();
  }

  /**
   * The threshold a request is judged by: its model's own ({@link #modelThresholdNanos}) when it
   * has one, else the server's.
   *
   * @param modelNanos the model's threshold, 0 for none (or an unknown model)
   */
  public long thresholdNanos(long modelNanos) {
    return modelNanos > 0 ? modelNanos : settings.thresholdNanos();
  }

  /**
   * A model's own threshold: its {@code slow-request-ms} when config.yaml sets one, else its
   * latency objective ({@code slo.latency-ms}), else 0 (the server's applies).
   */
  public static long modelThresholdNanos(ModelConfig config) {
    return config.slowRequestNanos() > 0 ? config.slowRequestNanos() : config.slo().latencyNanos();
  }

  /**
   * The threshold of the model a failed request named (its answer, had there been one, would carry
   * it), 0 for none or an unknown model: what both transports pass to {@link #thresholdNanos} for a
   * request that ended without an answer.
   */
  public static long modelThresholdOf(InferenceService service, String model, String version) {
    try {
      return modelThresholdNanos(service.repository().resolve(model, version).config());
    } catch (RuntimeException e) {
      return 0;
    }
  }

  /**
   * Whether a request that took {@code totalNanos} gets a line: slower than its threshold, or
   * refused for load; and, if so, within this second's rate (else it is counted for the summary).
   * Allocates nothing.
   *
   * @param modelNanos its model's threshold ({@link #modelThresholdNanos}), 0 for none
   * @param failure what it was answered with when not a result, or null
   */
  public boolean wants(long totalNanos, long modelNanos, @Nullable Throwable failure) {
    if (totalNanos <= thresholdNanos(modelNanos) && !refusedForLoad(failure)) {
      return false;
    }
    return admit(nanoClock.getAsLong());
  }

  /** Takes one line of this second's rate; false (counted) when the second's lines are spent. */
  private boolean admit(long nowNanos) {
    long second = Math.floorDiv(nowNanos, SECOND) & (-1L >>> COUNT_BITS);
    while (true) {
      long s = window.get();
      long next;
      if (s == Long.MIN_VALUE || (s >>> COUNT_BITS) != second) {
        next = (second << COUNT_BITS) | 1;
      } else if ((s & COUNT_MASK) < settings.maxLinesPerSecond()) {
        next = s + 1;
      } else {
        suppress();
        return false;
      }
      if (window.compareAndSet(s, next)) {
        return true;
      }
    }
  }

  /** Hands a line to the writer thread; never blocks (a full queue counts it as suppressed). */
  public void write(SlowRequest r) {
    if (closed || !queue.offer(r)) {
      suppress();
    }
  }

  private void suppress() {
    suppressed.incrementAndGet();
    suppressedTotal.incrementAndGet();
  }

  /** Requests whose line was written since the start ({@code fulcrum_slow_requests_total}). */
  public long logged() {
    return loggedTotal.get();
  }

  /**
   * Requests that were slow or refused but got no line since the start: over the rate, the queue
   * full, or the log's back end failed.
   */
  public long suppressed() {
    return suppressedTotal.get();
  }

  /** Whether a failure is a refusal for load: a full queue or SLO refusal, or a queue timeout. */
  static boolean refusedForLoad(@Nullable Throwable failure) {
    if (failure == null) {
      return false;
    }
    Throwable t = unwrap(failure);
    return t instanceof InferenceException ie
        && (ie.code() == ErrorCode.RESOURCE_EXHAUSTED || ie.code() == ErrorCode.DEADLINE_EXCEEDED);
  }

  private static Throwable unwrap(Throwable failure) {
    Throwable t = failure;
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private void run() {
    while (!closed) {
      SlowRequest r;
      try {
        r = queue.poll(250, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        break;
      }
      try {
        if (r != null) {
          sink.line(format(r, settings.format(), wallClock.instant()));
          loggedTotal.incrementAndGet();
        }
        drain(false);
      } catch (RuntimeException e) {
        // A logging back end that throws must not end the thread: the next line tries again.
        suppress();
      }
    }
  }

  /**
   * Writes the lines queued, then the summary of the requests left out when a second has passed
   * since the last (at once with {@code all}). On the writer thread, or a test's.
   */
  void drain(boolean all) {
    SlowRequest r;
    while ((r = queue.poll()) != null) {
      sink.line(format(r, settings.format(), wallClock.instant()));
      loggedTotal.incrementAndGet();
    }
    long now = nanoClock.getAsLong();
    if (all || now - lastSummaryNanos >= SECOND) {
      lastSummaryNanos = now;
      long n = suppressed.getAndSet(0);
      if (n > 0) {
        sink.line(summary(n, settings.maxLinesPerSecond(), settings.format(), wallClock.instant()));
      }
    }
  }

  /** Stops the writer thread after it wrote what is queued and the last summary. */
  @Override
  public void close() {
    closed = true;
    Thread t = writer;
    if (t != null) {
      t.interrupt();
      try {
        t.join(2_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (t == null || !t.isAlive()) {
      drain(true);
    }
  }

  /** The summary line of {@code n} requests left out. */
  static String summary(long n, int maxLinesPerSecond, Format format, Instant time) {
    Line l = new Line(format);
    l.text("time", time.truncatedTo(ChronoUnit.MILLIS).toString());
    l.text("event", "slow_requests_suppressed");
    l.number("count", n);
    l.number("max_lines_per_sec", maxLinesPerSecond);
    l.text(
        "message",
        n + " more slow requests suppressed (at most " + maxLinesPerSecond + " lines a second)");
    return l.end();
  }

  /** A request's line. */
  static String format(SlowRequest r, Format format, Instant time) {
    Line l = new Line(format);
    // A dated, zoned time, in milliseconds: the CLI's line prefix has neither date nor zone.
    l.text("time", time.truncatedTo(ChronoUnit.MILLIS).toString());
    l.text("event", "slow_request");
    l.text("reason", r.totalNanos() > r.thresholdNanos() ? "slow" : "refused");
    l.text("model", ClientText.printable(r.model(), MAX_TEXT));
    l.text("version", r.version().isEmpty() ? "default" : ClientText.printable(r.version(), 40));
    l.text("protocol", r.protocol().label());
    // A string in JSON too: an HTTP code and a gRPC code's name in one field of one type, so that
    // a store that types its fields at the first line (Elasticsearch) takes every line.
    l.text("status", r.status());
    RequestTiming t = r.timing();
    if (t != null) {
      l.number("rows", t.requestRows());
    }
    l.millis("total_ms", r.totalNanos() / 1000);
    if (t != null) {
      l.millis("queue_ms", t.queueMicros());
      l.millis("compute_ms", t.computeMicros());
      if (t.stepsMicros() > 0) {
        l.millis("steps_ms", t.stepsMicros());
      }
      // The rest of the total: decode, admission, the hand-over to the event loop, encode.
      l.millis("transport_ms", Math.max(0, r.totalNanos() / 1000 - t.totalMicros()));
      l.number("batch_rows", t.batchRows());
      l.bool("cache_hit", t.cacheHit());
      steps(l, "", t);
    }
    if (r.thresholdNanos() != Long.MAX_VALUE) {
      l.millis("threshold_ms", r.thresholdNanos() / 1000);
    }
    SocketAddress client = r.client();
    if (client != null) {
      l.text("client", address(client));
    }
    String forwardedFor = r.forwardedFor();
    if (forwardedFor != null && !forwardedFor.isEmpty()) {
      l.text("forwarded_for", ClientText.printable(forwardedFor, MAX_TEXT));
    }
    String id = r.id();
    if (id != null && !id.isEmpty()) {
      l.text("id", ClientText.printable(id, MAX_TEXT));
    }
    TraceParent trace = r.trace();
    if (trace != null) {
      l.text("trace_id", trace.traceId());
    }
    Throwable failure = r.failure();
    if (failure != null) {
      Throwable c = unwrap(failure);
      String m = c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
      l.text("error", ClientText.printable(m, MAX_TEXT));
    }
    return l.end();
  }

  /**
   * An ensemble request's steps, each under {@code step.<i>.} ({@code i} its index in the
   * ensemble's configuration, as the timing's response parameters name it; a nested ensemble's
   * under {@code step.<i>.step.<j>.}): the model and version that answered, when it started after
   * the ensemble's admission, and its own queue, compute, pipeline steps, total, pass rows and
   * cache hit. Nothing for any other request.
   */
  private static void steps(Line l, String prefix, RequestTiming t) {
    for (RequestTiming.EnsembleStep s : t.ensembleSteps()) {
      String p = prefix + RequestTiming.STEP + "." + s.step() + ".";
      RequestTiming st = s.timing();
      l.text(p + "model", ClientText.printable(s.model(), MAX_TEXT));
      l.text(p + "version", ClientText.printable(s.version(), 40));
      l.millis(p + "start_ms", s.startMicros());
      l.millis(p + "queue_ms", st.queueMicros());
      l.millis(p + "compute_ms", st.computeMicros());
      if (st.stepsMicros() > 0) {
        l.millis(p + "steps_ms", st.stepsMicros());
      }
      l.millis(p + "total_ms", st.totalMicros());
      l.number(p + "batch_rows", st.batchRows());
      l.bool(p + "cache_hit", st.cacheHit());
      steps(l, p, st);
    }
  }

  private static String address(SocketAddress a) {
    if (a instanceof InetSocketAddress in && in.getAddress() != null) {
      String host = in.getAddress().getHostAddress();
      return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + in.getPort();
    }
    return ClientText.printable(String.valueOf(a), MAX_TEXT);
  }

  /** One line being written, as logfmt pairs or one JSON object. */
  private static final class Line {
    private final StringBuilder b = new StringBuilder(256);
    private final boolean json;

    Line(Format format) {
      this.json = format == Format.JSON;
      if (json) {
        b.append('{');
      }
    }

    void text(String key, String value) {
      key(key);
      if (json) {
        jsonString(value);
      } else if (plain(value)) {
        b.append(value);
      } else {
        b.append('"');
        for (int i = 0; i < value.length(); i++) {
          char c = value.charAt(i);
          if (c == '"' || c == '\\') {
            b.append('\\');
          }
          b.append(c);
        }
        b.append('"');
      }
    }

    void bool(String key, boolean value) {
      key(key);
      b.append(value);
    }

    void number(String key, long value) {
      key(key);
      b.append(value);
    }

    /** Microseconds as milliseconds with three decimals. */
    void millis(String key, long micros) {
      key(key);
      InferResponseEncoder.appendMillis(b, micros);
    }

    private void key(String key) {
      if (json) {
        if (b.length() > 1) {
          b.append(',');
        }
        b.append('"').append(key).append("\":");
      } else {
        if (!b.isEmpty()) {
          b.append(' ');
        }
        b.append(key).append('=');
      }
    }

    private static boolean plain(String value) {
      if (value.isEmpty()) {
        return false;
      }
      for (int i = 0; i < value.length(); i++) {
        char c = value.charAt(i);
        if (c <= ' ' || c == '"' || c == '=' || c == '\\') {
          return false;
        }
      }
      return true;
    }

    private void jsonString(String value) {
      b.append('"');
      for (int i = 0; i < value.length(); i++) {
        char c = value.charAt(i);
        switch (c) {
          case '"' -> b.append("\\\"");
          case '\\' -> b.append("\\\\");
          default -> {
            if (c < 0x20) {
              b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
              b.append(c);
            }
          }
        }
      }
      b.append('"');
    }

    String end() {
      if (json) {
        b.append('}');
      }
      return b.toString();
    }
  }
}
