package dev.fulcrum.pipelines.steps;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
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
    return encode(text, 0, true).ids();
  }

  /** One sentence's ids, attention mask and token types, each as long as its tokens. */
  private record Encoded(long[] ids, long[] attentionMask, long[] typeIds) {}

  /**
   * The most characters one token stands for, as far as a cut is concerned: WordPiece reads a word
   * of more than 100 characters (its {@code max_input_chars_per_word}) as one [UNK], and one of 100
   * or fewer gives at least one token.
   */
  static final int CHARS_PER_TOKEN = 100;

  /**
   * Where a text is cut: the four whitespace characters BERT's pre-tokenizer (and the
   * whitespace-splitting pre-tokenizers of other models: Metaspace, byte-level BPE) always ends a
   * word at. Other whitespace is not a safe cut: BERT's normalizer deletes U+000B and U+000C as
   * control characters, joining the words around them.
   */
  private static boolean isCut(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
  }

  /**
   * Encodes one sentence, refusing it when it is longer than max-length and the pipeline does not
   * truncate. A long text is never encoded whole: a 10 MB text took ~50 s in the native tokenizer
   * (its cost grows faster than the text) and held an engine thread all along.
   *
   * <p>Truncating, the text is cut before encoding where the cut cannot change the first max-length
   * tokens: after its first max-length chunks between whitespace ({@link #isCut}), each a word or
   * more to the pre-tokenizer and so at least one token; a word's tokens never depend on what
   * follows the whitespace after it. Should the cut text give fewer than max-length tokens (chunks
   * of characters the normalizer drops: control characters, combining marks), twice as many chunks
   * are tried, and so on. In any case the cut comes no later than max-length × {@link
   * #CHARS_PER_TOKEN} characters. That bound is where the cut is approximate: a text whose first
   * max-length × 100 characters hold fewer than max-length tokens (words of over 100 characters,
   * each one [UNK]; long runs of whitespace; characters the normalizer drops) is cut there and gets
   * fewer tokens than it would whole: at the end of the last chunk before the bound, or inside the
   * first chunk when that is longer than the bound (its last word may then read as another token
   * than whole). The bound counts UTF-16 units where WordPiece counts code points after
   * normalization.
   *
   * <p>Not truncating, a text of more than max-length chunks has more than max-length tokens and is
   * refused unencoded, as is one of more than max-length × 100 characters.
   */
  private Encoded encode(String text, int row, boolean truncate) {
    int bound = (int) Math.min(Integer.MAX_VALUE - 1, (long) maxLength * CHARS_PER_TOKEN);
    if (truncation && !truncate) {
      return whole(text, row);
    }
    if (!truncation) {
      if (text.length() > bound) {
        throw InferenceException.invalid(
            "row %d has %d characters, more than a pipeline that does not truncate reads"
                + " (max-length %d × %d)",
            row, text.length(), maxLength, CHARS_PER_TOKEN);
      }
      if (cutAfter(text, maxLength, bound) < text.length()) {
        throw InferenceException.invalid(
            "row %d has more than %d words (each at least one token), more than max-length"
                + " %d (the pipeline does not truncate)",
            row, maxLength, maxLength);
      }
      return checked(encodeWhole(text), row);
    }
    Encoded e = null;
    int cut = -1;
    for (long chunks = maxLength; ; chunks *= 2) {
      int next = cutAfter(text, (int) Math.min(Integer.MAX_VALUE, chunks), bound);
      if (next >= text.length()) {
        return checked(encodeWhole(text), row);
      }
      if (next == cut) {
        return Objects.requireNonNull(e); // at the bound
      }
      cut = next;
      e = checked(encodeWhole(text.substring(0, cut)), row);
      if (e.ids().length >= maxLength) {
        return e;
      }
    }
  }

  /**
   * Encodes one sentence of a truncating tokenizer whole, for a request that asked not to truncate
   * (TEI's and Ollama's {@code truncate: false}): a text the tokenizer would cut is refused,
   * TOO_LARGE (TEI's 413), never cut silently. As the non-truncating path, a text of more than
   * max-length chunks (each at least one token) or max-length × 100 characters is refused
   * unencoded; else the tokenizer's own overflow tells.
   */
  private Encoded whole(String text, int row) {
    int bound = (int) Math.min(Integer.MAX_VALUE - 1, (long) maxLength * CHARS_PER_TOKEN);
    if (text.length() > bound || cutAfter(text, maxLength, bound) < text.length()) {
      throw tooLong(row);
    }
    if (direct) {
      long encoding = TokenizersLibrary.LIB.encode(tokenizer.getHandle(), text, true);
      try {
        if (TokenizersLibrary.LIB.getOverflowCount(encoding) > 0) {
          throw tooLong(row);
        }
        return new Encoded(
            TokenizersLibrary.LIB.getTokenIds(encoding),
            TokenizersLibrary.LIB.getAttentionMask(encoding),
            TokenizersLibrary.LIB.getTypeIds(encoding));
      } finally {
        TokenizersLibrary.LIB.deleteEncoding(encoding);
      }
    }
    Encoding full = tokenizer.encode(text);
    if (full.exceedMaxLength()) {
      throw tooLong(row);
    }
    return new Encoded(full.getIds(), full.getAttentionMask(), full.getTypeIds());
  }

  private InferenceException tooLong(int row) {
    return new InferenceException(
        ErrorCode.TOO_LARGE,
        String.format(
            Locale.ROOT,
            "row %d has more than %d tokens, the tokenizer's max-length, and truncation was not"
                + " asked (truncate: false)",
            row,
            maxLength));
  }

  /**
   * The index after the text's first {@code chunks} runs of non-whitespace ({@link #isCut}), before
   * the whitespace that ends the last; when {@code bound} comes first, the end of the last chunk
   * that ends before it, else {@code bound} (kept off the middle of a surrogate pair); the text's
   * length when it has no more.
   */
  static int cutAfter(String text, int chunks, int bound) {
    int end = Math.min(text.length(), bound);
    int seen = 0;
    int lastEnd = -1;
    boolean inChunk = false;
    for (int i = 0; i < end; i++) {
      if (isCut(text.charAt(i))) {
        if (inChunk) {
          if (seen == chunks) {
            return i;
          }
          lastEnd = i;
        }
        inChunk = false;
      } else if (!inChunk) {
        inChunk = true;
        seen++;
      }
    }
    if (end == text.length()) {
      return end;
    }
    if (inChunk && lastEnd > 0 && !isCut(text.charAt(end))) {
      return lastEnd; // the bound falls inside a chunk: not a part of it, which may read
      // differently
    }
    return Character.isHighSurrogate(text.charAt(end - 1)) ? end - 1 : end;
  }

  private Encoded checked(Encoded e, int row) {
    if (e.ids().length > maxLength) {
      if (truncation) {
        throw new IllegalStateException("the tokenizer did not truncate to " + maxLength);
      }
      throw InferenceException.invalid(
          "row %d has %d tokens, more than max-length %d (the pipeline does not truncate)",
          row, e.ids().length, maxLength);
    }
    return e;
  }

  /**
   * Encodes a text through the native tokenizer, reading back only the three arrays the model
   * takes: {@link HuggingFaceTokenizer#encode(String)} also builds the token strings, word ids and
   * character spans (a class lookup and an object per token), which cost as much again.
   */
  private Encoded encodeWhole(String text) {
    if (direct) {
      long encoding = TokenizersLibrary.LIB.encode(tokenizer.getHandle(), text, true);
      try {
        return new Encoded(
            TokenizersLibrary.LIB.getTokenIds(encoding),
            TokenizersLibrary.LIB.getAttentionMask(encoding),
            TokenizersLibrary.LIB.getTypeIds(encoding));
      } finally {
        TokenizersLibrary.LIB.deleteEncoding(encoding);
      }
    }
    Encoding full = tokenizer.encode(text);
    return new Encoded(full.getIds(), full.getAttentionMask(), full.getTypeIds());
  }

  /** Encodes a request's sentences, padded to a common length. */
  public Tokens encode(List<String> texts) {
    return encode(texts, 0);
  }

  /**
   * Encodes a request's sentences, padded to a common length.
   *
   * @param firstRow the request row of the first sentence, for errors that name a row
   * @throws InferenceException INVALID_ARGUMENT ("row i has ...") for a sentence longer than
   *     max-length when the tokenizer does not truncate
   */
  public Tokens encode(List<String> texts, int firstRow) {
    return encode(texts, firstRow, true);
  }

  /**
   * As {@link #encode(List, int)}; with {@code truncate} false a sentence longer than max-length is
   * refused (TOO_LARGE) even where this tokenizer truncates.
   */
  public Tokens encode(List<String> texts, int firstRow, boolean truncate) {
    int n = texts.size();
    if (n == 1 && !padToMaxLength) {
      Encoded e = encode(texts.get(0), firstRow, truncate);
      if (e.ids().length > 0) {
        return new Tokens(1, e.ids().length, e.ids(), e.attentionMask(), e.typeIds());
      }
    }
    Encoded[] encodings = new Encoded[n];
    int longest = 0;
    for (int i = 0; i < n; i++) {
      encodings[i] = encode(texts.get(i), firstRow + i, truncate);
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
