package dev.fulcrum.core.runtime;

/**
 * Engine options for one model instance, from the {@code onnxruntime:} section of a model's
 * configuration. Zero thread counts mean "the engine decides".
 *
 * @param intraOpThreads threads used inside one operator (0: engine default)
 * @param interOpThreads threads used across operators in parallel execution mode (0: default)
 * @param optimizationLevel graph optimization level
 * @param executionMode sequential or parallel operator execution
 * @param memoryArena whether the engine keeps a CPU memory arena between calls
 * @param memoryPattern whether the engine pre-plans memory for repeated shapes
 * @param executionProvider "cpu" or "cuda"
 * @param deviceId the accelerator index for the CUDA provider
 * @param allowSpinning whether idle engine threads spin instead of sleeping; off by default,
 *     because spinning threads take the cores the transport needs to answer (and refuse) requests
 * @param intraOpThreadsAlone intra-op threads of a pass that starts while no other pass of the
 *     model's instances runs (0: off, every pass uses {@code intraOpThreads}); lets a model with
 *     several one-thread instances give a lone request every core at low load and overlap passes at
 *     high load. The engine decides how (ONNX Runtime: one more session, shared by the instances of
 *     the model)
 * @param intraOpThreadsOneRow intra-op threads of a pass of one row (0: off, every pass uses {@code
 *     intraOpThreads}); a batch keeps {@code intraOpThreads}. On two cores MiniLM's one-row pass
 *     ran faster and cheaper on one thread than on two that sleep between operators. The engine
 *     decides how (ONNX Runtime: one more session per instance)
 */
public record SessionOptions(
    int intraOpThreads,
    int interOpThreads,
    OptimizationLevel optimizationLevel,
    ExecutionMode executionMode,
    boolean memoryArena,
    boolean memoryPattern,
    String executionProvider,
    int deviceId,
    boolean allowSpinning,
    int intraOpThreadsAlone,
    int intraOpThreadsOneRow) {

  /** Graph optimization levels, as ONNX Runtime names them. */
  public enum OptimizationLevel {
    DISABLED,
    BASIC,
    EXTENDED,
    ALL
  }

  /** Operator scheduling. */
  public enum ExecutionMode {
    SEQUENTIAL,
    PARALLEL
  }

  /** Options with spinning off and no separate thread counts for lone passes or one row. */
  public SessionOptions(
      int intraOpThreads,
      int interOpThreads,
      OptimizationLevel optimizationLevel,
      ExecutionMode executionMode,
      boolean memoryArena,
      boolean memoryPattern,
      String executionProvider,
      int deviceId) {
    this(
        intraOpThreads,
        interOpThreads,
        optimizationLevel,
        executionMode,
        memoryArena,
        memoryPattern,
        executionProvider,
        deviceId,
        false,
        0,
        0);
  }

  public SessionOptions {
    if (intraOpThreads < 0
        || interOpThreads < 0
        || intraOpThreadsAlone < 0
        || intraOpThreadsOneRow < 0) {
      throw new IllegalArgumentException("thread counts must be >= 0");
    }
    executionProvider = executionProvider == null ? "cpu" : executionProvider;
  }

  /** Engine defaults: all optimizations, sequential, arena on, CPU. */
  public static SessionOptions defaults() {
    return new SessionOptions(
        0, 0, OptimizationLevel.ALL, ExecutionMode.SEQUENTIAL, true, true, "cpu", 0);
  }

  public SessionOptions withIntraOpThreads(int n) {
    return withThreads(n, intraOpThreadsAlone, intraOpThreadsOneRow);
  }

  /**
   * Whether lone passes get their own thread count: {@code intraOpThreadsAlone} is set and differs
   * from {@code intraOpThreads}.
   */
  public boolean threadsByLoad() {
    return intraOpThreadsAlone > 0 && intraOpThreadsAlone != intraOpThreads;
  }

  /** These options with lone passes using {@code n} intra-op threads (0: off). */
  public SessionOptions withIntraOpThreadsAlone(int n) {
    return withThreads(intraOpThreads, n, intraOpThreadsOneRow);
  }

  /**
   * Whether passes of one row get their own thread count: {@code intraOpThreadsOneRow} is set and
   * differs from {@code intraOpThreads}.
   */
  public boolean threadsForOneRow() {
    return intraOpThreadsOneRow > 0 && intraOpThreadsOneRow != intraOpThreads;
  }

  /** These options with passes of one row using {@code n} intra-op threads (0: off). */
  public SessionOptions withIntraOpThreadsOneRow(int n) {
    return withThreads(intraOpThreads, intraOpThreadsAlone, n);
  }

  private SessionOptions withThreads(int intra, int alone, int oneRow) {
    return new SessionOptions(
        intra,
        interOpThreads,
        optimizationLevel,
        executionMode,
        memoryArena,
        memoryPattern,
        executionProvider,
        deviceId,
        allowSpinning,
        alone,
        oneRow);
  }
}
