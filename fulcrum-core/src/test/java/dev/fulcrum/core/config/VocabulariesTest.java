package dev.fulcrum.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The streaming read of tokenizer.json finds what a databind tree's path finds. */
class VocabulariesTest {
  @TempDir Path dir;

  private Integer unk(String json) throws Exception {
    Path f = dir.resolve("tokenizer.json");
    Files.writeString(f, json);
    return Vocabularies.tokenizerUnkId(f);
  }

  @Test
  void readsModelVocabUnk() throws Exception {
    assertThat(
            unk(
                "{\"version\":\"1\",\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[PAD]\":0,"
                    + "\"[UNK]\":100,\"a\":{\"[UNK]\":7}}},\"x\":[1,{\"[UNK]\":3}]}"))
        .isEqualTo(100);
    assertThat(unk("{\"[UNK]\":1,\"vocab\":{\"[UNK]\":2},\"model\":{\"[UNK]\":3}}")).isNull();
    assertThat(unk("{\"model\":{\"vocab\":{\"[UNK]\":\"100\"}}}")).isNull();
    assertThat(unk("{\"model\":{\"vocab\":{\"[UNK]\":1.0}}}")).isNull();
    assertThat(unk("{\"model\":{\"vocab\":{\"[UNK]\":1}},\"model\":{\"vocab\":{\"[UNK]\":2}}}"))
        .isEqualTo(2); // a repeated key: the last, as a tree keeps it
    assertThat(unk("[1,2]")).isNull();
    assertThat(unk("")).isNull();
  }

  @Test
  void theDemoTokenizerReadsAsADatabindTreeDoes() throws Exception {
    Path model = DemoFiles.root().resolve("demo/models/all_minilm_l6_v2");
    Path tokenizer = model.resolve("all-minilm-l6-v2-q-tokenizer.json");
    // placed by fulcrum-tools' build, after this module's tests on a clean clone
    assumeThat(tokenizer)
        .as("the demo tokenizer (placed by the fulcrum-tools build)")
        .isRegularFile();
    int expected =
        new ObjectMapper()
            .readTree(tokenizer.toFile())
            .path("model")
            .path("vocab")
            .path("[UNK]")
            .asInt();
    assertThat(Vocabularies.tokenizerUnkId(tokenizer)).isEqualTo(expected);
    assertThat(Vocabularies.unkId(model)).isEqualTo(expected);
  }
}
