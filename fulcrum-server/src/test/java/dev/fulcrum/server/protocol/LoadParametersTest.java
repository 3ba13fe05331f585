package dev.fulcrum.server.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.ModelFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoadParametersTest {
  @TempDir Path dir;
  private @Nullable ModelFiles files;

  @AfterEach
  void close() {
    if (files != null) {
      files.close();
    }
  }

  /** A gRPC parameter value: a string_param (String) or a bytes_param (byte[]). */
  private Read grpc(Map<String, Object> parameters) throws IOException {
    files = new ModelFiles(new ModelFiles.Settings(dir.resolve("pushed"), 1 << 20));
    try (ModelFiles.Push push = files.begin("m")) {
      String config =
          LoadParameters.read(
              parameters.entrySet(),
              v -> v instanceof String s ? s : null,
              v -> v instanceof byte[],
              (v, out) -> out.write((byte[]) v),
              "string_param",
              "bytes_param",
              push);
      return new Read(config, push.isEmpty() ? null : push.finish());
    }
  }

  /** A REST body read as a stream into a push; the push's folder once finished, or null. */
  private record Read(@Nullable String config, @Nullable Path folder) {}

  private Read rest(String body) throws IOException {
    files = new ModelFiles(new ModelFiles.Settings(dir.resolve("pushed"), 1 << 20));
    try (ModelFiles.Push push = files.begin("m")) {
      String config =
          LoadParameters.readJson(
              new ByteArrayInputStream(body.getBytes(StandardCharsets.UTF_8)), push);
      return new Read(config, push.isEmpty() ? null : push.finish());
    }
  }

  private static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void grpcConfigAndFilesAreReadIntoThePushOtherParametersIgnored() throws Exception {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("config", "{\"max_batch_size\": 4}");
    p.put("file:1/model.onnx", "onnx".getBytes(StandardCharsets.UTF_8));
    p.put("something_else", 3);
    Read r = grpc(p);
    assertThat(r.config()).isEqualTo("{\"max_batch_size\": 4}");
    assertThat(r.folder()).isNotNull();
    assertThat(r.folder().resolve("1/model.onnx")).hasContent("onnx");
    assertThat(grpc(Map.of())).isEqualTo(new Read(null, null));
    assertThatThrownBy(() -> grpc(Map.of("config", 5)))
        .hasMessageContaining("parameter 'config' must be a string_param");
    assertThatThrownBy(() -> grpc(Map.of("file:1/model.onnx", "text")))
        .hasMessageContaining("parameter 'file:1/model.onnx' must be a bytes_param");
  }

  @Test
  void aRestBodyIsReadAsAStreamItsFilesDecodedIntoThePushOtherMembersSkipped() throws Exception {
    Read r =
        rest(
            "{\"id\": [1, {\"x\": 2}], \"parameters\": {\"file:1/model.onnx\": \""
                + b64("onnx weights")
                + "\", \"other\": {\"a\": [1]}, \"file:1/sub/vocab.txt\": \""
                + b64("vocab").replace("=", "") // padding is optional
                + "\", \"config\": \"{\\\"max-batch-size\\\": 4}\"}, \"after\": null}");
    assertThat(r.config()).isEqualTo("{\"max-batch-size\": 4}");
    assertThat(r.folder()).isNotNull();
    assertThat(r.folder().resolve("1/model.onnx")).hasContent("onnx weights");
    assertThat(r.folder().resolve("1/sub/vocab.txt")).hasContent("vocab");

    assertThat(rest("")).isEqualTo(new Read(null, null));
    assertThat(rest("{}")).isEqualTo(new Read(null, null));
    assertThat(rest("{\"parameters\": {\"config\": \"{}\"}}")).isEqualTo(new Read("{}", null));
    assertThat(rest("{\"parameters\": 3}")).isEqualTo(new Read(null, null));
  }

  @Test
  void aRestMemberGivenTwiceIsRefusedByItsName() {
    // Last-wins before: a repeated config or parameters silently replaced the first.
    Map<String, String> refused =
        Map.of(
            "{\"parameters\": {\"config\": \"{}\", \"config\": \"{\\\"a\\\": 1}\"}}",
            "'config'",
            "{\"parameters\": {\"config\": \"{}\"}, \"parameters\": {}}",
            "'parameters'",
            "{\"parameters\": {\"file:1/a\": \"" + b64("a") + "\", \"file:1/a\": \"\"}}",
            "'file:1/a'");
    refused.forEach(
        (body, name) ->
            assertThatThrownBy(() -> rest(body))
                .as(body)
                .isInstanceOfSatisfying(
                    InferenceException.class,
                    e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageContaining("gives a member twice")
                .hasMessageContaining(name));
  }

  @Test
  void aRestBodyRefusedIsInvalidArgumentNamingTheParameterAndLeavesNothing() {
    Map<String, String> refused =
        Map.of(
            "[1]",
            "must be a JSON object",
            "{\"parameters\": {\"config\": 5}}",
            "parameter 'config' must be a string",
            "{\"parameters\": {\"file:1/m\": 5}}",
            "parameter 'file:1/m' must be a base64 string",
            "{\"parameters\": {\"file:1/m\": \"not base64!\"}}",
            "parameter 'file:1/m' is not valid base64",
            "{\"parameters\": {\"file:1/m\": \"" + b64("cut short"),
            "parameter 'file:1/m' is not valid base64",
            "{\"parameters\": {\"file:1/a\": \"\", \"file:x\": \"\"}}",
            "parameter 'file:x' names no file inside a version folder",
            "{\"parameters\": {\"config\": \"{}\"",
            "not valid JSON",
            "{\"parameters\": {\"file:1/a\": \"" + b64("a") + "\"} x",
            "not valid JSON");
    refused.forEach(
        (body, why) -> {
          assertThatThrownBy(() -> rest(body))
              .as(body)
              .isInstanceOfSatisfying(
                  InferenceException.class,
                  e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
              .hasMessageContaining(why);
          if (!Files.isDirectory(dir.resolve("pushed"))) {
            return; // refused before a file was opened
          }
          try (var left = Files.list(dir.resolve("pushed"))) {
            assertThat(left.filter(p -> !p.getFileName().toString().startsWith(".fulcrum")))
                .as("left by " + body)
                .allSatisfy(p -> assertThat(p).isEmptyDirectory());
          } catch (IOException e) {
            throw new AssertionError(e);
          }
        });
  }
}
