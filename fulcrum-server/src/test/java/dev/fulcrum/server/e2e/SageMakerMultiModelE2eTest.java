package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersionStatus;
import dev.fulcrum.core.repository.MountedModels;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.security.Security;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SageMaker's multi-model endpoint contract over real sockets ({@code --sagemaker-mme-root}): the
 * demo's fraud model copied into folders under a temporary root, loaded ({@code POST /models}),
 * listed with paging, described, invoked (answered as {@code v2/models/<m>/infer} answers the same
 * rows), unloaded (then 404); 409 on a second load, 404 and 400 for folders that are not there or
 * not under the root (a {@code ..}, a symbolic link out), 507 at the cap, and the token scopes.
 */
class SageMakerMultiModelE2eTest {
  private static final String MANAGEMENT = "manage-token";
  private static final String INFERENCE = "infer-token";

  @TempDir static Path dir;

  private static Path root;

  /** Root {@code dir/root}, at most 8 models. */
  @AutoClose private static E2eServer server;

  /** The same root, at most one model. */
  @AutoClose private static E2eServer capped;

  /** The same root, with an inference and a management token. */
  @AutoClose private static E2eServer tokens;

  /**
   * No token, with the policy of a server bound beyond loopback (as in a SageMaker container,
   * {@code --host 0.0.0.0}), though listening on loopback as tests must.
   */
  @AutoClose private static E2eServer beyond;

  /**
   * No root: the API is off; and the policy of a server bound beyond loopback, as {@link #beyond}.
   */
  @AutoClose private static E2eServer off;

  @BeforeAll
  static void start() throws Exception {
    root = Files.createDirectories(dir.resolve("root"));
    for (String m : List.of("a", "b", "c", "d", "e", "f", "cap1", "cap2", "tok")) {
      copy(E2eServer.DEMO_MODELS.resolve("fraud_classifier"), root.resolve(m).resolve("model"));
    }
    copy(
        E2eServer.DEMO_MODELS.resolve("fraud_classifier"), dir.resolve("outside").resolve("model"));
    Files.createSymbolicLink(root.resolve("link"), dir.resolve("outside"));
    Path leaky = root.resolve("leaky").resolve("model");
    copy(E2eServer.DEMO_MODELS.resolve("fraud_classifier"), leaky);
    Files.delete(leaky.resolve("1").resolve("model.onnx"));
    Files.createSymbolicLink(
        leaky.resolve("1").resolve("model.onnx"),
        dir.resolve("outside").resolve("model").resolve("1").resolve("model.onnx"));
    Path empty = Files.createDirectories(dir.resolve("empty-repository"));
    ModelRepository.Settings explicit =
        new ModelRepository.Settings(ControlMode.EXPLICIT, 2, List.of(), Duration.ofSeconds(15));
    server =
        E2eServer.serving(empty)
            .settings(explicit)
            .mounted(new MountedModels.Settings(root, 8))
            .start();
    capped =
        E2eServer.serving(E2eServer.DEMO_MODELS)
            .settings(explicit)
            .mounted(new MountedModels.Settings(root, 1))
            .start();
    tokens =
        E2eServer.serving(empty)
            .settings(explicit)
            .mounted(new MountedModels.Settings(root, 8))
            .security(
                new Security(
                    new AccessPolicy(
                        List.of(
                            new AccessPolicy.Token(Scope.INFERENCE, INFERENCE),
                            new AccessPolicy.Token(Scope.MANAGEMENT, MANAGEMENT)),
                        "127.0.0.1",
                        false),
                    Optional.empty()))
            .start();
    beyond =
        E2eServer.serving(empty)
            .settings(explicit)
            .mounted(new MountedModels.Settings(root, 8))
            .security(
                new Security(
                    new AccessPolicy(List.of(), "0.0.0.0", true).openingSageMakerModels(),
                    Optional.empty()))
            .start();
    off =
        E2eServer.serving(empty)
            .settings(explicit)
            .security(new Security(new AccessPolicy(List.of(), "0.0.0.0", true), Optional.empty()))
            .start();
  }

