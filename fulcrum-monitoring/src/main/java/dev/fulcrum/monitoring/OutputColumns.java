package dev.fulcrum.monitoring;

/**
 * How an output's columns are named in a baseline: {@code label} for one value per row, {@code
 * probabilities[1]} for the second of several. Outputs with more than {@value #MAX} values per row
 * (embeddings) are not monitored column by column. Stateless.
 */
final class OutputColumns {
  static final int MAX = 16;

  private OutputColumns() {}

  static String name(String tensor, int index, int perRow) {
    return perRow == 1 ? tensor : tensor + "[" + index + "]";
  }

  /** The tensor a column name refers to. */
  static String tensor(String column) {
    int b = column.lastIndexOf('[');
    return b > 0 && column.endsWith("]") ? column.substring(0, b) : column;
  }

  /** The element within a row a column name refers to. */
  static int index(String column) {
    int b = column.lastIndexOf('[');
    if (b > 0 && column.endsWith("]")) {
      try {
        return Integer.parseInt(column.substring(b + 1, column.length() - 1));
      } catch (NumberFormatException e) {
        return 0;
      }
    }
    return 0;
  }
}
