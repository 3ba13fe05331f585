package dev.fulcrum.server.security;

/**
 * What a bearer token grants. A {@link #MANAGEMENT} token also grants {@link #INFERENCE}. Health
 * endpoints need no scope: probes reach them without a token.
 */
public enum Scope {
  /** Inference and everything that reads models and the server: metadata, config, statistics. */
  INFERENCE,
  /** The repository API (index, load, unload) and any later endpoint that changes the server. */
  MANAGEMENT;

  /** Whether a token of this scope may call an endpoint that needs {@code required}. */
  boolean grants(Scope required) {
    return this == MANAGEMENT || required == INFERENCE;
  }
}
