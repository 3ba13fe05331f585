package dev.fulcrum.server;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.tenant.Outcome;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tenant.TenantLimits;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.security.Security;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * Tenants in a test: a token that names each, the access policy over them, what a tenant was
 * counted, and (from {@link #serve}) HTTP and gRPC servers on ephemeral ports guarded by that
 * policy in front of one {@link InferenceService}. Thread-safe as the servers and policy are.
 */
public final class TenantFixture implements AutoCloseable {
  /** The gRPC header that carries a bearer token. */
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** The trailer of a refusal's retry hint. */
  public static final Metadata.Key<String> PUSHBACK =
      Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);

  /** One request in flight at once, no rate limit. */
  public static final TenantLimits ONE_AT_ONCE = new TenantLimits(0, 0, 1);

  /** The policy over the servers' tokens. */
  public final AccessPolicy access;

  /** The guarded REST server. */
  public final HttpServer http;

  /** The guarded gRPC server. */
  public final GrpcServer grpc;

  private TenantFixture(AccessPolicy access, HttpServer http, GrpcServer grpc) {
    this.access = access;
    this.http = http;
    this.grpc = grpc;
  }

  /** The token of {@code tenant}'s requests in these tests. */
  public static String token(String tenant) {
    return tenant + "-token-0123456789abcdef";
  }

  /** An inference token of {@code tenant} ({@link #token}) with those limits. */
  public static AccessPolicy.Token inference(String tenant, TenantLimits limits) {
    return new AccessPolicy.Token(Scope.INFERENCE, token(tenant), tenant, limits);
  }

  /** A management token of {@code tenant} ({@link #token}), without limits. */
  public static AccessPolicy.Token management(String tenant) {
    return new AccessPolicy.Token(Scope.MANAGEMENT, token(tenant), tenant, TenantLimits.NONE);
  }

  /** The policy of a server on the loopback address with these tokens. */
  public static AccessPolicy policy(AccessPolicy.Token... tokens) {
    return new AccessPolicy(List.of(tokens), "127.0.0.1", false);
  }

  /** The requests {@code tenant} was counted with that outcome, over all models. */
  public static long requests(Tenant tenant, Outcome outcome) {
    return tenant.usage().values().stream().mapToLong(u -> u.requests(outcome)).sum();
  }

  /** gRPC headers that present {@code token}. */
  public static Metadata bearer(String token) {
    Metadata m = new Metadata();
    m.put(AUTHORIZATION, "Bearer " + token);
    return m;
  }

  /** Starts REST and gRPC servers for {@code service}, guarded by these tokens. */
  public static TenantFixture serve(InferenceService service, AccessPolicy.Token... tokens)
      throws InterruptedException, IOException {
    AccessPolicy access = policy(tokens);
    Security security = new Security(access, Optional.empty());
    HttpServer http =
        new HttpServer(service, HttpServerConfig.ephemeral().withSecurity(security)).start();
    try {
      GrpcServer grpc =
          new GrpcServer(service, GrpcServerConfig.ephemeral().withSecurity(security)).start();
      return new TenantFixture(access, http, grpc);
    } catch (RuntimeException | IOException e) {
      http.close();
      throw e;
    }
  }

  /** The tenant of that name. */
  public Tenant tenant(String name) {
    return access.tenants().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow();
  }

  /** The requests the tenant of that name was counted with that outcome, over all models. */
  public long requests(String tenant, Outcome outcome) {
    return requests(tenant(tenant), outcome);
  }

  /** A new plaintext channel to the gRPC server (the caller shuts it down). */
  public ManagedChannel channel() {
    return NettyChannelBuilder.forAddress("127.0.0.1", grpc.port()).usePlaintext().build();
  }

  @Override
  public void close() {
    try {
      grpc.close();
    } finally {
      http.close();
    }
  }
}
