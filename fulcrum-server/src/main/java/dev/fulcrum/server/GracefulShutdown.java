package dev.fulcrum.server;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.server.grpc.GrpcServer;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stops a server in the one safe order, within one time budget:
 *
 * <ol>
 *   <li>optionally, announce first ({@link Delay}): for a set time readiness is false and HTTP/1.1
 *       answers carry {@code Connection: close} while requests are still served, so that a load
 *       balancer (a Kubernetes Service's endpoints, which follow readiness) stops sending here
 *       before anything is refused;
 *   <li>stop accepting work: the REST port refuses new connections (a proxy retries those
 *       elsewhere), readiness turns false, new requests on open connections get 503 / UNAVAILABLE,
 *       HTTP/1.1 answers carry {@code Connection: close}; the repository API's loads not finished
 *       are answered 503 / UNAVAILABLE at once (a session build cannot be stopped, and nobody would
 *       be served by it), so the drain does not wait for them;
 *   <li>drain: wait until every REST response taken is written to its socket ({@link
 *       InferenceService#responses()}), and every gRPC call has sent its status (the gRPC server
 *       sends GOAWAY and waits for its calls);
 *   <li>close the REST connections (GOAWAY on HTTP/2) and the port;
 *   <li>close every model version's scheduler: its workers end and each closes its own engine
 *       session. A model whose load is still running is not waited for: it is left as it is.
 * </ol>
 *
 * Only after that may the engine's process-wide state go (for ONNX Runtime, its environment).
 * {@link #run} reports whether every engine session was closed within the budget: when not, a
 * forward pass or a model load may still be using the engine, and the caller must not free the
 * engine's environment (the CLI then ends the process with {@code _exit}, without the JVM's or the
 * C library's teardown). Requests cut by the budget are logged.
 *
 * <p>Runs on the caller's thread and blocks it; call it once.
 */
public final class GracefulShutdown {
  private static final Logger log = LoggerFactory.getLogger(GracefulShutdown.class);

  private GracefulShutdown() {}

  /**
   * The announcement before the drain: how long requests are still served with readiness false
   * ({@code --shutdown-delay-secs}), and a latch that ends it early (a second SIGTERM or SIGINT).
   */
  public record Delay(Duration length, CountDownLatch skip) {
    /** No announcement: the drain starts at once. */
    public static final Delay NONE = new Delay(Duration.ZERO, new CountDownLatch(0));

    public Delay {
      if (length.isNegative()) {
        throw new IllegalArgumentException("a shutdown delay cannot be negative: " + length);
      }
    }
  }

  /**
   * Drains and closes {@code http}, {@code grpc} (may be null) and the service's repository.
   *
   * @param budget bounds the whole drain ({@code --exit-timeout-secs})
   * @return true when every engine session was closed in time (the engine's environment may go)
   */
  public static boolean run(
      InferenceService service, HttpServer http, @Nullable GrpcServer grpc, Duration budget) {
    return run(service, http, grpc, Delay.NONE, budget);
  }

  /**
   * Announces the shutdown for {@code delay} (requests still served, readiness false), then drains
   * and closes as {@link #run(InferenceService, HttpServer, GrpcServer, Duration)}; {@code budget}
   * counts from the drain's start.
   */
  public static boolean run(
      InferenceService service,
      HttpServer http,
      @Nullable GrpcServer grpc,
      Delay delay,
      Duration budget) {
    if (delay.length().isPositive()) {
      service.announceShutdown();
      log.info(
          "shutting down in {} s: readiness is false and requests are still served until then, so"
              + " that load balancers stop sending here first (a second SIGTERM or SIGINT drains"
              + " at once)",
          delay.length().toSeconds());
      try {
        if (delay.skip().await(delay.length().toNanos(), TimeUnit.NANOSECONDS)) {
          log.info("a second stop signal: draining now");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt(); // the drain below sees it and closes at once
      }
    }
    long deadline = System.nanoTime() + budget.toNanos();
    log.info(
        "shutting down: refusing new requests, waiting up to {} s for {} in flight",
        budget.toSeconds(),
        service.responses().count());
    // Refuse new connections first: a proxy retries a refused connect on another server, whatever
    // the method, where a 503 from an accepted one would reach its client.
    http.stopAccepting();
    service.beginDrain();
    boolean clean = true;
    try {
      clean &= service.responses().awaitIdle(left(deadline));
      if (grpc != null) {
        clean &= grpc.close(left(deadline));
      }
      clean &= service.awaitIdle(left(deadline));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      clean = false;
    }
    if (!clean) {
      log.warn("requests still in flight after {} s; closing anyway", budget.toSeconds());
    }
    http.close();
    ModelRepository repository = service.repository();
    if (!repository.close(left(deadline))) {
      log.warn(
          "a model load (not waited for) or a forward pass (after {} s) is still running; its"
              + " engine is left alone",
          budget.toSeconds());
      return false;
    }
    log.info("stopped");
    return true;
  }

  private static Duration left(long deadline) {
    return Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
  }
}
