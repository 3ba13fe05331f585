package dev.fulcrum.runtime.onnx;

import static dev.fulcrum.testkit.TestModels.INPUT0;
import static dev.fulcrum.testkit.TestModels.OUTPUT0;
import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.runtime.ComputeNice;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.testkit.TestModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link OnnxRuntimeBackend#withGlobalThreadPool}: sessions of several intra-op threads share one
 * pool instead of making one each. ONNX Runtime's environment is a process singleton made once, so
 * each case runs in a JVM of its own ({@link Probe}).
 */
class GlobalThreadPoolTest {
  private static final int SESSIONS = 6;
  private static final int INTRA_OP_THREADS = 4;

  @TempDir static Path repo;

  @BeforeAll
  static void writeModels() throws Exception {
    TestModels.writeRepository(repo);
  }

  @Test
  void sessionsOfSeveralThreadsShareOnePoolInsteadOfOneEach() throws Exception {
    Map<String, String> own = probe("own");
    Map<String, String> shared = probe("shared:2");
    // Each session's own pool: INTRA_OP_THREADS - 1 threads besides the caller's.
    assertThat(Integer.parseInt(own.get("new-threads")))
        .isGreaterThanOrEqualTo(SESSIONS * (INTRA_OP_THREADS - 1));
    assertThat(Integer.parseInt(shared.get("new-threads"))).isLessThan(SESSIONS);
    assertThat(Integer.parseInt(shared.get("pool-threads"))).isPositive();
    assertThat(own.get("answers")).isEqualTo("ok");
    assertThat(shared.get("answers")).isEqualTo("ok");
  }

  @Test
  void sessionsOfOneThreadRunOnTheirCallerAsWithout() throws Exception {
    Map<String, String> shared = probe("shared:2", "1");
    assertThat(shared.get("answers")).isEqualTo("ok");
    assertThat(Integer.parseInt(shared.get("new-threads"))).isLessThan(SESSIONS);
  }

  private static Map<String, String> probe(String mode) throws Exception {
    return probe(mode, String.valueOf(INTRA_OP_THREADS));
  }

  private static Map<String, String> probe(String mode, String threads) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    Process p =
        new ProcessBuilder(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                Probe.class.getName(),
                mode,
                threads,
                repo.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out.lines()
        .filter(l -> l.startsWith("probe "))
        .map(l -> l.substring("probe ".length()).split("=", 2))
        .collect(Collectors.toMap(kv -> kv[0], kv -> kv[1]));
  }

  /**
   * Loads {@value #SESSIONS} sessions of the FP32 identity model with the intra-op threads given,
   * on a backend of its own pools ({@code own}) or of a shared pool ({@code shared:N}), runs a pass
   * on each, and prints the threads the loads added.
   */
  static final class Probe {
    public static void main(String[] args) throws Exception {
      String mode = args[0];
      int threads = Integer.parseInt(args[1]);
      Path model =
          Path.of(args[2]).resolve(TestModels.identityModelName(DataType.FP32)).resolve("1");
      OnnxRuntimeBackend backend =
          mode.startsWith("shared:")
              ? OnnxRuntimeBackend.withGlobalThreadPool(
                  null, ComputeNice.none(), Integer.parseInt(mode.substring("shared:".length())))
              : new OnnxRuntimeBackend();
      int before = threads();
      List<ModelInstance> instances = new ArrayList<>();
      boolean ok = true;
      for (int i = 0; i < SESSIONS; i++) {
        ModelInstance m =
            backend.load(
                model.resolve("model.onnx"), SessionOptions.defaults().withIntraOpThreads(threads));
        instances.add(m);
        ByteBuffer data = ByteBuffer.allocate(4 * 6).order(ByteOrder.LITTLE_ENDIAN);
        for (int j = 0; j < 6; j++) {
          data.putFloat(j + i);
        }
        data.flip();
        Tensor in = Tensor.of(INPUT0, DataType.FP32, new long[] {2, 3}, data);
        Tensor out = m.execute(List.of(in), List.of(OUTPUT0)).get(0);
        ok &= out.data().order(ByteOrder.LITTLE_ENDIAN).getFloat(5 * 4) == 5 + i;
      }
      System.out.println("probe new-threads=" + (threads() - before));
      System.out.println("probe pool-threads=" + poolThreads());
      System.out.println("probe answers=" + (ok ? "ok" : "wrong"));
      for (ModelInstance m : instances) {
        m.close();
      }
      backend.close();
    }

    private static int threads() throws IOException {
      try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
        return (int) tasks.count();
      }
    }

    private static int poolThreads() throws IOException {
      int n = 0;
      try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
        for (Path t : (Iterable<Path>) tasks::iterator) {
          String name = Files.readString(t.resolve("comm")).trim();
          if (OnnxRuntimeBackend.GLOBAL_POOL_THREAD_NAME.startsWith(name)) {
            n++;
          }
        }
      }
      return n;
    }
  }
}
