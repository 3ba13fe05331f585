package dev.fulcrum.tools.monitor;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A numeric CSV file with a header row: columns by name, an empty cell or {@code NaN} as a missing
 * value. Plain comma-separated values (no quoting), as training exports of tabular features are.
 */
record Csv(Path source, List<String> header, List<double[]> rows) {

  static Csv read(Path file) throws IOException {
    try (BufferedReader r = Files.newBufferedReader(file)) {
      String head = r.readLine();
      if (head == null) {
        throw new IOException(file + " is empty");
      }
      List<String> header =
          List.of(head.strip().split(",", -1)).stream().map(String::strip).toList();
      List<double[]> rows = new ArrayList<>();
      String line;
      int n = 1;
      while ((line = r.readLine()) != null) {
        n++;
        if (line.isBlank()) {
          continue;
        }
        String[] cells = line.split(",", -1);
        if (cells.length != header.size()) {
          throw new IOException(
              file.getFileName()
                  + " line "
                  + n
                  + ": "
                  + cells.length
                  + " cells, the header has "
                  + header.size());
        }
        double[] row = new double[cells.length];
        for (int i = 0; i < cells.length; i++) {
          String c = cells[i].strip();
          try {
            row[i] = c.isEmpty() ? Double.NaN : Double.parseDouble(c);
          } catch (NumberFormatException e) {
            throw new IOException(
                file.getFileName()
                    + " line "
                    + n
                    + ", column "
                    + header.get(i)
                    + ": '"
                    + c
                    + "' is not a number",
                e);
          }
        }
        rows.add(row);
      }
      return new Csv(file, header, rows);
    }
  }

  /** A column's index. */
  int column(String name) throws IOException {
    int i = header.indexOf(name);
    if (i < 0) {
      throw new IOException(
          source.getFileName() + " has no column '" + name + "' (its columns: " + header + ")");
    }
    return i;
  }
}
