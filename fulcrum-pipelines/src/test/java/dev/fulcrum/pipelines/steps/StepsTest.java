package dev.fulcrum.pipelines.steps;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each pipeline step on its own, on known values. */
class StepsTest {
  static final Path TOKENIZER =
      Path.of("..", "demo", "models", "all_minilm_l6_v2", "all-minilm-l6-v2-q-tokenizer.json");

  @Test
  void aTokenizerTurnsDjlsCallHomeOff() throws Exception {
    assumeTrue(System.getenv(TextTokenizer.OPT_OUT_TRACKING) == null, "set by the environment");
    try (TextTokenizer t = new TextTokenizer(TOKENIZER, 512, true, false)) {
      assertThat(t.ids("hello")).hasSize(3);
      assertThat(System.getProperty(TextTokenizer.OPT_OUT_TRACKING)).isEqualTo("true");
    }
  }

  @Test
  void tokenizesHelloWorldToBertIds() throws Exception {
    try (TextTokenizer t = new TextTokenizer(TOKENIZER, 512, true, false)) {
      assertThat(t.ids("hello world")).containsExactly(101, 7592, 2088, 102);
      assertThat(t.ids("Hello World")).containsExactly(101, 7592, 2088, 102); // uncased
    }
  }

  @Test
  void padsARequestToItsLongestSentence() throws Exception {
    try (TextTokenizer t = new TextTokenizer(TOKENIZER, 512, true, false)) {
      TextTokenizer.Tokens tokens = t.encode(List.of("hello world", "hello"));
      assertThat(tokens.rows()).isEqualTo(2);
      assertThat(tokens.length()).isEqualTo(4);
      assertThat(tokens.ids()).containsExactly(101, 7592, 2088, 102, 101, 7592, 102, 0);
      assertThat(tokens.attentionMask()).containsExactly(1, 1, 1, 1, 1, 1, 1, 0);
      assertThat(tokens.typeIds()).containsOnly(0);
    }
  }

  /**
   * The tokenizer reads the native encoding's ids, mask and types directly; DJL's own encode (the
   * path beside a tokenizer_config.json) gives the same for every test sentence.
   */
  @Test
  void readsTheSameIdsAsDjlsOwnEncode(@TempDir Path dir) throws Exception {
    List<String> sentences =
        Files.readAllLines(Path.of("src", "test", "resources", "sentences.txt"));
    Path withConfig = Files.copy(TOKENIZER, dir.resolve("tokenizer.json"));
    Files.writeString(dir.resolve("tokenizer_config.json"), "{}");
    try (TextTokenizer direct = new TextTokenizer(TOKENIZER, 512, true, false);
        TextTokenizer viaDjl = new TextTokenizer(withConfig, 512, true, false);
        HuggingFaceTokenizer djl =
            HuggingFaceTokenizer.builder()
                .optTokenizerPath(TOKENIZER)
                .optAddSpecialTokens(true)
                .optTruncation(true)
                .optMaxLength(512)
                .optPadding(false)
                .build()) {
      for (String s : sentences) {
        Encoding e = djl.encode(s);
        for (TextTokenizer t : List.of(direct, viaDjl)) {
          TextTokenizer.Tokens tokens = t.encode(List.of(s));
          assertThat(tokens.ids()).as(s).containsExactly(e.getIds());
          assertThat(tokens.attentionMask()).as(s).containsExactly(e.getAttentionMask());
          assertThat(tokens.typeIds()).as(s).containsExactly(e.getTypeIds());
        }
      }
    }
  }

