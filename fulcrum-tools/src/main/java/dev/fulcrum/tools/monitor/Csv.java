package dev.fulcrum.tools.monitor;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.csv.CsvFactory;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A CSV file with a header row, read one row at a time: RFC 4180 as training exports write it
 * (quoted fields holding commas, quotes or line breaks, quoted header names, CRLF; parsed by
 * jackson-dataformat-csv), a UTF-8 byte order mark dropped, blank lines skipped, header names and
 * numbers stripped of spaces. Only the current row is held, and a cell is parsed only when asked
 * for ({@link #number}): columns nobody reads (ids, timestamps, free text) may hold anything.
 * Errors are {@link IOException}s that name the file, the line and the column. Not thread-safe: one
 * thread reads it, then closes it.
 */
final class Csv implements Closeable {
  /** Cells that mean "no value", compared ignoring case: pandas', R's and databases' spellings. */
  static final Set<String> MISSING = Set.of("", "nan", "na", "n/a", "null", "none");

  private static final CsvFactory FACTORY = new CsvFactory();

  private final Path file;
  private final CsvParser parser;
  private final List<String> header;
  private final List<String> cells = new ArrayList<>();
  private int line;

  private Csv(Path file, CsvParser parser) throws IOException {
    this.file = file;
    this.parser = parser;
    if (!next(false)) {
      throw new IOException(name() + " is empty");
    }
    this.header = cells.stream().map(String::strip).toList();
  }

  /** Opens {@code file} and reads its header. */
  static Csv open(Path file) throws IOException {
    CsvParser parser = FACTORY.createParser(Files.newInputStream(file));
    try {
      return new Csv(file, parser);
    } catch (IOException | RuntimeException e) {
      parser.close();
      throw e;
    }
  }

  /** The file. */
  Path file() {
    return file;
  }

  /** The header's column names. */
  List<String> header() {
    return header;
  }

  /**
   * The index of the column {@code name}; refused when the header lacks it or names it twice (which
   * of the two holds the feature is anyone's guess).
   */
  int column(String name) throws IOException {
    int i = header.indexOf(name);
    if (i < 0) {
      boolean one = header.size() == 1 && header.get(0).matches(".*[;\t|].*");
      throw new IOException(
          name()
              + " has no column '"
              + name
              + "' (its columns: "
              + header
              + (one ? "; one column: is the file comma-separated?)" : ")"));
    }
    if (header.lastIndexOf(name) != i) {
      throw new IOException(
          name()
              + " has two columns named '"
              + name
              + "' (columns "
              + (i + 1)
              + " and "
              + (header.lastIndexOf(name) + 1)
              + "): rename one");
    }
    return i;
  }

  /** Moves to the next row; false at the end of the file. */
  boolean next() throws IOException {
    return next(true);
  }

  private boolean next(boolean checkWidth) throws IOException {
    try {
      while (true) {
        JsonToken t = parser.nextToken();
        if (t == null) {
          return false;
        }
        cells.clear();
        int first = -1;
        while ((t = parser.nextToken()) == JsonToken.VALUE_STRING) {
          if (first < 0) {
            first = parser.currentTokenLocation().getLineNr();
          }
          cells.add(parser.getText());
        }
        line = first;
        if (cells.size() == 1 && cells.get(0).isBlank()) {
          continue; // a blank line
        }
        if (checkWidth && cells.size() != header.size()) {
          throw new IOException(
              name()
                  + " line "
                  + line
                  + ": "
                  + cells.size()
                  + " cells, the header has "
                  + header.size());
        }
        return true;
      }
    } catch (JsonProcessingException e) {
      // Jackson's message ends with its own location lines; the one line the user needs, and
      // where a quote left open began
      int at = e.getLocation() != null ? e.getLocation().getLineNr() : line + 1;
      throw new IOException(
          name()
              + " line "
              + at
              + ": "
              + e.getOriginalMessage()
              + (at > line + 1 ? " (in the row after line " + line + ")" : ""),
          e);
    }
  }

  /** The line on which the current row starts (1 is the header's). */
  int line() {
    return line;
  }

  /** The current row's cell in {@code column}, as written (unquoted). */
  String cell(int column) {
    return cells.get(column);
  }

  /**
   * The current row's cell in {@code column} as a number: NaN when it is missing ({@link
   * #MISSING}), 1 and 0 for {@code true} and {@code false} (pandas' booleans); refused when it is
   * not a number or not finite.
   */
  double number(int column) throws IOException {
    String c = cell(column).strip();
    String lower = c.toLowerCase(Locale.ROOT);
    if (MISSING.contains(lower)) {
      return Double.NaN;
    }
    double v;
    switch (lower) {
      case "true" -> v = 1;
      case "false" -> v = 0;
      default -> {
        try {
          v = Double.parseDouble(c);
        } catch (NumberFormatException e) {
          throw error(
              column,
              lower.matches("[+-]?inf(inity)?") ? "is not a finite number" : "is not a number");
        }
      }
    }
    if (Double.isInfinite(v)) {
      throw error(column, "is not a finite number");
    }
    return v; // NaN (+NaN, -NaN) is missing too
  }

  /** A refusal of the current row's cell in {@code column}: file, line, column, the cell, why. */
  IOException error(int column, String why) {
    return new IOException(
        name()
            + " line "
            + line
            + ", column "
            + header.get(column)
            + ": '"
            + cells.get(column)
            + "' "
            + why);
  }

  private String name() {
    return String.valueOf(file.getFileName());
  }

  @Override
  public void close() throws IOException {
    parser.close();
  }
}
