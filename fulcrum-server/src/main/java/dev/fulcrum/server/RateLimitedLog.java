package dev.fulcrum.server;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.event.Level;

/**
 * A log that writes at most one line per kind of event per interval, so that a client sending the
 * same bad request thousands of times a second costs a line every few seconds, not a line (or a
 * stack trace) each. The next line of a kind says how many were suppressed since the last one.
 *
 * <p>Each server owns its instance (no static state). Thread-safe: the windows are in a concurrent
 * map and each is claimed with a compare-and-set, so any thread may log without a lock.
 */
public final class RateLimitedLog {
  /** Distinct kinds kept; beyond this, new kinds share one window so the map stays bounded. */
  static final int MAX_KINDS = 256;

  private static final String OTHER = "(other)";

  private final Logger log;
  private final long intervalNanos;
  private final LongSupplier nanoClock;
  private final ConcurrentHashMap<String, Window> windows = new ConcurrentHashMap<>();

  private static final class Window {
    /** When the last line of this kind was written; Long.MIN_VALUE before the first. */
    final AtomicLong last = new AtomicLong(Long.MIN_VALUE);

    final AtomicLong suppressed = new AtomicLong();
  }

  /** The logger it writes to. */
  Logger logger() {
    return log;
  }

  public RateLimitedLog(Logger log, Duration interval) {
    this(log, interval, System::nanoTime);
  }

  RateLimitedLog(Logger log, Duration interval, LongSupplier nanoClock) {
    this.log = log;
    this.intervalNanos = interval.toNanos();
    this.nanoClock = nanoClock;
  }

  /**
   * Logs {@code message} unless a line of the same kind was written less than an interval ago.
   *
   * @param kind what makes two events "the same" (e.g. an error code); not shown
   * @param failure its stack trace is written with the line, or null for none
   * @return true when the line was written, false when it was suppressed (and counted)
   */
  public boolean log(Level level, String kind, String message, @Nullable Throwable failure) {
    if (!log.isEnabledForLevel(level)) {
      return false;
    }
    Window w = window(kind);
    long now = nanoClock.getAsLong();
    long last = w.last.get();
    if ((last != Long.MIN_VALUE && now - last < intervalNanos)
        || !w.last.compareAndSet(last, now)) {
      w.suppressed.incrementAndGet();
      return false;
    }
    String line = line(message, w.suppressed.getAndSet(0), intervalNanos);
    if (failure == null) {
      log.atLevel(level).log(line);
    } else {
      log.atLevel(level).setCause(failure).log(line);
    }
    return true;
  }

  static String line(String message, long suppressed, long intervalNanos) {
    if (suppressed == 0) {
      return message;
    }
    return message
        + " ("
        + suppressed
        + " more like it suppressed; at most one line per "
        + Duration.ofNanos(intervalNanos).toSeconds()
        + " s)";
  }

  private Window window(String kind) {
    Window w = windows.get(kind);
    if (w != null) {
      return w;
    }
    String k = windows.size() >= MAX_KINDS ? OTHER : kind;
    return windows.computeIfAbsent(k, x -> new Window());
  }
}
