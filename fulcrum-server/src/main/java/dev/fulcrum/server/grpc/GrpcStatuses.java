package dev.fulcrum.server.grpc;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
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
      case RESOURCE_EXHAUSTED -> Status.Code.RESOURCE_EXHAUSTED;
      case DEADLINE_EXCEEDED -> Status.Code.DEADLINE_EXCEEDED;
      case CANCELLED -> Status.Code.CANCELLED;
      case UNIMPLEMENTED -> Status.Code.UNIMPLEMENTED;
      case INTERNAL -> Status.Code.INTERNAL;
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
