package dev.fulcrum.monitoring;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.config.MonitoringConfig;
import dev.fulcrum.core.monitor.DriftReport;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Replays prediction logs offline through the same {@link VersionMonitor} the live monitor uses, so
 * that {@code fulcrum skew-check} reaches the live verdict on the same rows (in the same order: one
 * instance, or a log of every request). Not thread-safe; one replay per instance.
 *
 * <p>A line that is not a request as the server logs it (not UTF-8, not JSON, a bad time, a shape
 * that disagrees with its data) is skipped and counted, the first few told with their file and line
 * ({@link Reading}); so is the last line of a file when it was cut short (no newline: a crash or a
 * copy in progress). A line of the baseline's model that cannot be compared with the baseline (it
 * lacks an input the baseline names, or has another number of columns) is counted per version, with
 * why ({@link VersionReplay#notCompared}); a version none of whose lines could be compared is
 * reported as not checked ({@link DriftReport#problem}), never as "ok".
 */
public final class LogReplay {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** Bad lines told with their file and line; the others are counted. */
  public static final int SHOWN = 5;

  /** Longest line read (a logged line is at most a few MB: 65,536 values a tensor). */
  static final int MAX_LINE_BYTES = 64 << 20;

  /** Distinct reasons kept per version (more are counted under the last). */
  private static final int MAX_REASONS = 16;

  private final Baseline baseline;
  private final String baselineName;
  private final DetectorSettings settings;
  private final DriftListener listener;
  private final Map<String, Version> versions = new LinkedHashMap<>();
  private final Map<String, Long> otherModels = new LinkedHashMap<>();
  private long skipped;
  private final MonitoringConfig.@Nullable TextInput text;
  private final Where where = new Where();
  private Reading reading = new Reading();

  /**
   * @param baselineName the baseline as reports name it
   * @param listener told of each alert raised or cleared, in order
   */
  public LogReplay(
      Baseline baseline, String baselineName, DetectorSettings settings, DriftListener listener) {
    this(baseline, baselineName, settings, listener, null);
  }

  /**
   * @param text for a text model, its token-id input (config.yaml's {@code monitoring.text}): the
   *     logged ids and mask are turned into the derived features the live monitor compares
   */
  public LogReplay(
      Baseline baseline,
      String baselineName,
      DetectorSettings settings,
      DriftListener listener,
      MonitoringConfig.@Nullable TextInput text) {
    this.text = text;
    this.baseline = baseline;
    this.baselineName = baselineName;
    this.settings = settings;
    this.listener = listener;
  }

  /**
   * Reads each file's lines in order; lines of other models are skipped.
   *
   * @return what the reading skipped (also {@link #reading()})
   * @throws IOException when a file cannot be read
   */
  public Reading replay(List<Path> files) throws IOException {
    reading = read(files, this::observe, where);
    return reading;
  }

  /** What reading the files of the last {@link #replay} skipped. */
  public Reading reading() {
    return reading;
  }

  /** What {@link #read} hands each logged request to. */
  @FunctionalInterface
  public interface Sink {
    /**
     * @throws BadLine to have the line counted and told as a bad one, and reading go on
     */
    void accept(Observation logged) throws IOException, BadLine;
  }

  /** A line that is not a request as the server logs it, and why; read skips and counts it. */
  public static final class BadLine extends Exception {
    private static final long serialVersionUID = 1L;

    public BadLine(String why) {
      super(why, null, false, false);
    }
  }

  /**
   * What reading prediction log files met besides the requests it handed on: the lines skipped as
   * not a logged request (the first {@link #SHOWN} with their file and line), and each file's last
   * line that was cut short. Filled while reading; read it afterwards.
   */
  public static final class Reading {
    private long files;
    private long requests;
    private long bad;
    private final List<String> badShown = new ArrayList<>();
    private final List<String> torn = new ArrayList<>();

    /** Files read. */
    public long files() {
      return files;
    }

    /** Lines handed on as logged requests (of any model). */
    public long requests() {
      return requests;
    }

    /** Lines skipped as not a logged request (the cut last lines not included). */
    public long bad() {
      return bad;
    }

    /** The first {@link #SHOWN} bad lines: {@code <file> line <n>: <why>}. */
    public List<String> badShown() {
      return List.copyOf(badShown);
    }

    /** Each file's last line that was cut short (no newline, not JSON): {@code <file> line <n>}. */
    public List<String> torn() {
      return List.copyOf(torn);
    }

    private void bad(Where w, String why) {
      bad++;
      if (badShown.size() < SHOWN) {
        badShown.add(w + ": " + why);
      }
    }
  }

  /** The file and line being read. */
  private static final class Where {
    String file = "";
    long line;

    @Override
    public String toString() {
      return file + " line " + line;
    }
  }

  /**
   * Reads prediction log files' lines in order, each as the {@link Observation} the server logged
   * (a BYTES tensor as its text, {@link Observation.Values#strings}). Bad lines are skipped and
   * counted ({@link Reading}), as are lines the sink refuses ({@link BadLine}).
   *
   * @throws IOException when a file cannot be read, or the sink throws it
   */
  public static Reading read(List<Path> files, Sink sink) throws IOException {
    return read(files, sink, new Where());
  }

  private static Reading read(List<Path> files, Sink sink, Where where) throws IOException {
    Reading reading = new Reading();
    for (Path f : files) {
      reading.files++;
      where.file = String.valueOf(f.getFileName());
      where.line = 0;
      try (Lines lines = new Lines(Files.newInputStream(f))) {
        while (lines.next()) {
          where.line++;
          if (lines.overlong) {
            reading.bad(where, "longer than " + (MAX_LINE_BYTES >> 20) + " MiB; not a logged line");
            continue;
          }
          if (lines.blank()) {
            continue;
          }
          JsonNode node;
          try {
            node = JSON.readTree(lines.buf, lines.start, lines.length);
          } catch (JsonProcessingException e) {
            if (!lines.terminated) { // the file's last line, cut short
              reading.torn.add(where.toString());
            } else {
              reading.bad(where, notJson(e, lines.buf, lines.start, lines.length));
            }
            continue;
          }
          Observation o;
          try {
            o = observation(node);
          } catch (BadLine e) {
            reading.bad(where, String.valueOf(e.getMessage()));
            continue;
          }
          reading.requests++;
          try {
            sink.accept(o);
          } catch (BadLine e) {
            reading.bad(where, String.valueOf(e.getMessage()));
          } catch (RuntimeException e) {
            throw new IllegalStateException(where + ": " + e, e);
          }
        }
      }
    }
    return reading;
  }

  /** Why a line is not JSON, in a few words: not UTF-8 (binary data), or the parser's message. */
  private static String notJson(JsonProcessingException e, byte[] b, int start, int length) {
    try {
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(b, start, length));
    } catch (CharacterCodingException c) {
      int at = 0;
      while (at < length && (b[start + at] & 0x80) == 0) {
        at++;
      }
      return "not UTF-8 text (binary data?) near byte " + (at + 1);
    }
    JsonLocation l = e.getLocation();
    String m = e.getOriginalMessage();
    int cut = m == null ? -1 : m.indexOf('\n'); // Jackson adds a hint on a line of its own
    return "not JSON: "
        + (m == null ? e.getClass().getSimpleName() : cut < 0 ? m : m.substring(0, cut))
        + (l == null || l.getColumnNr() < 0 ? "" : " (column " + l.getColumnNr() + ")");
  }

  /** One logged request: the baseline's model's version compared, another model's counted. */
  private void observe(Observation o) {
    String model = o.model();
    if (!model.equals(baseline.model())) {
      skipped++;
      if (otherModels.containsKey(model) || otherModels.size() < MAX_REASONS) {
        otherModels.merge(model, 1L, Long::sum);
      }
      return;
    }
    Version v = versions.computeIfAbsent(o.version(), this::version);
    v.lines++;
    if (comparable(o, v)) {
      v.monitor.observe(o, (m, f, output) -> listener.changed(m.model(), m.version(), f, output));
    }
  }

  private Version version(String v) {
    return new Version(
        new VersionMonitor(
            baseline.model(),
            v,
            true,
            baselineName,
            baseline.inputs(),
            baseline,
            null,
            settings,
            text));
  }

  /**
   * Whether the line's inputs are the ones the baseline names, numbers, as many columns as it
   * names, and the same number of rows each; else the reason is counted for its version. (Served
   * requests always are: the server checks them against the model. A log of another model, or of
   * the model before a change, need not be.)
   */
  private boolean comparable(Observation o, Version v) {
    int rows = -1;
    String rowsOf = "";
    for (Baseline.InputColumns c : baseline.inputs()) {
      MonitoringConfig.TextInput t = text;
      if (t != null && c.input().equals(t.input())) {
        for (String name : List.of(t.input(), t.mask())) {
          if (o.input(name) == null) {
            return v.refuse(lacks(name), "its inputs: " + names(o.inputs()), where);
          }
        }
        continue;
      }
      Observation.Values x = o.input(c.input());
      if (x == null) {
        return v.refuse(lacks(c.input()), "its inputs: " + names(o.inputs()), where);
      }
      if (x.isText()) {
        return v.refuse("input '" + c.input() + "' holds text, not numbers", "", where);
      }
      long[] shape = x.shape();
      int width = c.names().size();
      long columns = shape.length == 0 ? 1 : shape[shape.length - 1];
      if (columns != width) {
        return v.refuse(
            "input '"
                + c.input()
                + "' has "
                + columns
                + (columns == 1 ? " column" : " columns")
                + "; the baseline names "
                + width
                + " ("
                + shortList(c.names())
                + ")",
            "shape " + Arrays.toString(shape),
            where);
      }
      int n = x.values().length / Math.max(1, width);
      if (rows >= 0 && n != rows) {
        return v.refuse(
            "its inputs hold different numbers of rows",
            rowsOf + ", " + c.input() + " " + n,
            where);
      }
      rows = n;
      rowsOf = c.input() + " " + n;
    }
    return true;
  }

  private String lacks(String input) {
    return "no input '" + input + "', which the baseline (" + baselineName + ") names";
  }

  private static String names(List<Observation.Values> values) {
    if (values.isEmpty()) {
      return "none";
    }
    List<String> n = new ArrayList<>();
    values.forEach(x -> n.add(x.name()));
    return shortList(n);
  }

  /** At most eight names, then how many more. */
  private static String shortList(List<String> names) {
    if (names.size() <= 8) {
      return String.join(", ", names);
    }
    return String.join(", ", names.subList(0, 8)) + " and " + (names.size() - 8) + " more";
  }

  /** One version's monitor and what of its lines could not be compared. */
  private static final class Version {
    final VersionMonitor monitor;
    long lines;
    final Map<String, Refused> refused = new LinkedHashMap<>();

    Version(VersionMonitor monitor) {
      this.monitor = monitor;
    }

    /** Counts a line not compared; false. */
    boolean refuse(String why, String detail, Where w) {
      String key = refused.containsKey(why) || refused.size() < MAX_REASONS ? why : "other reasons";
      Refused r =
          refused.computeIfAbsent(
              key, k -> new Refused(w.toString(), detail.isEmpty() ? why : detail));
      r.count++;
      return false;
    }

    List<String> notCompared() {
      List<String> out = new ArrayList<>();
      refused.forEach(
          (why, r) ->
              out.add(
                  r.count
                      + (r.count == 1 ? " line: " : " lines: ")
                      + why
                      + " (first: "
                      + r.where
                      + (r.detail.equals(why) ? "" : ", " + r.detail)
                      + ")"));
      return out;
    }
  }

  /** A reason lines were not compared: how many, and the first such line. */
  private static final class Refused {
    final String where;
    final String detail;
    long count;

    Refused(String where, String detail) {
      this.where = where;
      this.detail = detail;
    }
  }

  private static Observation observation(JsonNode line) throws BadLine {
    if (!line.isObject()) {
      throw new BadLine("not a logged request (a JSON " + kind(line) + ", not an object)");
    }
    JsonNode model = line.path("model");
    if (!model.isTextual()) {
      throw new BadLine("not a logged request (no \"model\")");
    }
    JsonNode version = line.path("version");
    if (!version.isTextual() && !version.isIntegralNumber()) {
      throw new BadLine("not a logged request (no \"version\")");
    }
    JsonNode time = line.path("time");
    long millis = 0;
    if (!time.isMissingNode()) {
      try {
        millis = Instant.parse(time.asText()).toEpochMilli();
      } catch (DateTimeParseException | ArithmeticException e) {
        throw new BadLine(
            "\"time\" "
                + time
                + " is not an instant as the server writes it (2026-12-06T10:03:31.686Z)");
      }
    }
    JsonNode inputs = line.path("inputs");
    if (!inputs.isObject()) {
      throw new BadLine("not a logged request (no \"inputs\" object)");
    }
    JsonNode outputs = line.path("outputs");
    if (!outputs.isMissingNode() && !outputs.isObject()) {
      throw new BadLine("\"outputs\" is a JSON " + kind(outputs) + ", not an object");
    }
    return new Observation(
        null,
        model.asText(),
        version.asText(),
        line.path("id").asText(""),
        millis,
        (long) (line.path("latency_us").asDouble() * 1000),
        tensors("input", inputs),
        tensors("output", outputs));
  }

  private static String kind(JsonNode n) {
    return n.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * The tensors of {@code inputs} or {@code outputs}: each a shape (whole numbers) and as many
   * values as it holds: numbers ({@code null} NaN; {@code 1e999}, beyond a double, infinite) or,
   * for a BYTES tensor, strings.
   */
  private static List<Observation.Values> tensors(String kind, JsonNode object) throws BadLine {
    List<Observation.Values> out = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : object.properties()) {
      String name = kind + " '" + e.getKey() + "'";
      JsonNode shape = e.getValue().path("shape");
      JsonNode data = e.getValue().path("data");
      if (!shape.isArray() || !data.isArray()) {
        throw new BadLine(name + " has no \"shape\" and \"data\" arrays");
      }
      long[] s = new long[shape.size()];
      long count = 1; // the values the shape holds (Long.MAX_VALUE: more than a long counts)
      for (int i = 0; i < s.length; i++) {
        JsonNode d = shape.get(i);
        if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
          throw new BadLine(name + " has shape " + shape + ": not whole numbers");
        }
        s[i] = d.asLong();
      }
      for (long d : s) {
        count = d == 0 ? 0 : count > Long.MAX_VALUE / d ? Long.MAX_VALUE : count * d;
        if (count == 0) {
          break;
        }
      }
      if (count != data.size()) {
        throw new BadLine(
            name
                + " has shape "
                + Arrays.toString(s)
                + " ("
                + count
                + " values) but its data holds "
                + data.size());
      }
      int texts = 0;
      for (JsonNode x : data) {
        if (x.isTextual()) {
          texts++;
        } else if (!x.isNumber() && !x.isNull()) {
          throw new BadLine(name + " holds " + x + ", not a number");
        }
      }
      if (texts > 0) { // a BYTES tensor's text
        if (texts != data.size()) {
          throw new BadLine(name + " mixes text and numbers");
        }
        List<String> t = new ArrayList<>(data.size());
        for (JsonNode x : data) {
          t.add(x.asText());
        }
        out.add(new Observation.Values(e.getKey(), s, new double[0], t));
        continue;
      }
      double[] d = new double[data.size()];
      for (int i = 0; i < d.length; i++) {
        JsonNode x = data.get(i);
        d[i] = x.isNumber() ? x.asDouble() : Double.NaN;
      }
      out.add(new Observation.Values(e.getKey(), s, d));
    }
    return out;
  }

  /**
   * One version's replay: its report, how many of its lines were read, and why those not compared
   * were not ({@code <count> lines: <why> (first: <file> line <n>)}).
   */
  public record VersionReplay(DriftReport report, long lines, List<String> notCompared) {
    public VersionReplay {
      notCompared = List.copyOf(notCompared);
    }

    /** Whether none of its rows could be compared: not checked, whatever its features say. */
    public boolean unchecked() {
      return report.observations() == 0;
    }
  }

  /**
   * Each version seen, in the order first seen. A version none of whose rows could be compared has
   * a report with {@link DriftReport#problem} saying why and no features ({@code "status":
   * "unavailable"}, as the live monitor's when it cannot tell), not an "ok" after 0 observations.
   */
  public List<VersionReplay> versions() {
    List<VersionReplay> out = new ArrayList<>();
    for (Version v : versions.values()) {
      DriftReport r = v.monitor.report(0);
      List<String> why = v.notCompared();
      if (r.observations() == 0) {
        String problem =
            r.problem() != null
                ? r.problem()
                : "not checked: none of its "
                    + v.lines
                    + (v.lines == 1 ? " line" : " lines")
                    + " had a row to compare with the baseline"
                    + (why.isEmpty() ? "" : "; " + String.join("; ", why));
        r =
            new DriftReport(
                r.model(),
                r.version(),
                r.enabled(),
                problem,
                r.baseline(),
                0,
                0,
                0,
                List.of(),
                List.of());
      }
      out.add(new VersionReplay(r, v.lines, why));
    }
    return out;
  }

  /** The verdict per version seen, in the order first seen ({@link #versions}). */
  public List<DriftReport> reports() {
    return versions().stream().map(VersionReplay::report).toList();
  }

  /** Lines of other models. */
  public long skipped() {
    return skipped;
  }

  /** The other models the logs hold and their lines (the first 16 models seen). */
  public Map<String, Long> otherModels() {
    return java.util.Collections.unmodifiableMap(otherModels);
  }

  /**
   * A file's lines as bytes: {@link #buf} from {@link #start}, {@link #length} bytes, without the
   * newline (nor a carriage return before it). A line longer than {@link #MAX_LINE_BYTES} is
   * skipped to its end and marked {@link #overlong}.
   */
  private static final class Lines implements AutoCloseable {
    private final InputStream in;
    byte[] buf = new byte[1 << 16];
    private int next; // the first byte not yet handed out
    private int end; // the end of the bytes read
    private boolean eof;
    int start;
    int length;
    boolean terminated;
    boolean overlong;

    Lines(InputStream in) {
      this.in = in;
    }

    boolean next() throws IOException {
      overlong = false;
      int scan = next;
      while (true) {
        for (int i = scan; i < end; i++) {
          if (buf[i] == '\n') {
            start = next;
            length = i - next;
            if (length > 0 && buf[i - 1] == '\r') {
              length--;
            }
            terminated = true;
            next = i + 1;
            return true;
          }
        }
        if (eof) {
          if (next == end && !overlong) {
            return false;
          }
          start = next;
          length = end - next;
          terminated = false;
          next = end;
          return true;
        }
        if (end - next > MAX_LINE_BYTES) { // no newline in sight: drop what is read of it
          overlong = true;
          next = end;
        }
        if (next > 0) {
          System.arraycopy(buf, next, buf, 0, end - next);
          end -= next;
          next = 0;
        }
        scan = end;
        if (end == buf.length) {
          buf = Arrays.copyOf(buf, 2 * buf.length);
        }
        int n = in.read(buf, end, buf.length - end);
        if (n < 0) {
          eof = true;
        } else {
          end += n;
        }
      }
    }

    boolean blank() {
      for (int i = start; i < start + length; i++) {
        byte b = buf[i];
        if (b != ' ' && b != '\t' && b != '\r') {
          return false;
        }
      }
      return true;
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
