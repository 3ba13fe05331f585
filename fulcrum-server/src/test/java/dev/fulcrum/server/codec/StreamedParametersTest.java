package dev.fulcrum.server.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.RequestedOutput;
import java.io.IOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * {@link StreamedParameters} and {@link StreamedOutputs} against the tree reader they replaced
 * (kept here as the oracle): the same values and the same errors, for well-formed and mistaken
 * {@code parameters} and {@code outputs}.
 */
class StreamedParametersTest {
  private static final List<String> PARAMETERS =
      List.of(
          "null",
          "{}",
          "{\"binary_data\":true}",
          "{\"binary_data\":false,\"k\":3}",
          "{\"s\":\"x\",\"i\":-7,\"big\":12345678901234567890,\"f\":0.1,\"e\":1e3,\"t\":true}",
          "{\"f\":2.5}",
          "{\"n\":9223372036854775807,\"m\":-9223372036854775808}",
          "{\"a\":1,\"bad\":[1,2],\"worse\":{\"x\":1}}",
          "{\"bad\":null}",
          "{\"o\":{\"deep\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}",
          "[]",
          "3",
          "\"s\"",
          "true");

  private static final List<String> OUTPUTS =
      List.of(
          "null",
          "[]",
          "[{\"name\":\"a\"}]",
          "[{\"name\":\"a\",\"parameters\":{\"binary_data\":true}},{\"name\":\"b\",\"parameters\":{\"binary_data\":false,\"classification\":3}}]",
          "[{\"parameters\":{\"binary_data\":true},\"name\":\"late\"}]",
          "[{\"name\":\"a\",\"parameters\":{\"binary_data\":1}}]",
          "[{\"name\":\"a\",\"parameters\":[]}]",
          "[{\"name\":\"\"}]",
          "[{\"name\":3}]",
          "[{}]",
          "[3]",
          "[{\"name\":\"a\"},7,{\"name\":5}]",
          "[{\"name\":\"a\",\"parameters\":{\"x\":null}},3]",
          "{\"name\":\"a\"}",
          "\"a\"");

  @Test
  void parametersAsTheTreeReaderReadThem() throws IOException {
    for (String json : PARAMETERS) {
      Object expected = outcome(() -> treeParameters("input 'x'", tree(json)));
      Object actual = outcome(() -> StreamedParameters.read(parser(json)).values("input 'x'"));
      assertThat(actual).as(json).isEqualTo(expected);
    }
  }

  @Test
  void outputsAsTheTreeReaderReadThem() throws IOException {
    for (String json : OUTPUTS) {
      Map<String, Boolean> treeBinary = new HashMap<>();
      Object expected = outcome(() -> treeOutputs("m", tree(json), treeBinary));
      Map<String, Boolean> binary = new HashMap<>();
      Object actual = outcome(() -> StreamedOutputs.read(parser(json)).requested("m", binary));
      assertThat(actual).as(json).isEqualTo(expected);
      assertThat(binary).as(json).isEqualTo(treeBinary);
    }
  }

  @Test
  void oneParameterIsAnImmutableMapThatCopiesFree() throws IOException {
    Map<String, Object> one =
        StreamedParameters.read(parser("{\"binary_data\":false}")).values("output 'y'");
    assertThat(Map.copyOf(one)).isSameAs(one);
    assertThat(StreamedParameters.read(parser("{}")).values("request")).isEmpty();
  }

  @Test
  void severalParametersKeepTheBodysOrder() throws IOException {
    Map<String, Object> p =
        StreamedParameters.read(parser("{\"z\":1,\"a\":\"s\",\"m\":true,\"b\":0.5}"))
            .values("request");
    assertThat(p.keySet()).containsExactly("z", "a", "m", "b");
    assertThat(p.values()).containsExactly(1L, "s", true, 0.5);
  }

  @Test
  void theParserIsLeftAtTheValuesLastToken() throws IOException {
    JsonParser p = parser("[{\"a\":[1,{\"b\":2}],\"c\":3},[{\"name\":\"o\"}],9]"); // at [
    p.nextToken(); // the parameters object
    StreamedParameters.read(p);
    p.nextToken(); // the outputs array
    StreamedOutputs.read(p);
    assertThat(p.nextIntValue(0)).isEqualTo(9);
  }

  private interface Call {
    Object call() throws IOException;
  }

  /** The value, or the error's class and message. */
  private static Object outcome(Call c) throws IOException {
    try {
      return c.call();
    } catch (InferenceException e) {
      return "error " + e.code() + ": " + e.getMessage();
    }
  }

  private static JsonParser parser(String json) throws IOException {
    JsonParser p = JsonStreams.FACTORY.createParser(json);
    p.nextToken();
    return p;
  }

  private static @Nullable JsonNode tree(String json) throws IOException {
    return Json.tree(parser(json));
  }

  // The tree reader before the streamed one (InferRequestDecoder at 3aba8d7), the oracle.

  private static Map<String, Object> treeParameters(String where, @Nullable JsonNode node) {
    if (node == null || node.isNull()) {
      return Map.of();
    }
    if (!node.isObject()) {
      throw InferenceException.invalid("%s 'parameters' must be a JSON object", where);
    }
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      out.put(e.getKey(), TensorJson.parameterValue(where, e.getKey(), e.getValue()));
    }
    return out;
  }

  private static List<RequestedOutput> treeOutputs(
      String model, @Nullable JsonNode outputsNode, Map<String, Boolean> binary) {
    if (outputsNode == null || outputsNode.isNull()) {
      return List.of();
    }
    if (!outputsNode.isArray()) {
      throw InferenceException.invalid("model '%s': 'outputs' must be an array", model);
    }
    List<RequestedOutput> outputs = new java.util.ArrayList<>(outputsNode.size());
    for (JsonNode out : outputsNode) {
      if (!out.isObject()) {
        throw InferenceException.invalid("model '%s': each output must be a JSON object", model);
      }
      JsonNode v = out.get("name");
      if (v == null || !v.isTextual() || v.textValue().isEmpty()) {
        throw InferenceException.invalid(
            "model '%s': %s needs a string '%s'", model, "an output", "name");
      }
      String name = v.textValue();
      Map<String, Object> p = treeParameters("output '" + name + "'", out.get("parameters"));
      Object b = p.get(InferRequestDecoder.BINARY_DATA);
      if (b != null) {
        if (!(b instanceof Boolean flag)) {
          throw InferenceException.invalid(
              "output '%s': parameter %s must be true or false",
              name, InferRequestDecoder.BINARY_DATA);
        }
        binary.put(name, flag);
      }
      outputs.add(new RequestedOutput(name, p));
    }
    return outputs;
  }
}
