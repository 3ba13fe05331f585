package dev.fulcrum.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelSignature.DimensionBound;
import dev.fulcrum.core.runtime.ModelSignature.IndexBound;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Index bounds read from model graphs built with the testkit (MiniLM: see MiniLmModelTest). */
class IndexBoundsTest {
  private static final long D = OnnxModelBuilder.DYNAMIC;

  @TempDir Path dir;

  @Test
  void aGatherReachedThroughValuePreservingOpsBoundsItsInputByTheTableAxis() throws Exception {
    Path file =
        OnnxModelBuilder.create("g")
            .input("ids", DataType.INT64, D, 3)
            .input("cols", DataType.INT64, D)
            .input("free", DataType.INT64, D)
            .output("rows", DataType.FP32, D, 3, 1, 4)
            .output("picked", DataType.FP32, 7, D)
            .output("other", DataType.FP32, D, 3, 4)
            .floatInitializer("table", new long[] {7, 4}, new float[28])
            .longInitializer("axes", new long[] {1}, 2L)
            .node("Unsqueeze", List.of("ids", "axes"), List.of("ids3"))
            .node("Gather", List.of("table", "ids3"), List.of("rows"))
            // axis 1: bounded by the table's 4 columns
            .node(
                "Gather",
                List.of("table", "cols"),
                List.of("picked"),
                OnnxModelBuilder.intAttr("axis", 1))
            // an Add changes values: nothing is known about "free"
            .node("Add", List.of("free", "free"), List.of("twice"))
            .node("Gather", List.of("table", "twice"), List.of("other"))
            .write(dir.resolve("model.onnx"));
    assertThat(IndexBounds.of(file).values())
        .containsExactlyInAnyOrder(new IndexBound("ids", -7, 7), new IndexBound("cols", -4, 4));
    assertThat(IndexBounds.of(file).dimensions()).isEmpty();
  }

  @Test
  void anUnreadableFileHasNoBounds() throws Exception {
    Path file = Files.write(dir.resolve("model.onnx"), new byte[] {(byte) 0xff, 1, 2, 3});
    assertThat(IndexBounds.of(file)).isEqualTo(IndexBounds.Found.NONE);
  }

  /**
   * MiniLM's position ids: the {@code Slice} of a constant {@code position_ids [1, 6]} up to {@code
   * Shape(ids)[1]} index a position table. Past 6 the slice comes out short and ONNX Runtime fails
   * the pass where its rows are added to the sequence's; at 6 it runs.
   */
  @Test
  void positionIdsSlicedUpToASequenceLengthBoundThatDimension() throws Exception {
    Path file =
        withEmbeddings(OnnxModelBuilder.create("slice"))
            .longInitializer("position_ids", new long[] {1, 6}, 0, 1, 2, 3, 4, 5)
            .longInitializer("one", new long[0], 1)
            .longInitializer("zeros", new long[] {1}, 0)
            .longInitializer("ones", new long[] {1}, 1)
            .node("Shape", List.of("ids"), List.of("shape"))
            .node("Gather", List.of("shape", "one"), List.of("length"))
            .node("Unsqueeze", List.of("length", "zeros"), List.of("length1"))
            .node(
                "Slice",
                List.of("position_ids", "zeros", "length1", "ones", "ones"),
                List.of("positions"))
            .node("Gather", List.of("pos", "positions"), List.of("posemb"))
            .node("Add", List.of("wordemb", "posemb"), List.of("out"))
            .write(dir.resolve("slice.onnx"));
    assertThat(IndexBounds.of(file).dimensions()).containsExactly(new DimensionBound("ids", 1, 6));
    assertTheEngineTakes(file, 6);
  }

  /** Position ids made by {@code Range(0, Slice(Shape(ids), 1, 2), 1)}, expanded to the batch. */
  @Test
  void aRangeUpToASequenceLengthIsBoundedByTheTableItIndexes() throws Exception {
    Path file =
        withEmbeddings(OnnxModelBuilder.create("range"))
            .longInitializer("zero", new long[0], 0)
            .longInitializer("step", new long[0], 1)
            .longInitializer("zeros", new long[] {1}, 0)
            .longInitializer("ones", new long[] {1}, 1)
            .longInitializer("twos", new long[] {1}, 2)
            .node("Shape", List.of("ids"), List.of("shape"))
            .node("Slice", List.of("shape", "ones", "twos"), List.of("length1"))
            .node("Squeeze", List.of("length1"), List.of("length"))
            .node("Range", List.of("zero", "length", "step"), List.of("range"))
            .node("Unsqueeze", List.of("range", "zeros"), List.of("range2"))
            .node("Expand", List.of("range2", "shape"), List.of("positions"))
            .node("Gather", List.of("pos", "positions"), List.of("posemb"))
            .node("Add", List.of("wordemb", "posemb"), List.of("out"))
            .write(dir.resolve("range.onnx"));
    assertThat(IndexBounds.of(file).dimensions()).containsExactly(new DimensionBound("ids", 1, 6));
    assertTheEngineTakes(file, 6);
  }

