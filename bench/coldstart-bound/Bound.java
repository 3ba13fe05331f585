// The bound for a JVM server's cold start (docs/PERFORMANCE.md, "Cold start", session 11): the
// least a Java program must do before the first successful fraud_classifier inference over REST
// JSON, and nothing else. One ONNX Runtime session (the fraud model, spinning off as Fulcrum's
// default), a ServerSocket with hand-rolled HTTP/1.1 (one request per connection), the JSON body
// scanned by hand, the answer written by hand. Not a server anyone should run; it exists so the
// docs can say what any JVM server could reach on a machine. No MiniLM, no gRPC, no metrics.
//
//   serve:  java -cp <classes>:<dist>/lib/* Bound --port 8300 [--model demo/models/...onnx]
//                [--http socket|jdk] [--no-ort]
//           GET /v2/health/ready: 200 once the session exists (503 before);
//           POST /v2/models/fraud_classifier/infer: the OIP REST JSON answer (503 before).
//           The session is created on a thread of its own while the main thread binds the port.
//           --http jdk (session 20): the JDK's com.sun.net.httpserver.HttpServer instead of the
//           hand-rolled ServerSocket loop (its dispatcher thread answers; keep-alive as the JDK
//           does it), what a Java user would write first. --no-ort: no ONNX Runtime at all; ready
//           at once, and the fraud POST (its 8 floats parsed as with ORT) answered with a fixed
//           body of the real answer's shape: what the JVM and the HTTP server alone cost.
//   steps:  java -Dbound.t0=<epoch ns at spawn> ... Bound --steps   (bench/coldstart_bound.sh)
//           prints one JSON line: seconds from the spawn to main(), then each step's own wall
//           time and the process's CPU after it (ORT environment, session, first run), and exits.
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

public final class Bound {
  private static final String MODEL = "demo/models/fraud_classifier/1/model.onnx";
  private static volatile OrtSession session;
  private static volatile OrtEnvironment env;
  /** --no-ort: every answer is this body, and the server is ready from the start. */
  private static final String FIXED =
      "{\"model_name\":\"fraud_classifier\",\"outputs\":[{\"name\":\"probabilities\","
          + "\"datatype\":\"FP32\",\"shape\":[1,2],\"data\":[0.25,0.75]},{\"name\":\"label\","
          + "\"datatype\":\"INT64\",\"shape\":[1],\"data\":[1]}]}";

  private static volatile boolean noOrt;

  private Bound() {}

