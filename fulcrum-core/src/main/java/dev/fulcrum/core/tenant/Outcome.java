package dev.fulcrum.core.tenant;

import dev.fulcrum.core.error.InferenceException;
import java.util.Locale;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;

/** How a tenant's request ended, as its chargeback counts it. */
public enum Outcome {
  /** Answered. */
  SUCCESS,
  /**
   * The client's mistake or choice: a malformed request, an unknown model, a feature not there, a
   * client that went away (HTTP 4xx other than 429, gRPC INVALID_ARGUMENT, NOT_FOUND, ...).
   */
  CLIENT_ERROR,
  /**
   * Not served for lack of capacity: the tenant's own limit, a full queue, the SLO policy, a
   * deadline that passed in the queue, a model not ready or a server shutting down (HTTP 429, 503,
   * 504; gRPC RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED).
   */
  REFUSED,
  /** The server failed (HTTP 500, gRPC INTERNAL). */
  SERVER_ERROR;

  /**
   * The label value: {@code success}, {@code client_error}, {@code refused}, {@code server_error}.
   */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The outcome of a request that completed with {@code failure} (null: a success). */
  public static Outcome of(@Nullable Throwable failure) {
    Throwable t = failure;
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    if (t == null) {
      return SUCCESS;
    }
    if (t instanceof CancellationException) {
      return CLIENT_ERROR;
    }
    if (!(t instanceof InferenceException ie)) {
      return SERVER_ERROR;
    }
    return switch (ie.code()) {
      case INVALID_ARGUMENT,
          NOT_FOUND,
          UNIMPLEMENTED,
          CANCELLED,
          FAILED_PRECONDITION,
          TOO_LARGE,
          UNSUPPORTED_MEDIA_TYPE ->
          CLIENT_ERROR;
      case RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED, NO_CAPACITY -> REFUSED;
      case INTERNAL -> SERVER_ERROR;
    };
  }
}
