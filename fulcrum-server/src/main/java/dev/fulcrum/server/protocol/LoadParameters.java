package dev.fulcrum.server.protocol;

import com.fasterxml.jackson.core.Base64Variant;
import com.fasterxml.jackson.core.Base64Variants;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.ModelFiles;
import dev.fulcrum.server.ClientText;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * The parameters of a repository load request (Triton's repository extension), read alike on REST
 * and gRPC: {@code config} gives the model configuration as JSON (config.yaml's field names, or
 * Triton's ModelConfig JSON) in place of the model's file and must be text; Triton's {@code
 * file:<version>/<path>} parameters bring model files (base64 text on REST, {@code bytes_param} on
 * gRPC), whose paths and size the core checks ({@link ModelFiles}); any other parameter is ignored.
 * Both are read on the model-load thread that runs the load, into the push's files ({@link
 * ModelFiles.Push}): gRPC's parsed message by {@link #read}, each file's bytes written from the
 * message; a REST body as a stream by {@link #readJson}, each file's base64 decoded straight into
 * its file, never held as a string nor as bytes. Stateless.
 */
public final class LoadParameters {
  private LoadParameters() {}

  /**
   * Writes a {@code file:} parameter's content, as the transport holds it, to a push's file.
   *
   * @param <V> the transport's parameter value
   */
  @FunctionalInterface
  public interface FileContent<V> {
    void writeTo(V value, OutputStream out) throws IOException;
  }

  /**
   * Reads a load request's parameters from a parsed message (gRPC's): the {@code config} text
   * returned, each file's content written into the push's file.
   *
   * @param parameters the request's parameters, in the order the client sent them
   * @param text a parameter value's text, or null when the value is not text
   * @param isFile whether a value is of the kind the transport sends files as
   * @param content writes such a value's content
   * @param textKind what the transport calls a text value ({@code string_param})
   * @param bytesKind what it calls a file's value ({@code bytes_param})
   * @return the {@code config} parameter's text, or null when there is none
   * @throws InferenceException INVALID_ARGUMENT for the first parameter refused
   * @throws IOException when a file cannot be written
   */
  public static <V> @Nullable String read(
      Iterable<Map.Entry<String, V>> parameters,
      Function<V, @Nullable String> text,
      Predicate<V> isFile,
      FileContent<V> content,
      String textKind,
      String bytesKind,
      ModelFiles.Push files)
      throws IOException {
    String config = null;
    for (Map.Entry<String, V> p : parameters) {
      String name = p.getKey();
      if (name.equals("config")) {
        config = text.apply(p.getValue());
        if (config == null) {
          throw InferenceException.invalid(
              "parameter 'config' must be a %s holding the model configuration as JSON", textKind);
        }
      } else if (name.startsWith(ModelFiles.PREFIX)) {
        if (!isFile.test(p.getValue())) {
          throw InferenceException.invalid(
              "parameter '%s' must be a %s holding the file's content",
              ClientText.printable(name, 200), bytesKind);
        }
        try (OutputStream out = files.file(name)) {
          content.writeTo(p.getValue(), out);
        }
      }
    }
    return config;
  }

  /**
   * Reads JSON as a stream, a member given twice refused (as {@code JsonStreams.FACTORY} does: a
   * repeated {@code config} or {@code parameters} was silently the last one); strings past
   * Jackson's default length are only the files' base64.
   */
  private static final JsonFactory JSON =
      JsonFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  /**
   * Base64 as Python's {@code base64.b64encode} and Java's encoder write it (standard alphabet, no
   * line breaks), the padding optional.
   */
  private static final Base64Variant BASE64 =
      Base64Variants.MIME_NO_LINEFEEDS.withReadPadding(
          Base64Variant.PaddingReadBehaviour.PADDING_ALLOWED);

  /**
   * Reads a REST load request's body as a stream: {@code {"parameters": {"config": "<JSON>",
   * "file:1/model.onnx": "<base64>", ...}}}, each file's base64 decoded straight into the push's
   * file as it is read (the memory it takes is a buffer, not the file), any other member skipped.
   * An empty body is an empty request.
   *
   * @return the {@code config} parameter's text, or null when there is none
   * @throws InferenceException INVALID_ARGUMENT for a body that is not a JSON object, a member
   *     given twice (naming it), a {@code config} that is not a string, a file that is not a base64
   *     string, or a path the push refuses
   * @throws IOException when a file cannot be written
   */
  public static @Nullable String readJson(InputStream body, ModelFiles.Push files)
      throws IOException {
    String config = null;
    try (JsonParser p = JSON.createParser(body)) {
      JsonToken first = p.nextToken();
      if (first == null) {
        return null;
      }
      if (first != JsonToken.START_OBJECT) {
        throw InferenceException.invalid("the request body must be a JSON object");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String member = p.currentName();
        JsonToken value = p.nextToken();
        if (!"parameters".equals(member) || value != JsonToken.START_OBJECT) {
          p.skipChildren();
          continue;
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          JsonToken v = p.nextToken();
          if (name.equals("config")) {
            if (v != JsonToken.VALUE_STRING) {
              throw InferenceException.invalid(
                  "parameter 'config' must be a string holding the model configuration as JSON");
            }
            config = p.getText();
          } else if (name.startsWith(ModelFiles.PREFIX)) {
            if (v != JsonToken.VALUE_STRING) {
              throw InferenceException.invalid(
                  "parameter '%s' must be a base64 string holding the file's content",
                  ClientText.printable(name, 200));
            }
            try (OutputStream out = files.file(name)) {
              p.readBinaryValue(BASE64, out);
            } catch (StreamReadException e) {
              throw notBase64(name, e.getOriginalMessage());
            } catch (IllegalArgumentException e) { // Jackson's report of a bad base64 character
              throw notBase64(name, String.valueOf(e.getMessage()));
            }
          } else {
            p.skipChildren();
          }
        }
      }
    } catch (StreamReadException e) {
      String why = String.valueOf(e.getOriginalMessage());
      if (why.startsWith("Duplicate field")) { // Jackson's words: "Duplicate field '<name>'"
        throw InferenceException.invalid(
            "the request body gives a member twice (%s): each may be given once",
            ClientText.printable(why, 300));
      }
      throw InferenceException.invalid("the request body is not valid JSON: %s", why);
    }
    return config;
  }

  private static InferenceException notBase64(String parameter, String why) {
    return InferenceException.invalid(
        "parameter '%s' is not valid base64 (%s): a model file's content is sent base64-encoded",
        ClientText.printable(parameter, 200), why);
  }
}
