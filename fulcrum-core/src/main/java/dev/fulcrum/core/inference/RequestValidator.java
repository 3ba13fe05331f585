package dev.fulcrum.core.inference;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Checks a request against a model's configuration before it is queued, so that a client mistake is
 * answered with INVALID_ARGUMENT naming the model and the tensor, and never reaches the engine.
 * Stateless and thread-safe.
 */
public final class RequestValidator {
  /** Up to this many inputs, a request's are searched in its list rather than mapped by name. */
  private static final int MAX_SCANNED = 8;

  private RequestValidator() {}

  /** A request that passed: inputs in the model's order, and the outputs to compute. */
  public record Validated(List<Tensor> inputs, List<String> outputNames, int batchSize) {}

  public static Validated validate(ModelConfig config, InferenceRequest request) {
    String model = config.name();
    // A request's few inputs are searched in its list; a map only for many (each map, its table
    // and its nodes were 2 % of a fraud request's allocation).
    List<Tensor> given = request.inputs();
    Map<String, Tensor> byName = given.size() > MAX_SCANNED ? new HashMap<>() : null;
    for (int i = 0; i < given.size(); i++) {
      Tensor t = given.get(i);
      boolean twice =
          byName != null ? byName.put(t.name(), t) != null : indexOf(given, t.name(), i) >= 0;
      if (twice) {
        throw InferenceException.invalid("model '%s': input '%s' is given twice", model, t.name());
      }
      if (!hasInput(config, t.name())) {
        throw InferenceException.invalid(
            "model '%s' has no input named '%s'; its inputs are %s",
            model, t.name(), names(config.inputs()));
      }
    }
    List<Tensor> ordered = new ArrayList<>(config.inputs().size());
    long batch = -1;
    for (TensorConfig spec : config.inputs()) {
      Tensor t = byName != null ? byName.get(spec.name()) : at(given, spec.name());
      if (t == null) {
        throw InferenceException.invalid(
            "model '%s': input '%s' (%s, shape %s) is missing",
            model, spec.name(), spec.datatype(), Shapes.toString(config.fullShape(spec)));
      }
      InferenceException mismatch = spec.datatypeMismatch(model, t.datatype());
      if (mismatch != null) {
        throw mismatch;
      }
      long[] shape = t.shape();
      if (config.batching()) {
        if (shape.length != spec.dims().length + 1) {
          throw InferenceException.invalid(
              "model '%s': input '%s' has shape %s but the model expects %s (batch dimension"
                  + " first)",
              model, spec.name(), Shapes.toString(shape), Shapes.toString(config.fullShape(spec)));
        }
        if (shape[0] < 1 || (shape[0] > config.maxBatchSize() && !config.maxBatchSizeFromModel())) {
          throw InferenceException.invalid(
              "model '%s': input '%s' has batch size %d, outside 1..%d (max-batch-size)",
              model, spec.name(), shape[0], config.maxBatchSize());
        }
        if (batch >= 0 && shape[0] != batch) {
          throw InferenceException.invalid(
              "model '%s': input '%s' has batch size %d but other inputs have %d",
              model, spec.name(), shape[0], batch);
        }
        batch = shape[0];
      }
      if (!spec.acceptsShape(shape, config.batching() ? 1 : 0)) {
        throw InferenceException.invalid(
            "model '%s': input '%s' has shape %s but the model expects %s%s",
            model,
            spec.name(),
            Shapes.toString(shape),
            Shapes.toString(config.fullShape(spec)),
            config.batching() ? "" : fixedBatchOfOne(spec.dims(), shape));
      }
      if (!spec.allowNonFinite()) {
        rejectNonFinite(model, t);
      }
      if (t.datatype() == DataType.BOOL) {
        rejectNonBoolean(model, t);
      }
      ordered.add(t);
    }
    List<String> outputs =
        new ArrayList<>(
            request.outputs().isEmpty() ? config.outputs().size() : request.outputs().size());
    if (request.outputs().isEmpty()) {
      for (TensorConfig o : config.outputs()) {
        outputs.add(o.name());
      }
    } else {
      // As the inputs: a few requested outputs are checked for repeats in the list of names.
      List<RequestedOutput> requested = request.outputs();
      Set<String> seen = requested.size() > MAX_SCANNED ? new HashSet<>() : null;
      for (int i = 0; i < requested.size(); i++) {
        RequestedOutput o = requested.get(i);
        TensorConfig spec = outputNamed(config, o.name());
        if (spec == null) {
          throw InferenceException.invalid(
              "model '%s' has no output named '%s'; its outputs are %s",
              model, o.name(), names(config.outputs()));
        }
        if (seen != null ? !seen.add(o.name()) : outputs.contains(o.name())) {
          throw InferenceException.invalid(
              "model '%s': output '%s' is requested twice", model, o.name());
        }
        // Triton's classification extension on a plain model's output (a pipeline's post steps
        // apply it themselves): k checked here, the output must have numbers to rank.
        if (config.pipeline() == null
            && Classification.requested(o).isPresent()
            && spec.datatype() == DataType.BYTES) {
          throw InferenceException.invalid(
              "model '%s': output '%s' is BYTES; classification needs a numeric output",
              model, o.name());
        }
        outputs.add(o.name());
      }
    }
    return new Validated(ordered, outputs, (int) Math.max(batch, 1));
  }

