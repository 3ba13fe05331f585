package dev.fulcrum.core.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.lang.reflect.Constructor;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The start's fast path for {@code config.yaml} (docs/PERFORMANCE.md, "Session 10"): maps a YAML
 * tree into the config records by their canonical constructors and {@link JsonProperty} names
 * (derived from the component names, see {@link #fieldName}), without Jackson databind's bean
 * introspection (~0.1 s of the reading thread and ~0.3 s of the process's CPU at the first use). It
 * takes only what databind would read to the same value without coercion: known fields, strings as
 * strings, whole numbers that fit as Integer/Long, any number as Double, booleans, lists,
 * string-keyed maps and nested records. Anything else (an unknown field, a quoted number, a null in
 * a list, a wrong type) returns {@code null}: the caller then reads the text with databind as
 * before, so every value databind coerces and every error message stays exactly databind's.
 * Stateless and thread-safe.
 */
final class PlainConfigMapper {
  private PlainConfigMapper() {}

  /** The configuration, or {@code null} when databind must read it (see the class comment). */
  static @Nullable ModelConfigFile map(JsonNode root) {
    if (root.isNull() || root.isMissingNode()) {
      return ModelConfigFile.empty();
    }
    try {
      Object v = value(ModelConfigFile.class, root);
      return v instanceof ModelConfigFile f ? f : null;
    } catch (ReflectiveOperationException | IllegalArgumentException e) {
      return null;
    }
  }

  private static @Nullable Object value(Type type, JsonNode node)
      throws ReflectiveOperationException {
    if (node.isNull()) {
      return Absent.NULL;
    }
    if (type == String.class) {
      return node.isTextual() ? node.textValue() : null;
    }
    if (type == Integer.class) {
      return node.isInt() ? Integer.valueOf(node.intValue()) : null;
    }
    if (type == Long.class) {
      return node.isIntegralNumber() && node.canConvertToLong()
          ? Long.valueOf(node.longValue())
          : null;
    }
    if (type == Double.class) {
      return node.isNumber() && !node.isBigInteger() && !node.isBigDecimal()
          ? Double.valueOf(node.doubleValue())
          : null;
    }
    if (type == Boolean.class) {
      return node.isBoolean() ? Boolean.valueOf(node.booleanValue()) : null;
    }
    if (type instanceof ParameterizedType p && p.getRawType() == List.class) {
      if (!node.isArray()) {
        return null;
      }
      List<Object> out = new ArrayList<>(node.size());
      for (JsonNode e : node) {
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
      if (!node.isObject()) {
        return null;
      }
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<String, JsonNode> e : node.properties()) {
        Object v = value(p.getActualTypeArguments()[1], e.getValue());
        if (v == null || v == Absent.NULL) {
          return null;
        }
        out.put(e.getKey(), v);
      }
      return out;
    }
    if (type instanceof Class<?> c && c.isRecord()) {
      return node.isObject() ? record(c, node) : null;
    }
    return null;
  }

  private static @Nullable Object record(Class<?> c, JsonNode node)
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
      JsonNode v = node.get(fieldName(components[i].getName()));
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

  /** A JSON null read as a record component's null (not "cannot map"). */
  private enum Absent {
    NULL
  }
}
