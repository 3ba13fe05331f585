package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.InferenceException;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * An OIP {@code parameters} value (of the request, an input or an output) read from the request's
 * streaming parser without building a tree: strings, booleans and integers that fit a long are
 * converted as they are read; any other value (a float, null, an array, an object) is kept as a
 * tree and converted, or refused, by {@link #values} with {@link TensorJson#parameterValue}, so the
 * values and the errors are those of the tree reader this replaced, thrown where it threw them
 * (once the document has parsed, in the decoder's order).
 *
 * <p>Why: a tree per {@code parameters} object (its map, table and nodes, and the databind context
 * that built it) and the map copied from it were ~15 % of a Triton client's fraud request's
 * allocation ({@code perf_analyzer} and {@code fulcrum bench} send every output with {@code
 * "parameters": {"binary_data": ...}}).
 *
 * <p>Threads: confined to the decoding thread (a map of two or more entries with trees in it is
 * converted in place by {@link #values}).
 */
final class StreamedParameters {
  /** A missing or JSON null {@code parameters}: no parameters. */
  static final StreamedParameters NONE = new StreamedParameters(false, null, null, null, false);

  private static final StreamedParameters NOT_AN_OBJECT =
      new StreamedParameters(true, null, null, null, false);

  private final boolean notAnObject;

  /** The first entry (most parameters objects have one), kept outside a map. */
  private final @Nullable String firstKey;

  private final @Nullable Object firstValue;

  /** All entries in the body's order, once there are two or more; else null. */
  private final @Nullable Map<String, Object> all;

  /** Whether any value was kept as a tree (converted by {@link #values}). */
  private final boolean trees;

  private StreamedParameters(
      boolean notAnObject,
      @Nullable String firstKey,
      @Nullable Object firstValue,
      @Nullable Map<String, Object> all,
      boolean trees) {
    this.notAnObject = notAnObject;
    this.firstKey = firstKey;
    this.firstValue = firstValue;
    this.all = all;
    this.trees = trees;
  }

  /** The value at the parser's current token; the parser is left at its last token. */
  static StreamedParameters read(JsonParser p) throws IOException {
    JsonToken t = p.currentToken();
    if (t == JsonToken.VALUE_NULL) {
      return NONE;
    }
    if (t != JsonToken.START_OBJECT) {
      p.skipChildren();
      return NOT_AN_OBJECT;
    }
    String firstKey = null;
    Object firstValue = null;
    Map<String, Object> all = null;
    boolean trees = false;
    for (String key = p.nextFieldName(); key != null; key = p.nextFieldName()) {
      JsonToken v = p.nextToken();
      Object value;
      if (v == JsonToken.VALUE_STRING) {
        value = p.getText();
      } else if (v == JsonToken.VALUE_TRUE || v == JsonToken.VALUE_FALSE) {
        value = v == JsonToken.VALUE_TRUE;
      } else if (v == JsonToken.VALUE_NUMBER_INT
          && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
        value = p.getLongValue();
      } else {
        value = Json.tree(p);
        trees = true;
      }
      if (firstKey == null) {
        firstKey = key;
        firstValue = value;
      } else {
        if (all == null) {
          all = new LinkedHashMap<>(8);
          all.put(firstKey, firstValue);
        }
        all.put(key, value);
      }
    }
    return firstKey == null
        ? NONE
        : new StreamedParameters(false, firstKey, firstValue, all, trees);
  }

  /**
   * The parameters, values as {@link TensorJson#parameterValue} gives them (String, Long, Double or
   * Boolean); an immutable map for none or one, else a map in the body's order.
   *
   * @param where what they belong to, for the message ("request", "input 'x'")
   * @throws InferenceException INVALID_ARGUMENT when {@code parameters} is not an object or a value
   *     is not a string, number or boolean (the first such, in the body's order)
   */
  Map<String, Object> values(String where) {
    if (notAnObject) {
      throw InferenceException.invalid("%s 'parameters' must be a JSON object", where);
    }
    String key = firstKey;
    Object value = firstValue;
    if (key == null || value == null) {
      return Map.of();
    }
    Map<String, Object> map = all;
    if (map == null) {
      return Map.of(
          key, value instanceof JsonNode n ? TensorJson.parameterValue(where, key, n) : value);
    }
    if (trees) {
      for (Map.Entry<String, Object> e : map.entrySet()) {
        if (e.getValue() instanceof JsonNode n) {
          e.setValue(TensorJson.parameterValue(where, e.getKey(), n));
        }
      }
    }
    return map;
  }
}
