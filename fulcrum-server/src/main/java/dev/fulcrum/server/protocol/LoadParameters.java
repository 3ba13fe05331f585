package dev.fulcrum.server.protocol;

import dev.fulcrum.core.error.InferenceException;
import java.util.Map;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The parameters of a repository load request (Triton's repository extension), read alike on REST
 * and gRPC: {@code config} gives the model configuration as JSON (config.yaml's field names) in
 * place of the model's file and must be text; Triton's {@code file:<version>/<name>} model files
 * are refused, because the load would ignore them and a deploy tool would be told it succeeded; any
 * other parameter is ignored. Stateless.
 */
public final class LoadParameters {
  private LoadParameters() {}

  /**
   * The configuration a load request gives in place of the model's config.yaml.
   *
   * @param parameters the request's parameters, in the order the client sent them
   * @param text a parameter value's text, or null when the value is not text
   * @param textKind what the transport calls a text value ({@code string}, {@code string_param}),
   *     for the refusal
   * @return the {@code config} parameter's text, or null when the request has none
   * @throws InferenceException INVALID_ARGUMENT for the first parameter refused
   */
  public static <V> @Nullable String configOverride(
      Iterable<Map.Entry<String, V>> parameters,
      Function<V, @Nullable String> text,
      String textKind) {
    String override = null;
    for (Map.Entry<String, V> p : parameters) {
      if (p.getKey().equals("config")) {
        override = text.apply(p.getValue());
        if (override == null) {
          throw InferenceException.invalid(
              "parameter 'config' must be a %s holding the model configuration as JSON", textKind);
        }
      } else if (p.getKey().startsWith("file:")) {
        throw InferenceException.invalid(
            "parameter '%s': loading model files from the request is not supported", p.getKey());
      }
    }
    return override;
  }
}
