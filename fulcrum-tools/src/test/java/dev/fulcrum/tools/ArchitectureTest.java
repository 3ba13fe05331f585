package dev.fulcrum.tools;

import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideOutsideOfPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import dev.fulcrum.core.scheduler.ModelScheduler;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering that ARCHITECTURE.md states, checked on the compiled classes of every module (the
 * Maven enforcer checks the declared dependencies; this checks what the code actually uses), and no
 * package cycles inside a module.
 *
 * <p>Concurrency: the imported classes are read once in {@link #importClasses()} and only read by
 * the tests after that.
 */
class ArchitectureTest {

  /** What a transport may call on a ModelScheduler: its gauges, for statistics and metrics. */
  private static final Set<String> READ_ONLY_GAUGES = Set.of("pending", "queued", "instanceCount");

  private static final DescribedPredicate<JavaMethodCall> SCHEDULER_CALL_BEYOND_GAUGES =
      DescribedPredicate.describe(
          "a ModelScheduler method other than " + READ_ONLY_GAUGES,
          call ->
              call.getTargetOwner().isEquivalentTo(ModelScheduler.class)
                  && !READ_ONLY_GAUGES.contains(call.getName()));

  private static JavaClasses fulcrum;

  @BeforeAll
  static void importClasses() {
    fulcrum =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.fulcrum");
  }

  @Test
  void coreUsesNoTransportNoEngineAndNoOtherModule() {
    ArchRule rule =
        noClasses()
            .that()
            .resideInAPackage("dev.fulcrum.core..")
            .should()
            .dependOnClassesThat()
            .resideInAnyPackage(
                "io.netty..",
                "io.grpc..",
                "com.google.protobuf..",
                "ai.onnxruntime..",
                "dev.fulcrum.server..",
                "dev.fulcrum.runtime..",
                "dev.fulcrum.pipelines..",
                "ai.djl..",
                "dev.fulcrum.tools..",
                "dev.fulcrum.testkit..")
            .because(
                "ARCHITECTURE.md: the core never depends on Netty, gRPC, protobuf or ONNX Runtime,"
                    + " nor on the pipelines that implement its pipeline SPI");
    rule.check(fulcrum);
  }

  @Test
  void coreIoDependsOnNoOtherFulcrumPackage() {
    ArchRule rule =
        noClasses()
            .that()
            .resideInAPackage("dev.fulcrum.core.io..")
            .should()
            .dependOnClassesThat(
                resideInAPackage("dev.fulcrum..")
                    .and(resideOutsideOfPackage("dev.fulcrum.core.io.."))
                    .as("a Fulcrum package other than dev.fulcrum.core.io"))
            .because(
                "core.io's package-info: it depends on no other core package, so that any package"
                    + " and any module may use it");
    rule.check(fulcrum);
  }

  @Test
  void monitoringUsesTheCoreOnly() {
    ArchRule rule =
        noClasses()
            .that()
            .resideInAPackage("dev.fulcrum.monitoring..")
            .should()
            .dependOnClassesThat()
            .resideInAnyPackage(
                "io.netty..",
                "io.grpc..",
                "com.google.protobuf..",
                "ai.onnxruntime..",
                "dev.fulcrum.server..",
                "dev.fulcrum.runtime..",
                "dev.fulcrum.tools..")
            .because(
                "ARCHITECTURE.md: fulcrum-monitoring depends on fulcrum-core only; the server and"
                    + " the CLI wire it in");
    rule.check(fulcrum);
  }

  @Test
  void theEngineImplementsTheRuntimeSpiOnly() {
    ArchRule rule =
        noClasses()
            .that()
            .resideInAPackage("dev.fulcrum.runtime..")
            .should()
            .dependOnClassesThat()
            .resideInAnyPackage(
                "io.netty..",
                "io.grpc..",
                "dev.fulcrum.server..",
                "dev.fulcrum.tools..",
                "dev.fulcrum.core.inference..",
                "dev.fulcrum.core.repository..",
                "dev.fulcrum.core.scheduler..",
                "dev.fulcrum.core.stats..")
            .because(
                "ARCHITECTURE.md: fulcrum-runtime-onnx implements the runtime SPI on core and ONNX"
                    + " Runtime; the scheduler calls it, not the other way round");
    rule.check(fulcrum);
  }

  @Test
  void pipelinesUseTheCoreSpiAndNoTransport() {
    ArchRule rule =
        noClasses()
            .that()
            .resideInAPackage("dev.fulcrum.pipelines..")
            .should()
            .dependOnClassesThat()
            .resideInAnyPackage(
                "io.netty..",
                "io.grpc..",
                "ai.onnxruntime..",
                "dev.fulcrum.server..",
                "dev.fulcrum.tools..")
            .because(
                "ARCHITECTURE.md: fulcrum-pipelines implements the core's pipeline SPI; its offline"
                    + " API runs models through InferenceService as the transports do");
    rule.check(fulcrum);
  }

  @Test
  void pipelineStepsKnowNothingOfTheRepository() {
    ArchRule rule =
        noClasses()
            .that()
            .resideInAPackage("dev.fulcrum.pipelines.steps..")
            .should()
            .dependOnClassesThat()
            .resideInAnyPackage(
                "dev.fulcrum.core.repository..",
                "dev.fulcrum.pipelines.offline..",
                "dev.fulcrum.runtime..")
            .because("ARCHITECTURE.md: each step works on its own, on plain arrays");
    rule.check(fulcrum);
  }

  @Test
  void pipelinesPackagesAreFreeOfCycles() {
    slices().matching("dev.fulcrum.pipelines.(*)..").should().beFreeOfCycles().check(fulcrum);
  }

  @Test
  void transportsUseNoEngineAndNoTools() {
    ArchRule rule =
        noClasses()
            .that()
            .resideInAPackage("dev.fulcrum.server..")
            .should()
            .dependOnClassesThat()
            .resideInAnyPackage(
                "ai.onnxruntime..",
                "dev.fulcrum.runtime..",
                "dev.fulcrum.pipelines..",
                "dev.fulcrum.tools..")
            .because(
                "ARCHITECTURE.md: fulcrum-server depends on core, Netty, Jackson, gRPC and protobuf");
    rule.check(fulcrum);
  }

  @Test
  void transportsGoThroughInferenceServiceNotTheSchedulerOrTheControlPlane() {
    ArchRule rule =
        noClasses()
            .that()
            .resideInAPackage("dev.fulcrum.server..")
            .should()
            .dependOnClassesThat()
            .haveFullyQualifiedName("dev.fulcrum.core.repository.ModelManager")
            .orShould()
            .dependOnClassesThat()
            .haveFullyQualifiedName("dev.fulcrum.core.repository.RepositorySource")
            .orShould()
            .dependOnClassesThat()
            .haveFullyQualifiedName("dev.fulcrum.core.inference.RequestValidator")
            .orShould()
            .callMethodWhere(SCHEDULER_CALL_BEYOND_GAUGES)
            .because(
                "ARCHITECTURE.md: InferenceService is the one entry point the transports call (it"
                    + " validates and submits); ModelRepository is the read-only view of the"
                    + " control plane; the scheduler's gauges are read for statistics and metrics");
    rule.check(fulcrum);
  }

  @Test
  void onlyTheCliAndTheTestkitDependOnTheCli() {
    ArchRule rule =
        classes()
            .that()
            .resideInAPackage("dev.fulcrum.tools..")
            .should()
            .onlyHaveDependentClassesThat()
            .resideInAPackage("dev.fulcrum.tools..");
    rule.check(fulcrum);
  }

  @Test
  void corePackagesAreFreeOfCycles() {
    slices().matching("dev.fulcrum.core.(*)..").should().beFreeOfCycles().check(fulcrum);
  }

  @Test
  void serverPackagesAreFreeOfCycles() {
    slices().matching("dev.fulcrum.server.(*)..").should().beFreeOfCycles().check(fulcrum);
  }

  @Test
  void toolsPackagesAreFreeOfCycles() {
    slices().matching("dev.fulcrum.tools.(*)..").should().beFreeOfCycles().check(fulcrum);
  }

  @Test
  void modulesAreFreeOfCycles() {
    slices().matching("dev.fulcrum.(*)..").should().beFreeOfCycles().check(fulcrum);
  }
}
