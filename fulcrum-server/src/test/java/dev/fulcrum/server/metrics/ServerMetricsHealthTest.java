package dev.fulcrum.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.server.http.BufferBudget;
import dev.fulcrum.server.http.ConnectionLimit;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.internal.PlatformDependent;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Readiness, the ports' connections against their caps, the request buffer against its budget and
 * direct memory, as {@code /metrics} writes them once a server bound its ports: read from the caps'
 * and the budget's own counts at each scrape.
 */
class ServerMetricsHealthTest {

  @Test
  void withoutBoundPortsNoneOfTheFamiliesIsWritten() {
    String text = new ServerMetrics(false).scrape();
    assertThat(text)
        .doesNotContain("fulcrum_server_ready")
        .doesNotContain("fulcrum_connections_open")
        .doesNotContain("fulcrum_direct_memory_used_bytes");
  }

  @Test
  void readinessIsReadAtEachScrape() {
    AtomicBoolean ready = new AtomicBoolean(true);
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bindServer(ready::get, Map.of(), null);
    assertThat(metrics.scrape()).contains("\nfulcrum_server_ready 1\n");

    ready.set(false); // a model that failed under strict readiness, a drain

    assertThat(metrics.scrape()).contains("\nfulcrum_server_ready 0\n");
  }

  @Test
  void connectionsOpenAndRefusedAtTheCapPerListener() {
    ConnectionLimit rest = new ConnectionLimit(2);
    ConnectionLimit grpc = new ConnectionLimit(8);
    EmbeddedChannel a = new EmbeddedChannel();
    EmbeddedChannel b = new EmbeddedChannel();
    assertThat(rest.admit(a)).isTrue();
    assertThat(rest.admit(b)).isTrue();
    assertThat(rest.admit(new EmbeddedChannel())).as("at the cap").isFalse();
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bindServer(() -> true, Map.of("rest", rest, "grpc", grpc), null);

    assertThat(metrics.scrape())
        .contains("fulcrum_connections_open{listener=\"rest\"} 2\n")
        .contains("fulcrum_connections_open{listener=\"grpc\"} 0\n")
        .contains("fulcrum_connections_max{listener=\"rest\"} 2\n")
        .contains("fulcrum_connections_max{listener=\"grpc\"} 8\n")
        .contains("fulcrum_connections_refused_total{listener=\"rest\"} 1\n")
        .contains("fulcrum_connections_refused_total{listener=\"grpc\"} 0\n")
        .contains("fulcrum_connections_evicted_total{listener=\"rest\"} 0\n")
        .contains("# TYPE fulcrum_connections_refused_total counter\n");

    a.close();

    assertThat(metrics.scrape()).contains("fulcrum_connections_open{listener=\"rest\"} 1\n");
    b.close();
  }

  @Test
  void requestBytesHeldAgainstTheBudgetIncludingAPortsShare() {
    BufferBudget serverWide = new BufferBudget(1000);
    BufferBudget restPort = serverWide.child(800);
    assertThat(restPort.tryReserve(600)).isTrue();
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bindServer(() -> true, Map.of(), serverWide);

    assertThat(metrics.scrape())
        .contains("\nfulcrum_request_buffered_bytes 600\n")
        .contains("\nfulcrum_request_buffer_budget_bytes 1000\n")
        .contains("\nfulcrum_request_buffer_refusals_total 0\n");

    assertThat(restPort.tryReserve(300)).as("past the port's share").isFalse();
    assertThat(serverWide.child(1000).tryReserve(500)).as("past the server's").isFalse();
    restPort.release(600);

    assertThat(metrics.scrape())
        .contains("\nfulcrum_request_buffered_bytes 0\n")
        .contains("\nfulcrum_request_buffer_refusals_total 2\n");
  }

  @Test
  void directMemoryInUseAgainstEachPoolsOwnLimitAndNettysAllocator() {
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bindServer(() -> true, Map.of(), null);
    String text = metrics.scrape();

    assertThat(value(text, "fulcrum_direct_memory_max_bytes{pool=\"jvm\"}"))
        .isEqualTo(PlatformDependent.estimateMaxDirectMemory());
    assertThat(value(text, "fulcrum_direct_memory_used_bytes{pool=\"jvm\"}")).isNotNegative();
    if (PlatformDependent.usedDirectMemory() >= 0) { // Netty allocates without a cleaner
      assertThat(value(text, "fulcrum_direct_memory_max_bytes{pool=\"netty\"}"))
          .isEqualTo(PlatformDependent.maxDirectMemory());
      assertThat(value(text, "fulcrum_direct_memory_used_bytes{pool=\"netty\"}")).isNotNegative();
    } else { // its buffers are the JVM's, counted in pool="jvm"
      assertThat(text).doesNotContain("pool=\"netty\"");
    }
    assertThat(text)
        .doesNotContain("\nfulcrum_direct_memory_used_bytes ") // no unlabelled sum of the two
        .contains("fulcrum_netty_allocator_used_bytes{memory=\"direct\"} ")
        .contains("fulcrum_netty_allocator_used_bytes{memory=\"heap\"} ")
        .doesNotContain("fulcrum_request_buffered_bytes"); // no budget bound
  }

  @Test
  void aNameSelectionWritesOnlyTheFamiliesAskedFor() {
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bindServer(() -> true, Map.of("rest", new ConnectionLimit(4)), new BufferBudget(10));

    String text = metrics.scrape(List.of("fulcrum_connections_refused_total"));

    assertThat(text)
        .contains("fulcrum_connections_refused_total{listener=\"rest\"} 0")
        .doesNotContain("fulcrum_connections_open")
        .doesNotContain("fulcrum_server_ready")
        .doesNotContain("fulcrum_direct_memory");
  }

  private static long value(String text, String name) {
    for (String line : text.split("\n", -1)) {
      if (line.startsWith(name + " ")) {
        return Long.parseLong(line.substring(name.length() + 1));
      }
    }
    throw new AssertionError(name + " not in:\n" + text);
  }
}
