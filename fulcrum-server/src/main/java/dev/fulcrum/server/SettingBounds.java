package dev.fulcrum.server;

import java.time.Duration;
import java.util.Objects;

/**
 * The bounds the REST and gRPC ports' settings are both held to ({@link HttpServerConfig}, {@link
 * dev.fulcrum.server.grpc.GrpcServerConfig}), each refused with an {@link IllegalArgumentException}
 * that names the setting and the value it was given. Stateless.
 */
public final class SettingBounds {
  private SettingBounds() {}

  /** A port to bind: 0 (a free one) to 65535. */
  public static void port(int port) {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be 0..65535, was " + port);
    }
  }

  /** A timeout or interval that must be longer than zero. */
  public static void positive(Duration d, String field) {
    Objects.requireNonNull(d, field);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(field + " must be > 0, was " + d);
    }
  }

  /** A size, count or byte budget that must be at least one. */
  public static void atLeastOne(long value, String field) {
    if (value < 1) {
      throw new IllegalArgumentException(field + " must be >= 1, was " + value);
    }
  }

  /**
   * The port's byte budgets must each hold the largest request it accepts, or a request of that
   * size could never be taken in.
   *
   * @param maxBufferedBytes the budget of the whole port
   * @param maxBufferedBytesPerConnection the budget of one connection
   * @param largest the largest request accepted, in bytes
   * @param largestField the setting that gives it, e.g. {@code maxInputSize}
   * @param otherwise the end of the refusal: what could not happen
   */
  public static void budgetsHold(
      long maxBufferedBytes,
      long maxBufferedBytesPerConnection,
      int largest,
      String largestField,
      String otherwise) {
    if (maxBufferedBytesPerConnection < largest || maxBufferedBytes < largest) {
      throw new IllegalArgumentException(
          "limits.maxBufferedBytes ("
              + maxBufferedBytes
              + ") and limits.maxBufferedBytesPerConnection ("
              + maxBufferedBytesPerConnection
              + ") must be at least "
              + largestField
              + " ("
              + largest
              + "), or "
              + otherwise);
    }
  }
}
