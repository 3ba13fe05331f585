package dev.fulcrum.tools.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The load generators' {@code --shape} option, shared by {@code bench} and {@code tune} (a picocli
 * mixin): the size of a model input's dynamic dimensions for the generated requests.
 *
 * <p>Threads: filled by picocli on the main thread before the command runs, read after.
 */
public final class ShapeOptions {
  @Option(
      names = "--shape",
      paramLabel = "NAME:D1,D2,..",
      description =
          "Size of an input's dynamic dimensions, without the batch dimension (or the full"
              + " shape); repeatable.")
  List<String> shapes = new ArrayList<>();

  /** The {@code --shape} values as given, {@code NAME:D1,D2,..} each. */
  public List<String> specs() {
    return shapes;
  }

  /**
   * The shapes by input name.
   *
   * @throws IllegalArgumentException a value that is not {@code NAME:D1,D2,..}
   */
  public Map<String, long[]> parsed() {
    return BenchCommand.parseShapes(shapes);
  }
}
