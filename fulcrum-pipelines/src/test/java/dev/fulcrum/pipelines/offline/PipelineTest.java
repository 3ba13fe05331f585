package dev.fulcrum.pipelines.offline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.pipelines.steps.TextTokenizer;
import dev.fulcrum.pipelines.steps.Vectors;
import dev.fulcrum.testkit.demo.MiniLmPipelines;
import dev.langchain4j.model.embedding.onnx.allminilml6v2q.AllMiniLmL6V2QuantizedEmbeddingModel;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo's {@code minilm_text} pipeline run in process: against the token-id model pooled by
 * hand, against langchain4j's own in-process all-MiniLM-L6-v2 (an independent reference), and
 * batched against alone.
 */
class PipelineTest {
  static final Path DEMO = Path.of("..", "demo", "models").toAbsolutePath().normalize();
  static final Path MINILM_FILE =
      DEMO.resolve("all_minilm_l6_v2").resolve("1").resolve("all-minilm-l6-v2-q.onnx");

  private static Pipeline text;
  private static Pipeline ids;

  @BeforeAll
  static void open() {
    assumeThat(MINILM_FILE).as("the MiniLM file (placed by the build)").isRegularFile();
    text = Pipeline.open(DEMO, "minilm_text");
    ids = Pipeline.open(DEMO, "all_minilm_l6_v2");
  }

  @AfterAll
  static void close() {
    if (text != null) {
      text.close();
    }
    if (ids != null) {
      ids.close();
    }
  }

  static List<String> sentences() throws IOException {
    try (InputStream in = PipelineTest.class.getResourceAsStream("/sentences.txt")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    }
  }

  @Test
  void helloWorldIsTheTokenIdModelPooledByHand() {
    float[] served = text.embed(List.of("hello world")).get(0);

    long[] tokens = {101, 7592, 2088, 102};
    InferenceResponse r =
        ids.infer(
                new InferenceRequest(
                    "all_minilm_l6_v2",
                    "",
                    "",
                    Map.of(),
                    List.of(
                        longs("input_ids", tokens),
                        longs("attention_mask", new long[] {1, 1, 1, 1}),
                        longs("token_type_ids", new long[] {0, 0, 0, 0})),
                    List.of(RequestedOutput.named("last_hidden_state"))))
            .join();
    Tensor hidden = r.outputs().get(0);
    float[] x = new float[Math.toIntExact(hidden.elementCount())];
    hidden.data().asFloatBuffer().get(x);
    float[] pooled = new float[384];
    for (int t = 0; t < 4; t++) {
      for (int d = 0; d < 384; d++) {
        pooled[d] += x[t * 384 + d] / 4;
      }
    }
    double norm = 0;
    for (float v : pooled) {
      norm += v * v;
    }
    for (int d = 0; d < 384; d++) {
      assertThat(served[d]).isCloseTo((float) (pooled[d] / Math.sqrt(norm)), within(1e-5f));
    }
    assertThat(served).hasSize(384);
  }

  @Test
  void agreesWithLangchain4jOnAHundredSentences() throws IOException {
    List<String> sentences = sentences();
    assertThat(sentences).hasSize(100);
    AllMiniLmL6V2QuantizedEmbeddingModel reference = new AllMiniLmL6V2QuantizedEmbeddingModel();
    List<float[]> ours = text.embed(sentences);
    double worst = 1;
    for (int i = 0; i < sentences.size(); i++) {
      float[] theirs = reference.embed(sentences.get(i)).content().vector();
      double cosine = Vectors.cosine(ours.get(i), theirs);
      worst = Math.min(worst, cosine);
      assertThat(cosine).as("sentence %d: %s", i, sentences.get(i)).isGreaterThanOrEqualTo(0.9999);
    }
    System.out.printf("minilm_text vs langchain4j, 100 sentences: worst cosine %.7f%n", worst);
  }

