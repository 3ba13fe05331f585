package dev.fulcrum.server.tracing;

import dev.fulcrum.core.error.InferenceException;

/**
 * One scope's trace settings (the server's, or a model's with its overrides applied), as Triton's
 * trace extension names them. Immutable.
 *
 * @param timestamps {@code trace_level}: true for {@code TIMESTAMPS} (spans with the request's
 *     times), false for {@code OFF} (no request is traced, a sampled parent's neither)
 * @param rate {@code trace_rate}: one request of every {@code rate} that arrives without a {@code
 *     traceparent} starts a trace; 0 (Fulcrum's default) starts none, so that only requests whose
 *     caller sampled them are traced
 * @param count {@code trace_count}: how many more traces may be made (every trace counts, a sampled
 *     parent's too); -1 without a bound
 */
public record TraceSettings(boolean timestamps, long rate, long count) {

  /** Triton's setting names. */
  public static final String TRACE_LEVEL = "trace_level";

  public static final String TRACE_RATE = "trace_rate";
  public static final String TRACE_COUNT = "trace_count";
  public static final String TRACE_MODE = "trace_mode";
  public static final String TRACE_FILE = "trace_file";
  public static final String LOG_FREQUENCY = "log_frequency";

  /** The one mode served: spans exported over OTLP. */
  public static final String MODE = "opentelemetry";

  /** Tracing off: what the settings endpoint reports on a server started without an exporter. */
  public static final TraceSettings OFF = new TraceSettings(false, 0, -1);

  public TraceSettings {
    if (rate < 0) {
      throw InferenceException.invalid(
          "%s must be >= 0 (0: none sampled), was %d", TRACE_RATE, rate);
    }
    if (count < -1) {
      throw InferenceException.invalid(
          "%s must be >= -1 (-1: no bound), was %d", TRACE_COUNT, count);
    }
  }

  /** The level's name as Triton writes it in its one-element array. */
  public String level() {
    return timestamps ? "TIMESTAMPS" : "OFF";
  }
}
