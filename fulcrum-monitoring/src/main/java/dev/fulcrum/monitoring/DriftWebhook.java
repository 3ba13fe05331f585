package dev.fulcrum.monitoring;

import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --drift-webhook URL}: POSTs each alert raised or cleared as JSON ({@link
 * DriftJson#change}), asynchronously through the JDK's HttpClient, at most {@value #IN_FLIGHT} at a
 * time (more are dropped and counted as failures), 5 s each. Thread-safe.
 */
public final class DriftWebhook implements DriftListener {
  private static final Logger log = LoggerFactory.getLogger(DriftWebhook.class);
  static final int IN_FLIGHT = 16;

  private final URI uri;
  private final HttpClient client =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final Semaphore slots = new Semaphore(IN_FLIGHT);
  private final LongAdder sent = new LongAdder();
  private final LongAdder failed = new LongAdder();

  public DriftWebhook(URI uri) {
    if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
      throw new IllegalArgumentException("--drift-webhook must be an http(s) URL, was " + uri);
    }
    this.uri = uri;
  }

  @Override
  public void changed(String model, String version, FeatureDrift feature, boolean output) {
    post(DriftJson.change(model, version, feature, output).toString());
  }

  /** The change's JSON with {@code "ended": why}, so a receiver can tell it from a recovery. */
  @Override
  public void ended(
      String model, String version, FeatureDrift feature, boolean output, String why) {
    post(DriftJson.change(model, version, feature, output).put("ended", why).toString());
  }

  private void post(String body) {
    if (!slots.tryAcquire()) {
      failed.increment();
      return;
    }
    HttpRequest request =
        HttpRequest.newBuilder(uri)
            .timeout(Duration.ofSeconds(5))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build();
    client
        .sendAsync(request, HttpResponse.BodyHandlers.discarding())
        .whenComplete(
            (r, t) -> {
              slots.release();
              if (t == null && r.statusCode() / 100 == 2) {
                sent.increment();
              } else {
                failed.increment();
                log.warn(
                    "drift webhook {} failed: {}",
                    uri,
                    t != null ? t.toString() : "HTTP " + r.statusCode());
              }
            });
  }

  /** Posts answered 2xx. */
  public long sent() {
    return sent.sum();
  }

  /** Posts that failed, timed out or were dropped. */
  public long failed() {
    return failed.sum();
  }
}
