package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.jspecify.annotations.Nullable;

/**
 * The warm-up samples of a model version (Triton's {@code model_warmup}, written {@code
 * model-warmup} in config.yaml), checked against the version's configuration once, and run on each
 * instance before the version takes requests. Immutable; {@link #run} is called on the control
 * thread that loads the version, before the instances are handed to their engine threads.
 */
final class Warmup {
  private record Sample(String name, int count, List<Tensor> inputs) {}

  static final Warmup NONE = new Warmup(List.of());

  private final List<Sample> samples;

  private Warmup(List<Sample> samples) {
    this.samples = List.copyOf(samples);
  }

  boolean isEmpty() {
    return samples.isEmpty();
  }

  /**
   * Checks the samples and builds their tensors.
   *
   * @param configFile the configuration file as clients may see it (relative to the repository)
   * @param modelDir the model's folder, where {@code input-data-file} paths are resolved
   */
  static Warmup plan(
      @Nullable List<ModelConfigFile.WarmupFile> files,
      ModelConfig config,
      Path configFile,
      Path modelDir)
      throws ConfigException {
    if (files == null || files.isEmpty()) {
      return NONE;
    }
    List<Sample> out = new ArrayList<>();
    SplittableRandom random = new SplittableRandom(42);
    for (int i = 0; i < files.size(); i++) {
      ModelConfigFile.WarmupFile f = files.get(i);
      String here = "model-warmup[" + i + "]";
      if (f == null || f.name() == null || f.name().isBlank()) {
        throw new ConfigException(configFile, here + ".name", "is required");
      }
      int batch = f.batchSize() == null ? 1 : f.batchSize();
      if (config.batching() ? batch < 1 || batch > config.maxBatchSize() : batch > 1 || batch < 0) {
        throw new ConfigException(
            configFile,
            here + ".batch-size",
            config.batching()
                ? "must be 1.." + config.maxBatchSize() + " (max-batch-size), was " + batch
                : "must be 1 for a model that does not batch, was " + batch);
      }
      int count = f.count() == null ? 1 : f.count();
      if (count < 1 || count > 1000) {
        throw new ConfigException(configFile, here + ".count", "must be 1..1000, was " + count);
      }
      Map<String, ModelConfigFile.WarmupInputFile> given =
          f.inputs() == null ? Map.of() : f.inputs();
      for (String name : given.keySet()) {
        if (config.input(name).isEmpty()) {
          throw new ConfigException(
              configFile,
              here + ".inputs." + name,
              "the model has no such input; its inputs are "
                  + config.inputs().stream().map(TensorConfig::name).toList());
        }
      }
      List<Tensor> tensors = new ArrayList<>();
      for (TensorConfig in : config.inputs()) {
        ModelConfigFile.WarmupInputFile w = given.get(in.name());
        String field = here + ".inputs." + in.name();
        if (w == null) {
          throw new ConfigException(configFile, field, "is missing: give every model input");
        }
        tensors.add(
            tensor(w, in, config.batching() ? batch : 0, field, configFile, modelDir, random));
      }
      out.add(new Sample(f.name(), count, tensors));
    }
    return new Warmup(out);
  }

  private static Tensor tensor(
      ModelConfigFile.WarmupInputFile w,
      TensorConfig in,
      int batch,
      String field,
      Path configFile,
      Path modelDir,
      SplittableRandom random)
      throws ConfigException {
    if (w.dataType() != null) {
      String t = w.dataType().startsWith("TYPE_") ? w.dataType().substring(5) : w.dataType();
      DataType dt = "STRING".equals(t) ? DataType.BYTES : DataType.fromProtocolName(t).orElse(null);
      if (dt != in.datatype()) {
        throw new ConfigException(
            configFile,
            field + ".data-type",
            "'" + w.dataType() + "' differs from the input's " + in.datatype());
      }
    }
    long[] dims = dims(w, in, field, configFile);
    int sources =
        (Boolean.TRUE.equals(w.zeroData()) ? 1 : 0)
            + (Boolean.TRUE.equals(w.randomData()) ? 1 : 0)
            + (w.inputDataFile() != null ? 1 : 0);
    if (sources != 1) {
      throw new ConfigException(
          configFile,
          field,
          "give exactly one of 'zero-data: true', 'random-data: true', 'input-data-file: FILE'");
    }
    long[] shape = batch > 0 ? prepend(batch, dims) : dims;
    long perSample = Arrays.stream(dims).reduce(1, Math::multiplyExact);
    int rows = Math.max(1, batch);
    int elements = Math.toIntExact(perSample * rows);
    DataType type = in.datatype();
    if (w.inputDataFile() != null) {
      byte[] one = readFile(w.inputDataFile(), modelDir, field, configFile);
      long expected = type.isFixedSize() ? perSample * type.byteSize() : -1;
      if (expected >= 0 && one.length != expected) {
        throw new ConfigException(
            configFile,
            field + ".input-data-file",
            w.inputDataFile()
                + " has "
                + one.length
                + " bytes; "
                + Arrays.toString(dims)
                + " of "
                + type
                + " needs "
                + expected);
      }
      ByteBuffer b = ByteBuffer.allocate(one.length * rows).order(ByteOrder.LITTLE_ENDIAN);
      for (int r = 0; r < rows; r++) {
        b.put(one);
      }
      return build(in.name(), type, shape, b.flip(), field, configFile);
    }
    boolean zero = Boolean.TRUE.equals(w.zeroData());
    if (type == DataType.BYTES) {
      List<byte[]> values = new ArrayList<>();
      for (int i = 0; i < elements; i++) {
        values.add(zero ? new byte[0] : randomText(random));
      }
      return Tensor.ofBytes(in.name(), shape, values);
    }
    ByteBuffer b =
        ByteBuffer.allocate(Math.multiplyExact(elements, type.byteSize()))
            .order(ByteOrder.LITTLE_ENDIAN);
    if (!zero) {
      for (int i = 0; i < elements; i++) {
        putRandom(b, type, random);
      }
    }
    b.position(b.capacity());
    return build(in.name(), type, shape, b.flip(), field, configFile);
  }