  /**
   * Position ids the graph makes otherwise give no bound: an offset added to the length (a cache's
   * past length), a step of 2, a start that is an input (an initializer the caller may override), a
   * single position (it broadcasts).
   */
  @Test
  void positionsMadeOtherwiseGiveNoDimensionBound() throws Exception {
    Path file =
        OnnxModelBuilder.create("other")
            .input("a", DataType.INT64, D, D)
            .input("b", DataType.INT64, D, D)
            .input("c", DataType.INT64, D, D)
            .input("d", DataType.INT64, D, D)
            .input("start", DataType.INT64)
            .output("pa", DataType.FP32, D, 4)
            .output("pb", DataType.FP32, 1, D, 4)
            .output("pc", DataType.FP32, D, 4)
            .output("pd", DataType.FP32, 1, 1, 4)
            .longInitializer("single", new long[] {1, 1}, 0)
            .floatInitializer("pos", new long[] {6, 4}, new float[24])
            .longInitializer("position_ids", new long[] {1, 6}, 0, 1, 2, 3, 4, 5)
            .longInitializer("start", new long[0], 0)
            .longInitializer("zero", new long[0], 0)
            .longInitializer("one", new long[0], 1)
            .longInitializer("zeros", new long[] {1}, 0)
            .longInitializer("ones", new long[] {1}, 1)
            .longInitializer("twos", new long[] {1}, 2)
            .node("Shape", List.of("a"), List.of("sa"))
            .node("Gather", List.of("sa", "one"), List.of("la"))
            .node("Add", List.of("la", "one"), List.of("la1"))
            .node("Range", List.of("zero", "la1", "one"), List.of("ra"))
            .node("Gather", List.of("pos", "ra"), List.of("pa"))
            .node("Shape", List.of("b"), List.of("sb"))
            .node("Slice", List.of("sb", "ones", "twos"), List.of("lb"))
            .node("Slice", List.of("position_ids", "zeros", "lb", "ones", "twos"), List.of("rb"))
            .node("Gather", List.of("pos", "rb"), List.of("pb"))
            .node("Shape", List.of("c"), List.of("sc"))
            .node("Gather", List.of("sc", "one"), List.of("lc"))
            .node("Range", List.of("start", "lc", "one"), List.of("rc"))
            .node("Gather", List.of("pos", "rc"), List.of("pc"))
            // one position broadcasts over any length: slicing it short fails nothing
            .node("Shape", List.of("d"), List.of("sd"))
            .node("Gather", List.of("sd", "one"), List.of("ld"))
            .node("Unsqueeze", List.of("ld", "zeros"), List.of("ld1"))
            .node("Slice", List.of("single", "zeros", "ld1", "ones"), List.of("rd"))
            .node("Gather", List.of("pos", "rd"), List.of("pd"))
            .write(dir.resolve("other.onnx"));
    assertThat(IndexBounds.of(file).dimensions()).isEmpty();
  }

  /**
   * Word embeddings {@code wordemb} of {@code ids [N, S]} and a 6-row position table {@code pos}.
   */
  private static OnnxModelBuilder withEmbeddings(OnnxModelBuilder b) {
    return b.input("ids", DataType.INT64, D, D)
        .output("out", DataType.FP32, D, D, 4)
        .floatInitializer("words", new long[] {10, 4}, new float[40])
        .floatInitializer("pos", new long[] {6, 4}, new float[24])
        .node("Gather", List.of("words", "ids"), List.of("wordemb"));
  }

  /**
   * The model in {@code file} runs {@code ids} of {@code [1, max]} and fails on {@code [1, max +
   * 1]} (the bound is the engine's), and its signature tells the bound.
   */
  private static void assertTheEngineTakes(Path file, int max) throws Exception {
    try (OnnxRuntimeBackend backend = new OnnxRuntimeBackend();
        ModelInstance m = backend.load(file, SessionOptions.defaults())) {
      assertThat(m.signature().dimensionBounds())
          .containsExactly(new DimensionBound("ids", 1, max));
      assertThat(
              m.execute(
                  List.of(MiniLmModelTest.longs("ids", new long[] {1, max}, new long[max])),
                  List.of("out")))
          .hasSize(1);
      int over = max + 1;
      assertThatThrownBy(
              () ->
                  m.execute(
                      List.of(MiniLmModelTest.longs("ids", new long[] {1, over}, new long[over])),
                      List.of("out")))
          .isInstanceOf(InferenceException.class);
    }
  }
}
