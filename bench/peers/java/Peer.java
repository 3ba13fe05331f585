// Hand-written peer for bench/coldstart.sh: the demo models behind the Open Inference Protocol's
// REST JSON routes, written the way a competent Java user would: the JDK's HttpServer, one ONNX
// Runtime session per model, Jackson, 8 threads, no batching. Not part of Fulcrum; it exists to
// put Fulcrum's cold start and latency in context. Generic: each input is read as the datatype the
// session's metadata gives it (FP32, FP64, INT64, INT32; the request's datatype must agree), and
// each output is written by its own type, so any model of those types is served, not only the demo's.
//   java -cp 'fulcrum-tools/target/dist/lib/*' bench/peers/java/Peer.java [--port 8200] [--models DIR]...
// --models may be given several times; each DIR holds <model>/<version>/*.onnx (the highest version).
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

public final class Peer {
  static final ObjectMapper JSON = new ObjectMapper();
  static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();
  static final Map<String, OrtSession> SESSIONS = new ConcurrentHashMap<>();
  static volatile boolean ready;

  public static void main(String[] args) throws Exception {
    int port = 8200;
    List<Path> repositories = new ArrayList<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--port" -> port = Integer.parseInt(args[i + 1]);
        case "--models" -> repositories.add(Path.of(args[i + 1]));
        default -> throw new IllegalArgumentException("unknown flag " + args[i]);
      }
    }
    if (repositories.isEmpty()) {
      repositories.add(Path.of("demo/models"));
    }
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 128);
    server.setExecutor(Executors.newFixedThreadPool(8));
    server.createContext("/v2/health/ready", ex -> send(ex, ready ? 200 : 503, "{}"));
    server.createContext("/v2/health/live", ex -> send(ex, 200, "{}"));
    server.createContext("/v2/models/", Peer::infer);
    server.start();
    for (Path models : repositories) {
      try (Stream<Path> dirs = Files.list(models)) {
        for (Path dir : dirs.sorted().toList()) {
          Path version = latestVersion(dir);
          if (version == null) {
            continue;
          }
          try (Stream<Path> files = Files.list(version)) {
            var onnx = files.filter(f -> f.toString().endsWith(".onnx")).sorted().findFirst();
            if (onnx.isPresent()) {
              SESSIONS.put(dir.getFileName().toString(), ENV.createSession(onnx.get().toString()));
            }
          }
        }
      }
    }
    ready = true;
  }

  static Path latestVersion(Path model) throws IOException {
    if (!Files.isDirectory(model)) {
      return null;
    }
    try (Stream<Path> versions = Files.list(model)) {
      return versions
          .filter(v -> Files.isDirectory(v) && v.getFileName().toString().matches("[1-9][0-9]*"))
          .max((a, b) -> Long.compare(version(a), version(b)))
          .orElse(null);
    }
  }

  static long version(Path v) {
    return Long.parseLong(v.getFileName().toString());
  }

  static void infer(HttpExchange ex) throws IOException {
    try (ex) {
      String[] parts = ex.getRequestURI().getPath().split("/"); // "", v2, models, <m>, infer
      if (parts.length != 5 || !parts[4].equals("infer") || !ex.getRequestMethod().equals("POST")) {
        send(ex, 404, "{\"error\":\"not found\"}");
        return;
      }
      OrtSession session = SESSIONS.get(parts[3]);
      if (session == null) {
        send(ex, 404, "{\"error\":\"unknown model '" + parts[3] + "'\"}");
        return;
      }
      JsonNode body = JSON.readTree(ex.getRequestBody());
      Map<String, OnnxTensor> feeds = new HashMap<>();
      try {
        for (JsonNode input : body.get("inputs")) {
          String name = input.get("name").asText();
          NodeInfo info = session.getInputInfo().get(name);
          if (info == null || !(info.getInfo() instanceof TensorInfo tensor)) {
            throw new IllegalArgumentException("the model has no tensor input '" + name + "'");
          }
          feeds.put(name, toTensor(input, tensor));
        }
        try (OrtSession.Result result = session.run(feeds)) {
          ObjectNode response = JSON.createObjectNode();
          response.put("model_name", parts[3]);
          if (body.has("id")) {
            response.set("id", body.get("id"));
          }
          ArrayNode outputs = response.putArray("outputs");
          for (Map.Entry<String, OnnxValue> e : result) {
            outputs.add(toJson(e.getKey(), (OnnxTensor) e.getValue()));
          }
          send(ex, 200, JSON.writeValueAsString(response));
        }
      } catch (Exception e) {
        send(ex, 400, JSON.writeValueAsString(Map.of("error", String.valueOf(e.getMessage()))));
      } finally {
        feeds.values().forEach(OnnxTensor::close);
      }
    }
  }

  static OnnxTensor toTensor(JsonNode input, TensorInfo info) throws Exception {
    long[] shape = new long[input.get("shape").size()];
    long count = 1;
    for (int i = 0; i < shape.length; i++) {
      shape[i] = input.get("shape").get(i).asLong();
      count *= shape[i];
    }
    List<JsonNode> flat = new ArrayList<>();
    flatten(input.get("data"), flat);
    if (flat.size() != count) {
      throw new IllegalArgumentException(
          "input '" + input.get("name").asText() + "' has " + flat.size() + " values for its shape");
    }
    String datatype = input.get("datatype").asText();
    String expected = oipName(info.type);
    if (!datatype.equals(expected)) {
      throw new IllegalArgumentException(
          "input '" + input.get("name").asText() + "' is " + expected + ", not " + datatype);
    }
    switch (info.type) {
      case FLOAT -> {
        FloatBuffer b = FloatBuffer.allocate(flat.size());
        flat.forEach(n -> b.put(n.floatValue()));
        return OnnxTensor.createTensor(ENV, b.flip(), shape);
      }
      case DOUBLE -> {
        DoubleBuffer b = DoubleBuffer.allocate(flat.size());
        flat.forEach(n -> b.put(n.doubleValue()));
        return OnnxTensor.createTensor(ENV, b.flip(), shape);
      }
      case INT64 -> {
        LongBuffer b = LongBuffer.allocate(flat.size());
        flat.forEach(n -> b.put(n.asLong()));
        return OnnxTensor.createTensor(ENV, b.flip(), shape);
      }
      case INT32 -> {
        IntBuffer b = IntBuffer.allocate(flat.size());
        flat.forEach(n -> b.put(n.asInt()));
        return OnnxTensor.createTensor(ENV, b.flip(), shape);
      }
      default -> throw new IllegalArgumentException("unsupported datatype " + info.type);
    }
  }

  static String oipName(OnnxJavaType type) {
    return switch (type) {
      case FLOAT -> "FP32";
      case DOUBLE -> "FP64";
      case INT64 -> "INT64";
      case INT32 -> "INT32";
      default -> type.name();
    };
  }

  static void flatten(JsonNode node, List<JsonNode> out) {
    if (node.isArray()) {
      node.forEach(n -> flatten(n, out));
    } else {
      out.add(node);
    }
  }

  static ObjectNode toJson(String name, OnnxTensor tensor) {
    TensorInfo info = tensor.getInfo();
    ObjectNode out = JSON.createObjectNode();
    out.put("name", name);
    ArrayNode shape = out.putArray("shape");
    for (long d : info.getShape()) {
      shape.add(d);
    }
    ArrayNode data = out.putArray("data");
    switch (info.type) {
      case FLOAT -> {
        out.put("datatype", "FP32");
        FloatBuffer b = tensor.getFloatBuffer();
        while (b.hasRemaining()) {
          data.add(b.get());
        }
      }
      case DOUBLE -> {
        out.put("datatype", "FP64");
        DoubleBuffer b = tensor.getDoubleBuffer();
        while (b.hasRemaining()) {
          data.add(b.get());
        }
      }
      case INT64 -> {
        out.put("datatype", "INT64");
        LongBuffer b = tensor.getLongBuffer();
        while (b.hasRemaining()) {
          data.add(b.get());
        }
      }
      case INT32 -> {
        out.put("datatype", "INT32");
        IntBuffer b = tensor.getIntBuffer();
        while (b.hasRemaining()) {
          data.add(b.get());
        }
      }
      default -> throw new IllegalArgumentException("unsupported output type " + info.type);
    }
    return out;
  }

  static void send(HttpExchange ex, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, bytes.length);
    ex.getResponseBody().write(bytes);
    ex.close();
  }
}
