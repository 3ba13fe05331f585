package dev.fulcrum.tools.serve;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What a PromQL expression reads, for the tests that hold the shipped rules and dashboard to the
 * metrics the server exports: the metric names, each selector's label matchers, and the labels of
 * {@code by}/{@code without}/{@code on}/{@code ignoring}/{@code group_*} lists. A tokenizer, not a
 * parser: strings, ranges ({@code [5m]}), numbers, Grafana variables ({@code $model}) and comments
 * are skipped; an identifier before {@code (} must be a PromQL function or aggregation (so a
 * misspelt function fails too). Stateless.
 */
final class PromQl {
  /** One label matcher of a selector: {@code label op "value"}. */
  record Matcher(String label, String op, String value) {}

  /** A metric name and its matchers ({@code rate(x{a="b"}[5m])} gives {@code x}, {@code a="b"}). */
  record Selector(String metric, List<Matcher> matchers) {}

  /** What an expression reads. */
  record Reads(List<Selector> selectors, Set<String> groupingLabels) {
    Set<String> metrics() {
      Set<String> names = new LinkedHashSet<>();
      selectors.forEach(s -> names.add(s.metric()));
      return names;
    }

    /** Every label named: in matchers and in grouping lists. */
    Set<String> labels() {
      Set<String> names = new LinkedHashSet<>(groupingLabels);
      selectors.forEach(s -> s.matchers().forEach(m -> names.add(m.label())));
      return names;
    }
  }

  /** PromQL's aggregation operators and functions (Prometheus 2.x and 3.x). */
  static final Set<String> FUNCTIONS =
      Set.of(
          "sum",
          "min",
          "max",
          "avg",
          "group",
          "stddev",
          "stdvar",
          "count",
          "count_values",
          "bottomk",
          "topk",
          "quantile",
          "limitk",
          "limit_ratio",
          "abs",
          "absent",
          "absent_over_time",
          "ceil",
          "changes",
          "clamp",
          "clamp_max",
          "clamp_min",
          "day_of_month",
          "day_of_week",
          "day_of_year",
          "days_in_month",
          "delta",
          "deriv",
          "exp",
          "floor",
          "histogram_avg",
          "histogram_count",
          "histogram_fraction",
          "histogram_quantile",
          "histogram_stddev",
          "histogram_stdvar",
          "histogram_sum",
          "holt_winters",
          "double_exponential_smoothing",
          "hour",
          "idelta",
          "increase",
          "irate",
          "label_join",
          "label_replace",
          "ln",
          "log2",
          "log10",
          "minute",
          "month",
          "predict_linear",
          "rate",
          "resets",
          "round",
          "scalar",
          "sgn",
          "sort",
          "sort_desc",
          "sort_by_label",
          "sort_by_label_desc",
          "sqrt",
          "time",
          "timestamp",
          "vector",
          "year",
          "avg_over_time",
          "min_over_time",
          "max_over_time",
          "sum_over_time",
          "count_over_time",
          "quantile_over_time",
          "stddev_over_time",
          "stdvar_over_time",
          "last_over_time",
          "present_over_time",
          "mad_over_time",
          "acos",
          "acosh",
          "asin",
          "asinh",
          "atan",
          "atanh",
          "cos",
          "cosh",
          "sin",
          "sinh",
          "tan",
          "tanh",
          "deg",
          "rad",
          "pi");

  private static final Set<String> GROUPING =
      Set.of("by", "without", "on", "ignoring", "group_left", "group_right");
  private static final Set<String> KEYWORDS =
      Set.of("and", "or", "unless", "bool", "offset", "inf", "nan", "start", "end");

  private final String expr;
  private int i;

  private PromQl(String expr) {
    this.expr = expr;
  }

  /** Reads an expression; throws {@link IllegalArgumentException} on what it cannot tokenize. */
  static Reads read(String expr) {
    return new PromQl(expr).readAll();
  }

  private Reads readAll() {
    List<Selector> selectors = new ArrayList<>();
    Set<String> grouping = new LinkedHashSet<>();
    while (i < expr.length()) {
      char c = expr.charAt(i);
      if (c == '#') {
        while (i < expr.length() && expr.charAt(i) != '\n') {
          i++;
        }
      } else if (c == '"' || c == '\'' || c == '`') {
        string();
      } else if (c == '$') {
        variable();
      } else if (c == '[') {
        int close = expr.indexOf(']', i);
        i = close < 0 ? fail("an unclosed [") : close + 1;
      } else if (Character.isDigit(c) || (c == '.' && i + 1 < expr.length() && isDigit(i + 1))) {
        while (i < expr.length() && (isWord(expr.charAt(i)) || expr.charAt(i) == '.')) {
          i++;
        }
      } else if (isWordStart(c)) {
        String word = word();
        char next = peek();
        String lower = word.toLowerCase(Locale.ROOT);
        if (GROUPING.contains(lower)) {
          if (next == '(') {
            grouping.addAll(labelList());
          }
        } else if (KEYWORDS.contains(lower) && !(next == '{')) {
          // an operator or a literal
        } else if (FUNCTIONS.contains(word)) {
          // a function, or an aggregation whose by/without comes first: sum by (a) (x)
        } else if (next == '(') {
          fail("'" + word + "' is not a PromQL function");
        } else {
          selectors.add(new Selector(word, next == '{' ? matchers() : List.of()));
        }
      } else if (c == '{') {
        fail("a selector without a metric name");
      } else {
        i++;
      }
    }
    return new Reads(List.copyOf(selectors), grouping);
  }

  private boolean isDigit(int at) {
    return Character.isDigit(expr.charAt(at));
  }

  private static boolean isWordStart(char c) {
    return Character.isLetter(c) || c == '_' || c == ':';
  }

  private static boolean isWord(char c) {
    return Character.isLetterOrDigit(c) || c == '_' || c == ':';
  }

  private String word() {
    int start = i;
    while (i < expr.length() && isWord(expr.charAt(i))) {
      i++;
    }
    return expr.substring(start, i);
  }

  /** The next character that is not white space, without consuming it; 0 at the end. */
  private char peek() {
    int j = i;
    while (j < expr.length() && Character.isWhitespace(expr.charAt(j))) {
      j++;
    }
    return j < expr.length() ? expr.charAt(j) : 0;
  }

  private void skipSpace() {
    while (i < expr.length() && Character.isWhitespace(expr.charAt(i))) {
      i++;
    }
  }

  /** A Grafana variable: {@code $name}, {@code ${name}} or {@code ${name:format}}. */
  private void variable() {
    i++;
    if (i < expr.length() && expr.charAt(i) == '{') {
      int close = expr.indexOf('}', i);
      i = close < 0 ? fail("an unclosed ${") : close + 1;
    } else {
      word();
    }
  }

  /** A string literal; returns its value (escapes kept as written but the quote's). */
  private String string() {
    char quote = expr.charAt(i++);
    StringBuilder value = new StringBuilder();
    while (i < expr.length() && expr.charAt(i) != quote) {
      if (expr.charAt(i) == '\\' && quote != '`' && i + 1 < expr.length()) {
        char escaped = expr.charAt(i + 1);
        value.append(escaped == quote || escaped == '\\' ? "" : "\\").append(escaped);
        i += 2;
      } else {
        value.append(expr.charAt(i++));
      }
    }
    if (i >= expr.length()) {
      fail("an unclosed string");
    }
    i++;
    return value.toString();
  }

  private List<String> labelList() {
    skipSpace();
    i++; // (
    List<String> labels = new ArrayList<>();
    while (true) {
      skipSpace();
      char c = i < expr.length() ? expr.charAt(i) : 0;
      if (c == ')') {
        i++;
        return labels;
      } else if (c == ',') {
        i++;
      } else if (isWordStart(c)) {
        labels.add(word());
      } else {
        fail("a label list");
      }
    }
  }

  private List<Matcher> matchers() {
    skipSpace();
    i++; // {
    List<Matcher> matchers = new ArrayList<>();
    while (true) {
      skipSpace();
      char c = i < expr.length() ? expr.charAt(i) : 0;
      if (c == '}') {
        i++;
        return matchers;
      } else if (c == ',') {
        i++;
      } else if (isWordStart(c)) {
        String label = word();
        skipSpace();
        String op = operator();
        skipSpace();
        char quote = i < expr.length() ? expr.charAt(i) : 0;
        if (quote != '"' && quote != '\'' && quote != '`') {
          fail("a quoted value after " + label + op);
        }
        matchers.add(new Matcher(label, op, string()));
      } else {
        fail("a label matcher");
      }
    }
  }

  private String operator() {
    for (String op : List.of("=~", "!~", "!=", "=")) {
      if (expr.startsWith(op, i)) {
        i += op.length();
        return op;
      }
    }
    return fail("a matcher's operator");
  }

  private <T> T fail(String what) {
    throw new IllegalArgumentException(
        "PromQL: "
            + what
            + " at "
            + i
            + " in: "
            + expr
            + (at() == null ? "" : " (near " + at() + ")"));
  }

  private @Nullable String at() {
    return i < expr.length() ? expr.substring(i, Math.min(expr.length(), i + 20)) : null;
  }
}