  @Test
  void truncatesOrRefusesLongText() throws Exception {
    String longText = "word ".repeat(50);
    try (TextTokenizer cut = new TextTokenizer(TOKENIZER, 8, true, false)) {
      long[] ids = cut.ids(longText);
      assertThat(ids).hasSize(8);
      assertThat(ids[0]).isEqualTo(101);
      assertThat(ids[7]).isEqualTo(102);
    }
    try (TextTokenizer strict = new TextTokenizer(TOKENIZER, 8, false, false)) {
      assertThatThrownBy(() -> strict.encode(List.of("short", longText)))
          .isInstanceOf(InferenceException.class)
          .hasMessageContaining("row 1 has more than 8 words");
      assertThatThrownBy(() -> strict.encode(List.of("a,b,c,d,e", "short")))
          .isInstanceOf(InferenceException.class)
          .hasMessageContaining("row 0 has 11 tokens, more than max-length 8");
      // A row of a request run row by row names its row in the request.
      assertThatThrownBy(() -> strict.encode(List.of("a,b,c,d,e"), 2))
          .isInstanceOf(InferenceException.class)
          .hasMessageContaining("row 2 has 11 tokens");
    }
    try (TextTokenizer fixed = new TextTokenizer(TOKENIZER, 8, true, true)) {
      assertThat(fixed.encode(List.of("hello")).length()).isEqualTo(8);
    }
  }

  /**
   * A truncating tokenizer asked not to truncate (TEI's and Ollama's {@code truncate: false})
   * refuses a longer text as TOO_LARGE, whether it has too many words or too many word pieces, and
   * encodes one that fits as it would otherwise.
   */
  @Test
  void aTruncatingTokenizerAskedNotToTruncateRefusesLongerText() throws Exception {
    try (TextTokenizer cut = new TextTokenizer(TOKENIZER, 8, true, false)) {
      assertThatThrownBy(() -> cut.encode(List.of("short", "word ".repeat(50)), 0, false))
          .isInstanceOf(InferenceException.class)
          .hasMessageContaining("row 1 has more than 8 tokens")
          .extracting(e -> ((InferenceException) e).code())
          .isEqualTo(ErrorCode.TOO_LARGE);
      // Five words, eleven tokens: the tokenizer's overflow tells.
      assertThatThrownBy(() -> cut.encode(List.of("a,b,c,d,e"), 3, false))
          .isInstanceOf(InferenceException.class)
          .hasMessageContaining("row 3 has more than 8 tokens");
      assertThat(cut.encode(List.of("hello world"), 0, false).ids())
          .containsExactly(cut.encode(List.of("hello world"), 0, true).ids());
      assertThat(cut.encode(List.of("a,b,c,d,e"), 0, true).length()).isEqualTo(8);
    }
  }

  /**
   * Without a max-length the tokenizer truncates where its file says (the demo's: 128), as other
   * runtimes of the same file do; a file that declares no truncation gets 512.
   */
  @Test
  void followsTheTokenizerFilesOwnTruncationUnlessGivenALength(@TempDir Path dir) throws Exception {
    String text = "word ".repeat(300);
    try (TextTokenizer own = new TextTokenizer(TOKENIZER, null, true, false)) {
      assertThat(own.maxLength()).isEqualTo(128);
      assertThat(own.ids(text)).hasSize(128);
    }
    try (TextTokenizer given = new TextTokenizer(TOKENIZER, 200, true, false)) {
      assertThat(given.ids(text)).hasSize(200);
    }
    String json = Files.readString(TOKENIZER);
    String noTruncation = json.replaceFirst("\"truncation\": \\{[^}]*\\}", "\"truncation\": null");
    assertThat(noTruncation).isNotEqualTo(json);
    Path none = Files.writeString(dir.resolve("tokenizer.json"), noTruncation);
    assertThat(TextTokenizer.truncationLength(none)).isNull();
    try (TextTokenizer fallback = new TextTokenizer(none, null, true, false)) {
      assertThat(fallback.maxLength()).isEqualTo(512);
      assertThat(fallback.ids(text)).hasSize(302);
    }
  }

