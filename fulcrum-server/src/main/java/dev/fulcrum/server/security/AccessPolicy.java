package dev.fulcrum.server.security;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Who may call what: checks a request's {@code Authorization: Bearer <token>} against the scope its
 * endpoint needs. Transport-neutral; REST (the dispatcher, before a handler runs), gRPC ({@link
 * AuthInterceptor}, before a message is parsed) and any later route (a dashboard) ask the same
 * {@link #check}.
 *
 * <p>The rules:
 *
 * <ul>
 *   <li>An endpoint with no scope (health) is always open.
 *   <li>{@link Scope#INFERENCE}: open while no inference token is configured; once one is, a valid
 *       token of either scope is needed (missing or unknown: unauthenticated).
 *   <li>{@link Scope#MANAGEMENT}: with management tokens configured, a valid management token is
 *       needed (missing or unknown: unauthenticated; an inference token: forbidden). With none, it
 *       is open only when no token at all is configured and the server binds to loopback; otherwise
 *       it is forbidden, with a message that says how to enable it. The repository API is never
 *       reachable from the network without a token (TorchServe's CVE-2023-43654).
 * </ul>
 *
 * <p>Tokens are kept as SHA-256 hashes and a presented token is hashed and compared with every one
 * of them by {@link MessageDigest#isEqual} (constant time, no early exit), so neither the timing of
 * a comparison nor a heap dump gives a token away.
 *
 * <p>Threads: immutable after construction; {@link #check} runs on any thread (event loops).
 */
public final class AccessPolicy {
  /** The outcome of a check. */
  public enum Outcome {
    ALLOWED,
    /** No token, or one the server does not know: HTTP 401, gRPC UNAUTHENTICATED. */
    UNAUTHENTICATED,
    /** A valid token without the scope needed, or the scope is disabled: 403, PERMISSION_DENIED. */
    FORBIDDEN
  }

  /**
   * The outcome and, when refused, the message for the client's error body.
   *
   * @param outcome allowed or why not
   * @param message "" when allowed
   * @param tokenPresented whether the request carried a bearer token (REST adds {@code
   *     error="invalid_token"} to {@code WWW-Authenticate} when it did)
   */
  public record Decision(Outcome outcome, String message, boolean tokenPresented) {
    private static final Decision ALLOW = new Decision(Outcome.ALLOWED, "", false);

    public boolean allowed() {
      return outcome == Outcome.ALLOWED;
    }
  }

  /**
   * A configured token.
   *
   * @param scope what it grants
   * @param token the secret itself
   */
  public record Token(Scope scope, String token) {
    public Token {
      Objects.requireNonNull(scope, "scope");
      Objects.requireNonNull(token, "token");
      if (token.isBlank() || !token.strip().equals(token)) {
        throw new IllegalArgumentException(
            "a " + scope.name().toLowerCase(Locale.ROOT) + " token must be non-empty, no spaces");
      }
    }

    @Override
    public String toString() {
      return "Token[" + scope + ", ***]";
    }
  }

  private record Hashed(Scope scope, byte[] hash) {}

  private static final String BEARER = "bearer ";

  private final List<Hashed> tokens;
  private final boolean inferenceTokens;
  private final boolean managementTokens;
  private final boolean beyondLoopback;
  private final String host;

  /**
   * @param tokens the configured tokens (may be empty)
   * @param host the address the server binds, named in messages
   * @param beyondLoopback whether that address is reachable from other machines
   */
  public AccessPolicy(List<Token> tokens, String host, boolean beyondLoopback) {
    List<Hashed> hashed = new ArrayList<>();
    for (Token t : tokens) {
      hashed.add(new Hashed(t.scope(), sha256(t.token())));
    }
    this.tokens = List.copyOf(hashed);
    this.inferenceTokens = tokens.stream().anyMatch(t -> t.scope() == Scope.INFERENCE);
    this.managementTokens = tokens.stream().anyMatch(t -> t.scope() == Scope.MANAGEMENT);
    this.beyondLoopback = beyondLoopback;
    this.host = Objects.requireNonNull(host, "host");
  }

  /** No tokens on loopback: everything open, as a server embedded in tests or tools. */
  public static AccessPolicy open() {
    return new AccessPolicy(List.of(), "127.0.0.1", false);
  }

  /** The address the server binds ({@code --host}), as given. */
  public String host() {
    return host;
  }

  /** Whether any token is configured. */
  public boolean hasTokens() {
    return !tokens.isEmpty();
  }

  /**
   * Whether {@link #check} allows every request whatever its scope and header: no token is set and
   * the server is reachable from this machine only (the default), so a caller may skip matching the
   * request's endpoint for it.
   */
  public boolean allowsAll() {
    return tokens.isEmpty() && !beyondLoopback;
  }

  /** Whether the repository API answers at all (with the right token, if tokens are set). */
  public boolean managementEnabled() {
    return managementTokens || (tokens.isEmpty() && !beyondLoopback);
  }

  /**
   * Checks a request.
   *
   * @param required the scope the endpoint needs, or null for an open one (health)
   * @param authorization the {@code Authorization} header (gRPC: {@code authorization} metadata),
   *     or null when absent
   */
  public Decision check(@Nullable Scope required, @Nullable String authorization) {
    if (required == null) {
      return Decision.ALLOW;
    }
    if (required == Scope.MANAGEMENT && !managementEnabled()) {
      return new Decision(Outcome.FORBIDDEN, managementDisabled(), authorization != null);
    }
    if (required == Scope.INFERENCE && !inferenceTokens) {
      return Decision.ALLOW;
    }
    if (required == Scope.MANAGEMENT && tokens.isEmpty()) {
      return Decision.ALLOW; // loopback, no tokens: as before tokens existed
    }
    return checkToken(required, authorization);
  }

  /**
   * Checks that a request carries a valid token of any scope, whatever tokens of which scope are
   * configured: the metrics port's {@code --metrics-auth}, where a scraper needs a token although
   * only a management token may be set. Refused when no token is configured at all.
   *
   * @param authorization the {@code Authorization} header, or null when absent
   */
  public Decision checkAnyToken(@Nullable String authorization) {
    return checkToken(Scope.INFERENCE, authorization);
  }

  private Decision checkToken(Scope required, @Nullable String authorization) {
    String token = bearer(authorization);
    if (token == null) {
      return new Decision(
          Outcome.UNAUTHENTICATED,
          authorization == null
              ? "this endpoint needs a token: send 'Authorization: Bearer <token>'"
              : "the Authorization header must be 'Bearer <token>'",
          authorization != null);
    }
    Scope scope = lookUp(token);
    if (scope == null) {
      return new Decision(Outcome.UNAUTHENTICATED, "the bearer token is not valid", true);
    }
    if (!scope.grants(required)) {
      return new Decision(
          Outcome.FORBIDDEN,
          "this endpoint needs a management token; the token given grants inference only",
          true);
    }
    return Decision.ALLOW;
  }

  private String managementDisabled() {
    String why =
        tokens.isEmpty()
            ? "the server binds beyond loopback (--host " + host + ")"
            : "tokens are configured but none with the management scope";
    return "the repository API is disabled: "
        + why
        + "; to enable it, configure a management token (FULCRUM_MANAGEMENT_TOKEN, or a line"
        + " 'management <token>' in --auth-token-file) and send 'Authorization: Bearer <token>'";
  }

  /** The token of a {@code Bearer} credential (scheme case-insensitive), or null. */
  private static @Nullable String bearer(@Nullable String authorization) {
    if (authorization == null
        || authorization.length() <= BEARER.length()
        || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      return null;
    }
    String token = authorization.substring(BEARER.length()).strip();
    return token.isEmpty() ? null : token;
  }

  /** The scope of a token, comparing its hash with every configured one (no early exit). */
  private @Nullable Scope lookUp(String token) {
    byte[] hash = sha256(token);
    @Nullable Scope found = null;
    for (Hashed t : tokens) {
      if (MessageDigest.isEqual(hash, t.hash())
          && (found == null || t.scope() == Scope.MANAGEMENT)) {
        found = t.scope();
      }
    }
    return found;
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  @Override
  public String toString() {
    return "AccessPolicy[inference tokens: "
        + inferenceTokens
        + ", management tokens: "
        + managementTokens
        + ", repository API: "
        + (managementEnabled() ? "enabled" : "disabled")
        + "]";
  }
}
