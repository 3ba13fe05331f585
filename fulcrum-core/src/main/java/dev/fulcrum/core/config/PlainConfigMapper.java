package dev.fulcrum.core.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
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
 * records by their canonical constructors and {@link JsonProperty} names (derived from the
 * component names, see {@link #fieldName}), without Jackson databind at all: neither its bean
 * introspection (~0.1 s of the reading thread, ~0.3 s of the process's CPU at the first use) nor
 * its {@code ObjectMapper} and tree classes (~300 classes on the start path). It takes only what
 * databind would read to the same value without coercion: known fields, strings as strings, whole
 * numbers that fit as Integer/Long, any number as Double, booleans, lists, string-keyed maps and
 * nested records. Anything else (an unknown field, a quoted number, a null in a list, a wrong type,
 * a second document) returns {@code null}: the caller then reads the text with databind as before,
 * so every value databind coerces and every error message stays exactly databind's. Stateless and
 * thread-safe.
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
      Object v = value(ModelConfigFile.class, root);
      return v instanceof ModelConfigFile f ? f : null;
    } catch (ReflectiveOperationException | IllegalArgumentException e) {
      return null;
    }
  }

  /** A value that has no plain form (an embedded object); the whole document goes to databind. */
  private static final Object NOT_PLAIN = new Object();

  /**
   * The value that starts at the current token {@code t}: a {@code LinkedHashMap} (a repeated key
   * keeps its first place and its last value, as databind's tree does), an {@code ArrayList},
   * String, Integer/Long/BigInteger (by the parser's number type, as databind's tree chooses),
   * Float/Double/BigDecimal, Boolean, {@link Absent#NULL}, or {@link #NOT_PLAIN}.
   */
  private static Object tree(JsonParser p, JsonToken t) throws IOException {
    return switch (t) {
      case START_OBJECT -> {
        Map<String, Object> out = new LinkedHashMap<>();
        boolean plain = true;
        for (String key = p.nextFieldName(); key != null; key = p.nextFieldName()) {
          Object v = tree(p, p.nextToken());
          plain &= v != NOT_PLAIN;
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

  private static @Nullable Object value(Type type, Object node)
      throws ReflectiveOperationException {
    if (node == Absent.NULL) {
      return Absent.NULL;
    }
    if (type == String.class) {
      return node instanceof String s ? s : null;
    }
    if (type == Integer.class) {
      return node instanceof Integer i ? i : null;
    }
    if (type == Long.class) {
      return node instanceof Integer || node instanceof Long
          ? Long.valueOf(((Number) node).longValue())
          : null;
    }
    if (type == Double.class) {
      return node instanceof Number n
              && !(node instanceof BigInteger)
              && !(node instanceof BigDecimal)
          ? Double.valueOf(n.doubleValue())
          : null;
    }
    if (type == Boolean.class) {
      return node instanceof Boolean b ? b : null;
    }
    if (type instanceof ParameterizedType p && p.getRawType() == List.class) {
      if (!(node instanceof List<?> list)) {
        return null;
      }
      List<Object> out = new ArrayList<>(list.size());
      for (Object e : list) {
        Object v = value(p.getActualTypeArguments()[0], e);
        if (v == null || v == Absent.NULL) {
          return null;
        }
        out.add(v);
      }
      return out;
    }
    if (type instanceof ParameterizedType p
        && p.getRawType() == Map.class
        && p.getActualTypeArguments()[0] == String.class) {
      if (!(node instanceof Map<?, ?> map)) {
        return null;
      }
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : map.entrySet()) {
        Object v = value(p.getActualTypeArguments()[1], e.getValue());
        if (v == null || v == Absent.NULL) {
          return null;
        }
        out.put((String) e.getKey(), v);
      }
      return out;
    }
    if (type instanceof Class<?> c && c.isRecord()) {
      return node instanceof Map<?, ?> map ? record(c, map) : null;
    }
    return null;
  }

  private static @Nullable Object record(Class<?> c, Map<?, ?> node)
      throws ReflectiveOperationException {
    RecordComponent[] components = c.getRecordComponents();
    Class<?>[] types = new Class<?>[components.length];
    for (int i = 0; i < components.length; i++) {
      types[i] = components[i].getType();
    }
    Constructor<?> canonical = c.getDeclaredConstructor(types);
    Object[] args = new Object[components.length];
    int read = 0;
    for (int i = 0; i < components.length; i++) {
      Object v = node.get(fieldName(components[i].getName()));
      if (v == null) {
        continue;
      }
      read++;
      Object mapped = value(components[i].getGenericType(), v);
      if (mapped == null) {
        return null;
      }
      args[i] = mapped == Absent.NULL ? null : mapped;
    }
    if (read != node.size()) {
      return null; // an unknown field: databind names it and the known ones
    }
    return canonical.newInstance(args);
  }

  /**
   * The file's name of a record component: {@code maxBatchSize} is {@code max-batch-size}. The
   * records' {@link JsonProperty} names follow this rule (PlainConfigMapperTest checks every one);
   * deriving it spares reading the annotations, whose first use costs the start a proxy class.
   */
  static String fieldName(String component) {
    StringBuilder sb = new StringBuilder(component.length() + 4);
    for (int i = 0; i < component.length(); i++) {
      char ch = component.charAt(i);
      if (Character.isUpperCase(ch)) {
        sb.append('-').append(Character.toLowerCase(ch));
      } else {
        sb.append(ch);
      }
    }
    return sb.toString();
  }

  /** A YAML null read as a record component's null (not "cannot map"). */
  private enum Absent {
    NULL
  }
}
