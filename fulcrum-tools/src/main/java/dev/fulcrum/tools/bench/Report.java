package dev.fulcrum.tools.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.server.codec.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.HdrHistogram.Histogram;

/** Formats level results as a terminal table, CSV or JSON; stateless, thread-safe. */
final class Report {
  private Report() {}

  /** One row's columns by name, in the order of the table, the CSV and the JSON. */
  static Map<String, String> columns(LevelResult r) {
    Histogram l = r.stats().latency();
    Map<String, String> c = new LinkedHashMap<>();
    c.put("target", r.target());
    c.put("load", r.load().label());
    c.put("req/s", f1(r.requestsPerSecond()));
    c.put("infer/s", f1(r.inferencesPerSecond()));
    c.put("p50", ms(l.getValueAtPercentile(50)));
    c.put("p90", ms(l.getValueAtPercentile(90)));
    c.put("p95", ms(l.getValueAtPercentile(95)));
    c.put("p99", ms(l.getValueAtPercentile(99)));
    c.put("p99.9", ms(l.getValueAtPercentile(99.9)));
    c.put("max", ms(l.getMaxValue()));
    c.put("mean", ms(l.getMean()));
    c.put("svc_p99", ms(r.stats().service().getValueAtPercentile(99)));
    c.put("ok", Long.toString(r.stats().ok()));
    c.put("rejected", Long.toString(r.stats().count(Outcome.REJECTED)));
    Histogram rej = r.stats().rejected();
    c.put("rej_p99", rej.getTotalCount() == 0 ? "-" : ms(rej.getValueAtPercentile(99)));
    c.put(
        "rej_svc_p99",
        r.stats().count(Outcome.REJECTED) == 0
            ? "-"
            : ms(r.stats().rejectedService().getValueAtPercentile(99)));
    c.put("timed_out", Long.toString(r.stats().count(Outcome.TIMED_OUT)));
    c.put("unavailable", Long.toString(r.stats().count(Outcome.UNAVAILABLE)));
    c.put("other", Long.toString(r.stats().count(Outcome.OTHER)));
    boolean open = r.load() instanceof Load.Open;
    c.put("late%", open ? f1(100 * r.lateFraction()) : "-");
    c.put("max_lag", open ? ms(r.stats().maxLagNanos()) : "-");
    c.put("srv_queue", r.server() == null ? "-" : ms(r.server().queueNanos()));
    c.put("srv_compute", r.server() == null ? "-" : ms(r.server().computeNanos()));
    c.put("cpu%", f1(100 * r.clientCpu()));
    c.put("stable", r.stable() ? "yes" : "NO(" + r.windows() + ")");
    return c;
  }

  static String table(List<LevelResult> rows) {
    if (rows.isEmpty()) {
      return "";
    }
    List<Map<String, String>> cells = new ArrayList<>();
    rows.forEach(r -> cells.add(columns(r)));
    List<String> names = new ArrayList<>(cells.get(0).keySet());
    int[] width = new int[names.size()];
    for (int i = 0; i < names.size(); i++) {
      width[i] = names.get(i).length();
      for (Map<String, String> row : cells) {
        width[i] = Math.max(width[i], String.valueOf(row.get(names.get(i))).length());
      }
    }
    StringBuilder b = new StringBuilder();
    line(b, names, width);
    for (Map<String, String> row : cells) {
      line(b, new ArrayList<>(row.values()), width);
    }
    b.append("latency columns in ms; latency is from the scheduled send in open loop")
        .append(" (coordinated omission corrected), svc_p99 from the actual send.\n");
    return b.toString();
  }

  private static void line(StringBuilder b, List<String> values, int[] width) {
    for (int i = 0; i < values.size(); i++) {
      String v = values.get(i);
      b.append(i < 2 ? pad(v, width[i], false) : pad(v, width[i], true)).append(' ');
    }
    b.setLength(b.length() - 1);
    b.append('\n');
  }

  private static String pad(String s, int w, boolean right) {
    String fill = " ".repeat(w - s.length());
    return right ? fill + s : s + fill;
  }

  static void write(Path file, List<LevelResult> rows) throws IOException {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    if (name.endsWith(".json")) {
      ArrayNode array = Json.MAPPER.createArrayNode();
      rows.forEach(r -> array.add(json(r)));
      Files.writeString(
          file, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(array) + "\n");
    } else if (name.endsWith(".csv")) {
      StringBuilder b = new StringBuilder();
      if (!rows.isEmpty()) {
        b.append(String.join(",", columns(rows.get(0)).keySet())).append('\n');
      }
      for (LevelResult r : rows) {
        b.append(String.join(",", columns(r).values())).append('\n');
      }
      Files.writeString(file, b);
    } else {
      throw new IllegalArgumentException("--output must end in .csv or .json: " + file);
    }
  }

