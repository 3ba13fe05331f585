package dev.fulcrum.pipelines.steps;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.fulcrum.core.error.InferenceException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The tokenize step: Hugging Face's tokenizer (the Rust library, through DJL's JNI binding, whose
 * jar carries the native library: nothing is downloaded) reading a {@code tokenizer.json}. Adds the
 * special tokens ([CLS] ... [SEP] for BERT), truncates to {@code maxLength} or refuses longer text,
 * and pads a request's sentences to its longest (or to {@code maxLength}) with id 0 and mask 0.
 *
 * <p>Thread-safe: the native tokenizer is immutable once built and encodes from many threads.
 */
public final class TextTokenizer implements AutoCloseable {
  private final HuggingFaceTokenizer tokenizer;
  private final int maxLength;
  private final boolean truncation;
  private final boolean padToMaxLength;

  /** A request's sentences as token ids, attention mask and token types, each [n, length]. */
  public record Tokens(int rows, int length, long[] ids, long[] attentionMask, long[] typeIds) {}

  /**
   * @param file a Hugging Face tokenizer.json
   * @param maxLength the most tokens per sentence, special tokens included
   * @param truncation cut longer sentences; when false, refuse them
   * @param padToMaxLength pad every sentence to maxLength rather than to the longest
   * @throws IOException when the file cannot be read or parsed
   */
  public TextTokenizer(Path file, int maxLength, boolean truncation, boolean padToMaxLength)
      throws IOException {
    this.tokenizer =
        HuggingFaceTokenizer.builder()
            .optTokenizerPath(file)
            .optAddSpecialTokens(true)
            .optTruncation(truncation)
            .optMaxLength(maxLength)
            .optPadding(false)
            .build();
    this.maxLength = maxLength;
    this.truncation = truncation;
    this.padToMaxLength = padToMaxLength;
  }

  /** Encodes one sentence (special tokens added, truncated as configured). */
  public long[] ids(String text) {
    return encode(text, 0).getIds();
  }

  private Encoding encode(String text, int row) {
    Encoding e = tokenizer.encode(text);
    if (e.getIds().length > maxLength) {
      if (truncation) {
        throw new IllegalStateException("the tokenizer did not truncate to " + maxLength);
      }
      throw InferenceException.invalid(
          "sentence %d has %d tokens, more than max-length %d (the pipeline does not truncate)",
          row, e.getIds().length, maxLength);
    }
    return e;
  }

  /** Encodes a request's sentences, padded to a common length. */
  public Tokens encode(List<String> texts) {
    int n = texts.size();
    Encoding[] encodings = new Encoding[n];
    int longest = 0;
    for (int i = 0; i < n; i++) {
      encodings[i] = encode(texts.get(i), i);
      longest = Math.max(longest, encodings[i].getIds().length);
    }
    int length = padToMaxLength ? maxLength : Math.max(longest, 1);
    long[] ids = new long[n * length];
    long[] mask = new long[n * length];
    long[] types = new long[n * length];
    for (int i = 0; i < n; i++) {
      Encoding e = encodings[i];
      System.arraycopy(e.getIds(), 0, ids, i * length, e.getIds().length);
      System.arraycopy(e.getAttentionMask(), 0, mask, i * length, e.getAttentionMask().length);
      System.arraycopy(e.getTypeIds(), 0, types, i * length, e.getTypeIds().length);
    }
    return new Tokens(n, length, ids, mask, types);
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
