package dev.fulcrum.core.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Reads {@code config.yaml} with Jackson databind: every file {@link PlainConfigMapper} leaves to
 * it (coercions, errors), and every file under {@code -Dfulcrum.config.reader=databind}. Its own
 * class so that databind's classes load with the first file that needs them, not with {@link
 * ModelConfigLoader} (docs/PERFORMANCE.md, "Session 14"). Stateless and thread-safe (one immutable
 * mapper).
 */
final class DatabindConfigReader {
  private DatabindConfigReader() {}

  /**
   * Strict where a typo would otherwise pass unnoticed: a key written twice is an error (not the
   * last one silently winning), and a fraction where a whole number belongs ({@code max-batch-size:
   * 8.7}) is not truncated.
   */
  private static final ObjectMapper YAML =
      new ObjectMapper(
              YAMLFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
          .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** The configuration in {@code text}; errors name {@code file} and the dotted field. */
  static ModelConfigFile read(String text, Path file) throws ConfigException {
    try {
      ModelConfigFile parsed = YAML.readValue(text, ModelConfigFile.class);
      return parsed == null ? ModelConfigFile.empty() : parsed;
    } catch (JsonProcessingException e) {
      // A syntax error is found by the parser under whichever field databind was reading: it is
      // the file's error, said on one line (SnakeYAML's message is six to nine lines of context
      // and carets, and went as such into the log and the repository index).
      String syntax = yamlSyntax(e);
      if (syntax != null) {
        throw new ConfigException(file, "", "not valid YAML (or JSON): " + syntax, e);
      }
      throw translated(e, file);
    }
  }

  private static ConfigException translated(JsonProcessingException e, Path file) {
    if (e instanceof UnrecognizedPropertyException u) {
      return new ConfigException(
          file, fieldPath(u), unknownField(u.getPropertyName(), u.getKnownPropertyIds()), e);
    }
    if (e instanceof MismatchedInputException m) {
      String expected = expected(m);
      return new ConfigException(
          file, fieldPath(m), expected != null ? expected : plain(m.getOriginalMessage()), e);
    }
    if (e instanceof JsonMappingException m) {
      return new ConfigException(file, fieldPath(m), plain(m.getOriginalMessage()), e);
    }
    return new ConfigException(file, "", "not valid YAML (or JSON): " + e.getOriginalMessage(), e);
  }

  /**
   * A YAML syntax error among {@code e}'s causes on one line: {@code line 4, column 4: expected
   * <block end>, but found '<block mapping start>' (while parsing a block collection at line 3,
   * column 3)}; null when the cause is not one.
   */
  static @Nullable String yamlSyntax(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof org.yaml.snakeyaml.error.MarkedYAMLException y) {
        org.yaml.snakeyaml.error.Mark at = y.getProblemMark();
        org.yaml.snakeyaml.error.Mark context = y.getContextMark();
        String problem = y.getProblem() == null ? "syntax error" : tabs(y.getProblem());
        String where = at == null ? "" : position(at) + ": ";
        String during =
            y.getContext() == null
                ? ""
                : " ("
                    + tabs(y.getContext())
                    + (context == null || (at != null && context.getLine() == at.getLine())
                        ? ""
                        : " at " + position(context))
                    + ")";
        return where + problem + during;
      }
    }
    return null;
  }

  private static String position(org.yaml.snakeyaml.error.Mark mark) {
    return "line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1);
  }

  /** SnakeYAML writes a tab as a backslash, t and (TAB). */
  private static String tabs(String text) {
    return text.replace("character '\\t(TAB)'", "a tab")
        .replace("(Do not use \\t(TAB) for indentation)", "(indent with spaces)")
        .strip();
  }

  /**
   * An unknown field (most often a typo): the closest known field when it is a slip of a letter or
   * two away, and the known fields sorted, so that the right one is found by eye.
   */
  static String unknownField(String name, Collection<Object> known) {
    List<String> names = known.stream().map(String::valueOf).sorted().toList();
    String closest = null;
    int best = Integer.MAX_VALUE;
    for (String k : names) {
      int d = Typos.distance(name, k);
      if (d < best) {
        best = d;
        closest = k;
      }
    }
    return "unknown field '"
        + name
        + "'"
        + (closest != null && Typos.isSlip(name, best)
            ? "; did you mean '" + closest + "'? K"
            : "; k")
        + "nown fields here: "
        + names;
  }

  private static final Pattern FROM_KIND = Pattern.compile(" from (\\w+) value");

  /**
   * A value of the wrong kind as {@code expected a whole number, got "lots"}, for the scalar kinds
   * a field can have; null for anything else (a section, a list of sections), which keeps {@link
   * #plain}'s wording.
   */
  static @Nullable String expected(MismatchedInputException e) {
    Class<?> type = e.getTargetType();
    String kind = type == null ? null : kind(type);
    if (kind == null) {
      return null;
    }
    if (e instanceof InvalidFormatException f) {
      Object value = f.getValue();
      return "expected "
          + kind
          + ", got "
          + (value instanceof String text ? "\"" + text + "\"" : String.valueOf(value));
    }
    Matcher m = FROM_KIND.matcher(String.valueOf(e.getOriginalMessage()));
    if (m.find()) {
      String got =
          switch (m.group(1)) {
            case "Array" -> "a list";
            case "Object" -> "a section (a map of fields)";
            default -> null;
          };
      if (got != null) {
        return "expected " + kind + ", got " + got;
      }
    }
    return null;
  }

  /** The kind of value a field of Java type {@code type} takes, as the file's reader knows it. */
  private static @Nullable String kind(Class<?> type) {
    if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
      return "a whole number";
    }
    if (type == double.class
        || type == Double.class
        || type == float.class
        || type == Float.class) {
      return "a number";
    }
    if (type == boolean.class || type == Boolean.class) {
      return "true or false";
    }
    if (type == String.class) {
      return "text";
    }
    return null;
  }

  /** Jackson's message in the file's words: the kind of value rather than a Java type. */
  static String plain(String message) {
    return message
        .replaceAll("`java\\.util\\.(Array)?List<[^>]*>`", "a list")
        .replaceAll("`java\\.util\\.(LinkedHash|Hash)?Map<[^>]*>`", "a map")
        .replaceAll("`(java\\.lang\\.Integer|int|java\\.lang\\.Long|long)`", "a whole number")
        .replaceAll("`(java\\.lang\\.Double|double|java\\.lang\\.Float|float)`", "a number")
        .replaceAll("`(java\\.lang\\.Boolean|boolean)`", "true or false")
        .replace("`java.lang.String`", "text")
        .replaceAll("`dev\\.fulcrum\\.[\\w.$]+`", "a section")
        .replaceAll(" \\(token `JsonToken\\.[A-Z_]+`\\)", "")
        .replace(" (but could if coercion was enabled using `CoercionConfig`)", "")
        // A number past its field's type: the range in the file's words.
        .replaceAll(
            "^Numeric value \\((.*)\\) out of range of (?:int|long) \\((-?\\d+) - (-?\\d+)\\).*$",
            "$1 is out of range: expected a whole number from $2 to $3")
        // A list where a section goes (the whole file a list).
        .replaceAll(
            "^Cannot deserialize value of type a section from Array value.*$",
            "must be a section (a map of fields), not a list")
        // A scalar where a section goes (slo: 10): Jackson speaks of creators and constructors.
        .replaceAll(
            "^Cannot construct instance of a section \\(although at least one Creator exists\\):"
                + " no \\w+/[\\w-]+ constructor/factory method to deserialize from (\\w+) value"
                + " (.*)$",
            "must be a section (a map of fields), not the $1 value $2");
  }

  static String fieldPath(JsonMappingException e) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference r : e.getPath()) {
      if (r.getFieldName() != null) {
        if (!sb.isEmpty()) {
          sb.append('.');
        }
        sb.append(r.getFieldName());
      } else if (r.getIndex() >= 0) {
        sb.append('[').append(r.getIndex()).append(']');
      }
    }
    return sb.toString();
  }
}
