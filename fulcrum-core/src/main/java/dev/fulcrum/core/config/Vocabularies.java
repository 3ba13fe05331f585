package dev.fulcrum.core.config;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * The [UNK] token's id from a model's own vocabulary, for {@code monitoring.text}'s default: a
 * Hugging Face {@code *tokenizer.json} ({@code model.vocab["[UNK]"]}) or a WordPiece {@code
 * vocab.txt} (its line number), in the model's folder or its version folders. The JSON is read with
 * jackson-core's streaming parser, not as a databind tree: a text model's load then builds no
 * {@code ObjectMapper} beside the first answer of a fresh server (docs/PERFORMANCE.md, "Cold
 * start", session 14). Stateless and thread-safe.
 */
final class Vocabularies {
  private static final JsonFactory JSON = new JsonFactory();

  private Vocabularies() {}

  /** The id, or null when no vocabulary there names [UNK] (or none can be read). */
  static @Nullable Integer unkId(Path modelDir) {
    List<Path> files = new ArrayList<>();
    try (Stream<Path> s = Files.walk(modelDir, 2)) {
      s.filter(Files::isRegularFile)
          .filter(
              p -> {
                String n = p.getFileName().toString();
                return n.endsWith("tokenizer.json") || n.equals("vocab.txt");
              })
          .sorted()
          .forEach(files::add);
    } catch (IOException | RuntimeException e) {
      return null;
    }
    for (Path p : files) {
      try {
        if (p.getFileName().toString().equals("vocab.txt")) {
          List<String> lines = Files.readAllLines(p, StandardCharsets.UTF_8);
          int i = lines.indexOf("[UNK]");
          if (i >= 0) {
            return i;
          }
        } else {
          Integer id = tokenizerUnkId(p);
          if (id != null) {
            return id;
          }
        }
      } catch (IOException | RuntimeException e) {
        // not a vocabulary this understands: try the next
      }
    }
    return null;
  }

  /**
   * {@code model.vocab["[UNK]"]} of a tokenizer.json when it is an int, as a tree's {@code
   * path("model").path("vocab").path("[UNK]").isInt()} reads it (a repeated key: the last wins).
   * The whole file is parsed, so malformed JSON throws as a tree read would.
   */
  static @Nullable Integer tokenizerUnkId(Path file) throws IOException {
    try (JsonParser p = JSON.createParser(file.toFile())) {
      JsonToken root = p.nextToken();
      Integer id = null;
      if (root == JsonToken.START_OBJECT) {
        for (String f = p.nextFieldName(); f != null; f = p.nextFieldName()) {
          JsonToken t = p.nextToken();
          if (f.equals("model")) {
            id = t == JsonToken.START_OBJECT ? fieldOf(p, "vocab", true) : skip(p);
          } else {
            p.skipChildren();
          }
        }
      } else if (root != null) {
        p.skipChildren();
      }
      return id;
    }
  }

  /**
   * In the object the parser is at: the {@code [UNK]} id in its field {@code name} (an object) when
   * {@code nested}, else the int value of its field {@code [UNK]}; null when absent or not so.
   * Leaves the parser at the object's end.
   */
  private static @Nullable Integer fieldOf(JsonParser p, String name, boolean nested)
      throws IOException {
    Integer id = null;
    for (String f = p.nextFieldName(); f != null; f = p.nextFieldName()) {
      JsonToken t = p.nextToken();
      if (!f.equals(name)) {
        p.skipChildren();
      } else if (nested) {
        id = t == JsonToken.START_OBJECT ? fieldOf(p, "[UNK]", false) : skip(p);
      } else {
        id =
            t == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.INT
                ? Integer.valueOf(p.getIntValue())
                : skip(p);
      }
    }
    return id;
  }

  private static @Nullable Integer skip(JsonParser p) throws IOException {
    p.skipChildren();
    return null;
  }
}