  /**
   * One level as JSON for scripts: numbers are JSON numbers with their unit in the field name
   * ({@code _ms}, {@code _per_second}, {@code _total}, {@code _fraction}); a value that does not
   * apply (no rejections, a closed loop's lateness, a server without statistics) is null.
   */
  static ObjectNode json(LevelResult r) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    Histogram l = r.stats().latency();
    o.put("target", r.target());
    o.put("load", r.load().label());
    switch (r.load()) {
      case Load.Closed c -> {
        o.put("loop", "closed");
        o.put("concurrency", c.concurrency());
      }
      case Load.Open op -> {
        o.put("loop", "open");
        o.put("offered_requests_per_second", op.rate());
        o.put("distribution", op.distribution().name().toLowerCase(Locale.ROOT));
      }
    }
    o.put("batch_size", r.batch());
    o.put("requests_per_second", round(r.requestsPerSecond(), 1));
    o.put("inferences_per_second", round(r.inferencesPerSecond(), 1));
    o.put("latency_p50_ms", millis(l.getValueAtPercentile(50)));
    o.put("latency_p90_ms", millis(l.getValueAtPercentile(90)));
    o.put("latency_p95_ms", millis(l.getValueAtPercentile(95)));
    o.put("latency_p99_ms", millis(l.getValueAtPercentile(99)));
    o.put("latency_p99_9_ms", millis(l.getValueAtPercentile(99.9)));
    o.put("latency_max_ms", millis(l.getMaxValue()));
    o.put("latency_mean_ms", millis(l.getMean()));
    o.put("service_p99_ms", millis(r.stats().service().getValueAtPercentile(99)));
    o.put("ok_total", r.stats().ok());
    long rejected = r.stats().count(Outcome.REJECTED);
    o.put("rejected_total", rejected);
    Histogram rej = r.stats().rejected();
    putOrNull(o, "rejected_p99_ms", rej.getTotalCount() > 0, () -> rej.getValueAtPercentile(99));
    putOrNull(
        o,
        "rejected_service_p99_ms",
        rejected > 0,
        () -> r.stats().rejectedService().getValueAtPercentile(99));
    // Latency objectives as a client counts them: answered OK within X ms over every request
    // that got an answer (refusals and errors are misses); 10 ms and 100 ms are
    // docs/PERFORMANCE.md's.
    long answered =
        l.getTotalCount()
            + rejected
            + r.stats().count(Outcome.TIMED_OUT)
            + r.stats().count(Outcome.UNAVAILABLE)
            + r.stats().count(Outcome.OTHER);
    for (int slo : new int[] {1, 10, 100}) {
      o.put(
          "within_" + slo + "ms_fraction",
          answered == 0
              ? 0
              : round(l.getCountBetweenValues(0, slo * 1_000_000L) / (double) answered, 6));
    }
    o.put("timed_out_total", r.stats().count(Outcome.TIMED_OUT));
    o.put("unavailable_total", r.stats().count(Outcome.UNAVAILABLE));
    o.put("other_errors_total", r.stats().count(Outcome.OTHER));
    boolean open = r.load() instanceof Load.Open;
    if (open) {
      o.put("late_sends_fraction", round(r.lateFraction(), 4));
      o.put("max_send_lag_ms", millis(r.stats().maxLagNanos()));
    } else {
      o.putNull("late_sends_fraction");
      o.putNull("max_send_lag_ms");
    }
    putOrNull(
        o,
        "server_queue_ms",
        r.server() != null,
        () -> Objects.requireNonNull(r.server()).queueNanos());
    putOrNull(
        o,
        "server_compute_ms",
        r.server() != null,
        () -> Objects.requireNonNull(r.server()).computeNanos());
    o.put("client_cpu_fraction", round(r.clientCpu(), 4));
    o.put("stable", r.stable());
    o.put("windows", r.windows());
    o.put("sent_total", r.sent());
    o.put("completed_total", r.completed());
    o.put("errors_total", r.errors());
    return o;
  }

  private static void putOrNull(
      ObjectNode o, String field, boolean present, java.util.function.DoubleSupplier nanos) {
    if (present) {
      o.put(field, millis(nanos.getAsDouble()));
    } else {
      o.putNull(field);
    }
  }

  /** Nanoseconds as milliseconds, to the nanosecond's precision that matters (1 us). */
  private static double millis(double nanos) {
    return round(nanos / 1e6, 3);
  }

  private static double round(double v, int digits) {
    double scale = Math.pow(10, digits);
    return Math.round(v * scale) / scale;
  }

  /** Milliseconds: to the microsecond below 1 ms (a 10 us step is 7 % of a 0.15 ms p50). */
  static String ms(double nanos) {
    return String.format(Locale.ROOT, nanos < 1e6 ? "%.3f" : "%.2f", nanos / 1e6);
  }

  static String f1(double v) {
    return String.format(Locale.ROOT, "%.1f", v);
  }
}
