package dev.fulcrum.core.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.fulcrum.core.config.ConfigFileSchema.Kind;
import dev.fulcrum.core.config.ConfigFileSchema.ListOf;
import dev.fulcrum.core.config.ConfigFileSchema.MapOf;
import dev.fulcrum.core.config.ConfigFileSchema.RecordOf;
import dev.fulcrum.core.config.ConfigFileSchema.Scalar;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The start's fast path for {@code config.yaml} (docs/PERFORMANCE.md, "Session 10" and "Session
 * 14"): reads the YAML with jackson-core's streaming parser into plain values (maps, lists,
 * scalars: the tokens a {@code readTree} would turn into a tree) and maps them into the config
 * records by {@link ConfigFileSchema}, their fields' names and kinds and their constructors written
 * out (no reflection: docs/PERFORMANCE.md, "Cold start", session 18), without Jackson databind at
 * all: neither its bean introspection (~0.1 s of the reading thread, ~0.3 s of the process's CPU at
 * the first use) nor its {@code ObjectMapper} and tree classes (~300 classes on the start path). It
 * takes only what databind would read to the same value without coercion: known fields, strings as
 * strings, whole numbers that fit as Integer/Long, any number as Double, booleans, lists,
 * string-keyed maps and nested records. Anything else (an unknown field, a quoted number, a null in
 * a list, a wrong type, a second document) returns {@code null}: the caller then reads the text
 * with databind as before, so every value databind coerces and every error message stays exactly
 * databind's. Stateless and thread-safe.
 */
final class PlainConfigMapper {
  private PlainConfigMapper() {}

  /**
   * Reads one document from a parser positioned before it and maps it.
   *
   * @return the configuration, or {@code null} when databind must read it (see the class comment)
   * @throws IOException when the text is not valid YAML; databind reports it
   */
  static @Nullable ModelConfigFile read(JsonParser p) throws IOException {
    JsonToken first = p.nextToken();
    if (first == null) {
      return ModelConfigFile.empty(); // only comments: databind's tree is a missing node
    }
    Object root = tree(p, first);
    if (root == NOT_PLAIN || p.nextToken() != null) {
      return null; // an embedded object, or trailing content (databind reports a second document)
    }
    return map(root);
  }

  /**
   * The configuration of a document read as plain values ({@link #read}'s tree), or {@code null}
   * when databind must read it.
   */
  static @Nullable ModelConfigFile map(@Nullable Object root) {
    if (root == null || root == Absent.NULL) {
      return ModelConfigFile.empty();
    }
    try {
      Object v = value(ConfigFileSchema.MODEL_CONFIG, root);
      return v instanceof ModelConfigFile f ? f : null;
    } catch (RuntimeException e) {
      return null; // a record's constructor refused its values: databind reports it
    }
  }

  /** A value that has no plain form (an embedded object); the whole document goes to databind. */
  private static final Object NOT_PLAIN = new Object();

  /**
   * The value that starts at the current token {@code t}: a {@code LinkedHashMap} (a repeated key
   * makes it {@link #NOT_PLAIN}, so that databind reports it), an {@code ArrayList}, String,
   * Integer/Long/BigInteger (by the parser's number type, as databind's tree chooses),
   * Float/Double/BigDecimal, Boolean, {@link Absent#NULL}, or {@link #NOT_PLAIN}.
   */
  private static Object tree(JsonParser p, JsonToken t) throws IOException {
    return switch (t) {
      case START_OBJECT -> {
        Map<String, Object> out = new LinkedHashMap<>();
        boolean plain = true;
        for (String key = p.nextFieldName(); key != null; key = p.nextFieldName()) {
          Object v = tree(p, p.nextToken());
          plain &= v != NOT_PLAIN && !out.containsKey(key); // a repeated key: databind refuses it
          out.put(key, v);
        }
        yield plain ? out : NOT_PLAIN;
      }
      case START_ARRAY -> {
        List<Object> out = new ArrayList<>();
        boolean plain = true;
        for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
          Object v = tree(p, e);
          plain &= v != NOT_PLAIN;
          out.add(v);
        }
        yield plain ? out : NOT_PLAIN;
      }
      case VALUE_STRING -> p.getText();
      case VALUE_NUMBER_INT ->
          switch (p.getNumberType()) {
            case INT -> (Object) p.getIntValue();
            case LONG -> (Object) p.getLongValue();
            default -> p.getBigIntegerValue();
          };
      case VALUE_NUMBER_FLOAT ->
          switch (p.getNumberType()) {
            case BIG_DECIMAL -> p.getDecimalValue();
            case FLOAT -> (Object) p.getFloatValue();
            default -> (Object) p.getDoubleValue();
          };
      case VALUE_TRUE, VALUE_FALSE -> p.getBooleanValue();
      case VALUE_NULL -> Absent.NULL;
      default -> {
        p.skipChildren();
        yield NOT_PLAIN;
      }
    };
  }

  private static @Nullable Object value(Kind kind, Object node) {
    if (node == Absent.NULL) {
      return Absent.NULL;
    }
    if (kind instanceof Scalar scalar) {
      return scalar(scalar, node);
    }
    if (kind instanceof ListOf list) {
      if (!(node instanceof List<?> nodes)) {
        return null;
      }
      List<Object> out = new ArrayList<>(nodes.size());
      for (Object e : nodes) {
        Object v = value(list.element(), e);
        if (v == null || v == Absent.NULL) {
          return null;
        }
        out.add(v);
      }
      return out;
    }
    if (kind instanceof MapOf map) {
      if (!(node instanceof Map<?, ?> nodes)) {
        return null;
      }
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : nodes.entrySet()) {
        Object v = value(map.value(), e.getValue());
        if (v == null || v == Absent.NULL) {
          return null;
        }
        out.put((String) e.getKey(), v);
      }
      return out;
    }
    RecordOf record = (RecordOf) kind;
    return node instanceof Map<?, ?> map ? record(record, map) : null;
  }

  private static @Nullable Object scalar(Scalar kind, Object node) {
    return switch (kind) {
      case STRING -> node instanceof String s ? s : null;
      case INTEGER -> node instanceof Integer i ? i : null;
      case LONG ->
          node instanceof Integer || node instanceof Long
              ? Long.valueOf(((Number) node).longValue())
              : null;
      case DOUBLE ->
          node instanceof Number n && !(node instanceof BigInteger) && !(node instanceof BigDecimal)
              ? Double.valueOf(n.doubleValue())
              : null;
      case BOOLEAN -> node instanceof Boolean b ? b : null;
    };
  }

  private static @Nullable Object record(RecordOf record, Map<?, ?> node) {
    List<String> fields = record.fields();
    @Nullable Object[] args = new Object[fields.size()];
    int read = 0;
    for (int i = 0; i < args.length; i++) {
      Object v = node.get(fields.get(i));
      if (v == null) {
        continue;
      }
      read++;
      Object mapped = value(record.kinds().get(i), v);
      if (mapped == null) {
        return null;
      }
      args[i] = mapped == Absent.NULL ? null : mapped;
    }
    if (read != node.size()) {
      return null; // an unknown field: databind names it and the known ones
    }
    return record.make().apply(args);
  }

  /** A YAML null read as a record component's null (not "cannot map"). */
  private enum Absent {
    NULL
  }
}
