package dev.fulcrum.server.grpc;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Maps core failures to gRPC statuses; only engine or server faults become INTERNAL. Logging is the
 * caller's ({@link dev.fulcrum.server.RequestFailureLog}). Stateless.
 */
final class GrpcStatuses {
  private GrpcStatuses() {}

  static Status.Code code(ErrorCode code) {
    return switch (code) {
      case INVALID_ARGUMENT -> Status.Code.INVALID_ARGUMENT;
      case NOT_FOUND -> Status.Code.NOT_FOUND;
      case UNAVAILABLE -> Status.Code.UNAVAILABLE;
      case FAILED_PRECONDITION -> Status.Code.FAILED_PRECONDITION;
      case RESOURCE_EXHAUSTED -> Status.Code.RESOURCE_EXHAUSTED;
      case DEADLINE_EXCEEDED -> Status.Code.DEADLINE_EXCEEDED;
      case CANCELLED -> Status.Code.CANCELLED;
      case UNIMPLEMENTED -> Status.Code.UNIMPLEMENTED;
      case INTERNAL -> Status.Code.INTERNAL;
      case TOO_LARGE -> Status.Code.RESOURCE_EXHAUSTED;
      case UNSUPPORTED_MEDIA_TYPE -> Status.Code.INVALID_ARGUMENT;
      case NO_CAPACITY -> Status.Code.RESOURCE_EXHAUSTED;
    };
  }

  /** The status for any failure of a call. */
  static Status of(Throwable t) {
    Throwable cause = unwrap(t);
    if (cause instanceof InferenceException ie) {
      return Status.fromCode(code(ie.code())).withDescription(ie.getMessage());
    }
    if (cause instanceof StatusRuntimeException e) {
      return e.getStatus();
    }
    if (cause instanceof StatusException e) {
      return e.getStatus();
    }
    if (cause instanceof CancellationException) {
      return Status.CANCELLED.withDescription("the request was cancelled");
    }
    return Status.INTERNAL.withDescription("internal error: " + cause).withCause(cause);
  }

  /**
   * gRFC A6's server pushback: how many milliseconds a client's retry policy waits before its next
   * attempt (in place of its backoff; grpc-java's RetriableStream then retries even a status its
   * policy does not list, while attempts remain and the client is not throttled).
   */
  static final Metadata.Key<String> RETRY_PUSHBACK_MS =
      Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);

  /**
   * The exception a failed call is closed with: {@code status} (that of {@link #of}{@code (t)}),
   * and, when it is a refusal for load (RESOURCE_EXHAUSTED or UNAVAILABLE) whose core exception
   * carries a retry hint ({@link InferenceException#retryAfter()}), the {@link #RETRY_PUSHBACK_MS}
   * trailer with the hint's milliseconds, rounded up. Every other failure has no trailer: a
   * pushback would make a client with a retry policy repeat what cannot succeed.
   */
  static StatusRuntimeException exception(Status status, Throwable t) {
    Metadata trailers = null;
    Status.Code code = status.getCode();
    Duration hint =
        unwrap(t) instanceof InferenceException ie
                && (code == Status.Code.RESOURCE_EXHAUSTED || code == Status.Code.UNAVAILABLE)
            ? ie.retryAfter()
            : null;
    if (hint != null) {
      trailers = new Metadata();
      long ms = Math.max(1, (hint.toNanos() + 999_999) / 1_000_000);
      trailers.put(RETRY_PUSHBACK_MS, Long.toString(Math.min(ms, Integer.MAX_VALUE)));
    }
    return status.asRuntimeException(trailers);
  }

  /** The message a streaming response carries in {@code error_message}. */
  static String message(Throwable t) {
    Status s = of(t);
    return s.getDescription() == null ? s.getCode().name() : s.getDescription();
  }

  static Throwable unwrap(Throwable t) {
    Throwable cause = t;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }
}
