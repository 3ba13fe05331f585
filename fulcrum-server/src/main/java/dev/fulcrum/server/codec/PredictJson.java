package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersionStatus;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.StrictUtf8;
import dev.fulcrum.core.tensor.Tensor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Writes TensorFlow Serving's REST answers (KServe v1's predict is the same): a predict answer,
 * {@code {"predictions": [...]}} for the row format (per row a bare value for a model of one
 * output, else an object of output name to value) or {@code {"outputs": ...}} for the columnar
 * format (the value for one output, else an object of output name to value), each value nested to
 * its shape; the model status ({@code model_version_status}, TF Serving's {@code
 * GetModelStatusResponse}); the model metadata ({@code GetModelMetadataResponse}: one signature
 * {@code serving_default}). The reading side is {@link PredictDecoder}.
 *
 * <p>Elements are written as OIP's answers write them ({@link JsonBufferWriter}, straight from the
 * output buffers, no string per element): FP32 in its shortest decimal form, integers as JSON
 * integers, BOOL {@code true}/{@code false}; a BYTES element as a JSON string when it is valid
 * UTF-8, else as {@code {"b64": "<base64>"}}. Stateless and thread-safe.
 */
public final class PredictJson {
  private PredictJson() {}

  /**
   * A predict answer's body.
   *
   * @param rows whether the request came in the row format: every output is then split along its
   *     first dimension into {@code instances} rows
   * @throws InferenceException INTERNAL when, in the row format, an output's first dimension is not
   *     the number of rows: PredictDecoder refuses rows, before the model runs, for a model whose
   *     configured outputs cannot split, so one that still does not is a server error
   */
  public static ByteBuf predictions(
      InferenceResponse response, boolean rows, int instances, ByteBufAllocator alloc) {
    return predictions(response, rows, instances, false, alloc);
  }

  /**
   * As {@link #predictions(InferenceResponse, boolean, int, ByteBufAllocator)}, or MLflow's answer
   * ({@code mlflow}): the field is then {@code predictions} in both shapes, {@code {"predictions":
   * [row, ...]}} (a frame: per row a bare value for one output, else a record of output name to
   * value, as MLflow writes a DataFrame's records) or {@code {"predictions": value}} (a tensor: the
   * one output whole, else an object of output name to value, as MLflow writes a dict of arrays).
   */
  public static ByteBuf predictions(
      InferenceResponse response,
      boolean rows,
      int instances,
      boolean mlflow,
      ByteBufAllocator alloc) {
    List<Tensor> outputs = response.outputs();
    if (rows) {
      for (Tensor t : outputs) {
        if (t.shape().length == 0 || t.dim(0) != instances) {
          // PredictDecoder refused rows for a model whose configured outputs cannot split into
          // them: an output that still does not is the model's answer disagreeing with its
          // configuration, the server's error (500), not the client's.
          throw InferenceException.internal(
              String.format(
                  java.util.Locale.ROOT,
                  "model '%s': output '%s' has shape %s, which does not split into the request's"
                      + " %d instances though its configuration says it would; send the columnar"
                      + " format ('inputs') to get it whole",
                  response.modelName(),
                  t.name(),
                  java.util.Arrays.toString(t.shape()),
                  instances),
              null);
        }
      }
    }
    long estimate = 64;
    for (Tensor t : outputs) {
      estimate +=
          JsonBufferWriter.maxTensorLength(t.datatype(), t.elementCount(), t.data().remaining())
              + (rows ? (long) instances * (t.name().length() + 8) : t.name().length() + 8);
    }
    ByteBuf out = alloc.buffer((int) Math.min(estimate, 1 << 20));
    boolean done = false;
    try {
      JsonBufferWriter w = new JsonBufferWriter(out);
      List<Values> values = new ArrayList<>(outputs.size());
      for (Tensor t : outputs) {
        values.add(new Values(t, w));
      }
      if (rows) {
        w.raw(PREDICTIONS);
        for (int r = 0; r < instances; r++) {
          if (r > 0) {
            w.raw(',');
          }
          if (values.size() == 1) {
            values.get(0).row(r);
            continue;
          }
          record(w, values, r);
        }
        w.raw(']');
      } else {
        w.raw(mlflow ? PREDICTIONS_WHOLE : OUTPUTS);
        if (values.size() == 1) {
          values.get(0).whole();
        } else {
          w.raw('{');
          for (int i = 0; i < values.size(); i++) {
            if (i > 0) {
              w.raw(',');
            }
            w.raw(values.get(i).field);
            values.get(i).whole();
          }
          w.raw('}');
        }
      }
      w.raw('}');
      w.flush();
      done = true;
    } finally {
      if (!done) {
        out.release();
      }
    }
    return out;
  }

