package dev.fulcrum.pipelines.steps;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.error.InferenceException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The tokenize step: Hugging Face's tokenizer (the Rust library, through DJL's JNI binding, whose
 * jar carries the native library: nothing is downloaded) reading a {@code tokenizer.json}. Adds the
 * special tokens ([CLS] ... [SEP] for BERT), truncates to {@code maxLength} or refuses longer text,
 * and pads a request's sentences to its longest (or to {@code maxLength}) with id 0 and mask 0.
 *
 * <p>Unless told otherwise, {@code maxLength} is the tokenizer file's own: its {@code "truncation":
 * {"max_length": n}}, what the model was exported with and what other runtimes of the same file
 * (langchain4j's all-MiniLM-L6-v2: 128) truncate at. The file's {@code padding} is not followed:
 * padding is a batching choice here ({@code padding: longest | max-length}), and mean pooling
 * ignores padded positions.
 *
 * <p>Thread-safe: the native tokenizer is immutable once built and encodes from many threads.
 */
public final class TextTokenizer implements AutoCloseable {
  /**
   * DJL's switch that stops its tokenizer from calling home: unless told otherwise, the first
   * tokenizer a process builds asks the cloud's instance metadata address (169.254.169.254) and
   * then DJL's telemetry endpoint for an instance id. A server must not make network calls its
   * operator did not ask for, so it is set here unless the environment or a system property already
   * names it.
   */
  static final String OPT_OUT_TRACKING = "OPT_OUT_TRACKING";

  static {
    if (System.getenv(OPT_OUT_TRACKING) == null && System.getProperty(OPT_OUT_TRACKING) == null) {
      System.setProperty(OPT_OUT_TRACKING, "true");
    }
  }

  private final HuggingFaceTokenizer tokenizer;
  private final int maxLength;
  private final boolean truncation;
  private final boolean padToMaxLength;

  /**
   * Whether to read the native encoding directly: DJL applies a {@code tokenizer_config.json}'s
   * lower-casing, accent stripping and prefix space in Java before encoding, so beside such a file
   * its own encode runs instead.
   */
  private final boolean direct;

  /**
   * A max-length the tokenizer cannot honour: more than its model_max_length (DJL's: the {@code
   * model_max_length} of a tokenizer_config.json beside the file, else 512).
   */
  public static final class MaxLengthException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final int asked;
    private final int limit;

    MaxLengthException(int asked, int limit) {
      super(
          "max-length "
              + asked
              + " is more than this tokenizer takes: "
              + limit
              + " (the model_max_length of a tokenizer_config.json beside it, else 512)");
      this.asked = asked;
      this.limit = limit;
    }

    /** The length asked for. */
    public int asked() {
      return asked;
    }

    /** The most the tokenizer takes. */
    public int limit() {
      return limit;
    }
  }

  /** A request's sentences as token ids, attention mask and token types, each [n, length]. */
  public record Tokens(int rows, int length, long[] ids, long[] attentionMask, long[] typeIds) {}

  /**
   * @param file a Hugging Face tokenizer.json
   * @param maxLength the most tokens per sentence, special tokens included; null for the file's own
   *     {@code truncation.max_length}, or {@link PipelineConfig.Tokenize#DEFAULT_MAX_LENGTH} when
   *     the file has none
   * @param truncation cut longer sentences; when false, refuse them
   * @param padToMaxLength pad every sentence to maxLength rather than to the longest
   * @throws IOException when the file cannot be read or parsed
   * @throws MaxLengthException when the length (given or the file's) is more than it takes
   */
  public TextTokenizer(
      Path file, @Nullable Integer maxLength, boolean truncation, boolean padToMaxLength)
      throws IOException {
    int max;
    if (maxLength != null) {
      max = maxLength;
    } else {
      Integer own = truncationLength(file);
      max = own != null ? own : PipelineConfig.Tokenize.DEFAULT_MAX_LENGTH;
    }
    // Built truncating in any case: DJL then caps a maxLength over its model_max_length (a
    // tokenizer_config.json's beside the file, else 512) with no more than a warning, and reading
    // back the length it kept tells that limit. Without truncation it caps nothing, and a longer
    // sentence reached the model, whose position table (512 for BERT) fails it in the engine.
    HuggingFaceTokenizer built =
        HuggingFaceTokenizer.builder()
            .optTokenizerPath(file)
            .optAddSpecialTokens(true)
            .optTruncation(true)
            .optMaxLength(max)
            .optPadding(false)
            .build();
    if (built.getMaxLength() < max) {
      int limit = built.getMaxLength();
      built.close();
      throw new MaxLengthException(max, limit);
    }
    if (!truncation) {
      // What DJL's optTruncation(false) does at build.
      TokenizersLibrary.LIB.disableTruncation(built.getHandle());
    }
    this.tokenizer = built;
    this.direct = !Files.exists(file.resolveSibling("tokenizer_config.json"));
    this.maxLength = max;
    this.truncation = truncation;
    this.padToMaxLength = padToMaxLength;
  }

  /** The most tokens per sentence, special tokens included: as given, or the file's own. */
  public int maxLength() {
    return maxLength;
  }

  /**
   * The tokenizer file's {@code truncation.max_length}, or null when it declares no truncation.
   * Read with a streaming parser that skips the vocabulary unread: no tree of the whole file.
   */
  static @Nullable Integer truncationLength(Path file) throws IOException {
    try (JsonParser p = new JsonFactory().createParser(file.toFile())) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException(file.getFileName() + " is not a JSON object");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken value = p.nextToken();
        if (!"truncation".equals(field) || value != JsonToken.START_OBJECT) {
          p.skipChildren();
          continue;
        }
        Integer length = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          JsonToken v = p.nextToken();
          if ("max_length".equals(name) && v == JsonToken.VALUE_NUMBER_INT) {
            length = p.getIntValue();
          } else {
            p.skipChildren();
          }
        }
        return length;
      }
      return null;
    }
  }

  /** Encodes one sentence (special tokens added, truncated as configured). */
  public long[] ids(String text) {
    return encode(text, 0).ids();
  }

  /** One sentence's ids, attention mask and token types, each as long as its tokens. */
  private record Encoded(long[] ids, long[] attentionMask, long[] typeIds) {}

  /**
   * Encodes one sentence through the native tokenizer, reading back only the three arrays the model
   * takes: {@link HuggingFaceTokenizer#encode(String)} also builds the token strings, word ids and
   * character spans (a class lookup and an object per token), which cost as much again.
   */
  private Encoded encode(String text, int row) {
    Encoded e;
    if (direct) {
      long encoding = TokenizersLibrary.LIB.encode(tokenizer.getHandle(), text, true);
      try {
        e =
            new Encoded(
                TokenizersLibrary.LIB.getTokenIds(encoding),
                TokenizersLibrary.LIB.getAttentionMask(encoding),
                TokenizersLibrary.LIB.getTypeIds(encoding));
      } finally {
        TokenizersLibrary.LIB.deleteEncoding(encoding);
      }
    } else {
      Encoding full = tokenizer.encode(text);
      e = new Encoded(full.getIds(), full.getAttentionMask(), full.getTypeIds());
    }
    if (e.ids().length > maxLength) {
      if (truncation) {
        throw new IllegalStateException("the tokenizer did not truncate to " + maxLength);
      }
      throw InferenceException.invalid(
          "sentence %d has %d tokens, more than max-length %d (the pipeline does not truncate)",
          row, e.ids().length, maxLength);
    }
    return e;
  }

  /** Encodes a request's sentences, padded to a common length. */
  public Tokens encode(List<String> texts) {
    int n = texts.size();
    if (n == 1 && !padToMaxLength) {
      Encoded e = encode(texts.get(0), 0);
      if (e.ids().length > 0) {
        return new Tokens(1, e.ids().length, e.ids(), e.attentionMask(), e.typeIds());
      }
    }
    Encoded[] encodings = new Encoded[n];
    int longest = 0;
    for (int i = 0; i < n; i++) {
      encodings[i] = encode(texts.get(i), i);
      longest = Math.max(longest, encodings[i].ids().length);
    }
    int length = padToMaxLength ? maxLength : Math.max(longest, 1);
    long[] ids = new long[n * length];
    long[] mask = new long[n * length];
    long[] types = new long[n * length];
    for (int i = 0; i < n; i++) {
      Encoded e = encodings[i];
      System.arraycopy(e.ids(), 0, ids, i * length, e.ids().length);
      System.arraycopy(e.attentionMask(), 0, mask, i * length, e.attentionMask().length);
      System.arraycopy(e.typeIds(), 0, types, i * length, e.typeIds().length);
    }
    return new Tokens(n, length, ids, mask, types);
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