  /**
   * A hint when a model that does not batch fixes its first dimension at 1 and the request sends
   * more rows with the other dimensions right: the usual mark of an export without a dynamic batch
   * axis ({@code torch.onnx.export} without {@code dynamic_axes}), which users take for a batching
   * model. Empty otherwise.
   */
  static String fixedBatchOfOne(long[] dims, long[] shape) {
    if (dims.length == 0 || dims[0] != 1 || shape.length != dims.length || shape[0] <= 1) {
      return "";
    }
    for (int i = 1; i < dims.length; i++) {
      if (dims[i] >= 0 && dims[i] != shape[i]) {
        return "";
      }
    }
    return "; its first dimension is fixed at 1 (a model exported without a dynamic batch axis,"
        + " e.g. torch.onnx.export without dynamic_axes): send one row per request, or export it"
        + " with a dynamic first axis to batch";
  }

  private static void rejectNonFinite(String model, Tensor t) {
    long i = t.firstNonFinite();
    if (i >= 0) {
      throw InferenceException.invalid(
          "model '%s': input '%s' (%s) element %d is NaN or Infinity (or a number too large for"
              + " %s); the model does not accept non-finite values (allow-non-finite in its"
              + " config.yaml)",
          model, t.name(), t.datatype(), i, t.datatype());
    }
  }

  /**
   * A BOOL element is one byte, 0 or 1 (the binary extension and gRPC's raw contents carry the
   * bytes as sent; JSON's true/false are 1/0): another byte would reach the engine as a boolean
   * that casts to 2, 255, ...
   */
  private static void rejectNonBoolean(String model, Tensor t) {
    java.nio.ByteBuffer b = t.data();
    for (int i = b.position(); i < b.limit(); i++) {
      byte v = b.get(i);
      if (v != 0 && v != 1) {
        throw InferenceException.invalid(
            "model '%s': input '%s' (BOOL) element %d is the byte %d; a BOOL element is 0 or 1",
            model, t.name(), i - b.position(), v & 0xff);
      }
    }
  }

  /** {@code config.input(name).isPresent()} without a stream per request (the common path). */
  private static boolean hasInput(ModelConfig config, String name) {
    List<TensorConfig> inputs = config.inputs();
    for (int i = 0; i < inputs.size(); i++) { // indexed: no iterator per request
      if (inputs.get(i).name().equals(name)) {
        return true;
      }
    }
    return false;
  }

  /** {@code config.output(name)} without an {@link java.util.Optional}: null when none. */
  private static @Nullable TensorConfig outputNamed(ModelConfig config, String name) {
    List<TensorConfig> outputs = config.outputs();
    for (int i = 0; i < outputs.size(); i++) {
      if (outputs.get(i).name().equals(name)) {
        return outputs.get(i);
      }
    }
    return null;
  }

  /** The index of the tensor named {@code name} among the first {@code before} of {@code list}. */
  private static int indexOf(List<Tensor> list, String name, int before) {
    for (int i = 0; i < before; i++) {
      if (list.get(i).name().equals(name)) {
        return i;
      }
    }
    return -1;
  }

  private static @Nullable Tensor at(List<Tensor> list, String name) {
    int i = indexOf(list, name, list.size());
    return i < 0 ? null : list.get(i);
  }

  private static List<String> names(List<TensorConfig> list) {
    return list.stream().map(TensorConfig::name).toList();
  }

  /**
   * Checks what the model's graph tells beyond its configuration: {@link #checkSharedDimensions},
   * {@link #checkDimensions} and {@link #checkIndices}. Runs before the request is queued (for a
   * pipeline, once its engine inputs are made), so such a mistake never fails the batch it would
   * have joined.
   */
  public static void checkAgainstGraph(
      String model, @Nullable ModelSignature signature, List<Tensor> inputs) {
    if (signature == null) {
      return;
    }
    checkSharedDimensions(model, signature, inputs);
    checkDimensions(model, signature, inputs);
    checkIndices(model, signature, inputs);
  }

