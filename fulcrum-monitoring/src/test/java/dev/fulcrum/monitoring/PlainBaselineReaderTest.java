package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The streaming read equals databind's on every shipped baseline and leaves the rest to it. */
class PlainBaselineReaderTest {
  @TempDir Path dir;

  private static final ObjectMapper DATABIND =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

  private static Path root() {
    Path p = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(p.resolve("demo/models"))) {
      p = p.getParent();
    }
    return p;
  }

  @Test
  void everyDemoBaselineReadsAsDatabindReadsIt() throws Exception {
    for (String model : List.of("fraud_classifier", "all_minilm_l6_v2", "minilm_text")) {
      Path file = root().resolve("demo/models").resolve(model).resolve("baseline.json");
      Baseline plain = PlainBaselineReader.read(file);
      assertThat(plain)
          .as(model)
          .isNotNull()
          .isEqualTo(DATABIND.readValue(file.toFile(), Baseline.class));
      assertThat(Baseline.read(file)).isEqualTo(plain);
    }
  }

  @Test
  void aWrittenBaselineReadsBackOnThePlainPath() throws Exception {
    Path src = root().resolve("demo/models/fraud_classifier/baseline.json");
    Baseline b = Baseline.read(src);
    Path copy = dir.resolve("b.json");
    b.write(copy);
    assertThat(PlainBaselineReader.read(copy)).isEqualTo(b);
  }

  @Test
  void leavesEverythingElseToDatabind() throws Exception {
    String ok =
        "{\"model\":\"m\",\"source\":\"s\",\"rows\":1,\"inputs\":[],\"features\":[],\"outputs\":[]";
    Path f = dir.resolve("baseline.json");
    Files.writeString(f, ok + "}");
    assertThat(PlainBaselineReader.read(f)).isNotNull();
    for (String bad :
        List.of(
            ok + ",\"bogus\":1}", // unknown field
            ok.replace("\"rows\":1", "\"rows\":\"1\"") + "}", // a quoted number
            ok.replace("\"rows\":1", "\"rows\":1.5") + "}", // a float for a long
            ok.replace("\"rows\":1,", "") + "}", // an absent primitive
            ok + ",\"rows\":2}", // a repeated field
            ok + "} {}", // trailing content
            "[]",
            "")) {
      Files.writeString(f, bad);
      assertThat(PlainBaselineReader.read(f)).as(bad).isNull();
    }
    assertThat(PlainBaselineReader.read(dir.resolve("absent.json"))).isNull();
    assertThatThrownBy(() -> Baseline.read(dir.resolve("absent.json")))
        .isInstanceOf(java.io.IOException.class);
  }
}