  private static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Path t = to.resolve(from.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(t);
        } else {
          Files.copy(f, t);
        }
      }
    }
  }

  private static final String ROWS =
      "[[120.5, 14, 0.2, 3.1, 2, 400, 0, 1], [5400.0, 3, 0.9, 850.0, 14, 12, 1, 0]]";

  private static HttpResponse<byte[]> load(E2eServer s, String name, String url, String token)
      throws Exception {
    HttpRequest.Builder r =
        s.jsonRequest(
            "/models",
            "{\"model_name\": "
                + E2eServer.quote(name)
                + ", \"url\": "
                + E2eServer.quote(url)
                + "}");
    if (!token.isEmpty()) {
      r.header("Authorization", "Bearer " + token);
    }
    return s.send(r);
  }

  private static HttpResponse<byte[]> load(E2eServer s, String name, String url) throws Exception {
    return load(s, name, url, "");
  }

  private static HttpResponse<byte[]> delete(E2eServer s, String name) throws Exception {
    return s.send(s.request("/models/" + name).DELETE());
  }

  private static HttpResponse<byte[]> invoke(E2eServer s, String name) throws Exception {
    return s.send(
        s.request("/models/" + name + "/invoke")
            .header("Content-Type", "application/json")
            .header("X-Amzn-SageMaker-Target-Model", name + ".tar.gz")
            .POST(HttpRequest.BodyPublishers.ofString("{\"inputs\": " + ROWS + "}")));
  }

  private static String url(String model) {
    return root.resolve(model).resolve("model").toString();
  }

  @Test
  void loadsListsDescribesInvokesAndUnloads() throws Exception {
    HttpResponse<byte[]> r = load(server, "fraud-a", url("a"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(E2eServer.json(r).path("status").asText()).contains("fraud-a");

    r = server.get("/models/fraud-a");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(E2eServer.json(r).path("modelName").asText()).isEqualTo("fraud-a");
    assertThat(E2eServer.json(r).path("modelUrl").asText()).isEqualTo(url("a"));

    // it serves as any model: in the repository index, on OIP's path
    assertThat(server.service.repository().index())
        .extracting(ModelVersionStatus::name)
        .contains("fraud-a");
    HttpResponse<byte[]> oip =
        server.post(
            inferPath("fraud-a"),
            "{\"inputs\": [{\"name\": \"features\", \"datatype\": \"FP32\", \"shape\": [2, 8],"
                + " \"data\": "
                + ROWS
                + "}]}");
    assertThat(oip.statusCode()).as(text(oip)).isEqualTo(200);
    List<Double> probabilities =
        E2eServer.numbers(E2eServer.output(oip, "probabilities").get("data"));

    r = invoke(server, "fraud-a");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    // MLflow's tensor input is answered by output name, as /invocations answers it
    JsonNode predictions = E2eServer.json(r).get("predictions");
    assertThat(predictions).as(text(r)).isNotNull();
    List<Double> invoked = new ArrayList<>();
    for (JsonNode p : predictions.findValues("probabilities")) {
      invoked.addAll(E2eServer.numbers(p));
    }
    assertThat(invoked).as(text(r)).isEqualTo(probabilities);

    // counted in the model's statistics under its name: the infer and the invoke
    r = server.get("/v2/models/fraud-a/stats");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode stats = E2eServer.json(r).path("model_stats").path(0);
    assertThat(stats.path("name").asText()).isEqualTo("fraud-a");
    assertThat(stats.path("inference_stats").path("success").path("count").asLong())
        .as(text(r))
        .isGreaterThanOrEqualTo(2);

    r = delete(server, "fraud-a");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(invoke(server, "fraud-a").statusCode()).isEqualTo(404);
    assertThat(server.get("/models/fraud-a").statusCode()).isEqualTo(404);
    assertThat(delete(server, "fraud-a").statusCode()).isEqualTo(404);
    // and it can be loaded again
    assertThat(load(server, "fraud-a", url("a")).statusCode()).isEqualTo(200);
    assertThat(invoke(server, "fraud-a").statusCode()).isEqualTo(200);
    assertThat(delete(server, "fraud-a").statusCode()).isEqualTo(200);
  }

  @Test
  void aModelUnloadedByTheRepositoryApiIsNoLongerListed() throws Exception {
    assertThat(load(server, "fraud-c", url("c")).statusCode()).isEqualTo(200);
    HttpResponse<byte[]> r = server.post("/v2/repository/models/fraud-c/unload", "{}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(server.get("/models/fraud-c").statusCode()).isEqualTo(404);
    assertThat(load(server, "fraud-c", url("c")).statusCode()).isEqualTo(200);
    assertThat(delete(server, "fraud-c").statusCode()).isEqualTo(200);
  }

  @Test
  void aSecondLoadOfANameIsAConflict() throws Exception {
    assertThat(load(server, "fraud-b", url("b")).statusCode()).isEqualTo(200);
    HttpResponse<byte[]> r = load(server, "fraud-b", url("c"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(409);
    assertThat(E2eServer.error(r)).contains("already loaded");
    assertThat(delete(server, "fraud-b").statusCode()).isEqualTo(200);
  }

  @Test
  void listsPageByPage() throws Exception {
    List<String> names = List.of("page-d", "page-e", "page-f");
    for (String n : names) {
      assertThat(load(server, n, url(n.substring(5))).statusCode()).isEqualTo(200);
    }
    List<String> seen = new ArrayList<>();
    String token = "";
    int pages = 0;
    do {
      HttpResponse<byte[]> r =
          server.get("/models?limit=2" + (token.isEmpty() ? "" : "&next_page_token=" + token));
      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      JsonNode body = E2eServer.json(r);
      assertThat(body.get("models").size()).isLessThanOrEqualTo(2);
      for (JsonNode m : body.get("models")) {
        if (m.path("modelName").asText().startsWith("page-")) {
          seen.add(m.path("modelName").asText());
          assertThat(m.path("modelUrl").asText()).startsWith(root.toString());
        }
      }
      token = body.path("nextPageToken").asText("");
      pages++;
    } while (!token.isEmpty() && pages < 10);
    assertThat(seen).containsExactlyElementsOf(names);
    assertThat(pages).isGreaterThanOrEqualTo(2);
    for (String n : names) {
      assertThat(delete(server, n).statusCode()).isEqualTo(200);
    }
    assertThat(server.get("/models?next_page_token=!!").statusCode()).isEqualTo(400);
  }

  @Test
  void refusesFoldersNotUnderTheRoot() throws Exception {
    HttpResponse<byte[]> r = load(server, "x", root.resolve("..").resolve("outside").toString());
    assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
    assertThat(E2eServer.error(r)).contains("..");
    r = load(server, "x", dir.resolve("outside").resolve("model").toString());
    assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
    assertThat(E2eServer.error(r)).contains("not under the model root");
    r = load(server, "x", root.resolve("link").resolve("model").toString());
    assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
    assertThat(E2eServer.error(r)).contains("not under the model root");
    r = load(server, "x", url("leaky"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
    assertThat(E2eServer.error(r)).contains("symbolic link out");
    r = load(server, "x", root.resolve("nosuch").toString());
    assertThat(r.statusCode()).as(text(r)).isEqualTo(404);
    r = load(server, "a/b", url("a"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
    r = server.post("/models", "{\"model_name\": \"x\"}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
    assertThat(server.get("/models/x").statusCode()).isEqualTo(404);
  }

  @Test
  void refusesALoadPastTheCapWith507() throws Exception {
    assertThat(load(capped, "cap1", url("cap1")).statusCode()).isEqualTo(200);
    HttpResponse<byte[]> r = load(capped, "cap2", url("cap2"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(507);
    assertThat(E2eServer.error(r)).contains("--sagemaker-mme-max-models");
    assertThat(delete(capped, "cap1").statusCode()).isEqualTo(200);
    assertThat(load(capped, "cap2", url("cap2")).statusCode()).isEqualTo(200);
    assertThat(delete(capped, "cap2").statusCode()).isEqualTo(200);
  }

  @Test
  void invokeAnswersOnlyModelsItLoadedAndInMlflowsShape() throws Exception {
    // a repository model, loaded by the repository API, is not the multi-model endpoint's
    HttpResponse<byte[]> r = capped.post("/v2/repository/models/fraud_classifier/load", "{}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    r = invoke(capped, "fraud_classifier");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(404);
    JsonNode body = E2eServer.json(r);
    assertThat(body.path("error_code").asText()).as(text(r)).isEqualTo("RESOURCE_DOES_NOT_EXIST");
    assertThat(body.path("message").asText()).contains("not loaded");
    r = capped.post("/v2/repository/models/fraud_classifier/unload", "{}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    // nor is a name nothing serves; the shape is MLflow's there too
    r = invoke(server, "nothing-here");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(404);
    assertThat(E2eServer.json(r).path("error_code").asText()).isEqualTo("RESOURCE_DOES_NOT_EXIST");
  }

  @Test
  void refusesARepositoryModelsNameAndTheRootItself() throws Exception {
    HttpResponse<byte[]> r = load(capped, "fraud_classifier", url("a"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(409);
    assertThat(E2eServer.error(r)).contains("model of the model repository");
    r = load(server, "whole-root", root.toString());
    assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
    assertThat(E2eServer.error(r)).contains("url must name a folder under the root");
  }

  @Test
  void concurrentLoadsOfOneNameOrPastTheCapLoadOne() throws Exception {
    List<CompletableFuture<HttpResponse<byte[]>>> same = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      same.add(loadAsync(server, "same", url("f")));
    }
    List<Integer> statuses = new ArrayList<>();
    for (CompletableFuture<HttpResponse<byte[]>> f : same) {
      statuses.add(f.get().statusCode());
    }
    assertThat(statuses).containsOnly(200, 409).containsOnlyOnce(200);
    assertThat(delete(server, "same").statusCode()).isEqualTo(200);

    CompletableFuture<HttpResponse<byte[]>> one = loadAsync(capped, "cap1", url("cap1"));
    CompletableFuture<HttpResponse<byte[]>> two = loadAsync(capped, "cap2", url("cap2"));
    List<Integer> capStatuses = List.of(one.get().statusCode(), two.get().statusCode());
    assertThat(capStatuses).containsExactlyInAnyOrder(200, 507);
    for (String m : List.of("cap1", "cap2")) {
      if (capped.get("/models/" + m).statusCode() == 200) {
        assertThat(delete(capped, m).statusCode()).isEqualTo(200);
      }
    }
  }

  private static CompletableFuture<HttpResponse<byte[]>> loadAsync(
      E2eServer s, String name, String url) {
    return s.sendAsync(
        s.jsonRequest(
            "/models",
            "{\"model_name\": "
                + E2eServer.quote(name)
                + ", \"url\": "
                + E2eServer.quote(url)
                + "}"));
  }

  @Test
  void loadsNeedTheManagementScopeAndInvokesTheInferenceOne() throws Exception {
    assertThat(load(tokens, "tok", url("tok")).statusCode()).isEqualTo(401);
    assertThat(load(tokens, "tok", url("tok"), INFERENCE).statusCode()).isEqualTo(403);
    assertThat(
            tokens
                .send(tokens.request("/models").header("Authorization", "Bearer " + INFERENCE))
                .statusCode())
        .isEqualTo(403);
    assertThat(load(tokens, "tok", url("tok"), MANAGEMENT).statusCode()).isEqualTo(200);
    HttpResponse<byte[]> r =
        tokens.send(
            tokens
                .request("/models/tok/invoke")
                .header("Authorization", "Bearer " + INFERENCE)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"inputs\": " + ROWS + "}")));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(
            tokens
                .send(
                    tokens
                        .request("/models/tok")
                        .header("Authorization", "Bearer " + INFERENCE)
                        .DELETE())
                .statusCode())
        .isEqualTo(403);
    assertThat(
            tokens
                .send(
                    tokens
                        .request("/models/tok")
                        .header("Authorization", "Bearer " + MANAGEMENT)
                        .DELETE())
                .statusCode())
        .isEqualTo(200);
  }

  @Test
  void isOpenWithoutTokensBeyondLoopbackWhereTheRepositoryApiIsNot() throws Exception {
    // SageMaker's agent sends no token: the flag is the opt-in; the repository API stays closed
    assertThat(load(beyond, "open", url("e")).statusCode()).isEqualTo(200);
    assertThat(invoke(beyond, "open").statusCode()).isEqualTo(200);
    assertThat(beyond.post("/v2/repository/index", "{}").statusCode()).isEqualTo(403);
    assertThat(delete(beyond, "open").statusCode()).isEqualTo(200);
  }

  @Test
  void isOffWithoutARoot() throws Exception {
    // beyond loopback without a root, /models is closed as the repository API is, before any
    // handler: no token opens it
    HttpResponse<byte[]> r = load(off, "a", url("a"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(403);
    assertThat(E2eServer.error(r)).contains("the repository API is disabled");
    assertThat(off.get("/models").statusCode()).isEqualTo(403);
    assertThat(delete(off, "a").statusCode()).isEqualTo(403);
    // invoke is an inference endpoint: open here, and off (404 naming the flag)
    r = invoke(off, "a");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(404);
    assertThat(E2eServer.json(r).path("message").asText()).contains("--sagemaker-mme-root");
  }
}
