package dev.fulcrum.server.triton;

import java.util.List;
import java.util.Map;

/**
 * One {@code model_warmup} entry of a Triton config.pbtxt, as written: a request run {@code count}
 * times on each instance before the model is ready. Fulcrum's config.yaml grows its own warm-up
 * section separately; until this is mapped onto it, the converter reports {@code model_warmup} as
 * ignored. Immutable.
 *
 * @param batchSize rows of each input (0 when unset)
 * @param count runs per instance (0 when unset: Triton runs it once)
 * @param inputs by input name
 */
public record TritonWarmup(String name, int batchSize, int count, Map<String, Input> inputs) {
  public TritonWarmup {
    inputs = Map.copyOf(inputs);
  }

  /**
   * One input of a warm-up request; exactly one of {@code zeroData}, {@code randomData}, {@code
   * inputDataFile} (a file under the model's {@code warmup/} folder) is set.
   *
   * @param datatype the protocol's name ({@code FP32}, {@code BYTES})
   * @param dims without the batch dimension when the model batches
   */
  public record Input(
      String datatype,
      List<Long> dims,
      boolean zeroData,
      boolean randomData,
      String inputDataFile) {
    public Input {
      dims = List.copyOf(dims);
    }
  }
}
