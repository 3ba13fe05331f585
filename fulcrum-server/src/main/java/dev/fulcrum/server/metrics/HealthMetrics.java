package dev.fulcrum.server.metrics;

import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersionStatus;
import dev.fulcrum.server.http.BufferBudget;
import dev.fulcrum.server.http.ConnectionLimit;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.internal.PlatformDependent;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The server's own health as a scrape reads it: readiness as the probes see it (the server's and
 * each model version's), each port's open connections against its cap and those refused at it, the
 * request bytes buffered against their budget, and direct memory per pool (the JVM's direct
 * buffers, Netty's cleaner-less ones) against that pool's limit. Each value is read from what
 * enforces the limit ({@link ConnectionLimit}'s counts, the {@link BufferBudget}, the JVM's and
 * Netty's own counters) at scrape time, so the request path pays nothing for these families.
 *
 * <p>Thread-safe: immutable once made (the ports bound, {@code fulcrum serve}'s start); the direct
 * buffer pool's bean and the direct-memory limits are looked up at the first scrape (a race looks
 * them up twice, alike).
 */
final class HealthMetrics {
  private final BooleanSupplier readiness;
  private final Map<String, ConnectionLimit> listeners;
  private final @Nullable BufferBudget requestBuffer;
  private volatile @Nullable Direct direct;

  /**
   * The JVM's direct buffer pool (null if it has none), its limit, and the limit of what Netty
   * allocates without a cleaner (counted apart from the JVM's pool, against its own limit).
   */
  private record Direct(@Nullable BufferPoolMXBean pool, long jvmMax, long nettyMax) {}

  /**
   * @param readiness the server's readiness, as {@code /v2/health/ready} answers it
   * @param listeners each port's connection cap, keyed by its label value (rest, grpc, metrics)
   * @param requestBuffer the server-wide request buffer budget, or null when there is none
   */
  HealthMetrics(
      BooleanSupplier readiness,
      Map<String, ConnectionLimit> listeners,
      @Nullable BufferBudget requestBuffer) {
    this.readiness = readiness;
    this.listeners = Map.copyOf(listeners);
    this.requestBuffer = requestBuffer;
  }

  void write(StringBuilder sb, Predicate<String> names, Supplier<List<ModelVersionStatus>> models) {
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_server_ready",
        "gauge",
        "1 while the server is ready (GET /v2/health/ready answers 200), else 0: starting,"
            + " a model not ready under --strict-readiness, or shutting down")) {
      sb.append("fulcrum_server_ready ").append(readiness.getAsBoolean() ? 1 : 0).append('\n');
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_model_ready",
        "gauge",
        "1 while a model version is ready (GET /v2/models/<m>/versions/<v>/ready answers 200), 0"
            + " while it loads, warms up, unloads or failed (version \"\": the model failed with"
            + " no version serving); unloaded models have no series")) {
      for (ModelVersionStatus s : models.get()) {
        if (s.state() != ModelState.UNLOADED) {
          sb.append("fulcrum_model_ready{model=\"").append(TextFamily.escape(s.name()));
          sb.append("\",version=\"").append(TextFamily.escape(s.version())).append("\"} ");
          sb.append(s.state() == ModelState.READY ? 1 : 0).append('\n');
        }
      }
    }
    List<Map.Entry<String, ConnectionLimit>> ports =
        listeners.entrySet().stream().sorted(Map.Entry.comparingByKey()).toList();
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_connections_open",
        "gauge",
        "Connections open now on a port (listener: rest, grpc, metrics)")) {
      ports.forEach(
          p -> listenerLine(sb, "fulcrum_connections_open", p.getKey(), p.getValue().open()));
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_connections_max",
        "gauge",
        "The most connections a port holds open at once: --http-max-connections (rest,"
            + " metrics, counted apart), --grpc-max-connections (grpc)")) {
      ports.forEach(
          p -> listenerLine(sb, "fulcrum_connections_max", p.getKey(), p.getValue().max()));
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_connections_refused_total",
        "counter",
        "New connections closed at once because the port was at its cap and no open connection"
            + " could be evicted for it")) {
      ports.forEach(
          p ->
              listenerLine(
                  sb, "fulcrum_connections_refused_total", p.getKey(), p.getValue().refused()));
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_connections_evicted_total",
        "counter",
        "Connections closed at the cap to make room for a new one: open past 100 ms without a"
            + " request head, the slowest first (rest, metrics; gRPC refuses instead)")) {
      ports.forEach(
          p ->
              listenerLine(
                  sb, "fulcrum_connections_evicted_total", p.getKey(), p.getValue().evicted()));
    }
    BufferBudget budget = requestBuffer;
    if (budget != null) {
      if (TextFamily.open(
          sb,
          names,
          "fulcrum_request_buffered_bytes",
          "gauge",
          "Request bytes held now against the budget: REST bodies being received (reserved at"
              + " their Content-Length) and unfinished gRPC messages, both ports together")) {
        sb.append("fulcrum_request_buffered_bytes ").append(budget.held()).append('\n');
      }
      if (TextFamily.open(
          sb,
          names,
          "fulcrum_request_buffer_budget_bytes",
          "gauge",
          "The request buffer budget in force: --http-max-buffered-bytes, at most half the JVM's"
              + " direct-memory limit; a request beyond it gets 503 (gRPC RESOURCE_EXHAUSTED)")) {
        sb.append("fulcrum_request_buffer_budget_bytes ").append(budget.limit()).append('\n');
      }
      if (TextFamily.open(
          sb,
          names,
          "fulcrum_request_buffer_refusals_total",
          "counter",
          "Requests refused because their bytes would pass a request buffer budget (the"
              + " server's, a port's or a connection's): 503, gRPC RESOURCE_EXHAUSTED")) {
        sb.append("fulcrum_request_buffer_refusals_total ").append(budget.refused()).append('\n');
      }
    }
    writeMemory(sb, names);
  }

  private void writeMemory(StringBuilder sb, Predicate<String> names) {
    Direct d = direct();
    BufferPoolMXBean pool = d.pool();
    long nettyUsed = PlatformDependent.usedDirectMemory(); // -1: Netty keeps no count of its own
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_direct_memory_used_bytes",
        "gauge",
        "Direct (off-heap) memory in use, by pool: jvm, the JVM's direct buffers (Netty's"
            + " pooled chunks among them unless it allocates without a cleaner); netty, what"
            + " Netty allocates without a cleaner, against its own limit (only when it does)")) {
      if (pool != null) {
        poolLine(sb, "fulcrum_direct_memory_used_bytes", "jvm", Math.max(0, pool.getMemoryUsed()));
      }
      if (nettyUsed >= 0) {
        poolLine(sb, "fulcrum_direct_memory_used_bytes", "netty", nettyUsed);
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_direct_memory_max_bytes",
        "gauge",
        "Each direct-memory pool's limit: jvm, -XX:MaxDirectMemorySize, else the max heap;"
            + " netty, -Dio.netty.maxDirectMemory, else the JVM's; an allocation past it fails")) {
      if (pool != null) {
        poolLine(sb, "fulcrum_direct_memory_max_bytes", "jvm", d.jvmMax());
      }
      if (nettyUsed >= 0) {
        poolLine(sb, "fulcrum_direct_memory_max_bytes", "netty", d.nettyMax());
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_netty_allocator_used_bytes",
        "gauge",
        "Memory Netty's buffer allocator holds for the REST and metrics ports (chunks in use or"
            + " kept for reuse), by memory: direct or heap")) {
      if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider p) {
        ByteBufAllocatorMetric m = p.metric();
        memoryLine(sb, "direct", m.usedDirectMemory());
        memoryLine(sb, "heap", m.usedHeapMemory());
      }
    }
  }

  private Direct direct() {
    Direct d = direct;
    if (d == null) {
      BufferPoolMXBean pool = null;
      for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
        if (b.getName().equals("direct")) {
          pool = b;
        }
      }
      d =
          new Direct(
              pool,
              PlatformDependent.estimateMaxDirectMemory(),
              PlatformDependent.maxDirectMemory());
      direct = d;
    }
    return d;
  }

  private static void poolLine(StringBuilder sb, String name, String pool, long value) {
    sb.append(name).append("{pool=\"").append(pool).append("\"} ").append(value).append('\n');
  }

  private static void listenerLine(StringBuilder sb, String name, String listener, long value) {
    sb.append(name).append("{listener=\"").append(listener).append("\"} ").append(value);
    sb.append('\n');
  }

  private static void memoryLine(StringBuilder sb, String memory, long value) {
    sb.append("fulcrum_netty_allocator_used_bytes{memory=\"").append(memory).append("\"} ");
    sb.append(value).append('\n');
  }
}
