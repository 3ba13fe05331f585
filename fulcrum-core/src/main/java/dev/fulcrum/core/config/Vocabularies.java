package dev.fulcrum.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
 * vocab.txt} (its line number), in the model's folder or its version folders.
 */
final class Vocabularies {
  private static final ObjectMapper JSON = new ObjectMapper();

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
          JsonNode id = JSON.readTree(p.toFile()).path("model").path("vocab").path("[UNK]");
          if (id.isInt()) {
            return id.asInt();
          }
        }
      } catch (IOException | RuntimeException e) {
        // not a vocabulary this understands: try the next
      }
    }
    return null;
  }
}
