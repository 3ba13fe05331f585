package dev.fulcrum.server.tracing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.InferenceException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * The trace settings in force: the server's, and each model's overrides (Triton's {@code
 * v2[/models/<m>]/trace/setting}). The whole state is one immutable snapshot swapped atomically by
 * an update (updates are serialized; requests read the snapshot without a lock); a scope's sampling
 * counters are atomics that live as long as its snapshot.
 */
public final class TraceSettingsStore {

  /** One scope's settings and its counters: requests seen (for the rate), traces left to make. */
  record Scope(TraceSettings settings, AtomicLong seen, AtomicLong remaining) {
    static Scope of(TraceSettings s) {
      return new Scope(s, new AtomicLong(), new AtomicLong(s.count()));
    }

    /**
     * Whether the next request of this scope is traced: a sampled parent always (while the level is
     * TIMESTAMPS), an unsampled parent never, a request without one every {@code rate}-th; then
     * only while {@code trace_count} allows.
     */
    boolean sample(boolean hasParent, boolean parentSampled) {
      if (!settings.timestamps()) {
        return false;
      }
      if (hasParent) {
        if (!parentSampled) {
          return false;
        }
      } else {
        long rate = settings.rate();
        if (rate == 0 || seen.incrementAndGet() % rate != 0) {
          return false;
        }
      }
      if (settings.count() < 0) {
        return true;
      }
      long left;
      do {
        left = remaining.get();
        if (left <= 0) {
          return false;
        }
      } while (!remaining.compareAndSet(left, left - 1));
      return true;
    }

    /** The settings as reported: {@code trace_count} is what is left. */
    TraceSettings reported() {
      return settings.count() < 0
          ? settings
          : new TraceSettings(settings.timestamps(), settings.rate(), remaining.get());
    }
  }

  /** A model's own values; null fields follow the server's. */
  record Overrides(@Nullable Boolean timestamps, @Nullable Long rate, @Nullable Long count) {
    TraceSettings over(TraceSettings global) {
      return new TraceSettings(
          timestamps == null ? global.timestamps() : timestamps,
          rate == null ? global.rate() : rate,
          count == null ? global.count() : count);
    }
  }

  /** Everything in force; {@code anyOn} is read by every request before it reads any header. */
  record State(
      TraceSettings global,
      Scope globalScope,
      Map<String, Overrides> overrides,
      Map<String, Scope> models,
      boolean anyOn) {}

  private final TraceSettings startup;

  /** Written by the serialized updates, read by every request: one volatile read. */
  private volatile State state;

  /** Settings as {@code fulcrum serve}'s options gave them; null-valued updates return to them. */
  public TraceSettingsStore(TraceSettings startup) {
    this.startup = startup;
    this.state = state(startup, Map.of());
  }

  private static State state(TraceSettings global, Map<String, Overrides> overrides) {
    Map<String, Scope> models = new HashMap<>();
    boolean anyOn = global.timestamps();
    for (Map.Entry<String, Overrides> e : overrides.entrySet()) {
      TraceSettings s = e.getValue().over(global);
      models.put(e.getKey(), Scope.of(s));
      anyOn |= s.timestamps();
    }
    return new State(global, Scope.of(global), Map.copyOf(overrides), Map.copyOf(models), anyOn);
  }

  /** Whether any scope traces: false means no request header need be read. */
  public boolean anyOn() {
    return state.anyOn();
  }

  /** Whether a request of {@code model} is traced (and counts it against the rate and count). */
  public boolean sample(String model, boolean hasParent, boolean parentSampled) {
    State s = state;
    Scope scope = s.models().isEmpty() ? s.globalScope() : s.models().get(model);
    return (scope == null ? s.globalScope() : scope).sample(hasParent, parentSampled);
  }

  /** The settings in force for a model (null: the server's). */
  public TraceSettings get(@Nullable String model) {
    State s = state;
    Scope scope = model == null ? null : s.models().get(model);
    return (scope == null ? s.globalScope() : scope).reported();
  }

  /**
   * Applies a POST body to the server's settings (null) or a model's, and returns what is then in
   * force there. A setting given as null returns to the server's startup value (for a model: to
   * following the server's); a model's empty body removes its settings (Triton).
   *
   * @throws InferenceException INVALID_ARGUMENT naming the setting for a bad body or value
   */
  public synchronized TraceSettings update(@Nullable String model, JsonNode body) {
    if (!body.isObject()) {
      throw InferenceException.invalid(
          "a trace setting request is a JSON object of settings, e.g. {\"%s\": \"100\"}",
          TraceSettings.TRACE_RATE);
    }
    State s = state;
    Overrides parsed = parse(body);
    if (model == null) {
      TraceSettings g = s.global();
      TraceSettings next =
          new TraceSettings(
              pick(
                  body,
                  TraceSettings.TRACE_LEVEL,
                  parsed.timestamps(),
                  g.timestamps(),
                  startup.timestamps()),
              pick(body, TraceSettings.TRACE_RATE, parsed.rate(), g.rate(), startup.rate()),
              pick(body, TraceSettings.TRACE_COUNT, parsed.count(), g.count(), startup.count()));
      state = state(next, s.overrides());
    } else {
      Map<String, Overrides> overrides = new LinkedHashMap<>(s.overrides());
      if (body.isEmpty()) {
        overrides.remove(model);
      } else {
        Overrides old = overrides.getOrDefault(model, new Overrides(null, null, null));
        Overrides next =
            new Overrides(
                own(body, TraceSettings.TRACE_LEVEL, parsed.timestamps(), old.timestamps()),
                own(body, TraceSettings.TRACE_RATE, parsed.rate(), old.rate()),
                own(body, TraceSettings.TRACE_COUNT, parsed.count(), old.count()));
        overrides.put(model, next);
      }
      state = state(s.global(), overrides);
    }
    return get(model);
  }