  /**
   * DJL caps a max-length over its model_max_length (512 here) with a log line only; the tokenizer
   * refuses it instead, with or without truncation (without, 513+ token sentences reached the model
   * and failed in ONNX Runtime).
   */
  @Test
  void refusesAMaxLengthOverWhatTheTokenizerTakes() throws Exception {
    for (boolean truncation : new boolean[] {true, false}) {
      assertThatThrownBy(() -> new TextTokenizer(TOKENIZER, 1024, truncation, !truncation))
          .isInstanceOfSatisfying(
              TextTokenizer.MaxLengthException.class,
              e -> {
                assertThat(e.asked()).isEqualTo(1024);
                assertThat(e.limit()).isEqualTo(512);
              });
    }
    try (TextTokenizer strict = new TextTokenizer(TOKENIZER, 512, false, false)) {
      assertThat(strict.ids("word ".repeat(510))).hasSize(512);
      assertThatThrownBy(() -> strict.ids("word ".repeat(511)))
          .isInstanceOf(InferenceException.class)
          .hasMessageContaining("513 tokens, more than max-length 512");
    }
  }

  /** Texts far over any max-length, of every shape the cut before encoding must get right. */
  static List<String> longTexts() throws Exception {
    List<String> sentences =
        Files.readAllLines(Path.of("src", "test", "resources", "sentences.txt"));
    String prose = String.join(" ", sentences);
    return List.of(
        prose,
        String.join("\n\n\t  \r\n", sentences),
        "a" + " ".repeat(500) + "b c d " + prose, // a run within max-length × 100 characters
        " \t\n" + prose.replace(" ", "     "),
        "日本語のテキストです。".repeat(3000),
        "漢 字 か な ".repeat(2000),
        "\u0001\u0002 ".repeat(200) + prose, // chunks of no token: the cut widens
        "\u0301 ".repeat(200) + prose,
        ("x".repeat(150) + " ").repeat(3) + "x".repeat(90) + " " + prose,
        "a,b.c;d!".repeat(8000),
        "👩‍👩‍👧 café ".repeat(1000),
        "word\u00A0next\u3000third\u000Bjoined\u000Cagain ".repeat(600),
        "Ünïcödé ÀÉÎÕÜ ΣΊΣΥΦΟΣ straße ".repeat(400));
  }

  /**
   * Cutting a long text before encoding gives the same ids as encoding it whole and truncating
   * (what the tokenizer did before), for max-lengths from 8 to 512.
   */
  @Test
  void cuttingLongTextBeforeEncodingKeepsTheIdsOfTheWholeText() throws Exception {
    for (int max : new int[] {8, 128, 512}) {
      try (TextTokenizer cutting = new TextTokenizer(TOKENIZER, max, true, false);
          HuggingFaceTokenizer whole =
              HuggingFaceTokenizer.builder()
                  .optTokenizerPath(TOKENIZER)
                  .optAddSpecialTokens(true)
                  .optTruncation(true)
                  .optMaxLength(max)
                  .optPadding(false)
                  .build()) {
        List<String> texts = longTexts();
        for (int i = 0; i < texts.size(); i++) {
          long[] expected = whole.encode(texts.get(i)).getIds();
          assertThat(cutting.ids(texts.get(i)))
              .as("max %d, text %d", max, i)
              .containsExactly(expected);
        }
      }
    }
  }

  /**
   * Where the cut is approximate: the first max-length × 100 characters hold fewer than max-length
   * tokens (here words of 150 characters, each one [UNK]). The text is then cut at the end of the
   * last whole chunk before that bound: fewer tokens than whole, but none that the whole text does
   * not have at its place.
   */
  @Test
  void atTheCharacterBoundTheCutGivesAPrefixOfTheWholeTextsTokens() throws Exception {
    String text = ("x".repeat(150) + " ").repeat(1200);
    try (TextTokenizer cutting = new TextTokenizer(TOKENIZER, 128, true, false);
        TextTokenizer wide = new TextTokenizer(TOKENIZER, 512, true, false)) {
      long[] cut = cutting.ids(text);
      long[] whole = wide.ids(text);
      assertThat(cut).hasSize(2 + 12_800 / 151);
      assertThat(java.util.Arrays.copyOf(cut, cut.length - 1))
          .containsExactly(java.util.Arrays.copyOf(whole, cut.length - 1));
    }
  }