  /**
   * A frame's answer as JSON lines, as {@code fulcrum predict} writes it: per row one line, a
   * record of every output's name to its value for that row ({@code
   * {"probabilities":[0.9,0.1],"label":0}} then a line feed), each value written as {@link
   * #predictions} writes it, so that offline and served answers read the same.
   *
   * @throws InferenceException INTERNAL when an output's first dimension is not {@code instances}
   */
  public static ByteBuf recordLines(
      InferenceResponse response, int instances, ByteBufAllocator alloc) {
    List<Tensor> outputs = response.outputs();
    long estimate = 64;
    for (Tensor t : outputs) {
      if (t.shape().length == 0 || t.dim(0) != instances) {
        throw InferenceException.internal(
            String.format(
                java.util.Locale.ROOT,
                "model '%s': output '%s' has shape %s, which does not split into the request's %d"
                    + " rows",
                response.modelName(),
                t.name(),
                java.util.Arrays.toString(t.shape()),
                instances),
            null);
      }
      estimate +=
          JsonBufferWriter.maxTensorLength(t.datatype(), t.elementCount(), t.data().remaining())
              + (long) instances * (t.name().length() + 8);
    }
    ByteBuf out = alloc.buffer((int) Math.min(estimate, 1 << 20));
    boolean done = false;
    try {
      JsonBufferWriter w = new JsonBufferWriter(out);
      List<Values> values = new ArrayList<>(outputs.size());
      for (Tensor t : outputs) {
        values.add(new Values(t, w));
      }
      for (int r = 0; r < instances; r++) {
        record(w, values, r);
        w.raw('\n');
      }
      w.flush();
      done = true;
    } finally {
      if (!done) {
        out.release();
      }
    }
    return out;
  }

