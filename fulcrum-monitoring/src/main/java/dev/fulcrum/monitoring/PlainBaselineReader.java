package dev.fulcrum.monitoring;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The fast path of {@link Baseline#read}: a baseline file as {@code fulcrum profile} writes it,
 * read with jackson-core's streaming parser into the records, without Jackson databind (whose first
 * use on these records, bean introspection included, cost a fresh server ~340 classes on the
 * monitor thread at the first monitored pass, beside the first answer: docs/PERFORMANCE.md, "Cold
 * start", session 14). It takes only what databind would read to the same value without coercion:
 * every field known and present once (the nullable lists may be absent or null), strings as
 * strings, whole numbers for {@code long}, any number for {@code double}, the two kinds by their
 * names. Anything else returns {@code null} and {@link Baseline#read} reads the file with databind
 * as before, so every coercion and error stays databind's. Stateless and thread-safe.
 */
final class PlainBaselineReader {
  private static final JsonFactory JSON = new JsonFactory();

  private PlainBaselineReader() {}

  /** Thrown inside the reader when the file needs databind; never escapes {@link #read}. */
  private static final class NotPlain extends Exception {
    private static final long serialVersionUID = 1L;

    NotPlain() {
      super(null, null, false, false);
    }
  }

  /** The baseline, or {@code null} when databind must read the file. */
  static @Nullable Baseline read(Path file) {
    try (JsonParser p = JSON.createParser(file.toFile())) {
      p.nextToken();
      Baseline b = baseline(p);
      return p.nextToken() == null ? b : null;
    } catch (NotPlain | IOException | RuntimeException e) {
      return null; // databind reads it again and reports what is wrong (or absent), as always
    }
  }

  /** The fields of the object at the parser's current token, each read by {@code field}. */
  private static Map<String, Object> object(JsonParser p, FieldReader field)
      throws IOException, NotPlain {
    if (p.currentToken() != JsonToken.START_OBJECT) {
      throw new NotPlain();
    }
    Map<String, Object> out = new HashMap<>();
    for (String name = p.nextFieldName(); name != null; name = p.nextFieldName()) {
      p.nextToken();
      Object v = field.read(name, p);
      if (out.put(name, v) != null) {
        throw new NotPlain(); // a repeated field: databind decides
      }
    }
    return out;
  }

  private interface FieldReader {
    Object read(String name, JsonParser p) throws IOException, NotPlain;
  }

  /** JSON null as a field's value (absent and null read the same for the nullable lists). */
  private static final Object NULL = new Object();

  private static Baseline baseline(JsonParser p) throws IOException, NotPlain {
    Map<String, Object> f =
        object(
            p,
            (name, q) ->
                switch (name) {
                  case "model", "source" -> text(q);
                  case "rows" -> whole(q);
                  case "inputs" -> list(q, PlainBaselineReader::inputColumns);
                  case "features", "outputs" -> list(q, PlainBaselineReader::feature);
                  default -> throw new NotPlain();
                });
    return new Baseline(
        (String) required(f, "model"),
        (String) required(f, "source"),
        (Long) required(f, "rows"),
        listOf(required(f, "inputs"), Baseline.InputColumns.class),
        listOf(required(f, "features"), Baseline.FeatureBaseline.class),
        listOf(required(f, "outputs"), Baseline.FeatureBaseline.class));
  }

  private static Baseline.InputColumns inputColumns(JsonParser p) throws IOException, NotPlain {
    Map<String, Object> f =
        object(
            p,
            (name, q) ->
                switch (name) {
                  case "input" -> text(q);
                  case "names" -> list(q, PlainBaselineReader::text);
                  default -> throw new NotPlain();
                });
    return new Baseline.InputColumns(
        (String) required(f, "input"), listOf(required(f, "names"), String.class));
  }

  private static Baseline.FeatureBaseline feature(JsonParser p) throws IOException, NotPlain {
    Map<String, Object> f =
        object(
            p,
            (name, q) ->
                switch (name) {
                  case "name" -> text(q);
                  case "type" -> kind(q);
                  case "count" -> whole(q);
                  case "missing_rate", "mean", "stddev", "min", "max" -> number(q);
                  case "bin_edges", "bin_frequencies", "quantiles" ->
                      nullable(q, () -> list(q, PlainBaselineReader::number));
                  case "categories" -> nullable(q, () -> list(q, PlainBaselineReader::category));
                  case "score" -> nullable(q, () -> score(q));
                  default -> throw new NotPlain();
                });
    return new Baseline.FeatureBaseline(
        (String) required(f, "name"),
        (Baseline.Kind) required(f, "type"),
        (Long) required(f, "count"),
        (Double) required(f, "missing_rate"),
        (Double) required(f, "mean"),
        (Double) required(f, "stddev"),
        (Double) required(f, "min"),
        (Double) required(f, "max"),
        listOrNull(optional(f, "bin_edges"), Double.class),
        listOrNull(optional(f, "bin_frequencies"), Double.class),
        listOrNull(optional(f, "quantiles"), Double.class),
        listOrNull(optional(f, "categories"), Baseline.Category.class),
        (Baseline.ScoreReference) optional(f, "score"));
  }

  private static Baseline.Category category(JsonParser p) throws IOException, NotPlain {
    Map<String, Object> f =
        object(
            p,
            (name, q) ->
                switch (name) {
                  case "value", "frequency" -> number(q);
                  default -> throw new NotPlain();
                });
    return new Baseline.Category((Double) required(f, "value"), (Double) required(f, "frequency"));
  }

  private static Baseline.ScoreReference score(JsonParser p) throws IOException, NotPlain {
    Map<String, Object> f =
        object(
            p,
            (name, q) ->
                switch (name) {
                  case "mean", "std" -> number(q);
                  case "values", "weights" -> list(q, PlainBaselineReader::number);
                  default -> throw new NotPlain();
                });
    return new Baseline.ScoreReference(
        (Double) required(f, "mean"),
        (Double) required(f, "std"),
        listOf(required(f, "values"), Double.class),
        listOf(required(f, "weights"), Double.class));
  }

  private interface ValueReader<T> {
    T read(JsonParser p) throws IOException, NotPlain;
  }

  private interface Value {
    Object read() throws IOException, NotPlain;
  }

  private static <T> List<T> list(JsonParser p, ValueReader<T> element)
      throws IOException, NotPlain {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      throw new NotPlain();
    }
    List<T> out = new ArrayList<>();
    while (p.nextToken() != JsonToken.END_ARRAY) {
      out.add(element.read(p));
    }
    return out;
  }

  private static Object nullable(JsonParser p, Value v) throws IOException, NotPlain {
    return p.currentToken() == JsonToken.VALUE_NULL ? NULL : v.read();
  }

  private static String text(JsonParser p) throws IOException, NotPlain {
    if (p.currentToken() != JsonToken.VALUE_STRING) {
      throw new NotPlain();
    }
    return p.getText();
  }

  private static Long whole(JsonParser p) throws IOException, NotPlain {
    if (p.currentToken() != JsonToken.VALUE_NUMBER_INT
        || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
      throw new NotPlain();
    }
    return p.getLongValue();
  }

  private static Double number(JsonParser p) throws IOException, NotPlain {
    JsonToken t = p.currentToken();
    if ((t != JsonToken.VALUE_NUMBER_INT && t != JsonToken.VALUE_NUMBER_FLOAT)
        || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
      throw new NotPlain();
    }
    return p.getDoubleValue();
  }

  private static Baseline.Kind kind(JsonParser p) throws IOException, NotPlain {
    return switch (text(p)) {
      case "numeric" -> Baseline.Kind.NUMERIC;
      case "categorical" -> Baseline.Kind.CATEGORICAL;
      default -> throw new NotPlain();
    };
  }

  private static Object required(Map<String, Object> f, String name) throws NotPlain {
    Object v = f.get(name);
    if (v == null || v == NULL) {
      throw new NotPlain(); // databind's default (or failure) for an absent field: it decides
    }
    return v;
  }

  private static @Nullable Object optional(Map<String, Object> f, String name) {
    Object v = f.get(name);
    return v == NULL ? null : v;
  }

  private static <T> List<T> listOf(Object o, Class<T> element) {
    List<T> out = new ArrayList<>();
    for (Object e : (List<?>) o) {
      out.add(element.cast(e));
    }
    return out;
  }

  private static <T> @Nullable List<T> listOrNull(@Nullable Object o, Class<T> element) {
    return o == null ? null : listOf(o, element);
  }
}
