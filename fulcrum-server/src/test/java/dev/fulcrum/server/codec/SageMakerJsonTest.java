package dev.fulcrum.server.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.MountedModels;
import java.util.List;
import org.junit.jupiter.api.Test;

class SageMakerJsonTest {
  @Test
  void decodesALoadRequest() {
    assertThat(SageMakerJson.decodeLoad("{\"model_name\": \"m\", \"url\": \"/opt/x\"}"))
        .isEqualTo(new SageMakerJson.LoadRequest("m", "/opt/x"));
    for (String bad :
        new String[] {
          "",
          "[]",
          "{",
          "{\"url\": \"/x\"}",
          "{\"model_name\": \"m\"}",
          "{\"model_name\": 1, \"url\": \"/x\"}",
          "{\"model_name\": \"\", \"url\": \"/x\"}"
        }) {
      assertThatThrownBy(() -> SageMakerJson.decodeLoad(bad))
          .as(bad)
          .isInstanceOf(InferenceException.class);
    }
  }

  @Test
  void encodesModelsAPageAndAStatus() {
    MountedModels.Mounted a = new MountedModels.Mounted("a", "/opt/ml/models/1/model", true);
    assertThat(SageMakerJson.model(a).toString())
        .isEqualTo("{\"modelName\":\"a\",\"modelUrl\":\"/opt/ml/models/1/model\"}");
    assertThat(SageMakerJson.models(List.of(a), "tok").toString())
        .isEqualTo(
            "{\"models\":[{\"modelName\":\"a\",\"modelUrl\":\"/opt/ml/models/1/model\"}],"
                + "\"nextPageToken\":\"tok\"}");
    assertThat(SageMakerJson.models(List.of(), null).toString()).isEqualTo("{\"models\":[]}");
    assertThat(SageMakerJson.status("ok").toString()).isEqualTo("{\"status\":\"ok\"}");
  }
}
