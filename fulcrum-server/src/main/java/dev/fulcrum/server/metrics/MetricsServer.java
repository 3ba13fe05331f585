package dev.fulcrum.server.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Serves {@code GET /metrics} on the metrics port (Triton's 8002), apart from the inference port so
 * that scrapes never queue behind inference traffic. One named thread answers scrapes.
 */
public final class MetricsServer implements AutoCloseable {
  private final HttpServer server;
  private final ExecutorService executor;

  /** Binds and starts; port 0 picks a free port. */
  public MetricsServer(String host, int port, ServerMetrics metrics) throws IOException {
    server = HttpServer.create(new InetSocketAddress(host, port), 16);
    executor =
        Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("fulcrum-metrics").daemon(true).factory());
    server.setExecutor(executor);
    server.createContext("/", exchange -> handle(exchange, metrics));
    server.start();
  }

  private static void handle(HttpExchange exchange, ServerMetrics metrics) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      if (!path.equals("/metrics")) {
        reply(exchange, 404, "text/plain", "no endpoint " + path + "; metrics are at /metrics\n");
        return;
      }
      if (!exchange.getRequestMethod().equals("GET")
          && !exchange.getRequestMethod().equals("HEAD")) {
        reply(exchange, 405, "text/plain", "GET /metrics only\n");
        return;
      }
      reply(exchange, 200, ServerMetrics.contentType(), metrics.scrape());
    }
  }

  private static void reply(HttpExchange exchange, int status, String type, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  public int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
