package dev.fulcrum.server.grpc;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tenant.Admission;
import dev.fulcrum.core.tenant.Outcome;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthGrpc;
import java.util.Set;
import java.util.concurrent.CancellationException;
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
 * <p>Tenants: a unary {@code ModelInfer} (or TF Serving {@code Predict}) call of a tenant with
 * limits is admitted against its rate and concurrency here too, at its headers, before its message
 * is received or parsed ({@link InferenceService#admitEarly}; the model is in the message, so a
 * refusal is counted under the model {@code ""}): one over them is closed with RESOURCE_EXHAUSTED
 * and the limiter's {@code grpc-retry-pushback-ms}, as the core's refusal is; an admitted one
 * carries its {@link Admission} in its context ({@link #ADMISSION}) to the service, which hands it
 * to the core, and it is ended here, once, with the call's status or cancellation where nothing
 * ended it before (a message that did not parse, a client that went away before sending it). A
 * stream's requests are admitted one by one by the core, as they arrive.
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

  /** The admission of a unary inference call its tenant's limits admitted at its headers. */
  static final Context.Key<Admission> ADMISSION = Context.key("fulcrum-tenant-admission");

  /** The unary inference methods: OIP's ModelInfer and TF Serving's Predict. */
  private static final Set<String> UNARY_INFER =
      Set.of(
          GRPCInferenceServiceGrpc.getModelInferMethod().getFullMethodName(),
          dev.fulcrum.server.grpc.tfserving.PredictionServiceGrpc.getPredictMethod()
              .getFullMethodName());

  private final AccessPolicy policy;

  /** Admits tenants' unary inference calls at their headers; null: none is (no tenant limits). */
  private final @Nullable InferenceService tenants;

  AuthInterceptor(AccessPolicy policy) {
    this(policy, null);
  }

  /**
   * @param service admits tenants' unary inference calls at their headers when some tenant has
   *     limits (else it is not asked)
   */
  AuthInterceptor(AccessPolicy policy, @Nullable InferenceService service) {
    this.policy = policy;
    this.tenants =
        service != null && policy.tenants().stream().anyMatch(t -> t.limits().limited())
            ? service
            : null;
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
      if (tenant == null) {
        return next.startCall(call, headers);
      }
      InferenceService service = tenants;
      if (service == null
          || !tenant.limits().limited()
          || !UNARY_INFER.contains(call.getMethodDescriptor().getFullMethodName())) {
        return Contexts.interceptCall(
            Context.current().withValue(TENANT, tenant), call, headers, next);
      }
      Admission admission;
      try {
        admission = service.admitEarly(tenant, "");
      } catch (InferenceException over) {
        StatusRuntimeException refused = GrpcStatuses.exception(GrpcStatuses.of(over), over);
        Metadata trailers = refused.getTrailers();
        call.close(refused.getStatus(), trailers == null ? new Metadata() : trailers);
        return new ServerCall.Listener<>() {};
      }
      return admitted(call, headers, next, tenant, admission);
    }
    Status status =
        d.outcome() == AccessPolicy.Outcome.UNAUTHENTICATED
            ? Status.UNAUTHENTICATED
            : Status.PERMISSION_DENIED;
    call.close(status.withDescription(d.message()), new Metadata());
    return new ServerCall.Listener<>() {};
  }

  /**
   * Starts a call admitted at its headers with its admission in its context, ended with the call's
   * status when it closes, or as cancelled when the client goes away, where nothing ended it
   * before.
   */
  private static <Q, R> ServerCall.Listener<Q> admitted(
      ServerCall<Q, R> call,
      Metadata headers,
      ServerCallHandler<Q, R> next,
      Tenant tenant,
      Admission admission) {
    ServerCall<Q, R> ending =
        new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
          @Override
          public void close(Status status, Metadata trailers) {
            admission.ended(outcomeOf(status.getCode()));
            super.close(status, trailers);
          }
        };
    ServerCall.Listener<Q> listener;
    try {
      listener =
          Contexts.interceptCall(
              Context.current().withValue(TENANT, tenant).withValue(ADMISSION, admission),
              ending,
              headers,
              next);
    } catch (RuntimeException e) {
      admission.failed(e);
      throw e;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onCancel() {
        try {
          super.onCancel();
        } finally {
          admission.failed(new CancellationException("the client cancelled the call"));
        }
      }
    };
  }

  /** The tenant's outcome of a call's status ({@link Outcome}'s classes). */
  static Outcome outcomeOf(Status.Code code) {
    return switch (code) {
      case OK -> Outcome.SUCCESS;
      case RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED -> Outcome.REFUSED;
      case INTERNAL, UNKNOWN, DATA_LOSS -> Outcome.SERVER_ERROR;
      default -> Outcome.CLIENT_ERROR;
    };
  }
}
