package dev.fulcrum.runtime.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxSequence;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.ValueInfo;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.NativeHeap;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import java.lang.reflect.Array;
import java.lang.reflect.InvocationTargetException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One model instance on an ONNX Runtime session: its own, or, for instances of one intra-op thread,
 * the session its model's instances share (ONNX Runtime runs concurrent passes of one session; each
 * runs on its caller's thread, and the weights are held once).
 *
 * <p>Not thread-safe: the instance pool calls {@link #execute} from one thread at a time, and
 * {@link #close} only once no call is running. A pass may run on the lone-pass session the model's
 * instances share ({@link LonePassSession}), which admits one pass at a time.
 *
 * <p>Inputs of fixed-size types reach ORT without a copy when the tensor's buffer is direct, and
 * with exactly one copy (into a direct buffer) when it is a heap buffer. Outputs are copied once
 * out of ORT's memory, which is freed when the run's result is closed; for a model whose outputs
 * have a fixed size per row, ORT writes them into buffers this instance keeps per batch size
 * ({@link PinnedOutputs}), and they are copied once out of those. BYTES tensors travel through
 * ORT's Java string API, which only carries {@link String}s: input elements must be valid UTF-8
 * (others are rejected as INVALID_ARGUMENT) and output strings come back UTF-8 encoded.
 */
final class OnnxModelInstance implements ModelInstance {
  private static final Logger log = LoggerFactory.getLogger(OnnxModelInstance.class);
  private final OrtEnvironment env;

  /** This instance's session, its own or shared with the model's other instances. */
  private final OrtSession session;

  /**
   * Closes {@link #session}, or gives this instance's share of it back; once, at {@link #close}.
   */
  private final Runnable releaseSession;

  private final ModelSignature signature;

  /** The session shared for lone passes ({@code intra-op-threads-alone}), or null. */
  private final @Nullable LonePassSession lone;

  /** Gives {@link #lone} back when this instance closes. */
  private final Runnable releaseLone;

  /**
   * This instance's session for its passes of one row (other intra-op threads), made on first need;
   * or null.
   */
  private final @Nullable OneRowSession oneRow;

  /** Passes run on {@link #oneRow} (read by tests). */
  private final AtomicLong oneRowPasses = new AtomicLong();

  /** Passes run on the lone-pass session (read by tests). */
  private final AtomicLong lonePasses = new AtomicLong();

  /** The outputs that are ZipMap's maps, served as tensors ({@link ProbabilityMaps}). */
  private final Set<String> probabilityMaps;

  /** Output buffers ORT writes into, or null when the outputs' sizes per row are not fixed. */
  private final @Nullable PinnedOutputs pinned;

  /**
   * False once a pass failed with pinned outputs and succeeded without them (the outputs' first
   * dimension is not the inputs' here); confined like {@link #execute}.
   */
  private boolean pinning = true;

  /** Passes whose outputs ORT wrote into pinned buffers (read by tests). */
  private final AtomicLong pinnedPasses = new AtomicLong();

  /**
   * A pass's inputs as ORT tensors by name: one map reused by every pass ({@link #execute} is
   * called from one thread at a time), emptied as its tensors are closed, rather than a map and its
   * table and entries per pass.
   */
  private final Map<String, OnnxTensor> feeds = new LinkedHashMap<>();

  /**
   * @param releaseSession closes {@code session} or gives this instance's share of it back
   * @param bounds the graph's index inputs and bounded dimensions (see {@link IndexBounds}); an
   *     index bound on what is not an integer input of the session, and a dimension bound on what
   *     is not a variable dimension of one of its inputs, are dropped
   * @param lone the session this instance runs a pass on when no other pass of the model runs (see
   *     {@link LonePassSession}), or null: every pass runs on {@code session}
   * @param releaseLone called once, at {@link #close}
   * @param oneRow a session of the same model with other intra-op threads, owned by this instance,
   *     that runs every pass of one row once it is made; or null
   */
  OnnxModelInstance(
      OrtEnvironment env,
      OrtSession session,
      Runnable releaseSession,
      IndexBounds.Found bounds,
      @Nullable LonePassSession lone,
      Runnable releaseLone,
      @Nullable OneRowSession oneRow)
      throws ModelLoadException {
    this.env = env;
    this.session = session;
    this.releaseSession = releaseSession;
    this.lone = lone;
    this.oneRow = oneRow;
    this.releaseLone = releaseLone;
    try {
      Map<String, NodeInfo> inputInfo = session.getInputInfo();
      this.probabilityMaps =
          session.getOutputInfo().values().stream()
              .filter(n -> ProbabilityMaps.isProbabilityMaps(n.getInfo()))
              .map(NodeInfo::getName)
              .collect(Collectors.toUnmodifiableSet());
      List<TensorSpec> inputs = specs("input", inputInfo, false);
      this.signature =
          new ModelSignature(
              inputs,
              specs("output", session.getOutputInfo(), true),
              bounds.values().stream()
                  .filter(
                      b ->
                          inputs.stream()
                              .anyMatch(i -> i.name().equals(b.input()) && isInteger(i.datatype())))
                  .toList(),
              sharedDimensions(inputInfo),
              bounds.dimensions().stream()
                  .filter(
                      b ->
                          inputs.stream()
                              .anyMatch(
                                  i ->
                                      i.name().equals(b.input())
                                          && b.axis() < i.shape().length
                                          && i.shape()[b.axis()] < 0))
                  .toList());
    } catch (OrtException e) {
      throw new ModelLoadException(
          "ONNX Runtime could not describe the model's inputs and outputs: " + e.getMessage(), e);
    }
    this.pinned = PinnedOutputs.of(env, signature.outputs());
  }

  /**
   * The tensors of a signature. An output of ZipMap's class-to-probability maps (scikit-learn
   * classifiers as skl2onnx converts them) is served as an FP32 tensor ({@link ProbabilityMaps});
   * any other output that is not a tensor or has a type Fulcrum cannot carry is left out of the
   * served outputs with a warning, so the model's tensor outputs are still served; an input like
   * that makes the model unservable.
   */
  private static List<TensorSpec> specs(
      String kind, Map<String, NodeInfo> infos, boolean skipUnsupported) throws ModelLoadException {
    List<TensorSpec> out = new ArrayList<>(infos.size());
    for (NodeInfo node : infos.values()) {
      ValueInfo info = node.getInfo();
      if (skipUnsupported && ProbabilityMaps.isProbabilityMaps(info)) {
        log.info(
            "{} '{}' is {} (a ZipMap's probabilities); it is served as FP32 [rows, classes],"
                + " the classes in the order of their labels, sorted",
            kind,
            node.getName(),
            info);
        out.add(ProbabilityMaps.spec(node.getName()));
        continue;
      }
      if (skipUnsupported
          && (!(info instanceof TensorInfo ti) || OnnxTypes.fromOnnx(ti.onnxType).isEmpty())) {
        log.warn("{} '{}' is {}; it is not served", kind, node.getName(), info);
        continue;
      }
      if (!(info instanceof TensorInfo t)) {
        throw new ModelLoadException(
            "unsupported model: "
                + kind
                + " '"
                + node.getName()
                + "' is not a tensor ("
                + info
                + "); only tensor inputs and outputs are supported");
      }
      DataType type =
          OnnxTypes.fromOnnx(t.onnxType)
              .orElseThrow(
                  () ->
                      new ModelLoadException(
                          "unsupported model: "
                              + kind
                              + " '"
                              + node.getName()
                              + "' has element type "
                              + t.onnxType
                              + ", which has no Fulcrum datatype"));
      long[] shape = t.getShape();
      for (int i = 0; i < shape.length; i++) {
        if (shape[i] < 0) {
          shape[i] = -1;
        }
      }
      out.add(new TensorSpec(node.getName(), type, shape));
    }
    if (out.isEmpty() && !infos.isEmpty()) {
      throw new ModelLoadException(
          "unsupported model: none of its " + kind + "s is a tensor Fulcrum can carry");
    }
    return out;
  }

  /**
   * The variable dimensions the inputs declare under one name more than once (ONNX {@code
   * dim_param}s as ORT reports them), in the inputs' order; a fixed dimension's name, if any, is
   * ignored (its size is checked on its own).
   */
  static List<ModelSignature.SharedDimension> sharedDimensions(Map<String, NodeInfo> inputs) {
    Map<String, List<ModelSignature.DimensionUse>> byName = new LinkedHashMap<>();
    for (NodeInfo node : inputs.values()) {
      if (!(node.getInfo() instanceof TensorInfo t)) {
        continue;
      }
      long[] shape = t.getShape();
      String[] names = t.getDimensionNames();
      for (int axis = 0; axis < Math.min(shape.length, names.length); axis++) {
        String name = names[axis];
        if (shape[axis] < 0 && name != null && !name.isEmpty()) {
          byName
              .computeIfAbsent(name, k -> new ArrayList<>())
              .add(new ModelSignature.DimensionUse(node.getName(), axis));
        }
      }
    }
    List<ModelSignature.SharedDimension> out = new ArrayList<>();
    byName.forEach(
        (name, uses) -> {
          if (uses.size() > 1) {
            out.add(new ModelSignature.SharedDimension(name, uses));
          }
        });
    return out;
  }

  private static boolean isInteger(DataType t) {
    return switch (t) {
      case INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64 -> true;
      default -> false;
    };
  }

  @Override
  public ModelSignature signature() {
    return signature;
  }

  @Override
  public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
    if (outputNames.isEmpty()) {
      return List.of();
    }
    Map<String, OnnxTensor> feeds = this.feeds;
    try {
      for (Tensor t : inputs) {
        OnnxTensor previous = feeds.put(t.name(), toOrt(t));
        if (previous != null) {
          previous.close();
          throw InferenceException.invalid("input '%s' is given more than once", t.name());
        }
      }
      PinnedOutputs.Pass pass = pinnedPass(inputs, outputNames);
      if (pass != null) {
        OrtSession.Result result;
        try {
          result = run(feeds, Set.of(), pass.tensors(), rows(inputs));
        } catch (OrtException e) {
          // Perhaps the outputs' first dimension is not the inputs' for this model: a pass without
          // pinned outputs decides (and fails the same way when the pass itself failed).
          List<Tensor> out = unpinned(feeds, outputNames, rows(inputs));
          pinning = false;
          log.info(
              "model outputs do not follow the inputs' first dimension ({}); ONNX Runtime no"
                  + " longer writes them into pinned buffers",
              e.getMessage());
          return out;
        }
        result.close(); // closes nothing of the pinned outputs: the result does not own them
        pinnedPasses.incrementAndGet();
        return pass.copyOut(outputNames);
      }
      return unpinned(feeds, outputNames, rows(inputs));
    } catch (OrtException e) {
      throw classify(e, feedsMatch(inputs, outputNames));
    } finally {
      for (OnnxTensor t : feeds.values()) {
        t.close();
      }
      feeds.clear();
    }
  }

  /** A pass whose outputs ORT allocates; each is copied out of ORT's memory. */
  private List<Tensor> unpinned(Map<String, OnnxTensor> feeds, List<String> outputNames, long rows)
      throws OrtException {
    try (OrtSession.Result result = run(feeds, new LinkedHashSet<>(outputNames), Map.of(), rows)) {
      List<Tensor> out = new ArrayList<>(outputNames.size());
      for (String name : outputNames) {
        OnnxValue value =
            result
                .get(name)
                .orElseThrow(
                    () ->
                        InferenceException.internal(
                            "ONNX Runtime returned no output '" + name + "'", null));
        out.add(fromOrt(name, value));
      }
      return out;
    }
  }

  /**
   * The pinned outputs of this pass, or null: the model's outputs have no fixed size per row, the
   * pass does not ask for all of them, or its batch is too large.
   */
  private PinnedOutputs.@Nullable Pass pinnedPass(List<Tensor> inputs, List<String> outputNames) {
    PinnedOutputs p = pinned;
    if (p == null || !pinning || inputs.isEmpty() || !p.covers(outputNames)) {
      return null;
    }
    Tensor first = inputs.get(0);
    try {
      return first.rank() == 0 ? null : p.forRows(first.dim(0));
    } catch (OrtException e) {
      pinning = false;
      log.info(
          "ONNX Runtime could not make pinned output buffers ({}); not pinning", e.getMessage());
      return null;
    }
  }

  /** The rows of a pass: its first input's first dimension (-1 for a scalar or no input). */
  private static long rows(List<Tensor> inputs) {
    if (inputs.isEmpty()) {
      return -1;
    }
    Tensor first = inputs.get(0);
    return first.rank() == 0 ? -1 : first.dim(0);
  }

  /**
   * One pass: a pass of one row on the one-row session once it is made; else on the lone-pass
   * session when it is set and no other pass of the model runs; ORT writes {@code pinnedOutputs}
   * (when not empty) into their buffers and allocates {@code outputs}.
   */
  private OrtSession.Result run(
      Map<String, OnnxTensor> feeds,
      Set<String> outputs,
      Map<String, OnnxTensor> pinnedOutputs,
      long rows)
      throws OrtException {
    if (oneRow != null && rows == 1) {
      OrtSession one = oneRow.get();
      if (one != null) {
        oneRowPasses.incrementAndGet();
        return call(one, feeds, outputs, pinnedOutputs);
      }
    }
    if (lone == null) {
      return call(session, feeds, outputs, pinnedOutputs);
    }
    OrtSession wide = lone.begin();
    try {
      if (wide == null) {
        return call(session, feeds, outputs, pinnedOutputs);
      }
      lonePasses.incrementAndGet();
      return call(wide, feeds, outputs, pinnedOutputs);
    } finally {
      lone.end();
    }
  }

  private static OrtSession.Result call(
      OrtSession s,
      Map<String, OnnxTensor> feeds,
      Set<String> outputs,
      Map<String, OnnxTensor> pinnedOutputs)
      throws OrtException {
    return pinnedOutputs.isEmpty() ? s.run(feeds, outputs) : s.run(feeds, outputs, pinnedOutputs);
  }

  /** Passes whose outputs were written into pinned buffers. */
  long pinnedPasses() {
    return pinnedPasses.get();
  }

  /** Passes this instance ran on its one-row session. */
  long oneRowPasses() {
    return oneRowPasses.get();
  }

  /** Waits up to {@code millis} for the one-row session once a pass of one row asked for it. */
  boolean awaitOneRowSession(long millis) throws InterruptedException {
    return oneRow != null && oneRow.awaitMade(millis);
  }

  /** Passes this instance ran on the shared lone-pass session. */
  long lonePasses() {
    return lonePasses.get();
  }

  /** The lone-pass session this instance shares, or null. */
  @Nullable LonePassSession lonePassSession() {
    return lone;
  }

  /** The session this instance's passes run on (read by tests). */
  OrtSession session() {
    return session;
  }

  /**
   * The input's fault or the engine's. ONNX Runtime reports a pass that failed on the values it was
   * given (e.g. Gather's "indices element out of data bounds") as INVALID_ARGUMENT: when the feeds
   * match the model's declared inputs and outputs ({@code feedsMatch}), that is the client's data
   * (400 / INVALID_ARGUMENT). The same code for feeds that do not match (a type, rank or name the
   * validator should have refused) is Fulcrum's own mistake, as is any other failure: 500 /
   * INTERNAL.
   */
  static InferenceException classify(OrtException e, boolean feedsMatch) {
    if (feedsMatch && e.getCode() == OrtException.OrtErrorCode.ORT_INVALID_ARGUMENT) {
      return new InferenceException(
          ErrorCode.INVALID_ARGUMENT, "ONNX Runtime rejected the input: " + e.getMessage());
    }
    return InferenceException.internal("ONNX Runtime failed: " + e.getMessage(), e);
  }

  /**
   * Whether every feed has a declared input's name, type, rank and fixed dims, and every output
   * exists.
   */
  private boolean feedsMatch(List<Tensor> inputs, List<String> outputNames) {
    for (Tensor t : inputs) {
      TensorSpec spec =
          signature.inputs().stream()
              .filter(i -> i.name().equals(t.name()))
              .findFirst()
              .orElse(null);
      if (spec == null || spec.datatype() != t.datatype()) {
        return false;
      }
      long[] want = spec.shape();
      long[] got = t.shape();
      if (want.length != got.length) {
        return false;
      }
      for (int i = 0; i < want.length; i++) {
        if (want[i] >= 0 && want[i] != got[i]) {
          return false;
        }
      }
    }
    return outputNames.stream()
        .allMatch(n -> signature.outputs().stream().anyMatch(o -> o.name().equals(n)));
  }

  private OnnxTensor toOrt(Tensor t) throws OrtException {
    long[] shape = t.shape();
    DataType type = t.datatype();
    if (type == DataType.BYTES) {
      return OnnxTensor.createTensor(env, utf8Strings(t), shape);
    }
    ByteBuffer data = direct(t.unsafeData());
    OnnxJavaType javaType = OnnxTypes.javaType(type).orElse(null);
    if (javaType != null) {
      return OnnxTensor.createTensor(env, data, shape, javaType);
    }
    try {
      return UnsignedTensors.create(env, data, shape, OnnxTypes.toOnnx(type));
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause();
      if (cause instanceof OrtException ort) {
        throw ort;
      }
      throw InferenceException.internal(
          "ONNX Runtime could not create " + type + " input '" + t.name() + "': " + cause, cause);
    } catch (ReflectiveOperationException e) {
      throw InferenceException.internal(
          "ONNX Runtime's Java API cannot create "
              + type
              + " tensors (input '"
              + t.name()
              + "'): "
              + UnsignedTensors.unavailableReason(),
          e);
    }
  }

  /** The buffer itself when direct, else one copy of it into a direct buffer; native order. */
  private static ByteBuffer direct(ByteBuffer data) {
    if (data.isDirect()) {
      return data.order(ByteOrder.nativeOrder());
    }
    ByteBuffer copy = ByteBuffer.allocateDirect(data.remaining()).order(ByteOrder.nativeOrder());
    copy.put(data).flip();
    return copy;
  }

  private static String[] utf8Strings(Tensor t) {
    var decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    List<byte[]> elements = t.bytesElements();
    String[] out = new String[elements.size()];
    for (int i = 0; i < out.length; i++) {
      try {
        CharBuffer chars = decoder.decode(ByteBuffer.wrap(elements.get(i)));
        out[i] = chars.toString();
      } catch (CharacterCodingException e) {
        throw InferenceException.invalid(
            "input '%s' element %d is not valid UTF-8; ONNX Runtime's Java API carries BYTES"
                + " tensors as strings only",
            t.name(), i);
      }
    }
    return out;
  }

  private Tensor fromOrt(String name, OnnxValue value) throws OrtException {
    // by the output's declared type: an empty sequence's own info does not say it holds maps
    if (value instanceof OnnxSequence sequence && probabilityMaps.contains(name)) {
      return ProbabilityMaps.toTensor(name, sequence);
    }
    if (!(value instanceof OnnxTensor tensor)) {
      throw InferenceException.internal(
          "output '" + name + "' is a " + value.getType() + ", not a tensor; unsupported", null);
    }
    TensorInfo info = tensor.getInfo();
    DataType type =
        OnnxTypes.fromOnnx(info.onnxType)
            .orElseThrow(
                () ->
                    InferenceException.internal(
                        "output '" + name + "' has unsupported element type " + info.onnxType,
                        null));
    long[] shape = info.getShape();
    if (type == DataType.BYTES) {
      List<byte[]> elements = new ArrayList<>();
      flattenStrings(tensor.getValue(), elements);
      return Tensor.ofBytes(name, shape, elements);
    }
    // getByteBuffer copies ORT's memory once into a native-order heap buffer (little-endian on
    // every platform ORT ships for), which the Fulcrum tensor then owns without another copy.
    ByteBuffer bytes = tensor.getByteBuffer();
    return Tensor.of(name, type, shape, bytes.order(ByteOrder.LITTLE_ENDIAN));
  }

  /** ORT returns a string tensor as nested String arrays (a String for a scalar), row-major. */
  private static void flattenStrings(Object value, List<byte[]> out) {
    if (value instanceof String s) {
      out.add(s.getBytes(StandardCharsets.UTF_8));
    } else if (value != null && value.getClass().isArray()) {
      int n = Array.getLength(value);
      for (int i = 0; i < n; i++) {
        flattenStrings(Array.get(value, i), out);
      }
    } else {
      throw InferenceException.internal(
          "unexpected string tensor value " + (value == null ? "null" : value.getClass()), null);
    }
  }

  @Override
  public void close() {
    try {
      if (pinned != null) {
        pinned.close();
      }
      if (oneRow != null) {
        oneRow.close();
      }
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime could not close the session", e);
    } finally {
      try {
        releaseSession.run();
      } finally {
        releaseLone.run();
      }
    }
    // What the session freed (its weights above all) goes back to the OS, not to malloc's arena.
    NativeHeap.trim();
  }
}
