package dev.fulcrum.tools.embed;

import dev.fulcrum.pipelines.offline.Pipeline;
import dev.fulcrum.tools.serve.ServeCommand;
import dev.fulcrum.tools.text.Utf8Lines;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;
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
    sortOptions = false,
    description = {
      "Embed sentences with a text pipeline model, in process, as the server would.",
      ""
    },
    footer = {
      "",
      "Example:",
      "  fulcrum embed --model-repository demo/models --model minilm_text \\",
      "      --input sentences.txt --output vectors.jsonl"
    })
public final class EmbedCommand implements Callable<Integer> {
  @Spec CommandLine.Model.CommandSpec spec;

  /** Requests in flight at once (each up to max-batch-size sentences). */
  private static final int WINDOW = 16;

  @Option(
      names = "--model-repository",
      paramLabel = "DIR",
      description =
          "The model repository folder. Default: the bundled demo repository, as serve's.")
  @Nullable Path repository;

  @Option(
      names = "--model",
      required = true,
      paramLabel = "NAME",
      description = "The pipeline model, e.g. minilm_text.")
  String model;

  @Option(
      names = "--input",
      defaultValue = "-",
      paramLabel = "FILE",
      description = "Sentences, one per line (UTF-8); '-' for stdin (default).")
  String input;

  @Option(
      names = "--output",
      defaultValue = "-",
      paramLabel = "FILE",
      description =
          "JSON lines, one {\"embedding\": [...]} per sentence; '-' for stdout (default).")
  String output;

  /** Up to max-batch-size lines sent as one request, from line {@code first} (1-based) on. */
  private record Chunk(long first, List<String> lines, CompletableFuture<List<float[]>> vectors) {}

  /** A line the model refused, or a request that failed: what the user reads, on one line. */
  private static final class LineFailed extends Exception {
    private static final long serialVersionUID = 1L;

    /** The lines of its chunk written before the failing one. */
    final long written;

    LineFailed(String message, long written) {
      super(message, null, false, false);
      this.written = written;
    }
  }

  @Override
  public Integer call() throws IOException {
    Path repo;
    try {
      repo = repository != null ? repository : ServeCommand.demoRepository();
    } catch (IllegalStateException e) {
      return fail(e.getMessage());
    }
    long total = input.equals("-") ? -1 : countLines(Path.of(input));
    Progress progress = new Progress(System.err, onATerminal(), total);
    Pipeline opened;
    try {
      opened = Pipeline.open(repo, model);
    } catch (IllegalStateException | IllegalArgumentException e) {
      return fail(e.getMessage());
    }
    long written = 0;
    try (Pipeline pipeline = opened;
        Utf8Lines in = reader();
        Writer out = writer()) {
      try {
        pipeline.requireVectors();
      } catch (IllegalArgumentException e) {
        return fail(e.getMessage());
      }
      int chunk = Math.max(1, pipeline.config().maxBatchSize());
      ArrayDeque<Chunk> window = new ArrayDeque<>();
      List<String> batch = new ArrayList<>(chunk);
      long read = 0;
      String line;
      try {
        while ((line = in.next()) != null) {
          read++;
          batch.add(line);
          if (batch.size() == chunk) {
            window.add(submit(pipeline, read - batch.size() + 1, batch));
            batch = new ArrayList<>(chunk);
            while (window.size() >= WINDOW) {
              written += write(pipeline, out, window.poll(), progress);
            }
          }
        }
        if (!batch.isEmpty()) {
          window.add(submit(pipeline, read - batch.size() + 1, batch));
        }
        while (!window.isEmpty()) {
          written += write(pipeline, out, window.poll(), progress);
        }
      } catch (LineFailed e) {
        window.forEach(c -> c.vectors().cancel(false));
        out.flush();
        progress.done();
        long done = written + e.written;
        return fail(
            e.getMessage()
                + "; "
                + (done == 0 ? "no vectors written" : "wrote the vectors of lines 1-" + done)
                + (output.equals("-") ? "" : " to " + output)
                + ", none after");
      }
    }
    progress.done();
    return 0;
  }

  private static Chunk submit(Pipeline pipeline, long first, List<String> lines) {
    List<CompletableFuture<List<float[]>>> parts = pipeline.embedAsync(lines);
    return new Chunk(first, lines, parts.get(0)); // lines is one chunk: one request
  }

  /**
   * Writes a chunk's vectors; when its request failed, embeds its lines one at a time to find the
   * line the model refuses, writes the ones before it, and throws naming that line.
   *
   * @return the lines written
   */
  private long write(Pipeline pipeline, Writer out, Chunk c, Progress progress)
      throws IOException, LineFailed {
    List<float[]> vectors;
    try {
      vectors = c.vectors().join();
    } catch (CompletionException | CancellationException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      long partial = 0;
      for (int i = 0; i < c.lines().size(); i++) {
        List<float[]> one;
        try {
          one = pipeline.embed(List.of(c.lines().get(i)));
        } catch (RuntimeException lineError) {
          throw new LineFailed(where(c.first() + i) + ": " + lineError.getMessage(), partial);
        }
        write(out, one, progress);
        partial++;
      }
      // Each line alone passed: the request of them all failed (a pass of the batch).
      throw new LineFailed(
          where(c.first()) + "-" + (c.first() + c.lines().size() - 1) + ": " + cause.getMessage(),
          partial);
    }
    write(out, vectors, progress);
    return vectors.size();
  }

  private String where(long line) {
    return (input.equals("-") ? "<stdin>" : input) + ":" + line;
  }

  /** One line on stderr, {@code fulcrum embed: <message>}, and exit code 2: the user's to fix. */
  private int fail(@Nullable String message) {
    PrintWriter err = spec.commandLine().getErr();
    err.println("fulcrum embed: " + message);
    err.flush();
    return 2;
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

  private Utf8Lines reader() throws IOException {
    return input.equals("-")
        ? new Utf8Lines(System.in, "stdin")
        : new Utf8Lines(Files.newInputStream(Path.of(input)), input);
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

  /**
   * The lines of a file, read once before any is embedded: a line that is not UTF-8 is then refused
   * up front, by its number, before the model loads and before any output is written.
   */
  private static long countLines(Path file) throws IOException {
    try (Utf8Lines lines = new Utf8Lines(Files.newInputStream(file), file.toString())) {
      while (lines.next() != null) {
        // counted
      }
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
