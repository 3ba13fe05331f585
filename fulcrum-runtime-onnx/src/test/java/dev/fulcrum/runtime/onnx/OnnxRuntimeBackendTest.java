package dev.fulcrum.runtime.onnx;

import static dev.fulcrum.testkit.TestModels.INPUT0;
import static dev.fulcrum.testkit.TestModels.INPUT1;
import static dev.fulcrum.testkit.TestModels.OUTPUT0;
import static dev.fulcrum.testkit.TestModels.OUTPUT1;
import static dev.fulcrum.testkit.TestModels.OUTPUT2;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtProvider;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ComputeNice;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.runtime.SessionOptions.ExecutionMode;
import dev.fulcrum.core.runtime.SessionOptions.OptimizationLevel;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import dev.fulcrum.testkit.TestModels;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class OnnxRuntimeBackendTest {
  @TempDir static Path repo;
  private static OnnxRuntimeBackend backend;

  @BeforeAll
  static void writeModels() throws Exception {
    TestModels.writeRepository(repo);
    backend = new OnnxRuntimeBackend();
  }

  @AfterAll
  static void closeBackend() {
    backend.close();
  }

  private static ModelInstance load(String model) throws ModelLoadException {
    return load(model, SessionOptions.defaults());
  }

  private static ModelInstance load(String model, SessionOptions options)
      throws ModelLoadException {
    return backend.load(model(model), options);
  }

  private static Path model(String model) {
    return repo.resolve(model).resolve("1").resolve("model.onnx");
  }

  @Test
  void describesItself() {
    assertThat(backend.platform()).isEqualTo("onnxruntime_onnx");
    assertThat(backend.defaultModelFilename()).isEqualTo("model.onnx");
    assertThat(backend.engineVersion()).startsWith("1.");
  }

  /** A [2, 3] tensor of the type with varied, valid element bytes. */
  private static Tensor sample(String name, DataType type, long[] shape) {
    int count = 1;
    for (long d : shape) {
      count *= (int) d;
    }
    if (type == DataType.BYTES) {
      List<byte[]> elements = new ArrayList<>();
      String[] words = {"", "a", "héllo", "日本語", "with\0nul", "x".repeat(40)};
      for (int i = 0; i < count; i++) {
        elements.add(words[i % words.length].getBytes(StandardCharsets.UTF_8));
      }
      return Tensor.ofBytes(name, shape, elements);
    }
    byte[] bytes = new byte[count * type.byteSize()];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = type == DataType.BOOL ? (byte) (i % 2) : (byte) (i * 37 + 11);
    }
    return Tensor.of(name, type, shape, ByteBuffer.wrap(bytes));
  }

  private static byte[] bytes(Tensor t) {
    ByteBuffer b = t.data();
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }

  @ParameterizedTest
  @EnumSource(DataType.class)
  void identityRoundTripsEveryDataType(DataType type) throws Exception {
    try (ModelInstance m = load(TestModels.identityModelName(type))) {
      assertThat(m.signature())
          .isEqualTo(
              new ModelSignature(
                  List.of(new TensorSpec(INPUT0, type, new long[] {-1, -1})),
                  List.of(new TensorSpec(OUTPUT0, type, new long[] {-1, -1}))));
      Tensor in = sample(INPUT0, type, new long[] {2, 3});
      List<Tensor> out = m.execute(List.of(in), List.of(OUTPUT0));
      assertThat(out).hasSize(1);
      Tensor o = out.get(0);
      assertThat(o.name()).isEqualTo(OUTPUT0);
      assertThat(o.datatype()).isEqualTo(type);
      assertThat(o.shape()).containsExactly(2, 3);
      assertThat(bytes(o)).isEqualTo(bytes(in));
      if (type == DataType.BYTES) {
        assertThat(o.bytesElements()).containsExactlyElementsOf(in.bytesElements());
      }
    }
  }

  @ParameterizedTest
  @EnumSource(DataType.class)
  void identityRoundTripsDirectBuffersAndOtherShapes(DataType type) throws Exception {
    try (ModelInstance m = load(TestModels.identityModelName(type))) {
      Tensor heap = sample(INPUT0, type, new long[] {1, 5});
      ByteBuffer direct = ByteBuffer.allocateDirect(heap.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
      direct.put(heap.data()).flip();
      Tensor in = Tensor.of(INPUT0, type, new long[] {1, 5}, direct);
      Tensor o = m.execute(List.of(in), List.of(OUTPUT0)).get(0);
      assertThat(o.shape()).containsExactly(1, 5);
      assertThat(bytes(o)).isEqualTo(bytes(heap));
    }
  }

  @ParameterizedTest
  @EnumSource(DataType.class)
  void identityRoundTripsEmptyTensors(DataType type) throws Exception {
    try (ModelInstance m = load(TestModels.identityModelName(type))) {
      Tensor in = sample(INPUT0, type, new long[] {0, 3});
      Tensor o = m.execute(List.of(in), List.of(OUTPUT0)).get(0);
      assertThat(o.datatype()).isEqualTo(type);
      assertThat(o.shape()).containsExactly(0, 3);
      assertThat(o.byteSize()).isZero();
    }
  }

  @Test
  void staticShapeModel() throws Exception {
    try (ModelInstance m = load(TestModels.IDENTITY_FP32_STATIC)) {
      assertThat(m.signature().inputs())
          .containsExactly(new TensorSpec(INPUT0, DataType.FP32, new long[] {2, 3}));
      assertThat(m.signature().outputs())
          .containsExactly(new TensorSpec(OUTPUT0, DataType.FP32, new long[] {2, 3}));
      Tensor in = sample(INPUT0, DataType.FP32, new long[] {2, 3});
      assertThat(bytes(m.execute(List.of(in), List.of(OUTPUT0)).get(0))).isEqualTo(bytes(in));
    }
  }

  @Test
  void scalarModel() throws Exception {
    try (ModelInstance m = load(TestModels.SCALAR_INT64)) {
      assertThat(m.signature().inputs())
          .containsExactly(new TensorSpec(INPUT0, DataType.INT64, new long[0]));
      assertThat(m.signature().outputs())
          .containsExactly(new TensorSpec(OUTPUT0, DataType.INT64, new long[0]));
      ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -42L);
      Tensor o =
          m.execute(List.of(Tensor.of(INPUT0, DataType.INT64, new long[0], b)), List.of(OUTPUT0))
              .get(0);
      assertThat(o.rank()).isZero();
      assertThat(o.data().getLong(0)).isEqualTo(-42L);
    }
  }

  private static Tensor ints(String name, long[] shape, int... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int v : values) {
      b.putInt(v);
    }
    return Tensor.of(name, DataType.INT32, shape, b.flip());
  }

  private static int[] ints(Tensor t) {
    ByteBuffer b = t.data();
    int[] out = new int[b.remaining() / 4];
    for (int i = 0; i < out.length; i++) {
      out[i] = b.getInt();
    }
    return out;
  }

  private static float[] floats(Tensor t) {
    ByteBuffer b = t.data();
    float[] out = new float[b.remaining() / 4];
    for (int i = 0; i < out.length; i++) {
      out[i] = b.getFloat();
    }
    return out;
  }

  /** The nice of every thread of this process (field 19 of each task's stat). */
  private static List<Integer> threadNices() throws java.io.IOException {
    List<Integer> nices = new ArrayList<>();
    try (var tasks = Files.list(Path.of("/proc/self/task"))) {
      for (Path task : tasks.toList()) {
        try {
          String stat = Files.readString(task.resolve("stat"));
          nices.add(Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[16]));
        } catch (java.io.IOException e) {
          // the thread ended meanwhile
        }
      }
    }
    return nices;
  }

  @Test
  void aLoweredComputeNiceReachesTheSessionsPoolThreadsOnly() throws Exception {
    assumeThat(Path.of("/proc/self/task")).exists();
    assumeThat(threadNices()).doesNotContain(13);
    try (OnnxRuntimeBackend lowered = new OnnxRuntimeBackend(null, ComputeNice.of(13));
        ModelInstance m =
            lowered.load(
                model(TestModels.ADD_SUB_INT32), SessionOptions.defaults().withIntraOpThreads(2))) {
      // ONNX Runtime's intra-op pool (2 threads: the caller and one of its own) took the nice of
      // the thread that created the session; the loading thread kept its own.
      assertThat(threadNices()).contains(13);
      String stat = Files.readString(Path.of("/proc/thread-self/stat"));
      assertThat(Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[16]))
          .isNotEqualTo(13);
      long[] shape = {1, 16};
      List<Tensor> out =
          m.execute(
              List.of(ints(INPUT0, shape, new int[16]), ints(INPUT1, shape, new int[16])),
              List.of(OUTPUT0));
      assertThat(out).extracting(Tensor::name).containsExactly(OUTPUT0);
    }
  }

  @Test
  void aLoweredComputeNiceStillReportsALoadFailure() throws Exception {
    Path broken = Files.createTempDirectory(repo, "broken").resolve("model.onnx");
    Files.writeString(broken, "not an ONNX model");
    try (OnnxRuntimeBackend lowered = new OnnxRuntimeBackend(null, ComputeNice.of(13))) {
      assertThatThrownBy(() -> lowered.load(broken, SessionOptions.defaults()))
          .isInstanceOf(ModelLoadException.class)
          .hasMessageContaining("could not load");
    }
  }

  @Test
  void addSubComputesBothOutputs() throws Exception {
    try (ModelInstance m = load(TestModels.ADD_SUB_INT32)) {
      assertThat(m.signature().inputs())
          .containsExactly(
              new TensorSpec(INPUT0, DataType.INT32, new long[] {-1, 16}),
              new TensorSpec(INPUT1, DataType.INT32, new long[] {-1, 16}));
      assertThat(m.signature().outputs())
          .extracting(TensorSpec::name)
          .containsExactly(OUTPUT0, OUTPUT1);
      int[] a = new int[32];
      int[] b = new int[32];
      for (int i = 0; i < 32; i++) {
        a[i] = i;
        b[i] = 1000 - 3 * i;
      }
      long[] shape = {2, 16};
      List<Tensor> out =
          m.execute(
              List.of(ints(INPUT0, shape, a), ints(INPUT1, shape, b)), List.of(OUTPUT0, OUTPUT1));
      assertThat(out).extracting(Tensor::name).containsExactly(OUTPUT0, OUTPUT1);
      for (int i = 0; i < 32; i++) {
        assertThat(ints(out.get(0))[i]).isEqualTo(a[i] + b[i]);
        assertThat(ints(out.get(1))[i]).isEqualTo(a[i] - b[i]);
      }
      assertThat(out.get(1).shape()).containsExactly(2, 16);
    }
  }

  @Test
  void castConvertsInt32ToFp32() throws Exception {
    try (ModelInstance m = load(TestModels.CAST_INT32_TO_FP32)) {
      assertThat(m.signature().outputs())
          .containsExactly(new TensorSpec(OUTPUT0, DataType.FP32, new long[] {-1, -1}));
      Tensor o =
          m.execute(List.of(ints(INPUT0, new long[] {1, 3}, -7, 0, 123456)), List.of(OUTPUT0))
              .get(0);
      assertThat(o.datatype()).isEqualTo(DataType.FP32);
      assertThat(floats(o)).containsExactly(-7f, 0f, 123456f);
    }
  }

  @Test
  void multiOutputSubsetInRequestedOrder() throws Exception {
    try (ModelInstance m = load(TestModels.MULTI_IO_MIXED)) {
      assertThat(m.signature().inputs())
          .containsExactly(
              new TensorSpec(INPUT0, DataType.FP32, new long[] {-1, 4}),
              new TensorSpec(INPUT1, DataType.INT64, new long[] {-1, 4}));
      assertThat(m.signature().outputs())
          .containsExactly(
              new TensorSpec(OUTPUT0, DataType.FP32, new long[] {-1, 4}),
              new TensorSpec(OUTPUT1, DataType.INT64, new long[] {-1, 4}),
              new TensorSpec(OUTPUT2, DataType.FP32, new long[] {-1, 4}));
      ByteBuffer f = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
      ByteBuffer l = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < 4; i++) {
        f.putFloat(i + 0.5f);
        l.putLong(10L * i);
      }
      List<Tensor> inputs =
          List.of(
              Tensor.of(INPUT0, DataType.FP32, new long[] {1, 4}, f.flip()),
              Tensor.of(INPUT1, DataType.INT64, new long[] {1, 4}, l.flip()));

      List<Tensor> out = m.execute(inputs, List.of(OUTPUT2, OUTPUT1));
      assertThat(out).extracting(Tensor::name).containsExactly(OUTPUT2, OUTPUT1);
      assertThat(out.get(0).datatype()).isEqualTo(DataType.FP32);
      assertThat(floats(out.get(0))).containsExactly(0.5f, 11.5f, 22.5f, 33.5f);
      assertThat(out.get(1).datatype()).isEqualTo(DataType.INT64);
      ByteBuffer o1 = out.get(1).data();
      assertThat(new long[] {o1.getLong(), o1.getLong(), o1.getLong(), o1.getLong()})
          .containsExactly(1, 11, 21, 31);

      List<Tensor> only = m.execute(inputs, List.of(OUTPUT0));
      assertThat(only).extracting(Tensor::name).containsExactly(OUTPUT0);
      assertThat(floats(only.get(0))).containsExactly(1f, 3f, 5f, 7f);

      assertThat(m.execute(inputs, List.of())).isEmpty();
    }
  }

  /** multi_io_mixed's inputs of {@code rows} rows: INPUT0 = base + i + 0.5, INPUT1 = base + i. */
  private static List<Tensor> mixedInputs(int rows, int base) {
    ByteBuffer f = ByteBuffer.allocateDirect(16 * rows).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer l = ByteBuffer.allocateDirect(32 * rows).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 4 * rows; i++) {
      f.putFloat(base + i + 0.5f);
      l.putLong(base + i);
    }
    return List.of(
        Tensor.of(INPUT0, DataType.FP32, new long[] {rows, 4}, f.flip()),
        Tensor.of(INPUT1, DataType.INT64, new long[] {rows, 4}, l.flip()));
  }

  private static void assertMixedOutputs(List<Tensor> out, int rows, int base) {
    assertThat(out).extracting(Tensor::name).containsExactly(OUTPUT2, OUTPUT0, OUTPUT1);
    for (Tensor t : out) {
      assertThat(t.shape()).containsExactly(rows, 4);
    }
    float[] sum = floats(out.get(0));
    float[] twice = floats(out.get(1));
    ByteBuffer plusOne = out.get(2).data();
    for (int i = 0; i < 4 * rows; i++) {
      assertThat(sum[i]).isEqualTo(2f * (base + i) + 0.5f);
      assertThat(twice[i]).isEqualTo(2f * (base + i + 0.5f));
      assertThat(plusOne.getLong()).isEqualTo(base + i + 1L);
    }
  }

  @Test
  void outputsOfAFixedSizePerRowAreWrittenIntoPinnedBuffersKeptPerBatchSize() throws Exception {
    try (ModelInstance m = load(TestModels.MULTI_IO_MIXED)) {
      OnnxModelInstance onnx = (OnnxModelInstance) m;
      List<String> all = List.of(OUTPUT2, OUTPUT0, OUTPUT1);
      int[] rows = {1, 3, 1, 2, 3};
      for (int k = 0; k < rows.length; k++) {
        assertMixedOutputs(m.execute(mixedInputs(rows[k], 100 * k), all), rows[k], 100 * k);
      }
      assertThat(onnx.pinnedPasses()).isEqualTo(rows.length);

      // A pass's answer is a copy: the next pass of the same size does not change it.
      List<Tensor> first = m.execute(mixedInputs(2, 0), all);
      m.execute(mixedInputs(2, 1000), all);
      assertMixedOutputs(first, 2, 0);

      // Some outputs only: ORT allocates them, as before.
      long pinned = onnx.pinnedPasses();
      List<Tensor> only = m.execute(mixedInputs(2, 0), List.of(OUTPUT0));
      assertThat(floats(only.get(0))).containsExactly(1f, 3f, 5f, 7f, 9f, 11f, 13f, 15f);
      assertThat(onnx.pinnedPasses()).isEqualTo(pinned);
    }
  }

  @Test
  void aModelWhoseOutputsDoNotFollowTheInputsRowsStopsPinningAndStillAnswers(@TempDir Path dir)
      throws Exception {
    // Shape of a [-1, 4] input is INT64 [2], whatever the rows, though the output is declared [-1].
    Path file =
        OnnxModelBuilder.create("shape_of")
            .input(INPUT0, DataType.FP32, OnnxModelBuilder.DYNAMIC, 4)
            .output(OUTPUT0, DataType.INT64, OnnxModelBuilder.DYNAMIC)
            .node("Shape", List.of(INPUT0), List.of(OUTPUT0))
            .write(dir.resolve("model.onnx"));
    try (ModelInstance m = backend.load(file, SessionOptions.defaults())) {
      for (int rows : new int[] {3, 1, 2}) {
        ByteBuffer f = ByteBuffer.allocateDirect(16 * rows).order(ByteOrder.LITTLE_ENDIAN);
        List<Tensor> out =
            m.execute(
                List.of(Tensor.of(INPUT0, DataType.FP32, new long[] {rows, 4}, f)),
                List.of(OUTPUT0));
        assertThat(out.get(0).shape()).containsExactly(2);
        ByteBuffer d = out.get(0).data();
        assertThat(new long[] {d.getLong(), d.getLong()}).containsExactly(rows, 4);
      }
      assertThat(((OnnxModelInstance) m).pinnedPasses()).isZero();
    }
  }

  @Test
  void appliesSessionOptions() throws Exception {
    List<SessionOptions> variants = new ArrayList<>();
    for (OptimizationLevel level : OptimizationLevel.values()) {
      variants.add(new SessionOptions(2, 2, level, ExecutionMode.PARALLEL, false, false, "cpu", 0));
      variants.add(new SessionOptions(1, 0, level, ExecutionMode.SEQUENTIAL, true, true, null, 0));
    }
    for (SessionOptions options : variants) {
      try (ModelInstance m = load(TestModels.ADD_SUB_INT32, options)) {
        int[] a = new int[16];
        java.util.Arrays.fill(a, 5);
        long[] shape = {1, 16};
        List<Tensor> out =
            m.execute(List.of(ints(INPUT0, shape, a), ints(INPUT1, shape, a)), List.of(OUTPUT1));
        assertThat(ints(out.get(0))).containsOnly(0);
      }
    }
  }

  /** Runs ADD_SUB_INT32 on 5 - 5 and checks the answer. */
  private static void passOn(ModelInstance m) {
    int[] a = new int[16];
    java.util.Arrays.fill(a, 5);
    long[] shape = {1, 16};
    List<Tensor> out =
        m.execute(List.of(ints(INPUT0, shape, a), ints(INPUT1, shape, a)), List.of(OUTPUT1));
    assertThat(ints(out.get(0))).containsOnly(0);
  }

  @Test
  void instancesOfOneIntraOpThreadShareOneSessionUntilTheLastCloses() throws Exception {
    SessionOptions one = SessionOptions.defaults().withIntraOpThreads(1);
    try (OnnxRuntimeBackend own = new OnnxRuntimeBackend()) {
      OnnxModelInstance a = (OnnxModelInstance) own.load(model(TestModels.ADD_SUB_INT32), one);
      OnnxModelInstance b = (OnnxModelInstance) own.load(model(TestModels.ADD_SUB_INT32), one);
      assertThat(a.session()).isSameAs(b.session());
      assertThat(own.sharedSessionCount()).isEqualTo(1);
      a.close();
      assertThat(own.sharedSessionCount()).as("b still holds it").isEqualTo(1);
      passOn(b);
      OnnxModelInstance c = (OnnxModelInstance) own.load(model(TestModels.ADD_SUB_INT32), one);
      assertThat(c.session()).as("a later instance joins it").isSameAs(b.session());
      b.close();
      c.close();
      assertThat(own.sharedSessionCount()).isZero();
      OnnxModelInstance d = (OnnxModelInstance) own.load(model(TestModels.ADD_SUB_INT32), one);
      passOn(d); // a fresh session once the last was closed
      d.close();
    }
  }

  @Test
  void instancesWithAPoolOrOtherOptionsKeepTheirOwnSession() throws Exception {
    SessionOptions one = SessionOptions.defaults().withIntraOpThreads(1);
    try (OnnxRuntimeBackend own = new OnnxRuntimeBackend();
        ModelInstance twoA = own.load(model(TestModels.ADD_SUB_INT32), one.withIntraOpThreads(2));
        ModelInstance twoB = own.load(model(TestModels.ADD_SUB_INT32), one.withIntraOpThreads(2));
        ModelInstance oneA = own.load(model(TestModels.ADD_SUB_INT32), one);
        ModelInstance otherFile = own.load(model("identity_int32"), one);
        ModelInstance otherLevel =
            own.load(
                model(TestModels.ADD_SUB_INT32),
                new SessionOptions(
                    1,
                    0,
                    OptimizationLevel.BASIC,
                    ExecutionMode.SEQUENTIAL,
                    true,
                    true,
                    null,
                    0))) {
      assertThat(((OnnxModelInstance) twoA).session())
          .as("two intra-op threads: a pool each")
          .isNotSameAs(((OnnxModelInstance) twoB).session());
      assertThat(own.sharedSessionCount()).isEqualTo(3);
      assertThat(((OnnxModelInstance) oneA).session())
          .isNotSameAs(((OnnxModelInstance) otherLevel).session());
      passOn(twoA);
      passOn(oneA);
      passOn(otherLevel);
      assertThat(otherFile.signature().inputs()).isNotEmpty();
    }
  }

  @Test
  void concurrentPassesOnASharedSessionEachGetTheirOwnAnswers() throws Exception {
    SessionOptions one = SessionOptions.defaults().withIntraOpThreads(1);
    try (OnnxRuntimeBackend own = new OnnxRuntimeBackend();
        ModelInstance a = own.load(model(TestModels.ADD_SUB_INT32), one);
        ModelInstance b = own.load(model(TestModels.ADD_SUB_INT32), one)) {
      java.util.concurrent.ExecutorService pool =
          java.util.concurrent.Executors.newFixedThreadPool(2);
      try {
        List<java.util.concurrent.Future<Integer>> done = new ArrayList<>();
        for (ModelInstance m : List.of(a, b)) {
          int base = m == a ? 1 : 1_000;
          done.add(
              pool.submit(
                  () -> {
                    for (int i = 0; i < 2_000; i++) {
                      int[] x = new int[16];
                      java.util.Arrays.fill(x, base + i);
                      int[] y = new int[16];
                      java.util.Arrays.fill(y, i);
                      long[] shape = {1, 16};
                      List<Tensor> out =
                          m.execute(
                              List.of(ints(INPUT0, shape, x), ints(INPUT1, shape, y)),
                              List.of(OUTPUT0, OUTPUT1));
                      assertThat(ints(out.get(0))).containsOnly(base + 2 * i);
                      assertThat(ints(out.get(1))).containsOnly(base);
                    }
                    return 2_000;
                  }));
        }
        for (var f : done) {
          assertThat(f.get(60, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(2_000);
        }
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void closingOneInstanceLeavesTheSharedSessionToAnotherThatIsRunningPasses() throws Exception {
    SessionOptions one = SessionOptions.defaults().withIntraOpThreads(1);
    try (OnnxRuntimeBackend own = new OnnxRuntimeBackend();
        ModelInstance running = own.load(model(TestModels.ADD_SUB_INT32), one)) {
      java.util.concurrent.atomic.AtomicBoolean stop =
          new java.util.concurrent.atomic.AtomicBoolean();
      java.util.concurrent.CompletableFuture<Integer> passes =
          java.util.concurrent.CompletableFuture.supplyAsync(
              () -> {
                int n = 0;
                while (!stop.get() || n < 100) {
                  passOn(running);
                  n++;
                }
                return n;
              });
      for (int i = 0; i < 20; i++) { // others come and go while it runs
        ModelInstance other = own.load(model(TestModels.ADD_SUB_INT32), one);
        passOn(other);
        other.close();
        assertThat(own.sharedSessionCount()).isEqualTo(1);
      }
      stop.set(true);
      assertThat(passes.get(60, java.util.concurrent.TimeUnit.SECONDS)).isGreaterThanOrEqualTo(100);
    }
  }

  @Test
  void aSharedSessionThatCannotBeMadeFailsTheLoadAndIsTriedAgain(@TempDir Path dir)
      throws Exception {
    Path bad = dir.resolve("model.onnx");
    Files.write(bad, "this is not a protobuf".getBytes(StandardCharsets.UTF_8));
    SessionOptions one = SessionOptions.defaults().withIntraOpThreads(1);
    try (OnnxRuntimeBackend own = new OnnxRuntimeBackend()) {
      assertThatThrownBy(() -> own.load(bad, one))
          .isInstanceOf(ModelLoadException.class)
          .hasMessageContaining("ONNX Runtime could not load")
          .hasMessageNotContaining(bad.toString());
      assertThat(own.sharedSessionCount()).isZero();
      Files.copy(model(TestModels.ADD_SUB_INT32), bad, StandardCopyOption.REPLACE_EXISTING);
      try (ModelInstance m = own.load(bad, one)) {
        passOn(m);
      }
    }
  }

  @Test
  void threadsByLoadRunALonePassOnTheSharedSessionAndAnOverlappingOneOnItsOwn() throws Exception {
    SessionOptions options =
        SessionOptions.defaults().withIntraOpThreads(1).withIntraOpThreadsAlone(2);
    try (OnnxRuntimeBackend own = new OnnxRuntimeBackend()) {
      OnnxModelInstance a = (OnnxModelInstance) own.load(model(TestModels.ADD_SUB_INT32), options);
      OnnxModelInstance b = (OnnxModelInstance) own.load(model(TestModels.ADD_SUB_INT32), options);
      LonePassSession shared = java.util.Objects.requireNonNull(a.lonePassSession());
      assertThat(shared).isSameAs(b.lonePassSession());
      assertThat(own.lonePassSessionCount()).isEqualTo(1);

      passOn(a); // alone: the shared session
      assertThat(a.lonePasses()).isEqualTo(1);

      assertThat(shared.begin()).isNotNull(); // another instance's pass is running
      passOn(b); // overlapping: b's own one-thread session
      assertThat(b.lonePasses()).isZero();
      assertThat(shared.begin()).as("never two passes on the shared session").isNull();
      shared.end();
      shared.end();
      passOn(b); // alone again
      assertThat(b.lonePasses()).isEqualTo(1);

      a.close();
      assertThat(own.lonePassSessionCount()).as("b still holds it").isEqualTo(1);
      passOn(b);
      assertThat(b.lonePasses()).isEqualTo(2);
      b.close();
      assertThat(own.lonePassSessionCount()).isZero();
    }
  }

  @Test
  void threadsByLoadShareOnlyAmongTheSameFileAndOptions() throws Exception {
    SessionOptions two = SessionOptions.defaults().withIntraOpThreads(1).withIntraOpThreadsAlone(2);
    try (OnnxRuntimeBackend own = new OnnxRuntimeBackend();
        ModelInstance a = own.load(model(TestModels.ADD_SUB_INT32), two);
        ModelInstance b =
            own.load(model(TestModels.ADD_SUB_INT32), two.withIntraOpThreadsAlone(3));
        ModelInstance same = own.load(model(TestModels.ADD_SUB_INT32), two.withIntraOpThreads(2));
        ModelInstance off = own.load(model(TestModels.ADD_SUB_INT32), SessionOptions.defaults())) {
      assertThat(own.lonePassSessionCount()).isEqualTo(2);
      assertThat(((OnnxModelInstance) same).lonePassSession())
          .as("alone == intra-op-threads: nothing to choose")
          .isNull();
      assertThat(((OnnxModelInstance) off).lonePassSession()).isNull();
      passOn(same);
      passOn(off);
      assertThat(((OnnxModelInstance) a).lonePassSession())
          .isNotSameAs(((OnnxModelInstance) b).lonePassSession());
    }
  }

  @Test
  void acceptsAFolderHoldingModelOnnx() throws Exception {
    try (ModelInstance m =
        backend.load(repo.resolve("identity_int32").resolve("1"), SessionOptions.defaults())) {
      assertThat(m.signature().inputs()).extracting(TensorSpec::name).containsExactly(INPUT0);
    }
  }

  @Test
  void corruptModelFailsWithOrtsMessage(@TempDir Path dir) throws Exception {
    Path bad = dir.resolve("model.onnx");
    Files.write(bad, "this is not a protobuf".getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(() -> backend.load(bad, SessionOptions.defaults()))
        .isInstanceOf(ModelLoadException.class)
        .hasMessageContaining("ONNX Runtime could not load")
        .hasMessageContaining(dir.getFileName().resolve("model.onnx").toString())
        .hasMessageNotContaining(bad.toString()) // load errors reach clients: no absolute path
        .hasMessageContaining("ORT_INVALID_PROTOBUF")
        .hasMessageContaining("Protobuf parsing failed");
  }

  @Test
  void missingModelFails(@TempDir Path dir) {
    assertThatThrownBy(() -> backend.load(dir.resolve("nope.onnx"), SessionOptions.defaults()))
        .isInstanceOf(ModelLoadException.class)
        .hasMessageContaining("does not exist");
  }

  @Test
  void unknownExecutionProviderFails() {
    SessionOptions options =
        new SessionOptions(
            0, 0, OptimizationLevel.ALL, ExecutionMode.SEQUENTIAL, true, true, "tpu", 0);
    assertThatThrownBy(() -> load(TestModels.IDENTITY_FP32_STATIC, options))
        .isInstanceOf(ModelLoadException.class)
        .hasMessageContaining("unknown execution provider \"tpu\"");
  }

  @Test
  void cudaWithoutCudaBuildFailsClearly() {
    assumeThat(OrtEnvironment.getAvailableProviders()).doesNotContain(OrtProvider.CUDA);
    SessionOptions options =
        new SessionOptions(
            0, 0, OptimizationLevel.ALL, ExecutionMode.SEQUENTIAL, true, true, "cuda", 0);
    assertThatThrownBy(() -> load(TestModels.IDENTITY_FP32_STATIC, options))
        .isInstanceOf(ModelLoadException.class)
        .hasMessageContaining("CUDA execution provider")
        .hasMessageContaining("no CUDA support")
        // Triton's KIND_GPU selects it: the way out is named in both configuration files.
        .hasMessageContaining("execution-provider: cpu")
        .hasMessageContaining("KIND_CPU");
  }

  @Test
  void wrongDatatypeIsAnInternalEngineError() throws Exception {
    try (ModelInstance m = load(TestModels.identityModelName(DataType.FP32))) {
      Tensor wrong = sample(INPUT0, DataType.INT32, new long[] {2, 3});
      assertThatThrownBy(() -> m.execute(List.of(wrong), List.of(OUTPUT0)))
          .isInstanceOfSatisfying(
              InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL))
          .hasMessageContaining("ONNX Runtime failed");
    }
  }

  @Test
  void unknownOutputIsAnInternalEngineError() throws Exception {
    try (ModelInstance m = load(TestModels.identityModelName(DataType.FP32))) {
      Tensor in = sample(INPUT0, DataType.FP32, new long[] {2, 3});
      assertThatThrownBy(() -> m.execute(List.of(in), List.of("NOPE")))
          .isInstanceOfSatisfying(
              InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL));
    }
  }

  @Test
  void invalidUtf8BytesAreRejected() throws Exception {
    try (ModelInstance m = load(TestModels.identityModelName(DataType.BYTES))) {
      Tensor in = Tensor.ofBytes(INPUT0, new long[] {1, 1}, List.of(new byte[] {(byte) 0xff}));
      assertThatThrownBy(() -> m.execute(List.of(in), List.of(OUTPUT0)))
          .isInstanceOfSatisfying(
              InferenceException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
          .hasMessageContaining("not valid UTF-8");
    }
  }

  @Test
  void unsignedTensorBridgeIsAvailable() {
    assertThat(UnsignedTensors.available()).as(UnsignedTensors.unavailableReason()).isTrue();
  }
}
