package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFilesTest {
  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aFileParameterNamesAPathInsideAVersionFolder() {
    assertThat(ModelFiles.relativePath("file:1/model.onnx")).isEqualTo(Path.of("1", "model.onnx"));
    assertThat(ModelFiles.relativePath("file:12/data/weights.bin"))
        .isEqualTo(Path.of("12", "data", "weights.bin"));
  }

  @Test
  void pathsThatLeaveTheVersionFolderOrHaveNoneAreRefusedNamingTheParameter() {
    Map<String, String> refused =
        Map.ofEntries(
            Map.entry("file:../x", "version folder"),
            Map.entry("file:1/../../x", "'..'"),
            Map.entry("file:1/./model.onnx", "'..'"),
            Map.entry("file:/etc/passwd", "relative path"),
            Map.entry("file:model.onnx", "inside a version folder"),
            Map.entry("file:01/model.onnx", "leading zeros"),
            Map.entry("file:v1/model.onnx", "version folder"),
            Map.entry("file:1/", "empty"),
            Map.entry("file:1//model.onnx", "empty"),
            Map.entry("file:1\\model.onnx", "relative path"),
            Map.entry("file:1/.hidden", "hidden"),
            Map.entry("file:1/a/b/c/d/e", "deep"));
    refused.forEach(
        (parameter, why) ->
            assertThatThrownBy(() -> ModelFiles.relativePath(parameter))
                .as(parameter)
                .isInstanceOfSatisfying(
                    InferenceException.class,
                    e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageContaining("parameter '" + parameter + "'")
                .hasMessageContaining(why));
  }

  @Test
  void filesOverTheLimitAreTooLargeAndAFileCannotAlsoBeAFolder() {
    ModelFiles files = new ModelFiles(new ModelFiles.Settings(null, 10));
    assertThat(files.check("m", Map.of("file:1/a", new byte[10]))).hasSize(1);
    Map<String, byte[]> over = new LinkedHashMap<>();
    over.put("file:1/a", new byte[6]);
    over.put("file:1/b", new byte[5]);
    assertThatThrownBy(() -> files.check("m", over))
        .isInstanceOfSatisfying(
            InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TOO_LARGE))
        .hasMessageContaining("11 bytes, more than the 10 bytes allowed")
        .hasMessageContaining("--model-load-max-bytes");
    Map<String, byte[]> clash = new LinkedHashMap<>();
    clash.put("file:1/a", new byte[1]);
    clash.put("file:1/a/b", new byte[1]);
    assertThatThrownBy(() -> files.check("m", clash))
        .hasMessageContaining("both a file and a folder");
    assertThatThrownBy(() -> files.check("..", Map.of("file:1/a", new byte[1])))
        .hasMessageContaining("plain folder name");
  }

  /**
   * A push of many files is checked file by file against the folders seen so far, not against every
   * earlier file: 60,000 files (a few MB of JSON) took 1.8 billion path comparisons before.
   */
  @Test
  void manyFilesAreCheckedInOnePassAndAClashAmongThemIsFound() {
    ModelFiles files = new ModelFiles(new ModelFiles.Settings(null, Long.MAX_VALUE));
    Map<String, byte[]> many = new LinkedHashMap<>();
    for (int i = 0; i < 60_000; i++) {
      many.put("file:1/d" + (i % 300) + "/f" + i, new byte[1]);
    }
    assertThat(files.check("m", many)).hasSize(60_000).containsKey(Path.of("1", "d7", "f7"));

    // the last file is a folder of an earlier one, the other way round, and a file named twice
    Map<String, byte[]> underAFile = new LinkedHashMap<>(many);
    underAFile.put("file:1/d7/f7/x", new byte[1]);
    assertThatThrownBy(() -> files.check("m", underAFile))
        .hasMessageContaining("parameter 'file:1/d7/f7/x' is both a file and a folder")
        .hasMessageContaining("'file:1/d7/f7'");
    Map<String, byte[]> aFolder = new LinkedHashMap<>(many);
    aFolder.put("file:1/d299", new byte[1]);
    assertThatThrownBy(() -> files.check("m", aFolder))
        .hasMessageContaining("parameter 'file:1/d299' is both a file and a folder")
        .hasMessageContaining("'file:1/d299/f299'");
  }

  @Test
  void aFileTreeFindsEachKindOfClash() {
    FileTree tree = new FileTree();
    assertThat(tree.add(Path.of("1", "a", "b"))).isNull();
    assertThat(tree.add(Path.of("1", "a", "c"))).isNull();
    assertThat(tree.add(Path.of("1", "a"))).isEqualTo(Path.of("1", "a", "b"));
    assertThat(tree.add(Path.of("1", "a", "b", "x"))).isEqualTo(Path.of("1", "a", "b"));
    assertThat(tree.add(Path.of("1", "a", "b"))).isEqualTo(Path.of("1", "a", "b"));
    assertThat(tree.add(Path.of("2", "a"))).isNull();
    assertThat(tree.size()).isEqualTo(3);
  }

  @Test
  void aStreamedPushIsWrittenFileByFileCountedAgainstTheLimitAndLeavesNothingWhenNotFinished(
      @TempDir Path dir) throws Exception {
    ModelFiles files = new ModelFiles(new ModelFiles.Settings(dir.resolve("pushed"), 10));
    Path done;
    try (ModelFiles.Push push = files.begin("m")) {
      assertThat(push.isEmpty()).isTrue();
      try (var out = push.file("file:1/model.onnx")) {
        out.write(bytes("onnx"));
      }
      try (var out = push.file("file:1/sub/data.bin")) {
        out.write(bytes("data"));
      }
      assertThatThrownBy(() -> push.file("file:1/model.onnx/x"))
          .hasMessageContaining("both a file and a folder");
      assertThatThrownBy(() -> push.file("file:1/sub/data.bin"))
          .hasMessageContaining("names the same file");
      done = push.finish();
    }
    assertThat(done.resolve("1/model.onnx")).hasContent("onnx");
    assertThat(done.resolve("1/sub/data.bin")).hasContent("data");
    assertThat(files.folders("m")).containsExactly(done);

    try (ModelFiles.Push push = files.begin("m")) {
      try (var out = push.file("file:2/model.onnx")) {
        out.write(new byte[8]);
        out.write(new byte[5]); // past the limit: counted, not written
      }
      assertThatThrownBy(push::finish)
          .isInstanceOfSatisfying(
              InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TOO_LARGE))
          .hasMessageContaining("are 13 bytes, more than the 10 bytes allowed");
    }
    try (ModelFiles.Push push = files.begin("m")) {
      try (var out = push.file("file:3/model.onnx")) {
        out.write(bytes("half"));
      }
      // closed without finish: a reader that failed half-way
    }
    assertThat(files.folders("m")).as("only the finished push is left").containsExactly(done);
    try (ModelFiles.Push push = files.begin("..")) {
      assertThatThrownBy(() -> push.file("file:1/a")).hasMessageContaining("plain folder name");
    }
    files.close();
  }

  @Test
  void aPushIsWrittenWholeIntoANewFolderAndTheOthersAreDeleted(@TempDir Path dir) throws Exception {
    Path owned = dir.resolve("pushed");
    new ModelFiles(new ModelFiles.Settings(owned, 1000)).prepare(); // a previous run's, marked
    Files.createDirectories(owned.resolve("left-by-a-previous-run"));
    ModelFiles files = new ModelFiles(new ModelFiles.Settings(owned, 1000));
    Path root = files.prepare();
    assertThat(root.resolve("left-by-a-previous-run")).doesNotExist();

    Path first = files.write("m", files.check("m", Map.of("file:1/model.onnx", bytes("one"))));
    Path second = files.write("m", files.check("m", Map.of("file:2/sub/model.onnx", bytes("two"))));
    assertThat(first.resolve("1/model.onnx")).hasContent("one");
    assertThat(second.resolve("2/sub/model.onnx")).hasContent("two");
    assertThat(files.owns(second)).isTrue();
    assertThat(files.owns(dir)).isFalse();
    assertThat(files.folders("m")).containsExactly(first, second);

    files.keepOnly("m", second);
    assertThat(files.folders("m")).containsExactly(second);
    files.keepOnly("m", null);
    assertThat(root.resolve("m")).doesNotExist();

    files.write("m", files.check("m", Map.of("file:1/model.onnx", bytes("three"))));
    files.close();
    // a configured folder is emptied, not removed, and keeps the mark that lets the next run empty
    // it
    try (var left = Files.list(owned)) {
      assertThat(left.map(p -> p.getFileName().toString())).containsExactly(ModelFiles.MARKER);
    }
  }

  @Test
  void aConfiguredFolderWithFilesItDidNotMakeIsRefusedAndKept(@TempDir Path dir) throws Exception {
    Path repository = dir.resolve("models");
    Files.createDirectories(repository.resolve("fraud/1"));
    Files.writeString(repository.resolve("fraud/1/model.onnx"), "weights");
    ModelFiles files = new ModelFiles(new ModelFiles.Settings(repository, 1000));
    assertThatThrownBy(files::prepare)
        .isInstanceOf(IOException.class)
        .hasMessageContaining("not empty")
        .hasMessageContaining(ModelFiles.MARKER);
    assertThat(repository.resolve("fraud/1/model.onnx")).hasContent("weights");
    files.close();
    assertThat(repository.resolve("fraud/1/model.onnx")).hasContent("weights");
  }

  @Test
  void aTemporaryFolderIsRemovedAtClose() throws Exception {
    ModelFiles files = new ModelFiles(ModelFiles.Settings.defaults());
    Path root = files.prepare();
    files.write("m", files.check("m", Map.of("file:1/model.onnx", bytes("x"))));
    files.close();
    assertThat(root).doesNotExist();
  }
}
