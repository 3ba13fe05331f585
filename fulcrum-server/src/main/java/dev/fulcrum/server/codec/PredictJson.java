package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonGenerator;
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
import io.netty.buffer.ByteBufOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
 * <p>Elements are written as {@link TensorJson} writes OIP's: FP32 in its shortest decimal form,
 * integers as JSON integers, BOOL {@code true}/{@code false}; a BYTES element as a JSON string when
 * it is valid UTF-8, else as {@code {"b64": "<base64>"}}. Stateless and thread-safe.
 */
public final class PredictJson {
  private PredictJson() {}

  /**
   * A predict answer's body.
   *
   * @param rows whether the request came in the row format: every output is then split along its
   *     first dimension into {@code instances} rows
   * @throws InferenceException INVALID_ARGUMENT when, in the row format, an output's first
   *     dimension is not the number of rows (the model's outputs cannot be split per instance)
   */
  public static ByteBuf predictions(
      InferenceResponse response, boolean rows, int instances, ByteBufAllocator alloc) {
    List<Tensor> outputs = response.outputs();
    if (rows) {
      for (Tensor t : outputs) {
        if (t.shape().length == 0 || t.dim(0) != instances) {
          throw InferenceException.invalid(
              "model '%s': output '%s' has shape %s, which does not split into the request's %d"
                  + " instances; send the columnar format ('inputs') to get it whole",
              response.modelName(), t.name(), java.util.Arrays.toString(t.shape()), instances);
        }
      }
    }
    ByteBuf out = alloc.buffer(256);
    boolean done = false;
    try (JsonGenerator g =
        JsonStreams.FACTORY.createGenerator((OutputStream) new ByteBufOutputStream(out))) {
      g.writeStartObject();
      if (rows) {
        g.writeArrayFieldStart("predictions");
        List<Values> values = new ArrayList<>(outputs.size());
        for (Tensor t : outputs) {
          values.add(new Values(t));
        }
        for (int r = 0; r < instances; r++) {
          if (values.size() == 1) {
            values.get(0).row(g, r);
            continue;
          }
          g.writeStartObject();
          for (Values v : values) {
            g.writeFieldName(v.tensor.name());
            v.row(g, r);
          }
          g.writeEndObject();
        }
        g.writeEndArray();
      } else {
        g.writeFieldName("outputs");
        if (outputs.size() == 1) {
          new Values(outputs.get(0)).whole(g);
        } else {
          g.writeStartObject();
          for (Tensor t : outputs) {
            g.writeFieldName(t.name());
            new Values(t).whole(g);
          }
          g.writeEndObject();
        }
      }
      g.writeEndObject();
      done = true;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      if (!done) {
        out.release();
      }
    }
    return out;
  }

  /** One output's elements, written nested to its shape (whole, or one row of it). */
  private static final class Values {
    final Tensor tensor;
    private final long[] shape;
    private final ByteBuffer data;

    /** BYTES: each element's bytes, in order; null for fixed-size types. */
    private final byte @Nullable [][] bytes;

    Values(Tensor t) {
      this.tensor = t;
      this.shape = t.shape();
      this.data = t.data().order(ByteOrder.LITTLE_ENDIAN);
      if (t.datatype() == DataType.BYTES) {
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        byte[][] e = new byte[Math.toIntExact(t.elementCount())][];
        for (int i = 0; i < e.length; i++) {
          e[i] = new byte[b.getInt()];
          b.get(e[i]);
        }
        this.bytes = e;
      } else if (t.datatype().isBinaryOnly()) {
        throw InferenceException.invalid(
            "model output '%s' is %s, which cannot travel as JSON; use the OIP endpoint with"
                + " binary data",
            t.name(), t.datatype());
      } else {
        this.bytes = null;
      }
    }

    void whole(JsonGenerator g) throws IOException {
      write(g, 0, 0);
    }

    void row(JsonGenerator g, int r) throws IOException {
      long per = 1;
      for (int d = 1; d < shape.length; d++) {
        per *= shape[d];
      }
      write(g, 1, r * per);
    }

    /** The sub-tensor from dimension {@code dim} on, its first element at {@code from}. */
    private void write(JsonGenerator g, int dim, long from) throws IOException {
      if (dim == shape.length) {
        element(g, (int) from);
        return;
      }
      long per = 1;
      for (int d = dim + 1; d < shape.length; d++) {
        per *= shape[d];
      }
      g.writeStartArray();
      for (long i = 0; i < shape[dim]; i++) {
        write(g, dim + 1, from + i * per);
      }
      g.writeEndArray();
    }

    private void element(JsonGenerator g, int i) throws IOException {
      DataType type = tensor.datatype();
      switch (type) {
        case BYTES -> {
          byte[] e = bytes == null ? new byte[0] : bytes[i];
          if (StrictUtf8.isValid(ByteBuffer.wrap(e))) {
            g.writeString(new String(e, java.nio.charset.StandardCharsets.UTF_8));
          } else {
            g.writeStartObject();
            g.writeStringField("b64", Base64.getEncoder().encodeToString(e));
            g.writeEndObject();
          }
        }
        case BOOL -> g.writeBoolean(ElementCodec.getLong(type, data, i) != 0);
        case UINT64 -> g.writeNumber(Long.toUnsignedString(ElementCodec.getLong(type, data, i)));
        case FP32 -> g.writeNumber(ElementCodec.getFloat(data, i));
        case FP64 -> g.writeNumber(ElementCodec.getDouble(type, data, i));
        default -> g.writeNumber(ElementCodec.getLong(type, data, i));
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
