package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.InferenceException;
import org.junit.jupiter.api.Test;

/** SageMaker's multi-model paths, and what {@link MultiModelHandler} decodes from a request. */
class MultiModelHandlerTest {
  @Test
  void routesTheModelsPaths() {
    assertThat(Route.match("/models")).isEqualTo(route(Route.Endpoint.SAGEMAKER_MODELS, ""));
    assertThat(Route.match("/models?next_page_token=abc"))
        .isEqualTo(route(Route.Endpoint.SAGEMAKER_MODELS, ""));
    assertThat(Route.match("/models/fraud%20a"))
        .isEqualTo(route(Route.Endpoint.SAGEMAKER_MODEL, "fraud a"));
    assertThat(Route.match("/models/fraud/invoke"))
        .isEqualTo(route(Route.Endpoint.SAGEMAKER_INVOKE, "fraud"));
    assertThat(Route.match("/models/fraud/other").endpoint()).isEqualTo(Route.Endpoint.NOT_FOUND);
    assertThat(Route.match("/models/a/b/invoke").endpoint()).isEqualTo(Route.Endpoint.NOT_FOUND);
  }

  private static Route route(Route.Endpoint e, String model) {
    return new Route(e, model, "");
  }

  @Test
  void pageTokensAndLimits() {
    String token = MultiModelHandler.encodeToken("fraud/ä b");
    assertThat(token).doesNotContain("/", "+", "=");
    assertThat(MultiModelHandler.decodeToken(token)).isEqualTo("fraud/ä b");
    assertThat(MultiModelHandler.decodeToken(null)).isEmpty();
    assertThatThrownBy(() -> MultiModelHandler.decodeToken("%%"))
        .isInstanceOf(InferenceException.class);
    assertThat(MultiModelHandler.limit(null)).isEqualTo(MultiModelHandler.DEFAULT_PAGE);
    assertThat(MultiModelHandler.limit("5")).isEqualTo(5);
    assertThat(MultiModelHandler.limit("999999")).isEqualTo(MultiModelHandler.MAX_PAGE);
    for (String bad : new String[] {"0", "-1", "x"}) {
      assertThatThrownBy(() -> MultiModelHandler.limit(bad)).isInstanceOf(InferenceException.class);
    }
  }
}
