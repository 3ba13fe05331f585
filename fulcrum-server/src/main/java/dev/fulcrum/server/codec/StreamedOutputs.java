package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.RequestedOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A request's {@code outputs} array read from its streaming parser without building a tree (each
 * output's {@code parameters} as {@link StreamedParameters}); {@link #requested} checks it as the
 * tree reader it replaced did, in the same order and words, where the decoder checked it.
 *
 * <p>Threads: confined to the decoding thread.
 */
final class StreamedOutputs {
  /** A missing or JSON null {@code outputs}: the model's outputs. */
  static final StreamedOutputs NONE = new StreamedOutputs(false, List.of());

  /**
   * One element of the array: not an object, or its name (null when not a string) and parameters.
   */
  private record Element(boolean object, @Nullable String name, StreamedParameters parameters) {}

  private static final Element NOT_AN_OBJECT = new Element(false, null, StreamedParameters.NONE);

  private final boolean notAnArray;
  private final List<Element> elements;

  private StreamedOutputs(boolean notAnArray, List<Element> elements) {
    this.notAnArray = notAnArray;
    this.elements = elements;
  }

  /** The value at the parser's current token; the parser is left at its last token. */
  static StreamedOutputs read(JsonParser p) throws IOException {
    JsonToken t = p.currentToken();
    if (t == JsonToken.VALUE_NULL) {
      return NONE;
    }
    if (t != JsonToken.START_ARRAY) {
      p.skipChildren();
      return new StreamedOutputs(true, List.of());
    }
    List<Element> elements = new ArrayList<>(4);
    for (t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
      if (t != JsonToken.START_OBJECT) {
        p.skipChildren();
        elements.add(NOT_AN_OBJECT);
        continue;
      }
      String name = null;
      StreamedParameters parameters = StreamedParameters.NONE;
      for (String field = p.nextFieldName(); field != null; field = p.nextFieldName()) {
        JsonToken v = p.nextToken();
        switch (field) {
          case "name" -> {
            name = v == JsonToken.VALUE_STRING ? p.getText() : null;
            p.skipChildren();
          }
          case "parameters" -> parameters = StreamedParameters.read(p);
          default -> p.skipChildren();
        }
      }
      elements.add(new Element(true, name, parameters));
    }
    return new StreamedOutputs(false, elements);
  }

  /**
   * The outputs asked for, in the body's order; each output's {@code binary_data} parameter, when
   * given, is put in {@code binary}.
   *
   * @throws InferenceException INVALID_ARGUMENT for the first problem: not an array, an element not
   *     an object, without a non-empty string name, with parameters that are not an object of
   *     strings, numbers or booleans, or a {@code binary_data} that is not a boolean
   */
  List<RequestedOutput> requested(String model, Map<String, Boolean> binary) {
    if (notAnArray) {
      throw InferenceException.invalid("model '%s': 'outputs' must be an array", model);
    }
    if (elements.isEmpty()) {
      return List.of();
    }
    List<RequestedOutput> outputs = new ArrayList<>(elements.size());
    for (Element e : elements) {
      if (!e.object()) {
        throw InferenceException.invalid("model '%s': each output must be a JSON object", model);
      }
      String name = e.name();
      if (name == null || name.isEmpty()) {
        throw InferenceException.invalid(
            "model '%s': %s needs a string '%s'", model, "an output", "name");
      }
      Map<String, Object> p = e.parameters().values("output '" + name + "'");
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
