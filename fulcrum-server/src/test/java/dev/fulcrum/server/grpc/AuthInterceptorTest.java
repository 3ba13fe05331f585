package dev.fulcrum.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.security.Scope;
import org.junit.jupiter.api.Test;

/** The scope each method needs: TraceSetting is management's, as REST's trace/setting. */
class AuthInterceptorTest {
  @Test
  void traceSettingNeedsTheManagementScopeAsRestsTraceSetting() {
    assertThat(
            AuthInterceptor.scopeOf(
                GRPCInferenceServiceGrpc.getTraceSettingMethod().getFullMethodName()))
        .isEqualTo(Scope.MANAGEMENT);
    assertThat(
            AuthInterceptor.scopeOf(
                GRPCInferenceServiceGrpc.getModelInferMethod().getFullMethodName()))
        .isEqualTo(Scope.INFERENCE);
    assertThat(
            AuthInterceptor.scopeOf(
                GRPCInferenceServiceGrpc.getServerLiveMethod().getFullMethodName()))
        .isNull();
  }

  @Test
  void sharedMemoryRegistrationNeedsTheManagementScopeAndItsStatusTheInferenceScope() {
    for (var m :
        java.util.List.of(
            GRPCInferenceServiceGrpc.getSystemSharedMemoryRegisterMethod(),
            GRPCInferenceServiceGrpc.getSystemSharedMemoryUnregisterMethod(),
            GRPCInferenceServiceGrpc.getCudaSharedMemoryRegisterMethod(),
            GRPCInferenceServiceGrpc.getCudaSharedMemoryUnregisterMethod())) {
      assertThat(AuthInterceptor.scopeOf(m.getFullMethodName()))
          .as(m.getFullMethodName())
          .isEqualTo(Scope.MANAGEMENT);
    }
    assertThat(
            AuthInterceptor.scopeOf(
                GRPCInferenceServiceGrpc.getSystemSharedMemoryStatusMethod().getFullMethodName()))
        .isEqualTo(Scope.INFERENCE);
  }
}