  /**
   * A multi-megabyte text is cut before encoding (it took ~50 s at 10 MB); without truncation it is
   * refused unencoded.
   */
  @Test
  void aHugeTextIsCutOrRefusedWithoutEncodingItWhole() throws Exception {
    String words = "word ".repeat(2_000_000); // 10 MB
    String cjk = "日本語のテキストです。".repeat(300_000); // 3.3 M characters, no whitespace
    try (TextTokenizer t = new TextTokenizer(TOKENIZER, null, true, false)) {
      long start = System.nanoTime();
      assertThat(t.ids(words)).hasSize(128);
      assertThat(t.ids(cjk)).hasSize(128);
      System.out.printf(
          "10 MB of words and 3.3 M CJK characters tokenized in %.1f ms%n",
          (System.nanoTime() - start) / 1e6);
    }
    try (TextTokenizer strict = new TextTokenizer(TOKENIZER, 512, false, false)) {
      assertThatThrownBy(() -> strict.ids(words))
          .isInstanceOf(InferenceException.class)
          .hasMessageContaining("10000000 characters, more than a pipeline that does not truncate");
      assertThatThrownBy(() -> strict.encode(List.of("ok", "word ".repeat(513))))
          .isInstanceOf(InferenceException.class)
          .hasMessageContaining("row 1 has more than 512 words");
      assertThat(strict.ids("word ".repeat(510))).hasSize(512);
    }
  }

  @Test
  void meanPoolsOverTheMaskAndIgnoresBatchPadding() {
    // Two rows, hidden size 2, padded by the batch to 4 positions; the request's mask has 3.
    float[] x = {
      1, 2, 3, 4, 100, 100, 100, 100, // row 0: positions 0,1 real; 2 masked; 3 batch padding
      5, 6, 7, 8, 9, 10, 100, 100 // row 1: positions 0,1,2 real; 3 batch padding
    };
    long[] mask = {1, 1, 0, 1, 1, 1};
    float[] pooled = Vectors.meanPool(x, 2, 4, 2, mask, 3);
    assertThat(pooled).containsExactly(2, 3, 7, 8);
    // The same read in place from an engine's little-endian output buffer.
    ByteBuffer bytes = ByteBuffer.allocateDirect(x.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    bytes.asFloatBuffer().put(x);
    assertThat(Vectors.meanPool(bytes.asFloatBuffer(), 2, 4, 2, LongBuffer.wrap(mask), 3))
        .containsExactly(2, 3, 7, 8);
  }

  @Test
  void normalizesEachRowToUnitLength() {
    float[] x = Vectors.normalize(new float[] {3, 4, 0, 0}, 2);
    assertThat(x).containsExactly(0.6f, 0.8f, 0, 0);
  }

  @Test
  void softmaxSumsToOneAndDoesNotOverflow() {
    float[] x = Vectors.softmax(new float[] {1000, 1000, 0, Float.NEGATIVE_INFINITY}, 2);
    assertThat(x[0]).isCloseTo(0.5f, within(1e-6f));
    assertThat(x[1]).isCloseTo(0.5f, within(1e-6f));
    assertThat(x[2]).isCloseTo(1f, within(1e-6f));
    assertThat(x[3]).isZero();
  }

  @Test
  void standardizesPerFeature() {
    float[] x =
        Vectors.standardize(new float[] {1, 10, 3, 30}, new float[] {2, 20}, new float[] {1, 10});
    assertThat(x).containsExactly(-1, -1, 1, 1);
  }
}