  private static long[] dims(
      ModelConfigFile.WarmupInputFile w, TensorConfig in, String field, Path configFile)
      throws ConfigException {
    long[] model = in.dims();
    if (w.dims() == null) {
      if (Arrays.stream(model).anyMatch(d -> d < 0)) {
        throw new ConfigException(
            configFile,
            field + ".dims",
            "is required: the input's dims " + Arrays.toString(model) + " are not all fixed");
      }
      return model;
    }
    long[] dims = w.dims().stream().mapToLong(d -> d == null ? -1 : d).toArray();
    boolean fits = dims.length == model.length;
    for (int i = 0; fits && i < dims.length; i++) {
      fits = dims[i] >= 1 && (model[i] < 0 || model[i] == dims[i]);
    }
    if (!fits) {
      throw new ConfigException(
          configFile,
          field + ".dims",
          Arrays.toString(dims) + " does not fit the input's dims " + Arrays.toString(model));
    }
    return dims;
  }

  private static byte[] readFile(String name, Path modelDir, String field, Path configFile)
      throws ConfigException {
    Path file = modelDir.resolve(name).normalize();
    if (Path.of(name).isAbsolute() || !file.startsWith(modelDir)) {
      throw new ConfigException(
          configFile, field + ".input-data-file", "must be a path inside the model's folder");
    }
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new ConfigException(configFile, field + ".input-data-file", name + " cannot be read");
    }
  }

  private static Tensor build(
      String name, DataType type, long[] shape, ByteBuffer b, String field, Path configFile)
      throws ConfigException {
    try {
      return Tensor.of(name, type, shape, b);
    } catch (InferenceException e) {
      throw new ConfigException(configFile, field, e.getMessage());
    }
  }

  private static void putRandom(ByteBuffer b, DataType type, SplittableRandom random) {
    switch (type) {
      case BOOL -> b.put((byte) random.nextInt(2));
      case FP32 -> b.putFloat((float) random.nextDouble());
      case FP64 -> b.putDouble(random.nextDouble());
      case FP16 -> b.putShort(Float.floatToFloat16((float) random.nextDouble()));
      case BF16 -> b.putShort((short) (Float.floatToIntBits((float) random.nextDouble()) >>> 16));
      default -> {
        for (int i = 0; i < type.byteSize(); i++) {
          b.put((byte) random.nextInt(256));
        }
      }
    }
  }

  private static byte[] randomText(SplittableRandom random) {
    byte[] out = new byte[8];
    for (int i = 0; i < out.length; i++) {
      out[i] = (byte) ('a' + random.nextInt(26));
    }
    return out;
  }

  private static long[] prepend(long first, long[] rest) {
    long[] out = new long[rest.length + 1];
    out[0] = first;
    System.arraycopy(rest, 0, out, 1, rest.length);
    return out;
  }

  /**
   * Runs every sample {@code count} times on one instance.
   *
   * @throws ModelLoadException naming the sample when the engine fails
   */
  void run(ModelInstance instance, int index, List<String> outputNames) throws ModelLoadException {
    for (Sample s : samples) {
      for (int i = 0; i < s.count(); i++) {
        try {
          instance.execute(s.inputs(), outputNames);
        } catch (RuntimeException e) {
          throw new ModelLoadException(
              "warm-up sample '"
                  + s.name()
                  + "' failed on instance "
                  + index
                  + ": "
                  + e.getMessage(),
              e);
        }
      }
    }
  }
}
