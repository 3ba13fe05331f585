package dev.fulcrum.core.inference;

import dev.fulcrum.core.error.InferenceException;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a request asks of the scheduler, typed: parsed once from the request's parameters by the
 * codec that decoded it, so that nothing after the codec looks parameters up by name. Immutable.
 *
 * @param priority the {@code priority} parameter: 0 = the model's default level, else 1 (highest)
 *     and up; checked against the model's levels by the scheduler
 * @param timeoutMicros the {@code timeout} parameter: how long the request may wait in the queue,
 *     in microseconds (0 = none asked; the model's queue policy decides)
 * @param sloClass the {@code slo_class} parameter: whether the model's latency objective applies
 * @param timing the {@code timing} parameter: whether the response says where the request's time
 *     and money went ({@link RequestTiming}); false by default, so that a request that does not ask
 *     costs nothing. Also true for a request the server times for its own use (the slow-request
 *     log), whose answer does not show it
 * @param tokenCount the {@code token_count} parameter: whether a text pipeline's answer says how
 *     many tokens its tokenizer made of the request's text (the response parameter {@code
 *     token_count}; special tokens included, after truncation); false by default
 * @param costUsd whether its timing is priced ({@code cost_usd}, for a model with a price): true
 *     for a timing the client sees; false for one the server took only for itself ({@link
 *     #withServerTiming}), which no one would read the price of. Only with {@code timing}
 * @param sequence the {@code sequence_id}, {@code sequence_start} and {@code sequence_end}
 *     parameters (Triton's sequence extension): which sequence of a stateful model the request
 *     belongs to; {@link Sequence#NONE} when it gives none. Only a model with sequence batching
 *     reads them; any other model ignores them, as Triton's dynamic batcher does
 * @param truncate the {@code truncate} parameter: true (the default) lets a text pipeline's
 *     tokenizer cut a text longer than its max-length, as configured; false refuses such a text
 *     (TOO_LARGE, 413), as TEI and Ollama answer {@code truncate: false}. Only a tokenizing
 *     pipeline reads it
 */
public record RequestOptions(
    long priority,
    long timeoutMicros,
    SloClass sloClass,
    boolean timing,
    boolean tokenCount,
    boolean costUsd,
    Sequence sequence,
    boolean truncate) {

  /** The request parameter names. */
  public static final String PRIORITY = "priority";

  public static final String TIMEOUT = "timeout";
  public static final String SLO_CLASS = "slo_class";
  public static final String TIMING = "timing";

  /** The request parameter, and the response parameter that answers it ({@link #tokenCount}). */
  public static final String TOKEN_COUNT = "token_count";

  /**
   * The request parameter {@link #truncate}: false refuses a text longer than its pipeline's
   * tokenizer takes (TEI's and Ollama's {@code truncate: false}); absent or true, the pipeline cuts
   * it as configured.
   */
  public static final String TRUNCATE = "truncate";

  /** Triton's sequence extension: the sequence's id (uint64 or string). */
  public static final String SEQUENCE_ID = "sequence_id";

  /** Triton's sequence extension: the request starts its sequence. */
  public static final String SEQUENCE_START = "sequence_start";

  /** Triton's sequence extension: the request ends its sequence. */
  public static final String SEQUENCE_END = "sequence_end";

  /** No options: default priority, no timeout, the model's SLO, no timing. */
  public static final RequestOptions NONE =
      new RequestOptions(0, 0, SloClass.STANDARD, false, false);

  /** These options with the scheduling, timing and sequence fields, truncating as configured. */
  public RequestOptions(
      long priority,
      long timeoutMicros,
      SloClass sloClass,
      boolean timing,
      boolean tokenCount,
      boolean costUsd,
      Sequence sequence) {
    this(priority, timeoutMicros, sloClass, timing, tokenCount, costUsd, sequence, true);
  }

  /** Whether a request is held to its model's latency objective ({@code slo:} in config.yaml). */
  public enum SloClass {
    /** The default: the model's SLO applies; the SLO policy refuses it early when it would miss. */
    STANDARD,
    /**
     * Served when there is room: never refused for the SLO, and queued behind every request held to
     * it, so it neither delays them nor counts ahead of them at admission (e.g. offline scoring
     * sharing a model with interactive traffic). Its answers still count in the attainment.
     */
    BEST_EFFORT;

    /** The parameter's value: {@code standard} or {@code best_effort}. */
    public String parameterValue() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * A request's place in a sequence of a stateful model (Triton's sequence extension). Immutable.
   *
   * @param id the sequence, or null when the request names none
   * @param start whether the request starts the sequence ({@code sequence_start})
   * @param end whether the request ends it ({@code sequence_end})
   */
  public record Sequence(@Nullable SequenceId id, boolean start, boolean end) {
    /** No sequence: neither an id nor a flag. */
    public static final Sequence NONE = new Sequence(null, false, false);
  }

  public RequestOptions {
    Objects.requireNonNull(sequence, "sequence");
    if (priority < 0) {
      throw new IllegalArgumentException("priority >= 0");
    }
    if (timeoutMicros < 0) {
      throw new IllegalArgumentException("timeoutMicros >= 0");
    }
    if (costUsd && !timing) {
      throw new IllegalArgumentException("costUsd only with timing");
    }
  }

  /** Options whose timing, when asked, is priced (what a client asking {@code timing} gets). */
  public RequestOptions(
      long priority, long timeoutMicros, SloClass sloClass, boolean timing, boolean tokenCount) {
    this(priority, timeoutMicros, sloClass, timing, tokenCount, timing, Sequence.NONE);
  }

  /** Options that ask for neither timing nor a token count. */
  public RequestOptions(long priority, long timeoutMicros, SloClass sloClass) {
    this(priority, timeoutMicros, sloClass, false, false);
  }

  /**
   * Reads the options from a request's parameters; a bad value is a client mistake.
   *
   * @param model names the model in error messages
   * @throws InferenceException INVALID_ARGUMENT for a value of the wrong type or range
   */
  public static RequestOptions parse(String model, Map<String, Object> parameters) {
    if (parameters.isEmpty()) {
      return NONE;
    }
    long priority = longParameter(model, parameters, PRIORITY);
    if (priority < 0) {
      throw InferenceException.invalid(
          "model '%s': priority must be >= 0 (0 = default), was %d", model, priority);
    }
    long timeout = longParameter(model, parameters, TIMEOUT);
    if (timeout < 0) {
      throw InferenceException.invalid(
          "model '%s': timeout must be >= 0 microseconds, was %d", model, timeout);
    }
    boolean timing = boolParameter(model, parameters, TIMING);
    return new RequestOptions(
        priority,
        timeout,
        sloClass(model, parameters.get(SLO_CLASS)),
        timing,
        boolParameter(model, parameters, TOKEN_COUNT),
        timing,
        sequence(model, parameters),
        !parameters.containsKey(TRUNCATE) || boolParameter(model, parameters, TRUNCATE));
  }

  /**
   * The sequence extension's parameters: {@code sequence_id} a non-negative integer (JSON number,
   * gRPC int64_param/uint64_param) or a string (0 and "" mean none, as in Triton); the two flags
   * booleans. Whether the model needs them is the sequence batcher's to say.
   */
  private static Sequence sequence(String model, Map<String, Object> parameters) {
    Object v = parameters.get(SEQUENCE_ID);
    boolean start = boolParameter(model, parameters, SEQUENCE_START);
    boolean end = boolParameter(model, parameters, SEQUENCE_END);
    SequenceId id;
    if (v == null) {
      id = null;
    } else if (v instanceof String s) {
      id = s.isEmpty() ? null : SequenceId.of(s);
    } else if (v instanceof Long n && n >= 0) {
      id = n == 0 ? null : SequenceId.of(n);
    } else if (v instanceof Number n && n.longValue() >= 0 && n.doubleValue() == n.longValue()) {
      id = n.longValue() == 0 ? null : SequenceId.of(n.longValue());
    } else {
      throw InferenceException.invalid(
          "model '%s': parameter '%s' must be an unsigned integer (at most %d) or a string, was %s",
          model, SEQUENCE_ID, Long.MAX_VALUE, v);
    }
    return id == null && !start && !end ? Sequence.NONE : new Sequence(id, start, end);
  }

  /** These options with the queue timeout replaced. */
  public RequestOptions withTimeoutMicros(long micros) {
    return new RequestOptions(
        priority, micros, sloClass, timing, tokenCount, costUsd, sequence, truncate);
  }

  /**
   * These options asking for timing, priced (the server's {@code --request-timing-always true}, a
   * traced request, whose span carries the cost).
   */
  public RequestOptions withTiming() {
    return timing && costUsd
        ? this
        : new RequestOptions(
            priority, timeoutMicros, sloClass, true, tokenCount, true, sequence, truncate);
  }

  /**
   * These options timed for the server's own use (the slow-request log): the times, without the
   * cost, which only an answer that shows the timing (or a span) carries. Options that already ask
   * for timing are kept.
   */
  public RequestOptions withServerTiming() {
    return timing
        ? this
        : new RequestOptions(
            priority, timeoutMicros, sloClass, true, tokenCount, false, sequence, truncate);
  }

  /** A boolean parameter: JSON/protobuf {@code true}/{@code false}, or the strings of them. */
  private static boolean boolParameter(String model, Map<String, Object> parameters, String name) {
    Object v = parameters.get(name);
    if (v == null) {
      return false;
    }
    if (v instanceof Boolean b) {
      return b;
    }
    if (v instanceof String s) {
      String t = s.trim().toLowerCase(Locale.ROOT);
      if (t.equals("true") || t.equals("false")) {
        return t.equals("true");
      }
    }
    throw InferenceException.invalid(
        "model '%s': parameter '%s' must be a boolean (true or false), was %s", model, name, v);
  }

  private static SloClass sloClass(String model, @Nullable Object v) {
    if (v == null) {
      return SloClass.STANDARD;
    }
    if (v instanceof String s) {
      for (SloClass c : SloClass.values()) {
        if (c.parameterValue().equals(s.trim().toLowerCase(Locale.ROOT))) {
          return c;
        }
      }
    }
    throw InferenceException.invalid(
        "model '%s': parameter '%s' must be 'standard' or 'best_effort', was %s",
        model, SLO_CLASS, v);
  }

  private static long longParameter(String model, Map<String, Object> parameters, String name) {
    Object v = parameters.get(name);
    if (v == null) {
      return 0;
    }
    if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
      return n.longValue();
    }
    if (v instanceof String s) {
      try {
        return Long.parseLong(s.trim());
      } catch (NumberFormatException e) {
        // fall through to the error below
      }
    }
    throw InferenceException.invalid(
        "model '%s': parameter '%s' must be an integer, was %s", model, name, v);
  }
}
