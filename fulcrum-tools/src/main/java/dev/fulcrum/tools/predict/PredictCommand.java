package dev.fulcrum.tools.predict;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.TensorBuffers;
import dev.fulcrum.server.codec.MlflowDecoder;
import dev.fulcrum.server.codec.PredictDecoder.PredictRequest;
import dev.fulcrum.server.codec.PredictJson;
import dev.fulcrum.tools.serve.ServeCommand;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fulcrum predict}: scores a file of rows (CSV with a header, or JSON lines) with a model of
 * a repository, in process, through the server's own path: its MLflow decoding ({@link
 * MlflowDecoder}, as {@code POST /invocations} reads a frame), its model manager, scheduler and
 * batcher ({@link OfflineModel}), and its JSON writing ({@link PredictJson#recordLines}); it writes
 * one answer per row, in input order. Streams: rows go in requests of up to the model's
 * max-batch-size, a bounded number in flight, so memory does not grow with the file.
 *
 * <p>Threads: the calling thread reads rows and writes answers in order; a small pool decodes the
 * requests and encodes the answers; the model's own threads compute.
 */
@Command(
    name = "predict",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Score a file of rows with a model, in process, as the server answers them.",
      "",
      "Input: CSV with a header row, whose columns map to the model's inputs as",
      "MLflow's /invocations maps a DataFrame (a model of one input takes each row's",
      "values in column order; one of several inputs takes one column per input, by",
      "name); or JSON lines, each line one record: {\"column\": value, ...} or",
      "{\"input\": [...]}.",
      "Output: one line per input row, in the same order: JSON lines of the outputs",
      "by name ({\"probabilities\":[0.9,0.1],\"label\":0}), or CSV (one column per",
      "output element: probabilities_0, probabilities_1, label).",
      "Rows go through the server's own decoder, batcher and engine, in requests of",
      "up to the model's max-batch-size, a bounded number in flight: the answers are",
      "those of POST /invocations, and memory stays flat for a file of any length.",
      ""
    },
    footer = {
      "",
      "A bad row (a value of the wrong type, a row of another length):",
      "  --on-error fail  stops at it: 'FILE:LINE: reason' on stderr, the rows",
      "                   before it written, none after; exit status 1.",
      "  --on-error skip  writes an error line in its place ({\"error\": ...,",
      "                   \"line\": N}, or CSV's error column) and goes on;",
      "                   exit status 3 if any row was skipped.",
      "Exit status: 0 every row scored; 1 stopped at a bad row; 2 a usage or file",
      "error (a missing file, a model that does not load); 3 rows skipped.",
      "Progress (rows, rows/s) goes to stderr, and at the end a summary: rows,",
      "errors, wall time and rows/s (--quiet: neither).",
      "",
      "Examples:",
      "  fulcrum predict --model-repository demo/models --model fraud_classifier \\",
      "      --input transactions.csv --output scores.jsonl",
      "  cat rows.jsonl | fulcrum predict --model fraud_classifier:1 \\",
      "      --on-error skip > scores.jsonl"
    })
public final class PredictCommand implements Callable<Integer> {
  @Spec CommandLine.Model.CommandSpec spec;

  /** An input or output format. */
  enum Format {
    csv,
    jsonl
  }

  /** What to do with a bad row. */
  enum OnError {
    fail,
    skip
  }

  @Option(
      names = "--model-repository",
      paramLabel = "DIR",
      description =
          "The model repository folder. Default: the bundled demo repository, as serve's.")
  @Nullable Path repository;

  @Option(
      names = "--model",
      required = true,
      paramLabel = "NAME[:VERSION]",
      description = "The model (an ensemble too), e.g. fraud_classifier or fraud_classifier:1.")
  String model;

  @Option(
      names = "--input",
      defaultValue = "-",
      paramLabel = "FILE",
      description = "The rows: CSV or JSON lines (UTF-8); '-' for stdin (default).")
  String input;

  @Option(
      names = "--output",
      defaultValue = "-",
      paramLabel = "FILE",
      description = "The answers, one line per row; '-' for stdout (default).")
  String output;

  @Option(
      names = "--format",
      paramLabel = "csv|jsonl",
      description =
          "The input's format. Default: csv for a name ending .csv, jsonl for one ending"
              + " .jsonl, .ndjson or .json; else by the first character ('{': jsonl).")
  @Nullable Format format;

  @Option(
      names = "--output-format",
      paramLabel = "csv|jsonl",
      description = "The output's format. Default: csv for a name ending .csv, else jsonl.")
  @Nullable Format outputFormat;

  @Option(
      names = "--on-error",
      defaultValue = "fail",
      paramLabel = "fail|skip",
      description =
          "A bad row stops the run (fail, default) or is answered by an error line (skip).")
  OnError onError;

  @Option(
      names = "--batch-size",
      paramLabel = "N",
      description =
          "Rows per request. Default: the model's max-batch-size (1 for a model without batching).")
  @Nullable Integer batchSize;

  @Option(
      names = "--in-flight",
      paramLabel = "N",
      description = "Requests in flight at once (default: 4 per core, at least 8).")
  @Nullable Integer inFlight;

  @Option(names = "--quiet", description = "No progress and no summary on stderr (errors still).")
  boolean quiet;

  /** What stops the run: a bad row (--on-error fail), or an overload that outlasts the patience. */
  private static final class Stopped extends Exception {
    private static final long serialVersionUID = 1L;

    Stopped(String message) {
      super(message, null, false, false);
    }
  }

  /** Rows read together, and their answer's bytes once scored. */
  private record Batch(List<RowSource.Row> rows, CompletableFuture<byte[]> answer) {}

  private @Nullable OfflineModel loaded;
  private @Nullable CsvRows csvOut;
  private @Nullable ExecutorService pool;
  private byte @Nullable [] header;
  private boolean csvIn;
  private long rows;
  private long errors;

  @Override
  public Integer call() throws IOException {
    checkRanges();
    Path repo;
    try {
      repo = repository != null ? repository : ServeCommand.demoRepository();
    } catch (IllegalStateException e) {
      return fail(e.getMessage());
    }
    int colon = model.lastIndexOf(':');
    String name = colon < 0 ? model : model.substring(0, colon);
    String version = colon < 0 ? "" : model.substring(colon + 1);
    if (!input.equals("-") && !Files.isReadable(Path.of(input))) {
      return fail("--input " + input + ": no such file, or it cannot be read");
    }
    Format out = outputFormat != null ? outputFormat : byName(output, Format.jsonl);
    InputStream raw = input.equals("-") ? System.in : Files.newInputStream(Path.of(input));
    BufferedInputStream in = new BufferedInputStream(raw, 1 << 16);
    Format inFormat = format != null ? format : byName(input, null);
    if (inFormat == null) {
      try {
        inFormat = sniff(in);
      } catch (IOException | RuntimeException e) {
        in.close();
        throw e;
      }
    }
    csvIn = inFormat == Format.csv;
    OfflineModel m;
    try {
      m = OfflineModel.open(repo, name, version);
    } catch (IllegalArgumentException | IllegalStateException e) {
      in.close();
      return fail(e.getMessage());
    }
    loaded = m;
    ModelConfig config = m.version().config();
    if (out == Format.csv) {
      try {
        csvOut = CsvRows.of(config, onError == OnError.skip);
      } catch (IllegalArgumentException e) {
        m.close();
        in.close();
        return fail("model '" + name + "': " + e.getMessage());
      }
    }
    int batch = batchSize != null ? batchSize : Math.max(1, config.maxBatchSize());
    if (config.maxBatchSize() > 0 && batch > config.maxBatchSize()) {
      m.close();
      in.close();
      return fail(
          "--batch-size "
              + batch
              + ": model '"
              + name
              + "' takes at most "
              + config.maxBatchSize()
              + " rows per request (its max-batch-size)");
    }
    if (config.maxBatchSize() == 0) {
      batch = 1; // a model without batching takes one row per request
    }
    int cores = Runtime.getRuntime().availableProcessors();
    int window = inFlight != null ? inFlight : Math.max(8, 4 * cores);
    AtomicInteger threads = new AtomicInteger();
    ExecutorService workers =
        Executors.newFixedThreadPool(
            Math.max(1, Math.min(cores, 4)),
            r ->
                Thread.ofPlatform()
                    .daemon(true)
                    .name("fulcrum-predict-" + threads.incrementAndGet())
                    .unstarted(r));
    pool = workers;
    Progress progress = new Progress(spec.commandLine().getErr(), Progress.onATerminal(), quiet);
    int code;
    try (m;
        RowSource source = new RowSource(in, csvIn, where());
        OutputStream os = outputStream()) {
      code = run(source, os, batch, window, progress);
    } finally {
      workers.shutdownNow();
    }
    return code;
  }

  private int run(RowSource source, OutputStream os, int batch, int window, Progress progress)
      throws IOException {
    if (csvIn) {
      RowSource.Row h = source.next();
      if (h == null) {
        return fail(where() + ": empty; a CSV input starts with a header row of column names");
      }
      header = h.bytes();
    }
    if (csvOut != null) {
      os.write(csvOut.header());
    }
    ArrayDeque<Batch> pending = new ArrayDeque<>();
    List<RowSource.Row> next = new ArrayList<>(batch);
    try {
      RowSource.Row row;
      while ((row = source.next()) != null) {
        next.add(row);
        if (next.size() == batch) {
          pending.add(submit(next));
          next = new ArrayList<>(batch);
          while (pending.size() >= window) {
            write(os, pending.poll(), progress);
          }
        }
      }
      if (!next.isEmpty()) {
        pending.add(submit(next));
      }
      while (!pending.isEmpty()) {
        write(os, pending.poll(), progress);
      }
    } catch (Stopped e) {
      pending.forEach(b -> b.answer().cancel(false));
      os.flush();
      progress.summary(rows, errors);
      return fail(
          1,
          e.getMessage()
              + "; "
              + (rows == 0
                  ? "no rows written"
                  : "wrote the answers" + " of the " + rows + " rows before it")
              + (output.equals("-") ? "" : " to " + output)
              + ", none after");
    }
    os.flush();
    progress.summary(rows, errors);
    return errors > 0 ? 3 : 0;
  }

  /** Hands a batch to the pool: decoded there, scored by the model, encoded there. */
  private Batch submit(List<RowSource.Row> batch) {
    ExecutorService workers = java.util.Objects.requireNonNull(pool);
    OfflineModel m = java.util.Objects.requireNonNull(loaded);
    CompletableFuture<byte[]> answer =
        CompletableFuture.supplyAsync(() -> decode(batch), workers)
            .thenCompose(p -> m.service().infer(p.request()))
            .thenApplyAsync(r -> encode(r, batch.size()), workers);
    return new Batch(batch, answer);
  }

  /** The rows as one MLflow frame, read by the server's decoder. */
  private PredictRequest decode(List<RowSource.Row> batch) {
    OfflineModel m = java.util.Objects.requireNonNull(loaded);
    int size = 2;
    for (RowSource.Row r : batch) {
      size += r.bytes().length + 1;
    }
    byte[] h = header;
    ByteBuf body;
    if (csvIn && h != null) {
      body = Unpooled.buffer(size + h.length + 1);
      body.writeBytes(h).writeByte('\n');
      for (RowSource.Row r : batch) {
        body.writeBytes(r.bytes()).writeByte('\n');
      }
    } else {
      body = Unpooled.buffer(size + 24);
      body.writeBytes(RECORDS);
      for (int i = 0; i < batch.size(); i++) {
        if (i > 0) {
          body.writeByte(',');
        }
        body.writeBytes(batch.get(i).bytes());
      }
      body.writeByte(']').writeByte('}');
    }
    PredictRequest p =
        MlflowDecoder.decode(
            m.version().name(),
            m.version().versionString(),
            m.version().config(),
            body,
            csvIn,
            TensorBuffers.shared());
    if (!p.splitAnswer() || p.instances() != batch.size()) {
      // A JSON line holding two records, or a CSV quote left open: never a shifted row.
      throw InferenceException.invalid(
          "read as %d rows, not %d: %s",
          p.instances(),
          batch.size(),
          csvIn ? "a quoted value left open?" : "one JSON object per line");
    }
    return p;
  }

  private static final byte[] RECORDS =
      "{\"dataframe_records\":[".getBytes(StandardCharsets.US_ASCII);

  private byte[] encode(InferenceResponse response, int n) {
    CsvRows c = csvOut;
    if (c != null) {
      return c.rows(response, n);
    }
    ByteBuf b = PredictJson.recordLines(response, n, UnpooledByteBufAllocator.DEFAULT);
    try {
      return ByteBufUtil.getBytes(b);
    } finally {
      b.release();
    }
  }

  /**
   * Writes a batch's answers; when its request failed, scores its rows one at a time to find the
   * bad ones: each is an error line (skip) or stops the run after the rows before it (fail).
   */
  private void write(OutputStream os, Batch b, Progress progress) throws IOException, Stopped {
    byte[] answer;
    try {
      answer = answer(b);
    } catch (ExecutionException | CancellationException e) {
      for (RowSource.Row row : b.rows()) {
        byte[] one;
        try {
          one = answer(submit(List.of(row)));
        } catch (ExecutionException | CancellationException rowError) {
          String reason = where() + ":" + row.line() + ": " + reason(rowError);
          if (onError == OnError.fail) {
            throw new Stopped(reason);
          }
          errors++;
          os.write(errorLine(reason, row.line()));
          continue;
        }
        os.write(one);
        rows++;
      }
      progress.add(rows, errors);
      return;
    }
    os.write(answer);
    rows += b.rows().size();
    progress.add(rows, errors);
  }

  /**
   * How long a batch the model keeps refusing as overloaded is sent again before the run stops: an
   * overload that lasts this long is the model's state, not a pause, and its rows are not bad.
   */
  private static final long OVERLOAD_PATIENCE_NANOS = TimeUnit.SECONDS.toNanos(60);

  /**
   * A batch's answer; a batch refused because the model was overloaded (a full queue, RESOURCE_
   * EXHAUSTED) is sent again after a pause (the refusal's retry hint where it gives one, else a
   * backoff to 100 ms), as a client retries a 429: an overload is no fault of the rows. When it
   * lasts {@link #OVERLOAD_PATIENCE_NANOS} the run stops with that reason, whatever {@code
   * --on-error} says, rather than scoring the rows one by one as if they were bad. Every
   * RESOURCE_EXHAUSTED is retried, not only one with a retry hint: a full queue's hint is null
   * until the model has measured a pass, and offline each such refusal the core gives is load (a
   * full queue, an SLO's early refusal, best-effort over half a queue), none a fault of the rows.
   */
  private byte[] answer(Batch b) throws IOException, ExecutionException, Stopped {
    Batch current = b;
    long since = System.nanoTime();
    for (int attempt = 0; ; attempt++) {
      Duration pause;
      try {
        return current.answer().get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof InferenceException ie)
            || ie.code() != ErrorCode.RESOURCE_EXHAUSTED) {
          throw e;
        }
        if (System.nanoTime() - since > OVERLOAD_PATIENCE_NANOS) {
          throw new Stopped(
              where()
                  + ":"
                  + b.rows().get(0).line()
                  + ": the model stayed overloaded for "
                  + TimeUnit.NANOSECONDS.toSeconds(OVERLOAD_PATIENCE_NANOS)
                  + " s ("
                  + ie.getMessage()
                  + "); lower --in-flight or raise the model's max-queue-size");
        }
        Duration hint = ie.retryAfter();
        pause =
            hint != null
                ? Duration.ofMillis(Math.clamp(hint.toMillis(), 1, 1_000))
                : Duration.ofMillis(Math.min(100, 1L << Math.min(attempt, 7)));
      }
      try {
        Thread.sleep(pause);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
      current = submit(b.rows());
    }
  }

  private static String reason(Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof ExecutionException)
        && c.getCause() != null) {
      c = c.getCause();
    }
    String m = c.getMessage();
    return m == null ? c.toString() : m;
  }

  private byte[] errorLine(String reason, long line) {
    CsvRows c = csvOut;
    if (c != null) {
      return c.error(reason);
    }
    return ("{\"error\":\""
            + new String(JsonStringEncoder.getInstance().quoteAsString(reason))
            + "\",\"line\":"
            + line
            + "}\n")
        .getBytes(StandardCharsets.UTF_8);
  }

  private String where() {
    return input.equals("-") ? "<stdin>" : input;
  }

  private OutputStream outputStream() throws IOException {
    if (!output.equals("-")) {
      return new BufferedOutputStream(Files.newOutputStream(Path.of(output)), 1 << 16);
    }
    return new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16) {
      @Override
      public void close() throws IOException {
        flush(); // stdout stays open for whoever runs this command
      }
    };
  }

  private void checkRanges() {
    if (batchSize != null && batchSize < 1) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--batch-size must be at least 1, was " + batchSize);
    }
    if (inFlight != null && inFlight < 1) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--in-flight must be at least 1, was " + inFlight);
    }
  }

  /** The format a file's name says, or {@code otherwise}. */
  private static @Nullable Format byName(String file, @Nullable Format otherwise) {
    String lower = file.toLowerCase(Locale.ROOT);
    if (lower.endsWith(".csv")) {
      return Format.csv;
    }
    if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson") || lower.endsWith(".json")) {
      return Format.jsonl;
    }
    return otherwise;
  }

  /** JSON lines when the first character that is not white space is '{', else CSV. */
  private static Format sniff(BufferedInputStream in) throws IOException {
    in.mark(1 << 16);
    try {
      for (int i = 0; i < (1 << 16) - 1; i++) {
        int b = in.read();
        if (b < 0) {
          return Format.csv;
        }
        if (b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == 0xEF || b == 0xBB
            || b == 0xBF) {
          continue;
        }
        return b == '{' ? Format.jsonl : Format.csv;
      }
      return Format.csv;
    } finally {
      in.reset();
    }
  }

  private int fail(@Nullable String message) {
    return fail(2, message);
  }

  /** One line on stderr, {@code fulcrum predict: <message>}, and the exit status. */
  private int fail(int code, @Nullable String message) {
    PrintWriter err = spec.commandLine().getErr();
    err.println("fulcrum predict: " + message);
    err.flush();
    return code;
  }
}
