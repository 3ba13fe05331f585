package dev.fulcrum.server.dashboard;

import java.util.Arrays;

/**
 * The last {@code capacity} one-second samples of one series set, in a ring of primitive columns: a
 * time column, {@code columns} double columns and {@code buckets} count columns (the formed
 * batch-size distribution). Memory is fixed at construction: {@code capacity × (8 + 8 × columns + 8
 * × buckets)} bytes; the oldest sample is overwritten when the ring is full.
 *
 * <p>Not thread-safe: owned by the feed's thread, which writes it and reads it to serialize.
 */
final class History {
  private final int capacity;
  private final long[] time;
  private final double[][] values;
  private final long[][] counts;
  private int start;
  private int size;

  History(int capacity, int columns, int buckets) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be >= 1");
    }
    this.capacity = capacity;
    this.time = new long[capacity];
    this.values = new double[columns][capacity];
    this.counts = new long[buckets][capacity];
  }

  /** Bytes the ring holds, whatever its fill. */
  static long bytes(int capacity, int columns, int buckets) {
    return (long) capacity * (8 + 8L * columns + 8L * buckets);
  }

  /**
   * Appends a sample, dropping the oldest when full.
   *
   * @param v one value per column
   * @param c one count per bucket
   */
  void add(long timeMillis, double[] v, long[] c) {
    if (v.length != values.length || c.length != counts.length) {
      throw new IllegalArgumentException("sample does not match the columns");
    }
    int at;
    if (size < capacity) {
      at = (start + size) % capacity;
      size++;
    } else {
      at = start;
      start = (start + 1) % capacity;
    }
    time[at] = timeMillis;
    for (int i = 0; i < v.length; i++) {
      values[i][at] = v[i];
    }
    for (int i = 0; i < c.length; i++) {
      counts[i][at] = c[i];
    }
  }

  int size() {
    return size;
  }

  int capacity() {
    return capacity;
  }

  /** The time of the {@code i}-th sample, 0 the oldest. */
  long time(int i) {
    return time[index(i)];
  }

  double value(int column, int i) {
    return values[column][index(i)];
  }

  long count(int bucket, int i) {
    return counts[bucket][index(i)];
  }

  int columns() {
    return values.length;
  }

  int buckets() {
    return counts.length;
  }

  /**
   * How many samples just before the newest hold the same values and counts as the newest (NaN
   * equal to NaN), at most {@code limit}: an idle version's whole history is one such run (zero
   * rates, no latencies), which a history frame sends once ({@code DashboardFeed}).
   */
  int repeatsOfNewest(int limit) {
    int n = 0;
    int newest = size - 1;
    for (int i = newest - 1; i >= 0 && n < limit; i--, n++) {
      for (double[] column : values) {
        if (Double.compare(column[index(i)], column[index(newest)]) != 0) {
          return n;
        }
      }
      for (long[] column : counts) {
        if (column[index(i)] != column[index(newest)]) {
          return n;
        }
      }
    }
    return n;
  }

  /**
   * How many samples before the newest have the same times as {@code other}'s samples before its
   * newest, newest first (both rings sampled by the same ticks), the newest's too.
   */
  int timesShared(History other) {
    int n = 0;
    for (int i = size - 1, j = other.size - 1; i >= 0 && j >= 0; i--, j--, n++) {
      if (time(i) != other.time(j)) {
        break;
      }
    }
    return Math.max(0, n - 1);
  }

  /** The mean of a column over the last {@code n} samples, skipping NaN (NaN if none). */
  double recentMean(int column, int n) {
    double sum = 0;
    int seen = 0;
    for (int i = Math.max(0, size - n); i < size; i++) {
      double x = value(column, i);
      if (!Double.isNaN(x)) {
        sum += x;
        seen++;
      }
    }
    return seen == 0 ? Double.NaN : sum / seen;
  }

  /** The largest value of a column over the last {@code n} samples (NaN if none). */
  double recentMax(int column, int n) {
    double max = Double.NaN;
    for (int i = Math.max(0, size - n); i < size; i++) {
      double x = value(column, i);
      if (!Double.isNaN(x) && (Double.isNaN(max) || x > max)) {
        max = x;
      }
    }
    return max;
  }

  private int index(int i) {
    if (i < 0 || i >= size) {
      throw new IndexOutOfBoundsException(i + " of " + size);
    }
    return (start + i) % capacity;
  }

  @Override
  public String toString() {
    return "History["
        + size
        + " of "
        + capacity
        + ", "
        + Arrays.toString(new int[] {values.length, counts.length})
        + "]";
  }
}
