package dev.fulcrum.jmh;

import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.codec.DecodedInferRequest;
import dev.fulcrum.server.codec.InferRequestDecoder;
import dev.fulcrum.server.codec.InferResponseEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The REST codec's per-request work on the demo models' bodies: decoding an OIP JSON request (the
 * body in a direct buffer, as Netty's aggregator hands it over) and encoding the JSON response.
 * {@code fraud}: one FP32 [1,8] input, outputs FP32 [1,2] and INT64 [1]. {@code minilm}: three
 * INT64 [1,16] inputs (16 tokens), output FP32 [1,384]. Run with {@code -prof gc} for bytes per
 * operation (docs/PERFORMANCE.md). Each benchmark thread has its own state.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CodecBenchmark {
  /**
   * The request: fraud's or MiniLM's inputs alone, or ({@code fraud_outputs}) fraud's as Triton's
   * clients send it, each output named with {@code "parameters": {"binary_data": false}}.
   */
  @Param({"fraud", "fraud_outputs", "minilm"})
  public String model;

  private ByteBuf request;
  private DecodedInferRequest decoded;
  private InferenceResponse response;
  private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;

  @Setup(Level.Trial)
  public void setUp() {
    Random rnd = new Random(1);
    StringBuilder json = new StringBuilder("{\"inputs\":[");
    List<Tensor> outputs;
    if (model.startsWith("fraud")) {
      json.append("{\"name\":\"features\",\"shape\":[1,8],\"datatype\":\"FP32\",\"data\":[");
      for (int i = 0; i < 8; i++) {
        json.append(i == 0 ? "" : ",")
            .append(String.format(Locale.ROOT, "%.4f", rnd.nextFloat() * 100));
      }
      json.append("]}");
      outputs =
          List.of(
              fp32("probabilities", new long[] {1, 2}, rnd),
              Tensor.of(
                  "label",
                  DataType.INT64,
                  new long[] {1},
                  ByteBuffer.allocateDirect(8).order(ByteOrder.LITTLE_ENDIAN)));
    } else {
      String[] names = {"input_ids", "attention_mask", "token_type_ids"};
      for (int n = 0; n < names.length; n++) {
        json.append(n == 0 ? "" : ",")
            .append("{\"name\":\"")
            .append(names[n])
            .append("\",\"shape\":[1,16],\"datatype\":\"INT64\",\"data\":[");
        for (int i = 0; i < 16; i++) {
          json.append(i == 0 ? "" : ",").append(n == 0 ? 100 + rnd.nextInt(30000) : n == 1 ? 1 : 0);
        }
        json.append("]}");
      }
      outputs = List.of(fp32("sentence_embedding", new long[] {1, 384}, rnd));
    }
    json.append(']');
    if (model.equals("fraud_outputs")) {
      json.append(",\"outputs\":[");
      for (int i = 0; i < outputs.size(); i++) {
        json.append(i == 0 ? "" : ",")
            .append("{\"name\":\"")
            .append(outputs.get(i).name())
            .append("\",\"parameters\":{\"binary_data\":false}}");
      }
      json.append(']');
    }
    json.append('}');
    byte[] bytes = json.toString().getBytes(StandardCharsets.UTF_8);
    request = Unpooled.directBuffer(bytes.length).writeBytes(bytes);
    decoded = decode();
    response = new InferenceResponse(model, "1", "", Map.of(), outputs);
  }

  private static Tensor fp32(String name, long[] shape, Random rnd) {
    int n = (int) (shape[0] * shape[1]);
    ByteBuffer b = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      b.putFloat(i * 4, (float) rnd.nextGaussian());
    }
    return Tensor.of(name, DataType.FP32, shape, b);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    request.release();
  }

  /** JSON body → core request: the tensors' buffers filled. */
  @Benchmark
  public DecodedInferRequest decode() {
    return InferRequestDecoder.decode(
        model,
        "",
        request,
        null,
        () -> {
          throw new IllegalStateException("not a raw request");
        });
  }

  /** Core response → JSON body, released as Netty would after writing it. */
  @Benchmark
  public int encode() {
    ByteBuf body = InferResponseEncoder.encode(decoded, response, alloc).body();
    int n = body.readableBytes();
    body.release();
    return n;
  }
}
