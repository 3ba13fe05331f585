package dev.fulcrum.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.ModelSignature.IndexBound;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loads a real quantized transformer (all-MiniLM-L6-v2, from langchain4j's jar) and runs it. */
class MiniLmModelTest {
  private static final String RESOURCE = "all-minilm-l6-v2-q.onnx";

  @Test
  void loadsAndRunsTheQuantizedMiniLm(@TempDir Path dir) throws Exception {
    Path file = modelIn(dir);
    try (ModelInstance m = new OnnxRuntimeBackend().load(file, SessionOptions.defaults())) {
      var sig = m.signature();
      System.out.println("all-MiniLM-L6-v2-q signature: " + sig);
      assertThat(sig.inputs())
          .extracting(TensorSpec::name)
          .containsExactly("input_ids", "attention_mask", "token_type_ids");
      for (TensorSpec s : sig.inputs()) {
        assertThat(s.datatype()).isEqualTo(DataType.INT64);
        assertThat(s.shape()).containsExactly(-1, -1);
      }
      assertThat(sig.outputs()).isNotEmpty();
      TensorSpec hidden = sig.outputs().get(0);
      assertThat(hidden.datatype()).isEqualTo(DataType.FP32);
      assertThat(hidden.shape()).hasSize(3).endsWith(384);

      long[] shape = {1, 8};
      long[] ids = {101, 7592, 2088, 2003, 1037, 3231, 6251, 102}; // [CLS] ... [SEP]
      List<Tensor> inputs = new ArrayList<>();
      inputs.add(longs("input_ids", shape, ids));
      inputs.add(longs("attention_mask", shape, 1, 1, 1, 1, 1, 1, 1, 1));
      inputs.add(longs("token_type_ids", shape, 0, 0, 0, 0, 0, 0, 0, 0));
      Tensor out = m.execute(inputs, List.of(hidden.name())).get(0);
      assertThat(out.datatype()).isEqualTo(DataType.FP32);
      assertThat(out.shape()).containsExactly(1, 8, 384);
      ByteBuffer b = out.data();
      boolean nonZero = false;
      while (b.hasRemaining()) {
        float v = b.getFloat();
        assertThat(Float.isFinite(v)).isTrue();
        nonZero |= v != 0f;
      }
      assertThat(nonZero).isTrue();

      // The graph bounds the token ids by the vocabulary (a Gather on quantized embeddings) and
      // the token types by their 2-row table; the mask indexes nothing.
      assertThat(sig.indexBound("input_ids")).hasValue(new IndexBound("input_ids", -30522, 30522));
      assertThat(sig.indexBound("token_type_ids"))
          .hasValue(new IndexBound("token_type_ids", -2, 2));
      assertThat(sig.indexBound("attention_mask")).isEmpty();
      // Its position ids are a Slice of position_ids [1, 512] up to the sequence length: 512 at
      // most (the other inputs share the dimension, and are checked against input_ids for that).
      assertThat(sig.dimensionBounds())
          .containsExactly(new ModelSignature.DimensionBound("input_ids", 1, 512));
      // The three inputs name both their dimensions alike: one batch, one sequence length.
      List<ModelSignature.DimensionUse> seq =
          List.of(
              new ModelSignature.DimensionUse("input_ids", 1),
              new ModelSignature.DimensionUse("attention_mask", 1),
              new ModelSignature.DimensionUse("token_type_ids", 1));
      assertThat(sig.sharedDimensions())
          .contains(new ModelSignature.SharedDimension("sequence_length", seq));
      assertThat(sig.sharedDimensions())
          .extracting(ModelSignature.SharedDimension::name)
          .containsExactly("batch_size", "sequence_length");

      // An id past the vocabulary fails the pass as the input's fault, not the engine's.
      inputs.set(0, longs("input_ids", shape, 101, 99_999_999, 2088, 2003, 1037, 3231, 6251, 102));
      assertThatThrownBy(() -> m.execute(inputs, List.of(hidden.name())))
          .isInstanceOfSatisfying(
              InferenceException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }
  }

  /**
   * Threads by load must not change the answer: the vectors of a lone pass (the shared session, two
   * threads) and of an overlapping one (the instance's own session, one thread) agree.
   */
  @Test
  void threadsByLoadGiveTheSameVectorsAloneAndOverlapping(@TempDir Path dir) throws Exception {
    Path file = modelIn(dir);
    SessionOptions options =
        SessionOptions.defaults().withIntraOpThreads(1).withIntraOpThreadsAlone(2);
    try (OnnxRuntimeBackend backend = new OnnxRuntimeBackend();
        OnnxModelInstance m = (OnnxModelInstance) backend.load(file, options)) {
      long[] shape = {2, 16};
      long[] ids = new long[32];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = i % 16 == 0 ? 101 : i % 16 == 15 ? 102 : 1000 + 37L * i;
      }
      long[] ones = new long[32];
      java.util.Arrays.fill(ones, 1);
      List<Tensor> inputs =
          List.of(
              longs("input_ids", shape, ids),
              longs("attention_mask", shape, ones),
              longs("token_type_ids", shape, new long[32]));
      String output = m.signature().outputs().get(0).name();
      float[] alone = floats(m.execute(inputs, List.of(output)).get(0));
      assertThat(m.lonePasses()).isEqualTo(1);
      LonePassSession shared = java.util.Objects.requireNonNull(m.lonePassSession());
      assertThat(shared.begin()).isNotNull(); // another instance's pass is running
      float[] overlapping;
      try {
        overlapping = floats(m.execute(inputs, List.of(output)).get(0));
      } finally {
        shared.end();
      }
      assertThat(m.lonePasses()).isEqualTo(1);
      float worst = 0;
      for (int i = 0; i < alone.length; i++) {
        worst = Math.max(worst, Math.abs(alone[i] - overlapping[i]));
      }
      System.out.println("MiniLM, 2 threads alone vs 1 thread overlapping: max |diff| " + worst);
      assertThat(worst).isLessThanOrEqualTo(1e-4f);
    }
  }

  /**
   * One row on its own session ({@code fulcrum.onnx.one-row-intra-op-threads}) must not change the
   * answer: the first pass of one row asks for the one-thread session and runs on the instance's
   * two-thread session, later ones on the one-thread session, a batch of two on the instance's, and
   * the first row's vectors agree.
   */
  @Test
  void oneRowPassesRunOnTheirOwnSessionWithTheSameVectors(@TempDir Path dir) throws Exception {
    Path file = modelIn(dir);
    SessionOptions options = SessionOptions.defaults().withIntraOpThreads(2);
    try (OnnxRuntimeBackend backend = backend(1);
        OnnxModelInstance m = (OnnxModelInstance) backend.load(file, options)) {
      long[] ids = new long[32];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = i % 16 == 0 ? 101 : i % 16 == 15 ? 102 : 1000 + 37L * (i % 16);
      }
      String output = m.signature().outputs().get(0).name();
      float[] two = floats(m.execute(sentences(ids), List.of(output)).get(0));
      assertThat(m.oneRowPasses()).isZero();
      List<Tensor> row = sentences(java.util.Arrays.copyOf(ids, 16));
      // The first pass of one row asks for the session and runs on the instance's own.
      float[] first = floats(m.execute(row, List.of(output)).get(0));
      assertThat(m.oneRowPasses()).isZero();
      assertThat(m.awaitOneRowSession(60_000)).isTrue();
      float[] one = floats(m.execute(row, List.of(output)).get(0));
      assertThat(m.oneRowPasses()).isEqualTo(1);
      assertThat(one).hasSize(two.length / 2);
      float worst = 0;
      for (int i = 0; i < one.length; i++) {
        worst = Math.max(worst, Math.max(Math.abs(one[i] - two[i]), Math.abs(first[i] - two[i])));
      }
      assertThat(worst).isLessThanOrEqualTo(1e-4f);
    }
  }

  /** The model's own {@code onnxruntime.intra-op-threads-one-row} gives it the one-row session. */
  @Test
  void theModelsOneRowSettingMakesTheSession(@TempDir Path dir) throws Exception {
    Path file = modelIn(dir);
    SessionOptions options =
        SessionOptions.defaults().withIntraOpThreads(2).withIntraOpThreadsOneRow(1);
    try (OnnxRuntimeBackend backend = backend(0);
        OnnxModelInstance m = (OnnxModelInstance) backend.load(file, options)) {
      long[] ids = new long[16];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = i == 0 ? 101 : i == 15 ? 102 : 1000 + 37L * i;
      }
      List<Tensor> row = sentences(ids);
      String output = m.signature().outputs().get(0).name();
      m.execute(row, List.of(output));
      assertThat(m.awaitOneRowSession(60_000)).isTrue();
      m.execute(row, List.of(output));
      assertThat(m.oneRowPasses()).isEqualTo(1);
    }
  }

  /**
   * An instance closed while its one-row session is being made waits for it and closes it: no
   * native session outlives the instance (the environment may go right after, at shutdown).
   */
  @Test
  void closingWhileTheOneRowSessionIsMadeWaitsForIt(@TempDir Path dir) throws Exception {
    Path file = modelIn(dir);
    SessionOptions options =
        SessionOptions.defaults().withIntraOpThreads(2).withIntraOpThreadsOneRow(1);
    try (OnnxRuntimeBackend backend = backend(0)) {
      OnnxModelInstance m = (OnnxModelInstance) backend.load(file, options);
      long[] ids = new long[16];
      java.util.Arrays.fill(ids, 1000);
      m.execute(sentences(ids), List.of(m.signature().outputs().get(0).name()));
      m.close();
      assertThat(m.awaitOneRowSession(0)).isFalse();
      assertThat(m.oneRowPasses()).isZero();
    }
  }

  @Test
  void oneRowThreadsOutOfRangeAreRefused() {
    assertThatThrownBy(() -> backend(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(OnnxRuntimeBackend.ONE_ROW_INTRA_OP_THREADS);
  }

  /** The values of an FP32 tensor (shared with the other tests of this package). */
  static float[] floats(Tensor t) {
    ByteBuffer b = t.data();
    float[] out = new float[b.remaining() / 4];
    for (int i = 0; i < out.length; i++) {
      out[i] = b.getFloat();
    }
    return out;
  }

  /** An INT64 tensor (shared with the other tests of this package). */
  static Tensor longs(String name, long[] shape, long... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (long v : values) {
      b.putLong(v);
    }
    return Tensor.of(name, DataType.INT64, shape, b.flip());
  }

  /** The MiniLM model from the test class path, copied into {@code dir}. */
  private Path modelIn(Path dir) throws java.io.IOException {
    Path file = dir.resolve("model.onnx");
    try (InputStream in = getClass().getClassLoader().getResourceAsStream(RESOURCE)) {
      assertThat(in).as("classpath resource " + RESOURCE).isNotNull();
      Files.copy(in, file);
    }
    return file;
  }

  /**
   * A backend on the shared environment, no optimized-graph cache, compute threads as they are, and
   * {@code oneRowThreads} as the server-wide one-row property (0: off).
   */
  private static OnnxRuntimeBackend backend(int oneRowThreads) {
    return new OnnxRuntimeBackend(
        ai.onnxruntime.OrtEnvironment.getEnvironment(),
        null,
        dev.fulcrum.core.runtime.ComputeNice.none(),
        oneRowThreads);
  }

  /** Sentences of 16 token ids each ({@code ids}, row after row), every token attended, type 0. */
  private static List<Tensor> sentences(long[] ids) {
    long[] shape = {ids.length / 16, 16};
    long[] ones = new long[ids.length];
    java.util.Arrays.fill(ones, 1);
    return List.of(
        longs("input_ids", shape, ids),
        longs("attention_mask", shape, ones),
        longs("token_type_ids", shape, new long[ids.length]));
  }
}
