package dev.fulcrum.server.protocol;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.ModelFiles;
import dev.fulcrum.server.ClientText;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The parameters of a repository load request (Triton's repository extension), read alike on REST
 * and gRPC: {@code config} gives the model configuration as JSON (config.yaml's field names, or
 * Triton's ModelConfig JSON) in place of the model's file and must be text; Triton's {@code
 * file:<version>/<path>} parameters bring model files (base64 text on REST, {@code bytes_param} on
 * gRPC), whose paths and size the core checks ({@link ModelFiles}); any other parameter is ignored.
 * Stateless.
 */
public final class LoadParameters {
  private LoadParameters() {}

  /**
   * What a load request asks for.
   *
   * @param config the {@code config} parameter's text, or null when the request has none
   * @param files {@code file:<version>/<path>} parameter name → content, in the request's order
   */
  public record Load(@Nullable String config, Map<String, byte[]> files) {
    public Load {
      files = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(files));
    }
  }

  /**
   * Reads a load request's parameters.
   *
   * @param parameters the request's parameters, in the order the client sent them
   * @param text a parameter value's text, or null when the value is not text
   * @param fileBytes a {@code file:} parameter's content (given its name and value), or null when
   *     the value is not of the kind the transport sends files as
   * @param textKind what the transport calls a text value ({@code string}, {@code string_param})
   * @param bytesKind what it calls a file's value ({@code base64 string}, {@code bytes_param})
   * @throws InferenceException INVALID_ARGUMENT for the first parameter refused
   */
  public static <V> Load read(
      Iterable<Map.Entry<String, V>> parameters,
      Function<V, @Nullable String> text,
      BiFunction<String, V, byte @Nullable []> fileBytes,
      String textKind,
      String bytesKind) {
    String config = null;
    Map<String, byte[]> files = new LinkedHashMap<>();
    for (Map.Entry<String, V> p : parameters) {
      String name = p.getKey();
      if (name.equals("config")) {
        config = text.apply(p.getValue());
        if (config == null) {
          throw InferenceException.invalid(
              "parameter 'config' must be a %s holding the model configuration as JSON", textKind);
        }
      } else if (name.startsWith(ModelFiles.PREFIX)) {
        byte[] content = fileBytes.apply(name, p.getValue());
        if (content == null) {
          throw InferenceException.invalid(
              "parameter '%s' must be a %s holding the file's content",
              ClientText.printable(name, 200), bytesKind);
        }
        files.put(name, content);
      }
    }
    return new Load(config, files);
  }

  /**
   * A REST parameter's base64 text as bytes (standard alphabet, padding as Python's {@code
   * base64.b64encode} writes it).
   *
   * @throws InferenceException INVALID_ARGUMENT naming the parameter when it is not base64
   */
  public static byte[] base64(String parameter, String value) {
    try {
      return java.util.Base64.getDecoder().decode(value);
    } catch (IllegalArgumentException e) {
      throw InferenceException.invalid(
          "parameter '%s' is not valid base64 (%s): a model file's content is sent base64-encoded",
          ClientText.printable(parameter, 200), e.getMessage());
    }
  }
}
