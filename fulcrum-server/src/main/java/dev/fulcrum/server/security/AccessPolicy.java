package dev.fulcrum.server.security;

import dev.fulcrum.core.scheduler.Ticker;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tenant.TenantLimits;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.IntFunction;
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
 *   <li>The one exception: an endpoint checked with {@code openWithoutTokens} (SageMaker's
 *       multi-model {@code /models}, whose agent sends no token) is open to every client, beyond
 *       loopback too, while no token at all is configured, on a policy {@link
 *       #openingSageMakerModels} (a server that mounts a root); once any token is, or without a
 *       root, it is checked as its scope says.
 * </ul>
 *
 * <p>Tokens are kept as SHA-256 hashes and a presented token is hashed and compared with every one
 * of them by {@link MessageDigest#isEqual} (constant time, no early exit), so neither the timing of
 * a comparison nor a heap dump gives a token away.
 *
 * <p>Tenants are opt-in: when a token names a tenant or sets a limit, each token belongs to a
 * {@link Tenant} (its {@code tenant=} in the token file; {@link Tokens} names the others after
 * where they came from, never after the secret), and an allowed decision names it, so the transport
 * can charge the request to it; a request that needs no token and carries none is the {@code
 * anonymous} tenant's. Without such a token (a server without tokens, or with plain {@code <scope>
 * <token>} lines only) there are no tenants: decisions name none and requests pay nothing for them.
 *
 * <p>Threads: immutable after construction (the tenants' counters are their own); {@link #check}
 * runs on any thread (event loops).
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
   * @param tenant an allowed request's tenant (its token's, or the anonymous one); null when
   *     refused, for an endpoint that needs no scope, or on a server without tokens
   */
  public record Decision(
      Outcome outcome, String message, boolean tokenPresented, @Nullable Tenant tenant) {
    private static final Decision ALLOW = new Decision(Outcome.ALLOWED, "", false, null);

    /** A decision that names no tenant. */
    public Decision(Outcome outcome, String message, boolean tokenPresented) {
      this(outcome, message, tokenPresented, null);
    }

    public boolean allowed() {
      return outcome == Outcome.ALLOWED;
    }
  }

  /**
   * A configured token.
   *
   * @param scope what it grants
   * @param token the secret itself
   * @param tenant the tenant it belongs to ({@link Tenant#checkName}, not {@code anonymous}); null:
   *     it names none (then, if tenants are on, the policy refuses it: {@link Tokens} names it)
   * @param limits the tenant's limits as this token's line gives them ({@link TenantLimits#NONE}:
   *     none given here); every line of one tenant that gives limits must give the same ones
   */
  public record Token(Scope scope, String token, @Nullable String tenant, TenantLimits limits) {
    public Token {
      Objects.requireNonNull(scope, "scope");
      Objects.requireNonNull(token, "token");
      Objects.requireNonNull(limits, "limits");
      if (token.isBlank() || !token.strip().equals(token)) {
        throw new IllegalArgumentException(
            "a " + scope.name().toLowerCase(Locale.ROOT) + " token must be non-empty, no spaces");
      }
      String problem = tenant == null ? null : Tenant.checkName(tenant);
      if (problem != null) {
        throw new IllegalArgumentException(problem);
      }
      if (Tenant.ANONYMOUS.equals(tenant)) {
        throw new IllegalArgumentException(
            "the tenant name 'anonymous' is kept for requests without a token");
      }
    }

    /** A token of no tenant, without limits. */
    public Token(Scope scope, String token) {
      this(scope, token, null, TenantLimits.NONE);
    }

    @Override
    public String toString() {
      return "Token[" + scope + ", ***" + (tenant == null ? "" : ", " + tenant) + "]";
    }
  }

  private record Hashed(Scope scope, byte[] hash, Decision allowed) {}

  private static final String BEARER = "bearer ";

  private final List<Hashed> tokens;
  private final List<Tenant> tenants;
  private final @Nullable Decision anonymous;
  private final boolean inferenceTokens;
  private final boolean managementTokens;
  private final boolean beyondLoopback;
  private final String host;
  private final boolean sageMakerModels;

  /**
   * @param tokens the configured tokens (may be empty)
   * @param host the address the server binds, named in messages
   * @param beyondLoopback whether that address is reachable from other machines
   */
  public AccessPolicy(List<Token> tokens, String host, boolean beyondLoopback) {
    this(tokens, host, beyondLoopback, Ticker.system());
  }

  /**
   * @param clock the tenants' rate limiters' clock (tests inject one)
   * @throws IllegalArgumentException when two tokens of one tenant give different limits, or
   *     tenants are on (a token names one or sets a limit) and a token names none
   */
  public AccessPolicy(List<Token> tokens, String host, boolean beyondLoopback, Ticker clock) {
    boolean tenantsOn = tenantsOn(tokens);
    Map<String, TenantLimits> limits = limitsByTenant(tokens, i -> "token " + (i + 1));
    Map<String, Tenant> byName = new LinkedHashMap<>();
    for (Token t : tokens) {
      String name = t.tenant();
      if (name == null) {
        if (tenantsOn) {
          throw new IllegalArgumentException(
              "a "
                  + t.scope().name().toLowerCase(Locale.ROOT)
                  + " token names no tenant while another names one or sets a limit: with"
                  + " tenants on, each token names its tenant");
        }
        continue;
      }
      byName.computeIfAbsent(
          name, n -> new Tenant(n, limits.getOrDefault(n, TenantLimits.NONE), clock::nanoTime));
    }
    List<Hashed> hashed = new ArrayList<>();
    for (Token t : tokens) {
      String name = t.tenant();
      Tenant tenant = name == null ? null : byName.get(name);
      hashed.add(
          new Hashed(
              t.scope(), sha256(t.token()), new Decision(Outcome.ALLOWED, "", true, tenant)));
    }
    Decision anonymous = null;
    if (tenantsOn) {
      Tenant a = new Tenant(Tenant.ANONYMOUS);
      byName.put(Tenant.ANONYMOUS, a);
      anonymous = new Decision(Outcome.ALLOWED, "", false, a);
    }
    this.tokens = List.copyOf(hashed);
    this.tenants = List.copyOf(byName.values());
    this.anonymous = anonymous;
    this.inferenceTokens = tokens.stream().anyMatch(t -> t.scope() == Scope.INFERENCE);
    this.managementTokens = tokens.stream().anyMatch(t -> t.scope() == Scope.MANAGEMENT);
    this.beyondLoopback = beyondLoopback;
    this.host = Objects.requireNonNull(host, "host");
    this.sageMakerModels = false;
  }

  private AccessPolicy(AccessPolicy policy, boolean sageMakerModels) {
    this.tokens = policy.tokens;
    this.tenants = policy.tenants;
    this.anonymous = policy.anonymous;
    this.inferenceTokens = policy.inferenceTokens;
    this.managementTokens = policy.managementTokens;
    this.beyondLoopback = policy.beyondLoopback;
    this.host = policy.host;
    this.sageMakerModels = sageMakerModels;
  }

  /**
   * This policy on a server that mounts a SageMaker multi-model root ({@code
   * --sagemaker-mme-root}): only then are {@code openWithoutTokens} endpoints open without tokens
   * beyond loopback; without it they are checked as their scope says (the repository API's 403).
   */
  public AccessPolicy openingSageMakerModels() {
    return new AccessPolicy(this, true);
  }

  /**
   * Whether tokens turn tenants on: one names a tenant or sets a limit (then every token belongs to
   * one; {@link Tokens} names those that name none).
   */
  static boolean tenantsOn(List<Token> tokens) {
    return tokens.stream().anyMatch(t -> t.tenant() != null || t.limits().limited());
  }

  /**
   * The one check of tenants' limits: each tenant's limits, as any of its tokens gives them; a
   * tenant's tokens that give limits must give the same ones.
   *
   * @param where what a message calls the token at an index (the token file's line)
   * @throws IllegalArgumentException naming the token that gives a tenant other limits than an
   *     earlier one
   */
  static Map<String, TenantLimits> limitsByTenant(List<Token> tokens, IntFunction<String> where) {
    Map<String, TenantLimits> limits = new HashMap<>();
    for (int i = 0; i < tokens.size(); i++) {
      Token t = tokens.get(i);
      String name = t.tenant();
      if (name == null || !t.limits().limited()) {
        continue;
      }
      TenantLimits other = limits.putIfAbsent(name, t.limits());
      if (other != null && !other.equals(t.limits())) {
        throw new IllegalArgumentException(
            where.apply(i)
                + ": tenant '"
                + name
                + "' was given other limits before ("
                + other
                + "); give a tenant's limits once");
      }
    }
    return limits;
  }

  /** No tokens on loopback: everything open, as a server embedded in tests or tools. */
  public static AccessPolicy open() {
    return new AccessPolicy(List.of(), "127.0.0.1", false);
  }

  /** The address the server binds ({@code --host}), as given. */
  public String host() {
    return host;
  }

  /**
   * The tenants of the configured tokens, in the order the tokens were given, then the anonymous
   * one; empty when tenants are off (no token names one or sets a limit).
   */
  public List<Tenant> tenants() {
    return tenants;
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
    if (tokens.isEmpty()) {
      return Decision.ALLOW; // loopback, no tokens: as before tokens existed; no tenants
    }
    if (required == Scope.INFERENCE && !inferenceTokens) {
      return anonymous == null ? Decision.ALLOW : openInference(authorization, anonymous);
    }
    return checkToken(required, authorization);
  }

  /**
   * Checks a request as {@link #check(Scope, String)}, except that on a policy {@link
   * #openingSageMakerModels} an endpoint {@code openWithoutTokens} is allowed whenever no token is
   * configured at all, beyond loopback too (SageMaker's multi-model API, which its agent calls
   * without a token).
   */
  public Decision check(
      @Nullable Scope required, boolean openWithoutTokens, @Nullable String authorization) {
    openWithoutTokens &= sageMakerModels;
    if (openWithoutTokens && tokens.isEmpty()) {
      return Decision.ALLOW;
    }
    if (openWithoutTokens && required == Scope.MANAGEMENT && !managementEnabled()) {
      return new Decision(
          Outcome.FORBIDDEN,
          "SageMaker's /models is closed because tokens are configured (none with the management"
              + " scope) and SageMaker's agent sends none; serve a multi-model endpoint without"
              + " tokens, isolated by the network",
          authorization != null);
    }
    return check(required, authorization);
  }

  /**
   * An inference endpoint that needs no token (only management tokens are set): charged to the
   * token's tenant when the request carries a known one, else to the anonymous tenant.
   */
  private Decision openInference(@Nullable String authorization, Decision anonymous) {
    String token = bearer(authorization);
    Hashed found = token == null ? null : lookUp(token);
    return found != null ? found.allowed() : anonymous;
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
    Hashed found = lookUp(token);
    if (found == null) {
      return new Decision(Outcome.UNAUTHENTICATED, "the bearer token is not valid", true);
    }
    if (!found.scope().grants(required)) {
      return new Decision(
          Outcome.FORBIDDEN,
          "this endpoint needs a management token; the token given grants inference only",
          true);
    }
    return found.allowed();
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

  /**
   * The configured token a presented one is, comparing its hash with every configured one (no early
   * exit); of two equal ones (a file's and an environment's) the management one.
   */
  private @Nullable Hashed lookUp(String token) {
    byte[] hash = sha256(token);
    @Nullable Hashed found = null;
    for (Hashed t : tokens) {
      if (MessageDigest.isEqual(hash, t.hash())
          && (found == null || t.scope() == Scope.MANAGEMENT)) {
        found = t;
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
