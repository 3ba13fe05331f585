package dev.fulcrum.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.testkit.TestModels;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The optimized-model cache with a real quantized transformer (all-MiniLM-L6-v2, whose load is
 * mostly graph optimization): later loads use the saved graph and answer exactly as the model
 * optimized from its file; a damaged or stale entry is rebuilt, never loaded.
 */
class OptimizedModelCacheTest {
  private static final String RESOURCE = "all-minilm-l6-v2-q.onnx";

  @TempDir Path dir;

  private Path model() throws IOException {
    Path file = dir.resolve("model.onnx");
    try (InputStream in = getClass().getClassLoader().getResourceAsStream(RESOURCE)) {
      assertThat(in).as("classpath resource " + RESOURCE).isNotNull();
      Files.copy(in, file);
    }
    return file;
  }

  @Test
  void theSecondLoadUsesTheSavedGraphAndAnswersIdentically() throws Exception {
    Path file = model();
    Path cacheDir = dir.resolve("cache");
    float[] plain = run(new OnnxRuntimeBackend(), file, SessionOptions.defaults());

    float[] first = run(new OnnxRuntimeBackend(cacheDir), file, SessionOptions.defaults());
    List<Path> entries = entries(cacheDir);
    assertThat(entries).hasSize(1); // no temporary file left behind
    Path entry = entries.get(0);
    byte[] head = java.util.Arrays.copyOf(Files.readAllBytes(entry), 64);
    assertThat(new String(head, java.nio.charset.StandardCharsets.ISO_8859_1))
        .startsWith(OptimizedModelCache.FORMAT + " ");
    FileTime written = Files.getLastModifiedTime(entry);
    Files.setLastModifiedTime(entry, FileTime.fromMillis(written.toMillis() - 60_000));
    FileTime aged = Files.getLastModifiedTime(entry);

    float[] second = run(new OnnxRuntimeBackend(cacheDir), file, SessionOptions.defaults());
    assertThat(Files.getLastModifiedTime(entry)).as("read, not rewritten").isEqualTo(aged);
    assertThat(entries(cacheDir)).containsExactly(entry);

    assertThat(first).containsExactly(plain);
    assertThat(second).containsExactly(plain);
  }

  @Test
  void threadCountsShareAnEntryAndOtherLevelsGetTheirOwn() throws Exception {
    Path file = model();
    Path cacheDir = dir.resolve("cache");
    run(new OnnxRuntimeBackend(cacheDir), file, SessionOptions.defaults());
    run(new OnnxRuntimeBackend(cacheDir), file, SessionOptions.defaults().withIntraOpThreads(1));
    assertThat(entries(cacheDir)).hasSize(1);

    SessionOptions basic = withLevel(SessionOptions.OptimizationLevel.BASIC);
    float[] plain = run(new OnnxRuntimeBackend(), file, basic);
    float[] first = run(new OnnxRuntimeBackend(cacheDir), file, basic);
    float[] second = run(new OnnxRuntimeBackend(cacheDir), file, basic);
    assertThat(entries(cacheDir)).hasSize(2);
    assertThat(first).containsExactly(plain);
    assertThat(second).containsExactly(plain);

    run(
        new OnnxRuntimeBackend(cacheDir),
        file,
        withLevel(SessionOptions.OptimizationLevel.DISABLED));
    assertThat(entries(cacheDir)).as("nothing to cache without optimization").hasSize(2);
  }

  @Test
  void aCorruptedEntryIsRebuiltNotLoaded() throws Exception {
    Path file = model();
    Path cacheDir = dir.resolve("cache");
    float[] plain = run(new OnnxRuntimeBackend(), file, SessionOptions.defaults());
    run(new OnnxRuntimeBackend(cacheDir), file, SessionOptions.defaults());
    Path entry = entries(cacheDir).get(0);
    byte[] good = Files.readAllBytes(entry);

    // One flipped byte in the middle of the graph (a weight: ORT would load it and answer wrong).
    byte[] bad = good.clone();
    bad[bad.length / 2] ^= 0x5a;
    Files.write(entry, bad);
    assertThat(run(new OnnxRuntimeBackend(cacheDir), file, SessionOptions.defaults()))
        .containsExactly(plain);
    assertThat(Files.readAllBytes(entry)).as("rebuilt").isEqualTo(good);

    // Truncated, and then not an entry at all.
    Files.write(entry, java.util.Arrays.copyOf(good, good.length / 3));
    assertThat(run(new OnnxRuntimeBackend(cacheDir), file, SessionOptions.defaults()))
        .containsExactly(plain);
    assertThat(Files.readAllBytes(entry)).isEqualTo(good);
    Files.writeString(entry, "garbage");
    assertThat(run(new OnnxRuntimeBackend(cacheDir), file, SessionOptions.defaults()))
        .containsExactly(plain);
    assertThat(Files.readAllBytes(entry)).isEqualTo(good);
  }

  @Test
  void aChangedModelGetsANewEntry() throws Exception {
    Path file = model();
    Path cacheDir = dir.resolve("cache");
    run(new OnnxRuntimeBackend(cacheDir), file, SessionOptions.defaults());
    // A copy under another name is the same model; a different file is a different entry.
    Path other = dir.resolve("other.onnx");
    Files.copy(file, other);
    run(new OnnxRuntimeBackend(cacheDir), other, SessionOptions.defaults());
    assertThat(entries(cacheDir)).as("same bytes, same entry").hasSize(1);

    Path repo = dir.resolve("repo");
    TestModels.writeRepository(repo);
    Path small =
        repo.resolve(TestModels.identityModelName(DataType.FP32))
            .resolve("1")
            .resolve("model.onnx");
    try (ModelInstance m =
        new OnnxRuntimeBackend(cacheDir).load(small, SessionOptions.defaults())) {
      assertThat(m.signature().inputs()).hasSize(1);
    }
    assertThat(entries(cacheDir)).hasSize(2);
  }