  /** Row {@code r} as a record of every output's name to its value for that row. */
  private static void record(JsonBufferWriter w, List<Values> values, int r) {
    w.raw('{');
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) {
        w.raw(',');
      }
      w.raw(values.get(i).field);
      values.get(i).row(r);
    }
    w.raw('}');
  }

  private static final byte[] PREDICTIONS =
      "{\"predictions\":[".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] PREDICTIONS_WHOLE =
      "{\"predictions\":".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] OUTPUTS = "{\"outputs\":".getBytes(StandardCharsets.US_ASCII);

  /**
   * One output's elements, written nested to its shape (whole, or one row of it): each innermost
   * run in one {@link JsonBufferWriter#tensor} call, straight from the buffer.
   */
  private static final class Values {
    /** {@code "<name>":}, escaped once for every row's object. */
    final byte[] field;

    private final JsonBufferWriter w;
    private final DataType type;
    private final long[] shape;

    /** {@code strides[d]}: the elements in one step of dimension {@code d - 1}. */
    private final long[] strides;

    private final ByteBuffer data;

    /** BYTES: each element's offset (of its length prefix) in {@link #data}; null otherwise. */
    private final int @Nullable [] offsets;

    Values(Tensor t, JsonBufferWriter w) {
      this.w = w;
      this.type = t.datatype();
      this.shape = t.shape();
      this.strides = new long[shape.length + 1];
      strides[shape.length] = 1;
      for (int d = shape.length - 1; d >= 0; d--) {
        strides[d] = strides[d + 1] * shape[d];
      }
      byte[] name = JsonStringEncoder.getInstance().quoteAsUTF8(t.name());
      this.field = new byte[name.length + 3];
      field[0] = '"';
      System.arraycopy(name, 0, field, 1, name.length);
      field[name.length + 1] = '"';
      field[name.length + 2] = ':';
      this.data = t.data().order(ByteOrder.LITTLE_ENDIAN);
      if (type.isBinaryOnly()) {
        throw InferenceException.invalid(
            "model output '%s' is %s, which cannot travel as JSON; use the OIP endpoint with"
                + " binary data",
            t.name(), type);
      }
      if (type == DataType.BYTES) {
        int[] at = new int[Math.toIntExact(t.elementCount())];
        int p = 0;
        for (int i = 0; i < at.length; i++) {
          at[i] = p;
          p += 4 + data.getInt(p);
        }
        this.offsets = at;
      } else {
        this.offsets = null;
      }
    }

    void whole() {
      write(0, 0);
    }

    void row(int r) {
      write(1, r * strides[1]);
    }

    /** The sub-tensor from dimension {@code dim} on, its first element at {@code from}. */
    private void write(int dim, long from) {
      if (dim == shape.length) {
        element((int) from);
        return;
      }
      if (dim == shape.length - 1 && type.isFixedSize()) {
        int size = type.byteSize();
        w.tensor(type, data.slice((int) from * size, (int) shape[dim] * size));
        return;
      }
      long per = strides[dim + 1];
      w.raw('[');
      for (long i = 0; i < shape[dim]; i++) {
        if (i > 0) {
          w.raw(',');
        }
        write(dim + 1, from + i * per);
      }
      w.raw(']');
    }

    private void element(int i) {
      switch (type) {
        case BYTES -> {
          int at = offsets == null ? 0 : offsets[i];
          int len = data.getInt(at);
          ByteBuffer e = data.slice(at + 4, len);
          if (StrictUtf8.isValid(e.duplicate())) {
            w.string(e, len);
          } else {
            byte[] b = new byte[len];
            e.get(b);
            w.raw('{');
            w.field("b64");
            w.string(Base64.getEncoder().encodeToString(b));
            w.raw('}');
          }
        }
        case BOOL -> w.bool(data.get(i) != 0);
        case UINT64 -> w.unsignedNumber(data.getLong(i * 8));
        case FP32 -> w.number(ElementCodec.getFloat(data, i));
        case FP64 -> w.number(ElementCodec.getDouble(type, data, i));
        default -> w.number(ElementCodec.getLong(type, data, i));
      }
    }
  }

  /** TF Serving's state name of a version's state. */
  static String state(ModelState s) {
    return switch (s) {
      case LOADING, WARMING -> "LOADING";
      case READY -> "AVAILABLE";
      case UNLOADING -> "UNLOADING";
      case UNLOADED, UNAVAILABLE -> "END";
    };
  }

  /**
   * TF Serving's model status, {@code {"model_version_status": [...]}}, newest version first;
   * written inside an object the caller opened (so that {@code GET /v1/models/<m>} can add OpenAI's
   * and KServe's fields to it).
   */
  public static void writeStatus(JsonGenerator g, List<ModelVersionStatus> versions)
      throws IOException {
    g.writeArrayFieldStart("model_version_status");
    for (ModelVersionStatus v : versions) {
      g.writeStartObject();
      g.writeStringField("version", v.version());
      g.writeStringField("state", state(v.state()));
      g.writeObjectFieldStart("status");
      boolean failed = v.state() == ModelState.UNAVAILABLE && !v.reason().isEmpty();
      g.writeStringField("error_code", failed ? "UNKNOWN" : "OK");
      g.writeStringField("error_message", failed ? v.reason() : "");
      g.writeEndObject();
      g.writeEndObject();
    }
    g.writeEndArray();
  }

  /** {@code {"model_version_status": [...]}} alone. */
  public static byte[] status(List<ModelVersionStatus> versions) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(128);
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      writeStatus(g, versions);
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** TF Serving's dtype name of a datatype ({@code tensorflow.DataType}). */
  static String dtype(DataType t) {
    return switch (t) {
      case BOOL -> "DT_BOOL";
      case UINT8 -> "DT_UINT8";
      case UINT16 -> "DT_UINT16";
      case UINT32 -> "DT_UINT32";
      case UINT64 -> "DT_UINT64";
      case INT8 -> "DT_INT8";
      case INT16 -> "DT_INT16";
      case INT32 -> "DT_INT32";
      case INT64 -> "DT_INT64";
      case FP16 -> "DT_HALF";
      case BF16 -> "DT_BFLOAT16";
      case FP32 -> "DT_FLOAT";
      case FP64 -> "DT_DOUBLE";
      case BYTES -> "DT_STRING";
    };
  }

  /**
   * TF Serving's model metadata ({@code GetModelMetadataResponse} as its REST API writes it): the
   * model spec and one signature {@code serving_default} whose inputs and outputs are the model's,
   * with the batch dimension ({@code -1}) first when the model batches; sizes are strings, as
   * protobuf's JSON writes int64.
   */
  public static byte[] metadata(String name, String version, ModelConfig config) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(512);
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeObjectFieldStart("model_spec");
      g.writeStringField("name", name);
      g.writeStringField("signature_name", "");
      g.writeStringField("version", version);
      g.writeEndObject();
      g.writeObjectFieldStart("metadata");
      g.writeObjectFieldStart("signature_def");
      g.writeObjectFieldStart("signature_def");
      g.writeObjectFieldStart(PredictDecoder.DEFAULT_SIGNATURE);
      boolean batched = config.maxBatchSize() > 0;
      tensors(g, "inputs", config.inputs(), batched);
      tensors(g, "outputs", config.outputs(), batched);
      g.writeStringField("method_name", "tensorflow/serving/predict");
      g.writeEndObject();
      g.writeEndObject();
      g.writeEndObject();
      g.writeEndObject();
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static void tensors(
      JsonGenerator g, String field, List<TensorConfig> tensors, boolean batched)
      throws IOException {
    g.writeObjectFieldStart(field);
    for (TensorConfig t : tensors) {
      g.writeObjectFieldStart(t.name());
      g.writeStringField("dtype", dtype(t.datatype()));
      g.writeObjectFieldStart("tensor_shape");
      g.writeArrayFieldStart("dim");
      if (batched) {
        dim(g, -1);
      }
      for (long d : t.dims()) {
        dim(g, d);
      }
      g.writeEndArray();
      g.writeBooleanField("unknown_rank", false);
      g.writeEndObject();
      g.writeStringField("name", t.name());
      g.writeEndObject();
    }
    g.writeEndObject();
  }

  private static void dim(JsonGenerator g, long size) throws IOException {
    g.writeStartObject();
    g.writeStringField("size", Long.toString(size));
    g.writeStringField("name", "");
    g.writeEndObject();
  }
}