  /** The new value of a setting: as given, reset (given as null), or unchanged (absent). */
  private static <T> T pick(JsonNode body, String name, @Nullable T given, T old, T reset) {
    if (!body.has(name)) {
      return old;
    }
    return given == null ? reset : given;
  }

  /** A model's own value of a setting: as given, the server's (given as null), or unchanged. */
  private static <T> @Nullable T own(
      JsonNode body, String name, @Nullable T given, @Nullable T old) {
    return body.has(name) ? given : old;
  }

  private static Overrides parse(JsonNode body) {
    Boolean timestamps = null;
    Long rate = null;
    Long count = null;
    for (Iterator<Map.Entry<String, JsonNode>> it = body.properties().iterator(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String name = e.getKey();
      JsonNode v = e.getValue();
      if (v.isNull()) {
        continue; // reset: see pick
      }
      switch (name) {
        case TraceSettings.TRACE_LEVEL -> timestamps = level(v);
        case TraceSettings.TRACE_RATE -> rate = number(name, v, 0);
        case TraceSettings.TRACE_COUNT -> count = number(name, v, -1);
        case TraceSettings.TRACE_MODE -> {
          if (!v.isTextual() || !v.asText().equals(TraceSettings.MODE)) {
            throw InferenceException.invalid(
                "%s must be \"%s\" (spans exported over OTLP; Triton's file mode is not served),"
                    + " was %s",
                name, TraceSettings.MODE, v);
          }
        }
        case TraceSettings.TRACE_FILE -> {
          if (!v.isTextual() || !v.asText().isEmpty()) {
            throw InferenceException.invalid(
                "%s does not apply in %s mode (spans go to --trace-otlp-endpoint); send \"\" or"
                    + " leave it out, was %s",
                name, TraceSettings.MODE, v);
          }
        }
        case TraceSettings.LOG_FREQUENCY -> {
          if (number(name, v, 0) != 0) {
            throw InferenceException.invalid(
                "%s does not apply in %s mode (the exporter sends spans in batches); send \"0\""
                    + " or leave it out, was %s",
                name, TraceSettings.MODE, v);
          }
        }
        default ->
            throw InferenceException.invalid(
                "unknown trace setting '%s'; known: %s",
                name,
                List.of(
                    TraceSettings.TRACE_LEVEL,
                    TraceSettings.TRACE_RATE,
                    TraceSettings.TRACE_COUNT,
                    TraceSettings.TRACE_MODE,
                    TraceSettings.TRACE_FILE,
                    TraceSettings.LOG_FREQUENCY));
      }
    }
    return new Overrides(timestamps, rate, count);
  }

  /** {@code trace_level}: Triton's array of level names (a lone string taken too). */
  private static boolean level(JsonNode v) {
    List<JsonNode> names = new java.util.ArrayList<>();
    if (v.isArray()) {
      v.forEach(names::add);
    } else {
      names.add(v);
    }
    if (names.isEmpty()) {
      throw InferenceException.invalid(
          "%s must name a level: [\"OFF\"] or [\"TIMESTAMPS\"]", TraceSettings.TRACE_LEVEL);
    }
    boolean timestamps = false;
    boolean off = false;
    for (JsonNode n : names) {
      String name = n.isTextual() ? n.asText().trim().toUpperCase(Locale.ROOT) : "";
      switch (name) {
        case "OFF" -> off = true;
        case "TIMESTAMPS" -> timestamps = true;
        case "TENSORS" ->
            throw InferenceException.invalid(
                "%s TENSORS is not supported in %s mode (Triton's neither); use TIMESTAMPS",
                TraceSettings.TRACE_LEVEL, TraceSettings.MODE);
        default ->
            throw InferenceException.invalid(
                "%s must be [\"OFF\"] or [\"TIMESTAMPS\"], was %s", TraceSettings.TRACE_LEVEL, v);
      }
    }
    if (off && timestamps) {
      throw InferenceException.invalid(
          "%s cannot be both OFF and TIMESTAMPS, was %s", TraceSettings.TRACE_LEVEL, v);
    }
    return timestamps;
  }

  /** An integer setting, as Triton sends it (a string) or as a JSON number. */
  private static long number(String name, JsonNode v, long min) {
    long n;
    if (v.isIntegralNumber() && v.canConvertToLong()) {
      n = v.asLong();
    } else if (v.isTextual()) {
      try {
        n = Long.parseLong(v.asText().trim());
      } catch (NumberFormatException e) {
        throw InferenceException.invalid("%s must be an integer, was %s", name, v);
      }
    } else {
      throw InferenceException.invalid("%s must be an integer, was %s", name, v);
    }
    if (n < min) {
      throw InferenceException.invalid("%s must be >= %d, was %d", name, min, n);
    }
    return n;
  }

  /** Triton's response body: every setting, values as strings ({@code trace_level} an array). */
  public static Map<String, Object> json(TraceSettings s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put(TraceSettings.TRACE_LEVEL, List.of(s.level()));
    m.put(TraceSettings.TRACE_RATE, Long.toString(s.rate()));
    m.put(TraceSettings.TRACE_COUNT, Long.toString(s.count()));
    m.put(TraceSettings.LOG_FREQUENCY, "0");
    m.put(TraceSettings.TRACE_FILE, "");
    m.put(TraceSettings.TRACE_MODE, TraceSettings.MODE);
    return m;
  }
}
