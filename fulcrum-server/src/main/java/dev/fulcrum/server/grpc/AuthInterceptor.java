package dev.fulcrum.server.grpc;

import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Checks each call's {@code authorization: Bearer <token>} metadata against the scope of its method
 * before the call starts (no message has been parsed yet): refused calls end with UNAUTHENTICATED
 * or PERMISSION_DENIED. ServerLive, ServerReady and {@code grpc.health.v1.Health} are open; the
 * repository methods and TraceSetting need {@link Scope#MANAGEMENT}; everything else, reflection
 * included, {@link Scope#INFERENCE}.
 *
 * <p>An allowed call's tenant ({@link AccessPolicy.Decision#tenant()}) goes into its {@link
 * Context} ({@link #TENANT}), where the inference methods read it: set here after the check, never
 * from metadata the client chose.
 *
 * <p>Threads: stateless apart from the immutable policy; runs on the event loop that read the
 * call's headers.
 */
final class AuthInterceptor implements ServerInterceptor {
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** The tenant of the current call, or null (no tenants, an open method). */
  static final Context.Key<Tenant> TENANT = Context.key("fulcrum-tenant");

  private static final Set<String> OPEN =
      Set.of(
          GRPCInferenceServiceGrpc.getServerLiveMethod().getFullMethodName(),
          GRPCInferenceServiceGrpc.getServerReadyMethod().getFullMethodName());

  private static final Set<String> MANAGEMENT =
      Set.of(
          GRPCInferenceServiceGrpc.getRepositoryIndexMethod().getFullMethodName(),
          GRPCInferenceServiceGrpc.getRepositoryModelLoadMethod().getFullMethodName(),
          GRPCInferenceServiceGrpc.getRepositoryModelUnloadMethod().getFullMethodName(),
          // As REST's v2[/models/<m>]/trace/setting: what is traced is an operator's choice.
          GRPCInferenceServiceGrpc.getTraceSettingMethod().getFullMethodName(),
          // As REST's shared memory register and unregister: they open and map files of the host.
          GRPCInferenceServiceGrpc.getSystemSharedMemoryRegisterMethod().getFullMethodName(),
          GRPCInferenceServiceGrpc.getSystemSharedMemoryUnregisterMethod().getFullMethodName(),
          GRPCInferenceServiceGrpc.getCudaSharedMemoryRegisterMethod().getFullMethodName(),
          GRPCInferenceServiceGrpc.getCudaSharedMemoryUnregisterMethod().getFullMethodName(),
          // As REST's v2/logging: what the server writes is an operator's choice.
          GRPCInferenceServiceGrpc.getLogSettingsMethod().getFullMethodName());

  private final AccessPolicy policy;

  AuthInterceptor(AccessPolicy policy) {
    this.policy = policy;
  }

  /** The scope a method needs, or null when it is open. */
  static @Nullable Scope scopeOf(String fullMethodName) {
    if (OPEN.contains(fullMethodName)
        || HealthGrpc.SERVICE_NAME.equals(
            io.grpc.MethodDescriptor.extractFullServiceName(fullMethodName))) {
      return null;
    }
    return MANAGEMENT.contains(fullMethodName) ? Scope.MANAGEMENT : Scope.INFERENCE;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    AccessPolicy.Decision d =
        policy.check(
            scopeOf(call.getMethodDescriptor().getFullMethodName()), headers.get(AUTHORIZATION));
    if (d.allowed()) {
      Tenant tenant = d.tenant();
      return tenant == null
          ? next.startCall(call, headers)
          : Contexts.interceptCall(
              Context.current().withValue(TENANT, tenant), call, headers, next);
    }
    Status status =
        d.outcome() == AccessPolicy.Outcome.UNAUTHENTICATED
            ? Status.UNAUTHENTICATED
            : Status.PERMISSION_DENIED;
    call.close(status.withDescription(d.message()), new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
