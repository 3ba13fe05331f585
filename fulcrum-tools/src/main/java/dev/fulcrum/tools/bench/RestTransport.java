package dev.fulcrum.tools.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;

/**
 * Sends pre-encoded OIP REST requests with the JDK's asynchronous HTTP/1.1 client (pooled
 * keep-alive connections, callbacks on the client's small fixed executor); thread-safe.
 */
final class RestTransport implements Transport {
  private final HttpClient client;
  private final HttpRequest[] requests;

  /**
   * @param binary Triton's binary tensor extension for inputs and outputs, else plain JSON
   * @param timeout the client-side limit per request; hitting it counts as timed out
   */
  RestTransport(
      HttpClient client,
      URI base,
      ModelInfo model,
      String version,
      List<Sample> samples,
      boolean binary,
      Duration timeout) {
    this.client = client;
    String path =
        "v2/models/" + model.name() + (version.isEmpty() ? "" : "/versions/" + version) + "/infer";
    URI uri = base.resolve(path);
    this.requests = new HttpRequest[samples.size()];
    for (int i = 0; i < requests.length; i++) {
      RequestEncoder.Body body = RequestEncoder.encode(samples.get(i), model.outputs(), binary);
      HttpRequest.Builder b =
          HttpRequest.newBuilder(uri)
              .timeout(timeout)
              .POST(HttpRequest.BodyPublishers.ofByteArray(body.bytes()));
      if (binary) {
        b.header("Content-Type", "application/octet-stream")
            .header("Inference-Header-Content-Length", Integer.toString(body.headerLength()));
      } else {
        b.header("Content-Type", "application/json");
      }
      requests[i] = b.build();
    }
  }

  @Override
  public CompletableFuture<Outcome> send(int sample) {
    try {
      return client
          .sendAsync(requests[sample], BodyHandlers.discarding())
          .handle((r, t) -> t == null ? Outcome.ofHttpStatus(r.statusCode()) : classify(t));
    } catch (RuntimeException e) {
      return CompletableFuture.completedFuture(Outcome.OTHER);
    }
  }

  static Outcome classify(Throwable t) {
    Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    return c instanceof HttpTimeoutException ? Outcome.TIMED_OUT : Outcome.OTHER;
  }

  @Override
  public int samples() {
    return requests.length;
  }

  @Override
  public void close() {
    // The HttpClient is shared and owned by the caller.
  }

  /** The default client: HTTP/1.1, keep-alive pool, {@code threads} callback threads. */
  static HttpClient newClient(int threads) {
    return HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5))
        .executor(
            Executors.newFixedThreadPool(
                threads, Thread.ofPlatform().name("bench-http-", 0).daemon(true).factory()))
        .build();
  }
}
