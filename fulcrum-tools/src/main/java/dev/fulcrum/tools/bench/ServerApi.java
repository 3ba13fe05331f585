package dev.fulcrum.tools.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.TensorSpec;
import dev.fulcrum.server.codec.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The few blocking admin calls bench makes before and after a load level (metadata, config,
 * statistics); thread-safe, the {@link HttpClient} is shared.
 */
final class ServerApi {
  private final HttpClient client;
  private final URI base;
  private final String model;
  private final String versionPath;
  private final Optional<String> authorization;

  /** A client for these admin calls (the load itself goes through {@link RestTransport}). */
  static HttpClient newClient() {
    return newClient(ClientSecurity.none());
  }

  /** A client that speaks TLS as {@code security} says. */
  static HttpClient newClient(ClientSecurity security) {
    HttpClient.Builder b =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5));
    if (security.tls()) {
      b.sslContext(security.jdkContext());
    }
    return b.build();
  }

  ServerApi(HttpClient client, URI base, String model, String version) {
    this(client, base, model, version, ClientSecurity.none());
  }

  /** {@code security}: the token sent with each call (TLS is the client's). */
  ServerApi(HttpClient client, URI base, String model, String version, ClientSecurity security) {
    this.client = client;
    this.base = base;
    this.model = model;
    this.versionPath = version.isEmpty() ? "" : "/versions/" + version;
    this.authorization = security.authorization();
  }

  /** Model metadata plus {@code max_batch_size} from the config endpoint (0 when it has none). */
  ModelInfo modelInfo() throws IOException, InterruptedException {
    HttpResponse<String> meta;
    try {
      meta = get("v2/models/" + model + versionPath);
    } catch (IOException e) {
      // The first call: the JDK's ConnectException has no message, which printed "null".
      throw new IOException(
          "GET model metadata of '"
              + model
              + "': the server could not be reached at "
              + base.getHost()
              + ":"
              + port()
              + " ("
              + unreachable(e)
              + "); is 'fulcrum serve' running there, and is --url its REST address"
              + " (serve's --http-port, 8000 by default)?",
          e);
    }
    if (meta.statusCode() != 200) {
      throw new IOException(
          "GET model metadata of '" + model + "': HTTP " + meta.statusCode() + " " + meta.body());
    }
    JsonNode m = Json.MAPPER.readTree(meta.body());
    List<TensorSpec> inputs = new ArrayList<>();
    for (JsonNode in : m.path("inputs")) {
      String type = in.path("datatype").asText();
      long[] shape = new long[in.path("shape").size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = in.path("shape").get(i).asLong();
      }
      inputs.add(
          new TensorSpec(
              in.path("name").asText(),
              DataType.fromProtocolName(type)
                  .orElseThrow(() -> new IOException("unknown datatype " + type)),
              shape));
    }
    List<String> outputs = new ArrayList<>();
    m.path("outputs").forEach(o -> outputs.add(o.path("name").asText()));
    int maxBatch = 0;
    HttpResponse<String> config = get("v2/models/" + model + versionPath + "/config");
    if (config.statusCode() == 200) {
      maxBatch = Json.MAPPER.readTree(config.body()).path("max_batch_size").asInt(0);
    }
    return new ModelInfo(model, maxBatch, inputs, outputs);
  }

  /** The port of {@code --url}, its scheme's default when it names none. */
  private int port() {
    return base.getPort() >= 0 ? base.getPort() : base.getScheme().equals("https") ? 443 : 80;
  }

  /** Why a connection failed, in a user's words (the JDK gives no message for most). */
  static String unreachable(IOException e) {
    if (e instanceof java.net.http.HttpConnectTimeoutException) {
      return "no answer to the connect within 5 s";
    }
    if (e instanceof java.net.ConnectException) {
      Throwable cause = e.getCause();
      if (cause instanceof java.nio.channels.UnresolvedAddressException) {
        return "unknown host";
      }
      return e.getMessage() == null ? "connection refused" : e.getMessage();
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  /** Cumulative server-side counters of the model; empty when the statistics endpoint is absent. */
  Optional<ServerStats> stats() {
    try {
      HttpResponse<String> r = get("v2/models/" + model + versionPath + "/stats");
      if (r.statusCode() != 200) {
        return Optional.empty();
      }
      return Optional.of(ServerStats.parse(Json.MAPPER.readTree(r.body())));
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  private HttpResponse<String> get(String path) throws IOException, InterruptedException {
    HttpRequest.Builder r =
        HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10)).GET();
    authorization.ifPresent(a -> r.header("Authorization", a));
    return client.send(r.build(), HttpResponse.BodyHandlers.ofString());
  }
}
