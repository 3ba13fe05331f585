package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.FakeRuntime;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.server.HttpServerConfig.InvocationsModel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.file.Path;
import java.util.List;
import java.util.SortedSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which model {@code /invocations} runs when nothing names one: the repository's only model, its
 * names made once per change of the repository's index rather than per request; the body's format
 * told from its content type.
 */
class InvocationsTargetTest {
  @TempDir Path root;

  private void writeModel(String name) throws Exception {
    FakeRuntime.writeModel(
        root.resolve(name).resolve("1").resolve("model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
  }

  @Test
  void theOnlyModelIsKeptUntilTheRepositoryChanges() throws Exception {
    writeModel("a");
    try (SchedulerEnvironment environment = SchedulerEnvironment.system();
        ModelRepository repository =
            new ModelRepository(
                List.of(root),
                List.of(new FakeRuntime()),
                new ModelConfigResolver(2, 8),
                environment,
                ModelRepository.Settings.defaults().withMode(ControlMode.EXPLICIT))) {
      repository.loadAll();
      repository.manager().load("a", null).join();
      InvocationsTarget target =
          new InvocationsTarget(new InferenceService(repository, false), null);
      HttpHeaders none = new DefaultHttpHeaders();
      SortedSet<String> names = target.names();
      assertThat(names).containsExactly("a");
      assertThat(target.of(none).name()).isEqualTo("a");
      // No change: the same names, not an index made anew.
      assertThat(target.names()).isSameAs(names);

      writeModel("b");
      repository.manager().load("b", null).join();
      assertThat(target.names()).containsExactly("a", "b");
      assertThatThrownBy(() -> target.of(none)).hasMessageContaining("this server has 2: [a, b]");
    }
  }

  @Test
  void theTargetModelHeaderKeepsTheVersionInvocationsModelPins() {
    try (ModelRepository repository =
        new ModelRepository(List.of(root), List.of(), new ModelConfigResolver(2, 8))) {
      InvocationsTarget target =
          new InvocationsTarget(
              new InferenceService(repository, false),
              new InvocationsModel("fraud_classifier", "2"));
      HttpHeaders h = new DefaultHttpHeaders();
      h.set(InvocationsTarget.TARGET_MODEL, "fraud_classifier.tar.gz");
      assertThat(target.of(h)).isEqualTo(new InvocationsModel("fraud_classifier", "2"));
      h.set(InvocationsTarget.TARGET_MODEL, "minilm_text.tar.gz");
      assertThat(target.of(h)).isEqualTo(new InvocationsModel("minilm_text", ""));
    }
  }

  @Test
  void theContentTypeTellsCsvFromJsonAndRefusesAnyOtherAs415() {
    assertThat(InvocationsHandler.isCsv(null)).isFalse();
    assertThat(InvocationsHandler.isCsv("application/json")).isFalse();
    assertThat(InvocationsHandler.isCsv("Application/JSON; charset=latin-1")).isFalse();
    assertThat(InvocationsHandler.isCsv("text/csv; charset=utf-8")).isTrue();
    assertThatThrownBy(() -> InvocationsHandler.isCsv("application/x-www-form-urlencoded"))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MEDIA_TYPE))
        .hasMessageContaining("application/json and text/csv");
  }
}
