package dev.fulcrum.server;

import io.netty.util.internal.PlatformDependent;
import org.jspecify.annotations.Nullable;

/**
 * The request-bytes budget in force: {@code --http-max-buffered-bytes}, lowered to a share of the
 * JVM's direct-memory limit when that is smaller.
 *
 * <p>Why: request bodies (REST) and unfinished messages (gRPC) are held in direct buffers, which
 * the JVM caps at {@code -XX:MaxDirectMemorySize}, by default the max heap. In a container of 1 GiB
 * the JVM picks a 256 MiB heap and so 256 MiB of direct memory, while the budget's default is 1
 * GiB: the budget never refused anything, and concurrent 60 MiB bodies ran the JVM out of direct
 * memory instead (an {@code OutOfMemoryError} on the event loop, the connection dropped). Capped at
 * half the limit, a request the server cannot hold gets the documented 503 (gRPC
 * RESOURCE_EXHAUSTED) first; the other half is left for what else lives in direct memory (read
 * buffers, answers, the body a handler is decoding after it left the budget, ONNX Runtime's input
 * copies).
 *
 * <p>The limit is the JVM's as Netty reads it when its buffers start ({@code
 * -XX:MaxDirectMemorySize}, else the max heap; {@link #jvmLimit}), so reading it costs nothing more
 * on the start path, capped by {@code -Dio.netty.maxDirectMemory} when that is smaller; {@link
 * #limitOf} computes the same from the options' values, for tests.
 *
 * <p>Stateless; {@link #choose} and {@link #limitOf} are pure.
 */
public final class DirectMemoryBudget {
  /** The budget takes at most 1 / SHARE_DIVISOR of the direct-memory limit. */
  static final int SHARE_DIVISOR = 2;

  private DirectMemoryBudget() {}

  /**
   * The JVM's direct-memory limit.
   *
   * @param bytes the limit
   * @param source where it comes from, for the log
   */
  public record Limit(long bytes, String source) {}

  /**
   * The budget chosen.
   *
   * @param configured {@code --http-max-buffered-bytes}
   * @param limit the JVM's direct-memory limit
   * @param effective the budget in force: {@code configured}, or less
   */
  public record Choice(long configured, Limit limit, long effective) {
    /** Whether the budget in force is below the configured one. */
    public boolean lowered() {
      return effective < configured;
    }

    /** One log line: the budget in force and, when lowered, why and how to raise it. */
    public String describe() {
      if (!lowered()) {
        return "request buffer budget (REST bodies and gRPC messages being received, both ports"
            + " together): "
            + bytes(effective)
            + " (--http-max-buffered-bytes); the JVM's direct-memory limit is "
            + bytes(limit.bytes())
            + " ("
            + limit.source()
            + ")";
      }
      return "request buffer budget (REST bodies and gRPC messages being received, both ports"
          + " together): "
          + bytes(effective)
          + ", lowered from --http-max-buffered-bytes "
          + bytes(configured)
          + " to 1/"
          + SHARE_DIVISOR
          + " of the JVM's direct-memory limit of "
          + bytes(limit.bytes())
          + " ("
          + limit.source()
          + "), so that requests beyond it get 503 / RESOURCE_EXHAUSTED instead of running the"
          + " JVM out of direct memory; a larger heap (-XX:MaxRAMPercentage, -Xmx) or"
          + " -XX:MaxDirectMemorySize raises it";
    }
  }

  /** The budget in force for {@code configured} bytes under a direct-memory {@code limit}. */
  public static Choice choose(long configured, Limit limit) {
    long cap = Math.max(1, limit.bytes() / SHARE_DIVISOR);
    return new Choice(configured, limit, Math.min(configured, cap));
  }

  /**
   * The direct-memory limit from the JVM's option, its max heap and Netty's property.
   *
   * @param maxDirectMemorySize the value of {@code -XX:MaxDirectMemorySize} ("0" when not set), or
   *     null when it cannot be read
   * @param maxHeap {@link Runtime#maxMemory()}
   * @param nettyMaxDirectMemory {@code -Dio.netty.maxDirectMemory}, or null when not set
   */
  public static Limit limitOf(
      @Nullable String maxDirectMemorySize, long maxHeap, @Nullable String nettyMaxDirectMemory) {
    long option = parse(maxDirectMemorySize);
    Limit jvm =
        option > 0
            ? new Limit(option, "-XX:MaxDirectMemorySize")
            : new Limit(
                maxHeap,
                maxDirectMemorySize == null
                    ? "taken as the max heap"
                    : "no -XX:MaxDirectMemorySize, so the max heap");
    return cappedByNetty(jvm, nettyMaxDirectMemory);
  }

  /** {@code jvm}, or Netty's own cap ({@code -Dio.netty.maxDirectMemory}) when that is smaller. */
  private static Limit cappedByNetty(Limit jvm, @Nullable String nettyMaxDirectMemory) {
    long netty = parse(nettyMaxDirectMemory);
    return netty > 0 && netty < jvm.bytes() ? new Limit(netty, "-Dio.netty.maxDirectMemory") : jvm;
  }

  /**
   * This JVM's direct-memory limit as Netty reads it when its buffers start ({@code
   * -XX:MaxDirectMemorySize}, else the max heap), capped by {@code -Dio.netty.maxDirectMemory} when
   * smaller: read then, so free here. The management bean that reads the option was the start
   * path's first use of java.lang.management, ~30 ms of CPU beside the first model's load (the
   * first fraud answer 0.045 s later over nine paired starts).
   */
  public static Limit jvmLimit() {
    String netty = System.getProperty("io.netty.maxDirectMemory");
    // Netty's limit is the JVM's unless that property sets one of its own (larger or smaller);
    // then its estimate of the JVM's is what the property is capped by, as limitOf does.
    long jvm =
        parse(netty) > 0
            ? PlatformDependent.estimateMaxDirectMemory()
            : PlatformDependent.maxDirectMemory();
    return cappedByNetty(
        new Limit(jvm, "-XX:MaxDirectMemorySize, or the max heap without it"), netty);
  }

  private static long parse(@Nullable String value) {
    if (value == null) {
      return 0;
    }
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /**
   * Bytes as MiB or GiB with one decimal where needed, for log lines (no {@code String.format}:
   * this runs on the REST port's start, where loading the Formatter's locale data cost ~10 ms).
   */
  static String bytes(long n) {
    if (n == Long.MAX_VALUE) {
      return "unlimited";
    }
    if (n >= 1L << 30) {
      return tenths(n, 30) + " GiB";
    }
    if (n >= 1L << 20) {
      return tenths(n, 20) + " MiB";
    }
    return n + " bytes";
  }

  private static String tenths(long n, int shift) {
    long t = Math.round(n * 10.0 / (1L << shift));
    return t % 10 == 0 ? Long.toString(t / 10) : t / 10 + "." + t % 10;
  }
}
