package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.MountedModels;
import dev.fulcrum.server.codec.SageMakerJson;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * SageMaker's multi-model endpoint contract for a container of its own: {@code POST /models}
 * ({@code {"model_name", "url"}}: load the model folder SageMaker extracted), {@code GET /models}
 * (the loaded models, {@code next_page_token} paging), {@code GET /models/<m>} ({@code
 * {"modelName", "modelUrl"}}) and {@code DELETE /models/<m>} (drain and unload), all on {@link
 * MountedModels}; {@code POST /models/<m>/invoke} is {@code /invocations}' path ({@link #invoked}).
 * Thin: {@link SageMakerJson} decodes and encodes; the checks, the cap and the loads are the
 * core's.
 *
 * <p>Threads: called on the event loop; holds no mutable state of its own.
 */
final class MultiModelHandler {
  /** How many models a page of {@code GET /models} lists unless {@code limit} says. */
  static final int DEFAULT_PAGE = 100;

  /** The most a page lists, whatever {@code limit} asks. */
  static final int MAX_PAGE = 1000;

  private final InferenceService service;

  MultiModelHandler(InferenceService service) {
    this.service = service;
  }

  /** The models loaded from folders, or a 404 that says how to turn the API on. */
  private MountedModels mounted() {
    MountedModels m = service.mountedModels();
    if (m == null) {
      throw InferenceException.notFound(
          "the SageMaker multi-model API (/models) is off: start the server with"
              + " --sagemaker-mme-root <folder> and --model-control-mode explicit");
    }
    return m;
  }

  /** {@code POST /models}: loads a model; 200 once it serves. */
  CompletableFuture<Reply> load(FullHttpRequest request) {
    MountedModels m = mounted();
    SageMakerJson.LoadRequest asked =
        SageMakerJson.decodeLoad(request.content().toString(StandardCharsets.UTF_8));
    return m.load(asked.name(), asked.url())
        .thenApply(v -> status("model '" + asked.name() + "' loaded"));
  }

  /** {@code DELETE /models/<m>}: drains and unloads a model; 200 once done. */
  CompletableFuture<Reply> unload(String model) {
    return mounted().unload(model).thenApply(v -> status("model '" + model + "' unloaded"));
  }

  /** {@code GET /models/<m>}: {@code {"modelName", "modelUrl"}}, or 404. */
  Reply describe(String model) {
    MountedModels.Mounted m = mounted().get(model);
    if (m == null) {
      throw InferenceException.notFound("model '%s' is not loaded", model);
    }
    return Responses.json(HttpResponseStatus.OK, SageMakerJson.model(m));
  }

  /**
   * {@code GET /models[?next_page_token=<t>][&limit=<n>]}: {@code {"models": [{"modelName",
   * "modelUrl"}], "nextPageToken": "<t>"}}, the token there when more models follow.
   */
  Reply list(String uri) {
    MountedModels m = mounted();
    QueryStringDecoder query = new QueryStringDecoder(uri);
    String after = decodeToken(first(query, "next_page_token"));
    int limit = limit(first(query, "limit"));
    List<MountedModels.Mounted> page = m.list(after, limit + 1);
    boolean more = page.size() > limit;
    return Responses.json(
        HttpResponseStatus.OK,
        SageMakerJson.models(
            more ? page.subList(0, limit) : page,
            more ? encodeToken(page.get(limit - 1).name()) : null));
  }

  /**
   * The model {@code POST /models/<m>/invoke} runs: the one the path names, if the API is on and
   * {@code POST /models} loaded it. Any other name, a repository model's too, answers 404, as
   * SageMaker's contract expects (its agent loads the model on that 404 and retries).
   *
   * @throws InferenceException NOT_FOUND when the API is off or the model was not loaded through it
   */
  String invoked(String model) {
    if (mounted().get(model) == null) {
      throw InferenceException.notFound("model '%s' is not loaded", model);
    }
    return model;
  }

  private static Reply status(String text) {
    return Responses.json(HttpResponseStatus.OK, SageMakerJson.status(text));
  }

  private static @Nullable String first(QueryStringDecoder query, String name) {
    List<String> values = query.parameters().get(name);
    return values == null || values.isEmpty() ? null : values.getFirst();
  }

  /** The page size {@code limit} asks, 1 to {@link #MAX_PAGE}; {@link #DEFAULT_PAGE} for none. */
  static int limit(@Nullable String limit) {
    if (limit == null || limit.isEmpty()) {
      return DEFAULT_PAGE;
    }
    try {
      int n = Integer.parseInt(limit);
      if (n >= 1) {
        return Math.min(n, MAX_PAGE);
      }
    } catch (NumberFormatException e) {
      // answered below
    }
    throw InferenceException.invalid(
        "limit must be a whole number 1 to %d, was '%s'",
        MAX_PAGE, InferenceException.shown(limit));
  }

  /** The page token of a list that ends at model {@code last}: its name, base64url. */
  static String encodeToken(String last) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(last.getBytes(StandardCharsets.UTF_8));
  }

  /** The model name a page token holds; "" for none. */
  static String decodeToken(@Nullable String token) {
    if (token == null || token.isEmpty()) {
      return "";
    }
    try {
      return new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw InferenceException.invalid(
          "next_page_token '%s' is not a token this server gave", InferenceException.shown(token));
    }
  }
}
