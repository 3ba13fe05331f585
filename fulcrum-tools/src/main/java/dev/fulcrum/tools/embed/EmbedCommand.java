package dev.fulcrum.tools.embed;

import dev.fulcrum.pipelines.offline.Pipeline;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fulcrum embed}: reads sentences (one per line), runs them through a text pipeline model in
 * process ({@link Pipeline}: the repository, stages, batcher and engine the server uses), and
 * writes one JSON line per sentence, {@code {"embedding": [...]}}, in input order. Streams: a
 * bounded number of requests is in flight, so memory does not grow with the file. A progress bar
 * goes to stderr when stderr is a terminal.
 *
 * <p>Threads: the calling thread reads, submits and writes; the pipeline's own threads compute.
 */
@Command(
    name = "embed",
    mixinStandardHelpOptions = true,
    description = {
      "Embeds sentences with a text pipeline model, in process, as the server would.",
      "Example: fulcrum embed --model-repository demo/models --model minilm_text"
          + " --input sentences.txt --output vectors.jsonl"
    })
public final class EmbedCommand implements Callable<Integer> {
  @Spec CommandLine.Model.CommandSpec spec;

  /** Requests in flight at once (each up to max-batch-size sentences). */
  private static final int WINDOW = 16;

  @Option(
      names = "--model-repository",
      required = true,
      description = "The model repository folder.")
  Path repository;

  @Option(names = "--model", required = true, description = "The pipeline model, e.g. minilm_text.")
  String model;

  @Option(
      names = "--input",
      defaultValue = "-",
      description = "Sentences, one per line (UTF-8); '-' for stdin (default).")
  String input;

  @Option(
      names = "--output",
      defaultValue = "-",
      description =
          "JSON lines, one {\"embedding\": [...]} per sentence; '-' for stdout (default).")
  String output;

  @Override
  public Integer call() throws IOException {
    long total = input.equals("-") ? -1 : countLines(Path.of(input));
    Progress progress = new Progress(System.err, onATerminal(), total);
    Pipeline opened;
    try {
      opened = Pipeline.open(repository, model);
    } catch (IllegalStateException | IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    try (Pipeline pipeline = opened;
        BufferedReader in = reader();
        Writer out = writer()) {
      try {
        pipeline.requireText();
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
      }
      int chunk = Math.max(1, pipeline.config().maxBatchSize());
      ArrayDeque<CompletableFuture<List<float[]>>> window = new ArrayDeque<>();
      List<String> batch = new ArrayList<>(chunk);
      String line;
      while ((line = in.readLine()) != null) {
        batch.add(line);
        if (batch.size() == chunk) {
          window.addAll(pipeline.embedAsync(batch));
          batch = new ArrayList<>(chunk);
          while (window.size() >= WINDOW) {
            write(out, window.poll().join(), progress);
          }
        }
      }
      if (!batch.isEmpty()) {
        window.addAll(pipeline.embedAsync(batch));
      }
      while (!window.isEmpty()) {
        write(out, window.poll().join(), progress);
      }
    }
    progress.done();
    return 0;
  }

  private static void write(Writer out, List<float[]> vectors, Progress progress)
      throws IOException {
    StringBuilder sb = new StringBuilder();
    for (float[] v : vectors) {
      sb.setLength(0);
      sb.append("{\"embedding\":[");
      for (int i = 0; i < v.length; i++) {
        if (i > 0) {
          sb.append(',');
        }
        sb.append(v[i]);
      }
      sb.append("]}\n");
      out.write(sb.toString());
    }
    progress.add(vectors.size());
  }

  private BufferedReader reader() throws IOException {
    return input.equals("-")
        ? new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))
        : Files.newBufferedReader(Path.of(input), StandardCharsets.UTF_8);
  }

  private Writer writer() throws IOException {
    return output.equals("-")
        ? new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8))
        : Files.newBufferedWriter(Path.of(output), StandardCharsets.UTF_8);
  }

  /**
   * Whether the process runs on a terminal: {@code System.console()} and, on JDK 22 and newer
   * (where it is never null), its {@code isTerminal()}.
   */
  @SuppressWarnings("SystemConsoleNull") // null on JDK 21; isTerminal() decides on newer ones
  private static boolean onATerminal() {
    java.io.Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException e) {
      return true; // JDK 21: a console exists only on a terminal
    }
  }

  private static long countLines(Path file) throws IOException {
    try (var lines = Files.lines(file, StandardCharsets.UTF_8)) {
      return lines.count();
    }
  }

  /** A one-line progress bar on a terminal; silent otherwise. Used by one thread. */
  static final class Progress {
    private final PrintStream err;
    private final boolean terminal;
    private final long total;
    private final long start = System.nanoTime();
    private long done;
    private long lastDraw;

    Progress(PrintStream err, boolean terminal, long total) {
      this.err = err;
      this.terminal = terminal;
      this.total = total;
    }

    void add(int n) {
      done += n;
      long now = System.nanoTime();
      if (terminal && now - lastDraw > 100_000_000L) {
        lastDraw = now;
        err.print("\r" + line(now));
        err.flush();
      }
    }

    String line(long now) {
      double seconds = Math.max(1e-9, (now - start) / 1e9);
      String rate = String.format(java.util.Locale.ROOT, "%.0f sentences/s", done / seconds);
      if (total <= 0) {
        return done + " sentences, " + rate;
      }
      int width = 30;
      int filled = (int) Math.min(width, width * done / total);
      return "["
          + "#".repeat(filled)
          + " ".repeat(width - filled)
          + "] "
          + done
          + "/"
          + total
          + ", "
          + rate;
    }

    void done() {
      if (terminal) {
        err.println("\r" + line(System.nanoTime()));
      }
    }
  }
}