  public static void main(String[] args) throws Exception {
    long mainNs = System.nanoTime();
    long mainEpochMs = System.currentTimeMillis();
    int port = 8300;
    String model = MODEL;
    boolean steps = false;
    boolean jdk = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--port" -> port = Integer.parseInt(args[++i]);
        case "--model" -> model = args[++i];
        case "--steps" -> steps = true;
        case "--http" -> jdk = switch (args[++i]) {
          case "jdk" -> true;
          case "socket" -> false;
          default -> throw new IllegalArgumentException("--http socket|jdk, was " + args[i]);
        };
        case "--no-ort" -> noOrt = true;
        default -> throw new IllegalArgumentException("unknown flag " + args[i]);
      }
    }
    if (steps) {
      steps(model, mainNs, mainEpochMs);
      return;
    }
    if (jdk) {
      jdkServer(port, model);
      return;
    }
    String path = model;
    Thread loader =
        new Thread(
            () -> {
              if (noOrt) {
                return;
              }
              try {
                env = OrtEnvironment.getEnvironment();
                session = env.createSession(path, options());
              } catch (Exception e) {
                e.printStackTrace();
                System.exit(1);
              }
            },
            "bound-load");
    loader.start();
    try (ServerSocket server = new ServerSocket(port, 128, InetAddress.getLoopbackAddress())) {
      while (true) {
        try (Socket s = server.accept()) {
          s.setTcpNoDelay(true);
          handle(s.getInputStream(), s.getOutputStream());
        } catch (IOException e) {
          // a client that went away: next connection
        }
      }
    }
  }

  /** --http jdk: the JDK's HttpServer on the main thread, the session (if any) on its own. */
  private static void jdkServer(int port, String model) throws Exception {
    if (!noOrt) {
      Thread.ofPlatform()
          .name("bound-load")
          .start(
              () -> {
                try {
                  env = OrtEnvironment.getEnvironment();
                  session = env.createSession(model, options());
                } catch (Exception e) {
                  e.printStackTrace();
                  System.exit(1);
                }
              });
    }
    com.sun.net.httpserver.HttpServer server =
        com.sun.net.httpserver.HttpServer.create(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 128);
    server.createContext(
        "/",
        ex -> {
          try (ex) {
            byte[] body = ex.getRequestBody().readAllBytes();
            String method = ex.getRequestMethod();
            String target = ex.getRequestURI().getPath();
            int status;
            String answer;
            OrtSession s = session;
            boolean ready = noOrt || s != null;
            if (method.equals("GET") && target.equals("/v2/health/ready")) {
              status = ready ? 200 : 503;
              answer = "{}";
            } else if (method.equals("POST")
                && target.equals("/v2/models/fraud_classifier/infer")) {
              if (!ready) {
                status = 503;
                answer = "{\"error\":\"model not ready\"}";
              } else {
                float[] features = null;
                try {
                  features = floats(new String(body, StandardCharsets.UTF_8));
                } catch (RuntimeException e) {
                  // answered 400 below
                }
                if (features == null || features.length == 0 || features.length % 8 != 0) {
                  status = 400;
                  answer = "{\"error\":\"features must be [n, 8]\"}";
                } else {
                  status = 200;
                  try {
                    answer = noOrt ? FIXED : infer(s, features);
                  } catch (Exception e) {
                    status = 500;
                    answer = "{\"error\":\"inference failed\"}";
                  }
                }
              }
            } else {
              status = 404;
              answer = "{\"error\":\"not found\"}";
            }
            byte[] bytes = answer.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(status, bytes.length);
            ex.getResponseBody().write(bytes);
          }
        });
    server.start();
  }

  private static OrtSession.SessionOptions options() throws Exception {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    o.addConfigEntry("session.intra_op.allow_spinning", "0");
    o.addConfigEntry("session.inter_op.allow_spinning", "0");
    return o;
  }

  /** One HTTP/1.1 request on the connection, answered with Connection: close. */
  private static void handle(InputStream in, OutputStream out) throws Exception {
    byte[] buf = new byte[8192];
    int n = 0;
    int headEnd = -1;
    while (headEnd < 0) {
      int r = in.read(buf, n, buf.length - n);
      if (r < 0) {
        return;
      }
      n += r;
      headEnd = indexOf(buf, n, "\r\n\r\n");
      if (headEnd < 0 && n == buf.length) {
        respond(out, 431, "{\"error\":\"header too large\"}");
        return;
      }
    }
    String head = new String(buf, 0, headEnd, StandardCharsets.ISO_8859_1);
    int sp1 = head.indexOf(' ');
    int sp2 = head.indexOf(' ', sp1 + 1);
    String method = head.substring(0, sp1);
    String target = head.substring(sp1 + 1, sp2);
    int length = 0;
    for (String line : head.split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("content-length")) {
        length = Integer.parseInt(line.substring(colon + 1).trim());
      }
    }
    ByteArrayOutputStream body = new ByteArrayOutputStream(Math.max(length, 16));
    body.write(buf, headEnd + 4, n - headEnd - 4);
    while (body.size() < length) {
      int r = in.read(buf);
      if (r < 0) {
        return;
      }
      body.write(buf, 0, r);
    }
    OrtSession s = session;
    if (method.equals("GET") && target.equals("/v2/health/ready")) {
      respond(out, noOrt || s != null ? 200 : 503, "{}");
    } else if (method.equals("POST") && target.equals("/v2/models/fraud_classifier/infer")) {
      if (!noOrt && s == null) {
        respond(out, 503, "{\"error\":\"model not ready\"}");
        return;
      }
      String json = body.toString(StandardCharsets.UTF_8);
      float[] features;
      try {
        features = floats(json);
      } catch (RuntimeException e) {
        respond(out, 400, "{\"error\":\"bad request\"}");
        return;
      }
      if (features.length % 8 != 0 || features.length == 0) {
        respond(out, 400, "{\"error\":\"features must be [n, 8]\"}");
        return;
      }
      respond(out, 200, noOrt ? FIXED : infer(s, features));
    } else {
      respond(out, 404, "{\"error\":\"not found\"}");
    }
  }

  /** The numbers of the first input's "data" array, nesting ignored. */
  private static float[] floats(String json) {
    int at = json.indexOf("\"data\"");
    int open = json.indexOf('[', at);
    float[] out = new float[16];
    int count = 0;
    int depth = 0;
    int i = open;
    while (true) {
      char c = json.charAt(i);
      if (c == '[') {
        depth++;
        i++;
      } else if (c == ']') {
        if (--depth == 0) {
          break;
        }
        i++;
      } else if (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
        i++;
      } else {
        int end = i;
        while (",] \n\r\t".indexOf(json.charAt(end)) < 0) {
          end++;
        }
        if (count == out.length) {
          out = java.util.Arrays.copyOf(out, count * 2);
        }
        out[count++] = Float.parseFloat(json.substring(i, end));
        i = end;
      }
    }
    return java.util.Arrays.copyOf(out, count);
  }

  private static String infer(OrtSession s, float[] features) throws Exception {
    long rows = features.length / 8;
    try (OnnxTensor t =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(features), new long[] {rows, 8});
        OrtSession.Result r = s.run(Map.of("features", t))) {
      float[][] probs = (float[][]) r.get("probabilities").orElseThrow().getValue();
      long[] label = (long[]) r.get("label").orElseThrow().getValue();
      StringBuilder b = new StringBuilder(200);
      b.append("{\"model_name\":\"fraud_classifier\",\"outputs\":[{\"name\":\"probabilities\",")
          .append("\"datatype\":\"FP32\",\"shape\":[")
          .append(rows)
          .append(",2],\"data\":[");
      for (int i = 0; i < probs.length; i++) {
        b.append(i == 0 ? "" : ",").append(probs[i][0]).append(',').append(probs[i][1]);
      }
      b.append("]},{\"name\":\"label\",\"datatype\":\"INT64\",\"shape\":[")
          .append(rows)
          .append("],\"data\":[");
      for (int i = 0; i < label.length; i++) {
        b.append(i == 0 ? "" : ",").append(label[i]);
      }
      return b.append("]}]}").toString();
    }
  }

  private static void respond(OutputStream out, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    String head =
        "HTTP/1.1 "
            + status
            + (status == 200 ? " OK" : " Error")
            + "\r\nContent-Type: application/json\r\nContent-Length: "
            + bytes.length
            + "\r\nConnection: close\r\n\r\n";
    out.write(head.getBytes(StandardCharsets.ISO_8859_1));
    out.write(bytes);
    out.flush();
  }

  private static int indexOf(byte[] b, int n, String s) {
    outer:
    for (int i = 0; i + s.length() <= n; i++) {
      for (int j = 0; j < s.length(); j++) {
        if (b[i + j] != s.charAt(j)) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /** --steps: each step's own time, in one JVM, no HTTP. */
  private static void steps(String model, long mainNs, long mainEpochMs) throws Exception {
    String t0 = System.getProperty("bound.t0");
    double toMain = t0 == null ? -1 : (mainEpochMs - Long.parseLong(t0) / 1_000_000) / 1000.0;
    double cpuMain = cpu();
    long a = System.nanoTime();
    env = OrtEnvironment.getEnvironment();
    long b = System.nanoTime();
    double cpuEnv = cpu();
    OrtSession s = env.createSession(model, options());
    long c = System.nanoTime();
    double cpuSession = cpu();
    String answer = infer(s, new float[] {1250.0f, 3, 0.92f, 410.5f, 14, 20, 1, 0});
    long d = System.nanoTime();
    double cpuRun = cpu();
    if (!answer.contains("\"label\"")) {
      throw new IllegalStateException(answer);
    }
    System.out.printf(
        "{\"to_main\":%.4f,\"env\":%.4f,\"session\":%.4f,\"first_run\":%.4f,\"main_to_answer\":%.4f,"
            + "\"cpu_main\":%.2f,\"cpu_env\":%.2f,\"cpu_session\":%.2f,\"cpu_run\":%.2f}%n",
        toMain,
        (b - a) / 1e9,
        (c - b) / 1e9,
        (d - c) / 1e9,
        (d - mainNs) / 1e9,
        cpuMain,
        cpuEnv,
        cpuSession,
        cpuRun);
  }

  /** The process's user + system CPU so far, in seconds (10 ms steps). */
  private static double cpu() throws IOException {
    String stat = Files.readString(Path.of("/proc/self/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
  }
}
