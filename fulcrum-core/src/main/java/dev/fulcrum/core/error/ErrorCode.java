package dev.fulcrum.core.error;

/**
 * Why a request failed, in transport-neutral words. Transports map each to their own status (HTTP
 * status codes, gRPC status codes); a client mistake is never {@link #INTERNAL}.
 */
public enum ErrorCode {
  /** The request is malformed or does not fit the model (HTTP 400, gRPC INVALID_ARGUMENT). */
  INVALID_ARGUMENT,
  /** No such model or version (HTTP 404, gRPC NOT_FOUND). */
  NOT_FOUND,
  /** The server or model is not ready, or is shutting down (HTTP 503, gRPC UNAVAILABLE). */
  UNAVAILABLE,
  /**
   * The target is not in the state the request needs, and retrying as it is cannot help until that
   * changes (HTTP 409 Conflict, gRPC FAILED_PRECONDITION): a canary action on a model serving one
   * version.
   */
  FAILED_PRECONDITION,
  /** A queue is full; retry later (HTTP 429, gRPC RESOURCE_EXHAUSTED). */
  RESOURCE_EXHAUSTED,
  /** The request's deadline passed before it ran (HTTP 504, gRPC DEADLINE_EXCEEDED). */
  DEADLINE_EXCEEDED,
  /** The client went away or cancelled (gRPC CANCELLED). */
  CANCELLED,
  /** The server does not implement what was asked (HTTP 501, gRPC UNIMPLEMENTED). */
  UNIMPLEMENTED,
  /** The engine failed (HTTP 500, gRPC INTERNAL). */
  INTERNAL,
  /**
   * What the request carries is over a configured size limit, e.g. the model files of a repository
   * load (HTTP 413, gRPC RESOURCE_EXHAUSTED, as grpc-java answers a message over its limit).
   */
  TOO_LARGE,
  /**
   * The request's body is in a format its endpoint does not take, told from its content type (HTTP
   * 415; gRPC INVALID_ARGUMENT, as a gRPC message has one format): an {@code /invocations} body
   * neither JSON nor CSV.
   */
  UNSUPPORTED_MEDIA_TYPE,
  /**
   * The server holds as many models as it is allowed to, and cannot load another until one is
   * unloaded (HTTP 507 Insufficient Storage, which SageMaker's multi-model endpoint answers by
   * unloading a model it used least recently; gRPC RESOURCE_EXHAUSTED).
   */
  NO_CAPACITY
}
