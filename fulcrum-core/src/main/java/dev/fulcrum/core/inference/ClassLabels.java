package dev.fulcrum.core.inference;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The class names of a model's outputs, from the labels files its configuration names (Triton's
 * {@code label_filename}; line i names class i): what {@link Classification} appends to {@code
 * "value:index"} as {@code ":label"}. Read once when a version loads; immutable, so any thread may
 * read it.
 */
public final class ClassLabels {
  /** No output has labels. */
  public static final ClassLabels NONE = new ClassLabels(Map.of());

  private final Map<String, List<String>> byOutput;

  private ClassLabels(Map<String, List<String>> byOutput) {
    this.byOutput = byOutput;
  }

  /**
   * @param byOutput each output's labels, class i at index i
   */
  public static ClassLabels of(Map<String, List<String>> byOutput) {
    return byOutput.isEmpty() ? NONE : new ClassLabels(Map.copyOf(byOutput));
  }

  /**
   * The labels in a labels file: UTF-8, line i for class i, a trailing carriage return dropped (a
   * file written on Windows), an empty line a class without a label.
   */
  public static List<String> read(Path file) throws IOException {
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    List<String> labels = new ArrayList<>(lines.size());
    for (String line : lines) {
      labels.add(line.endsWith("\r") ? line.substring(0, line.length() - 1) : line);
    }
    return List.copyOf(labels);
  }

  /** The labels of one output, or null when it has none. */
  public @Nullable List<String> forOutput(String output) {
    return byOutput.get(output);
  }
}
