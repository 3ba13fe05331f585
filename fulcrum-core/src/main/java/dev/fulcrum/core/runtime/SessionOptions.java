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
    boolean allowSpinning) {

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

  /** Options with spinning off. */
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
        false);
  }

  public SessionOptions {
    if (intraOpThreads < 0 || interOpThreads < 0) {
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
    return new SessionOptions(
        n,
        interOpThreads,
        optimizationLevel,
        executionMode,
        memoryArena,
        memoryPattern,
        executionProvider,
        deviceId,
        allowSpinning);
  }
}