  /**
   * Text over the tokenizer file's 128 tokens: both follow the file's truncation (the pipeline
   * writes no max-length), so long text agrees as short text does. With the old default of 512
   * these gave cosine 0.71–0.95.
   */
  @Test
  void agreesWithLangchain4jOnTextOverTheTokenizersLength() throws IOException {
    List<String> base = sentences();
    List<String> texts = new ArrayList<>();
    for (int k : new int[] {16, 24, 40, 100}) {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < k; i++) {
        sb.append(base.get((k + i) % base.size())).append(i % 3 == 2 ? "\n" : " ");
      }
      texts.add(sb.toString());
    }
    texts.add("alpha beta gamma delta ".repeat(60) + "end.");
    texts.add("漢字かな交じり文、".repeat(40));
    AllMiniLmL6V2QuantizedEmbeddingModel reference = new AllMiniLmL6V2QuantizedEmbeddingModel();
    List<float[]> ours = text.embed(texts);
    double worst = 1;
    try (TextTokenizer counter =
        new TextTokenizer(
            DEMO.resolve("all_minilm_l6_v2").resolve("all-minilm-l6-v2-q-tokenizer.json"),
            512,
            true,
            false)) {
      for (int i = 0; i < texts.size(); i++) {
        assertThat(counter.ids(texts.get(i)).length).as("text %d", i).isGreaterThan(128);
        float[] theirs = reference.embed(texts.get(i)).content().vector();
        double cosine = Vectors.cosine(ours.get(i), theirs);
        worst = Math.min(worst, cosine);
        assertThat(cosine).as("text %d", i).isGreaterThanOrEqualTo(0.9999);
      }
    }
    System.out.printf(
        "minilm_text vs langchain4j, %d texts over 128 tokens: worst cosine %.7f%n",
        texts.size(), worst);
  }

  /**
   * A max-length the tokenizer cannot honour is a load error naming the file, the field and the
   * limit (it loaded, then every request failed in ONNX Runtime with padding: max-length).
   */
  @Test
  void aMaxLengthOverTheTokenizersLimitDoesNotLoad(@TempDir Path repo) throws IOException {
    MiniLmPipelines.write(
        DEMO,
        repo,
        "minilm_long",
        """
        max-batch-size: 16
        pipeline:
          model-file: model.onnx
          engine-output: last_hidden_state
          pre:
            - step: tokenize
              tokenizer: tokenizer.json
              max-length: 1024
              padding: max-length
          post:
            - step: mean-pool
        """);
    assertThatThrownBy(() -> Pipeline.open(repo, "minilm_long").close())
        .hasMessageContaining("minilm_long/config.yaml")
        .hasMessageContaining("pipeline.pre[0].max-length")
        .hasMessageContaining("is 1024, more than tokenizer tokenizer.json takes: 512");
  }

  /**
   * A row over max-length in a request of several rows is named by its row in the request, after
   * the model's name, whether the rows run alone (split before tokenizing: it said "sentence 0") or
   * padded together.
   */
  @Test
  void aTooLongRowIsNamedByItsRowInTheRequest(@TempDir Path repo) throws IOException {
    for (String batching : List.of("alone", "pad")) {
      String name = "strict_" + batching;
      MiniLmPipelines.write(
          DEMO,
          repo,
          name,
          """
          max-batch-size: 16
          pipeline:
            model-file: model.onnx
            engine-output: last_hidden_state
            batching: %s
            pre:
              - step: tokenize
                tokenizer: tokenizer.json
                max-length: 16
                truncation: false
            post:
              - step: mean-pool
          """
              .formatted(batching));
      try (Pipeline p = Pipeline.open(repo, name)) {
        assertThatThrownBy(
                () ->
                    p.embed(
                        List.of(
                            "ok",
                            "fine",
                            "one two three, four five six seven eight nine ten eleven twelve"
                                + " thirteen fourteen.")))
            .as(batching)
            .isInstanceOf(dev.fulcrum.core.error.InferenceException.class)
            .hasMessage(
                "model '"
                    + name
                    + "': input 'text': row 2 has 18 tokens, more than max-length 16 (the"
                    + " pipeline does not truncate)");
      }
    }
  }

  @Test
  void paddedBatchesOfDifferentLengthsGiveEachRequestItsOwnVector(@TempDir Path repo)
      throws IOException {
    // batching: pad, on a copy of the demo pipeline: concurrent requests of different lengths
    // share passes, padded to the longest. This int8 model's activations are quantized per pass,
    // so a batched vector is near its alone vector (not equal); it must be nearest to its own.
    MiniLmPipelines.write(
        DEMO,
        repo,
        "minilm_padded",
        """
        max-batch-size: 16
        dynamic-batching:
          max-queue-delay-microseconds: 50000
        pipeline:
          model-file: model.onnx
          engine-output: last_hidden_state
          batching: pad
          pre:
            - step: tokenize
              tokenizer: tokenizer.json
          post:
            - step: mean-pool
            - step: normalize
        """);
    List<String> sentences = sentences().subList(0, 12);
    List<float[]> alone = new ArrayList<>();
    for (String s : sentences) {
      alone.add(text.embed(List.of(s)).get(0));
    }
    try (Pipeline padded = Pipeline.open(repo, "minilm_padded")) {
      List<CompletableFuture<List<float[]>>> many = new ArrayList<>();
      for (String s : sentences) {
        many.addAll(padded.embedAsync(List.of(s)));
      }
      List<float[]> oneRequest = padded.embed(sentences);
      for (int i = 0; i < sentences.size(); i++) {
        assertNearestIsOwn(i, many.get(i).join().get(0), alone);
        assertNearestIsOwn(i, oneRequest.get(i), alone);
      }
    }
  }

  @Test
  void tokenVectorsOfAPaddedBatchComeBackAtTheRequestsOwnLength(@TempDir Path repo)
      throws IOException {
    // batching: pad without pooling: a request's token vectors come back [1, its tokens, 384]
    // whatever it was batched with (they came back padded to the batch's longest sentence).
    MiniLmPipelines.write(
        DEMO,
        repo,
        "minilm_tokens",
        """
        max-batch-size: 16
        dynamic-batching:
          max-queue-delay-microseconds: 50000
        pipeline:
          model-file: model.onnx
          engine-output: last_hidden_state
          output: tokens
          pre:
            - step: tokenize
              tokenizer: tokenizer.json
          post:
            - step: normalize
        """);
    String longer = String.join(" ", sentences().subList(0, 6));
    try (Pipeline tokens = Pipeline.open(repo, "minilm_tokens")) {
      Tensor alone = tokens.infer(textRequest("minilm_tokens", "a")).join().outputs().get(0);
      assertThat(alone.shape()).containsExactly(1, 3, 384); // [CLS] a [SEP]
      float[] own = floats(alone);
      for (int round = 0; round < 4; round++) {
        // Both queued within the batcher's 50 ms: they share a pass, padded to the longer.
        CompletableFuture<InferenceResponse> shortOne =
            tokens.infer(textRequest("minilm_tokens", "a"));
        CompletableFuture<InferenceResponse> longOne =
            tokens.infer(textRequest("minilm_tokens", longer));
        Tensor batched = shortOne.join().outputs().get(0);
        assertThat(longOne.join().outputs().get(0).dim(1)).isGreaterThan(40);
        assertThat(batched.shape()).containsExactly(1, 3, 384);
        float[] x = floats(batched);
        for (int t = 0; t < 3; t++) {
          float[] a = java.util.Arrays.copyOfRange(own, t * 384, (t + 1) * 384);
          float[] b = java.util.Arrays.copyOfRange(x, t * 384, (t + 1) * 384);
          // Equal up to the int8 model's per-pass activation scale (docs/MODEL_CONFIG.md).
          assertThat(Vectors.cosine(a, b)).as("token %d", t).isGreaterThan(0.9);
        }
      }
    }
  }

  private static InferenceRequest textRequest(String model, String text) {
    return new InferenceRequest(
        model,
        "",
        "",
        Map.of(),
        List.of(
            Tensor.ofBytes(
                "text", new long[] {1, 1}, List.of(text.getBytes(StandardCharsets.UTF_8)))),
        List.of());
  }

  private static float[] floats(Tensor t) {
    float[] x = new float[Math.toIntExact(t.elementCount())];
    t.data().asFloatBuffer().get(x);
    return x;
  }

  private static void assertNearestIsOwn(int i, float[] vector, List<float[]> alone) {
    int nearest = 0;
    for (int j = 1; j < alone.size(); j++) {
      if (Vectors.cosine(vector, alone.get(j)) > Vectors.cosine(vector, alone.get(nearest))) {
        nearest = j;
      }
    }
    assertThat(nearest).as("the vector of sentence %d is nearest to its own", i).isEqualTo(i);
    assertThat(Vectors.cosine(vector, alone.get(i))).isGreaterThan(0.95);
  }

  @Test
  void sentencesOfDifferentLengthsEachGetTheirOwnVector() throws IOException {
    List<String> sentences = sentences().subList(0, 12);
    List<float[]> alone = new ArrayList<>();
    for (String s : sentences) {
      alone.add(text.embed(List.of(s)).get(0));
    }
    // One request of 12 rows, and 12 requests at once: minilm_text runs each sentence alone
    // (batching: alone), so each answer is exactly its alone answer.
    List<float[]> oneRequest = text.embed(sentences);
    List<CompletableFuture<List<float[]>>> many = new ArrayList<>();
    for (String s : sentences) {
      many.addAll(text.embedAsync(List.of(s)));
    }
    for (int i = 0; i < sentences.size(); i++) {
      float[] batched = many.get(i).join().get(0);
      assertThat(oneRequest.get(i)).containsExactly(alone.get(i));
      assertThat(batched).containsExactly(alone.get(i));
      for (int j = 0; j < sentences.size(); j++) {
        if (j != i) {
          assertThat(Vectors.cosine(oneRequest.get(i), alone.get(j)))
              .as("sentence %d differs from sentence %d", i, j)
              .isLessThan(0.99);
        }
      }
    }
    assertThat(text.embed(List.of(sentences.get(3))).get(0)).containsExactly(alone.get(3));
  }

  private static Tensor longs(String name, long[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(values);
    return Tensor.of(name, DataType.INT64, new long[] {1, values.length}, b);
  }
}
