package dev.fulcrum.tools.bench;

import dev.fulcrum.core.error.ErrorCode;

/**
 * How one request ended, as the report counts it; an immutable enum, safe to share between threads.
 */
public enum Outcome {
  OK,
  /** HTTP 429 / RESOURCE_EXHAUSTED: a full queue shed the request. */
  REJECTED,
  /** HTTP 504 / DEADLINE_EXCEEDED, or the client's own timeout. */
  TIMED_OUT,
  /** HTTP 503 / UNAVAILABLE: not ready or draining. */
  UNAVAILABLE,
  /** Anything else: other statuses, connection errors, engine failures. */
  OTHER;

  static Outcome ofHttpStatus(int status) {
    if (status >= 200 && status < 300) {
      return OK;
    }
    return switch (status) {
      case 429 -> REJECTED;
      case 504 -> TIMED_OUT;
      case 503 -> UNAVAILABLE;
      default -> OTHER;
    };
  }

  static Outcome ofErrorCode(ErrorCode code) {
    return switch (code) {
      case RESOURCE_EXHAUSTED -> REJECTED;
      case DEADLINE_EXCEEDED -> TIMED_OUT;
      case UNAVAILABLE -> UNAVAILABLE;
      default -> OTHER;
    };
  }
}
