package dev.fulcrum.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.runtime.ModelSignature.IndexBound;
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
    assertThat(IndexBounds.of(file))
        .containsExactlyInAnyOrder(new IndexBound("ids", -7, 7), new IndexBound("cols", -4, 4));
  }

  @Test
  void anUnreadableFileHasNoBounds() throws Exception {
    Path file = Files.write(dir.resolve("model.onnx"), new byte[] {(byte) 0xff, 1, 2, 3});
    assertThat(IndexBounds.of(file)).isEmpty();
  }
}
