package dev.fulcrum.server.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.InferenceException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LoadParametersTest {
  /** A REST parameter value: JSON text, or (a number, a bool) not text. */
  private static LoadParameters.Load rest(Map<String, Object> parameters) {
    return LoadParameters.read(
        parameters.entrySet(),
        v -> v instanceof String s ? s : null,
        (name, v) -> v instanceof String s ? LoadParameters.base64(name, s) : null,
        "string",
        "base64 string");
  }

  @Test
  void configAndFilesAreReadOtherParametersIgnored() {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("config", "{\"max_batch_size\": 4}");
    p.put(
        "file:1/model.onnx",
        Base64.getEncoder().encodeToString("onnx".getBytes(StandardCharsets.UTF_8)));
    p.put("something_else", 3);
    LoadParameters.Load load = rest(p);
    assertThat(load.config()).isEqualTo("{\"max_batch_size\": 4}");
    assertThat(load.files()).containsOnlyKeys("file:1/model.onnx");
    assertThat(new String(load.files().get("file:1/model.onnx"), StandardCharsets.UTF_8))
        .isEqualTo("onnx");
    assertThat(rest(Map.of()).config()).isNull();
    assertThat(rest(Map.of()).files()).isEmpty();
  }

  @Test
  void aValueOfTheWrongKindOrBadBase64IsRefusedNamingTheParameter() {
    assertThatThrownBy(() -> rest(Map.of("config", 5)))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("parameter 'config' must be a string");
    assertThatThrownBy(() -> rest(Map.of("file:1/model.onnx", true)))
        .hasMessageContaining("parameter 'file:1/model.onnx' must be a base64 string");
    assertThatThrownBy(() -> rest(Map.of("file:1/model.onnx", "not base64!")))
        .hasMessageContaining("parameter 'file:1/model.onnx' is not valid base64");
  }
}