  /**
   * A model whose weights are in an external data file (PyTorch's exporter, save_as_external_data)
   * is loaded from its file, never from the cache: ONNX Runtime's saved graph still refers to the
   * data file, which a session made from bytes cannot find (the load failed), and re-exported with
   * new weights, model.onnx stays byte for byte the same and only the data file changes.
   */
  @Test
  void aModelWithExternalDataLoadsFromItsFileAndTakesNewWeights() throws Exception {
    Path folder = Files.createDirectories(dir.resolve("external").resolve("1"));
    Path file =
        OnnxModelBuilder.create("scale")
            .input("x", DataType.FP32, -1, 4)
            .output("y", DataType.FP32, -1, 4)
            .externalFloatInitializer("w", new long[] {4}, "model.onnx.data", 0)
            .node("Mul", List.of("x", "w"), List.of("y"))
            .write(folder.resolve("model.onnx"));
    assertThat(ExternalData.locations(file)).containsExactly("model.onnx.data");
    Path cacheDir = dir.resolve("cache");
    writeFloats(folder.resolve("model.onnx.data"), 1, 2, 3, 4);
    assertThat(scale(new OnnxRuntimeBackend(cacheDir), file)).containsExactly(1, 2, 3, 4);
    assertThat(scale(new OnnxRuntimeBackend(cacheDir), file)).containsExactly(1, 2, 3, 4);

    writeFloats(folder.resolve("model.onnx.data"), 5, 6, 7, 8);
    assertThat(scale(new OnnxRuntimeBackend(cacheDir), file)).containsExactly(5, 6, 7, 8);
    assertThat(Files.exists(cacheDir)).as("nothing cached").isFalse();
  }

  private static void writeFloats(Path file, float... values) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    Files.write(file, b.array());
  }

  /** y = x * w for x = [1, 1, 1, 1]: the weights. */
  private static float[] scale(OnnxRuntimeBackend backend, Path file) throws Exception {
    try (backend;
        ModelInstance m = backend.load(file, SessionOptions.defaults())) {
      ByteBuffer x = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
      x.putFloat(1).putFloat(1).putFloat(1).putFloat(1).flip();
      Tensor y =
          m.execute(List.of(Tensor.of("x", DataType.FP32, new long[] {1, 4}, x)), List.of("y"))
              .get(0);
      ByteBuffer b = y.data().order(ByteOrder.LITTLE_ENDIAN);
      float[] out = new float[4];
      for (int i = 0; i < 4; i++) {
        out[i] = b.getFloat();
      }
      return out;
    }
  }

  @Test
  void anUnwritableCacheFolderFallsBackToThePlainLoad() throws Exception {
    Path file = model();
    Path notAFolder = dir.resolve("file-in-the-way");
    Files.writeString(notAFolder, "x");
    float[] plain = run(new OnnxRuntimeBackend(), file, SessionOptions.defaults());
    assertThat(
            run(
                new OnnxRuntimeBackend(notAFolder.resolve("cache")),
                file,
                SessionOptions.defaults()))
        .containsExactly(plain);
  }

  @Test
  void aModelOnnxRuntimeCannotLoadFailsAsWithoutTheCacheAndLeavesNothingBehind() throws Exception {
    Path bad = dir.resolve("bad.onnx");
    Files.writeString(bad, "not a model");
    Path cacheDir = dir.resolve("cache");
    try (OnnxRuntimeBackend backend = new OnnxRuntimeBackend(cacheDir)) {
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> backend.load(bad, SessionOptions.defaults()))
          .isInstanceOf(dev.fulcrum.core.runtime.ModelLoadException.class)
          .hasMessageContaining("could not load");
    }
    assertThat(entries(cacheDir)).isEmpty();
  }

  private static SessionOptions withLevel(SessionOptions.OptimizationLevel level) {
    SessionOptions d = SessionOptions.defaults();
    return new SessionOptions(
        d.intraOpThreads(),
        d.interOpThreads(),
        level,
        d.executionMode(),
        d.memoryArena(),
        d.memoryPattern(),
        d.executionProvider(),
        d.deviceId());
  }

  private static List<Path> entries(Path cacheDir) throws IOException {
    try (Stream<Path> s = Files.list(cacheDir)) {
      return s.sorted().toList();
    }
  }

  /** MiniLM's last hidden state for one fixed sentence of 16 tokens. */
  private static float[] run(OnnxRuntimeBackend backend, Path file, SessionOptions options)
      throws Exception {
    try (backend;
        ModelInstance m = backend.load(file, options)) {
      long[] shape = {1, 16};
      long[] ids = new long[16];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = i == 0 ? 101 : i == 15 ? 102 : 1000 + 37L * i;
      }
      long[] ones = new long[16];
      java.util.Arrays.fill(ones, 1);
      List<Tensor> inputs =
          List.of(
              MiniLmModelTest.longs("input_ids", shape, ids),
              MiniLmModelTest.longs("attention_mask", shape, ones),
              MiniLmModelTest.longs("token_type_ids", shape, new long[16]));
      String output = m.signature().outputs().get(0).name();
      return MiniLmModelTest.floats(m.execute(inputs, List.of(output)).get(0));
    }
  }
}