  /**
   * Refuses a dimension larger than the model's graph takes (see {@link
   * ModelSignature.DimensionBound}: a sequence longer than a BERT export's position table); an
   * input that is absent or of another rank is left to the other checks.
   *
   * @throws InferenceException INVALID_ARGUMENT naming the input, the dimension, its size and the
   *     largest the model takes
   */
  private static void checkDimensions(String model, ModelSignature signature, List<Tensor> inputs) {
    // Indexed loops and rank()/dim(): no iterator nor shape copy per request.
    List<ModelSignature.DimensionBound> bounds = signature.dimensionBounds();
    for (int i = 0; i < bounds.size(); i++) {
      ModelSignature.DimensionBound d = bounds.get(i);
      Tensor t = at(inputs, d.input());
      if (t == null || t.rank() <= d.axis()) {
        continue;
      }
      long size = t.dim(d.axis());
      if (size > d.max()) {
        throw InferenceException.invalid(
            "model '%s': input '%s' has %d elements in dimension %d (shape %s); the model takes at"
                + " most %d there (its graph makes indices into a table of that size from it)",
            model, t.name(), size, d.axis(), Shapes.toString(t.shape()), d.max());
      }
    }
  }

  /**
   * Refuses inputs that give a dimension the model names on several of them (see {@link
   * ModelSignature.SharedDimension}) different sizes; an input that is absent or of another rank is
   * left to the other checks.
   *
   * @throws InferenceException INVALID_ARGUMENT naming both inputs, their shapes and the dimension
   */
  private static void checkSharedDimensions(
      String model, ModelSignature signature, List<Tensor> inputs) {
    List<ModelSignature.SharedDimension> shared = signature.sharedDimensions();
    for (int i = 0; i < shared.size(); i++) {
      ModelSignature.SharedDimension d = shared.get(i);
      Tensor first = null;
      int firstAxis = 0;
      List<ModelSignature.DimensionUse> uses = d.uses();
      for (int j = 0; j < uses.size(); j++) {
        ModelSignature.DimensionUse use = uses.get(j);
        Tensor t = at(inputs, use.input());
        if (t == null || t.rank() <= use.axis()) {
          continue;
        }
        if (first == null) {
          first = t;
          firstAxis = use.axis();
        } else if (t.dim(use.axis()) != first.dim(firstAxis)) {
          String axes =
              use.axis() == firstAxis
                  ? "axis " + firstAxis + " of both"
                  : "axis " + use.axis() + " of '" + t.name() + "', " + firstAxis + " of the other";
          throw InferenceException.invalid(
              "model '%s': input '%s' has shape %s but input '%s' has %s; the model's dimension"
                  + " '%s' (%s) takes one size",
              model,
              t.name(),
              Shapes.toString(t.shape()),
              first.name(),
              Shapes.toString(first.shape()),
              d.name(),
              axes);
        }
      }
    }
  }

  /**
   * Refuses index values the engine would fail on: for each input the model's graph bounds (see
   * {@link ModelSignature.IndexBound}), every value must be in the bound's range (for an ONNX
   * {@code Gather} on n rows, {@code -n..n-1}). Runs before the request is queued, so a bad index
   * never fails the batch it would have joined.
   *
   * @throws InferenceException INVALID_ARGUMENT naming the input, the position, the value and the
   *     range
   */
  private static void checkIndices(String model, ModelSignature signature, List<Tensor> inputs) {
    if (signature.indexBounds().isEmpty()) {
      return;
    }
    for (Tensor t : inputs) {
      ModelSignature.IndexBound bound = signature.indexBound(t.name()).orElse(null);
      if (bound == null || !ElementCodec.isIntegral(t.datatype())) {
        continue;
      }
      ByteBuffer b = t.data();
      long n = t.elementCount();
      boolean unsigned = t.datatype() == DataType.UINT64;
      for (int i = 0; i < n; i++) {
        long v = ElementCodec.getLong(t.datatype(), b, i);
        if (unsigned ? Long.compareUnsigned(v, bound.maxExclusive()) >= 0 : !bound.accepts(v)) {
          throw InferenceException.invalid(
              "model '%s': input '%s' element %d is %s, outside the model's index range %d..%d",
              model,
              t.name(),
              i,
              unsigned ? Long.toUnsignedString(v) : Long.toString(v),
              bound.minInclusive(),
              bound.maxExclusive() - 1);
        }
      }
    }
  }
}
