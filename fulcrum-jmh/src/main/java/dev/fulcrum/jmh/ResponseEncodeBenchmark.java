package dev.fulcrum.jmh;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.codec.DecodedInferRequest;
import dev.fulcrum.server.codec.InferResponseEncoder;
import dev.fulcrum.server.codec.TensorJson;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.PooledByteBufAllocator;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The REST JSON response of the demo MiniLM model, {@code last_hidden_state} FP32 [1,16,384] (6,144
 * values), encoded the old way and the new: {@code jackson} is the encoder as it was before the
 * shortest-decimal writer (Jackson's generator over a {@link ByteBufOutputStream} into a 256-byte
 * buffer that grows, {@code Float.toString} per value), {@code direct} is {@link
 * InferResponseEncoder} (values formatted straight into a buffer allocated once). Both release the
 * body as Netty would after writing it. {@code fp64} is the same tensor as FP64. Each benchmark
 * thread has its own state.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ResponseEncodeBenchmark {
  @Param({"FP32", "FP64"})
  public String datatype;

  private DecodedInferRequest request;
  private InferenceResponse response;
  private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
  private final JsonFactory factory = new JsonFactory();

  @Setup(Level.Trial)
  public void setUp() {
    Random rnd = new Random(1);
    DataType type = DataType.valueOf(datatype);
    int n = 16 * 384;
    ByteBuffer b = ByteBuffer.allocateDirect(n * type.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      // hidden states: roughly normal, a few larger
      float v = (float) (rnd.nextGaussian() * (i % 97 == 0 ? 8 : 0.6));
      if (type == DataType.FP32) {
        b.putFloat(i * 4, v);
      } else {
        b.putDouble(i * 8, v * (1 + 1e-9 * rnd.nextDouble()));
      }
    }
    Tensor out = Tensor.of("last_hidden_state", type, new long[] {1, 16, 384}, b);
    request =
        new DecodedInferRequest(
            new InferenceRequest("all_minilm_l6_v2", "", "", Map.of(), List.of(), List.of()),
            false,
            Map.of());
    response = new InferenceResponse("all_minilm_l6_v2", "1", "", Map.of(), List.of(out));
  }

  @Benchmark
  public int direct() {
    ByteBuf body = InferResponseEncoder.encode(request, response, alloc).body();
    int n = body.readableBytes();
    body.release();
    return n;
  }

  @Benchmark
  public int jackson() {
    ByteBuf body = alloc.buffer(256);
    try (ByteBufOutputStream out = new ByteBufOutputStream(body);
        JsonGenerator g = factory.createGenerator((OutputStream) out)) {
      g.writeStartObject();
      g.writeStringField("model_name", response.modelName());
      g.writeStringField("model_version", response.modelVersion());
      g.writeArrayFieldStart("outputs");
      for (Tensor t : response.outputs()) {
        g.writeStartObject();
        g.writeStringField("name", t.name());
        g.writeStringField("datatype", t.datatype().name());
        g.writeArrayFieldStart("shape");
        for (long d : t.shape()) {
          g.writeNumber(d);
        }
        g.writeEndArray();
        g.writeFieldName("data");
        TensorJson.write(t.datatype(), t.data(), g);
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeEndObject();
    } catch (IOException e) {
      body.release();
      throw new UncheckedIOException(e);
    }
    int n = body.readableBytes();
    body.release();
    return n;
  }
}
