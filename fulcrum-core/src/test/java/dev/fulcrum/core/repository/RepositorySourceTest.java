package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What counts as a changed configuration of a model folder (a poll or a load reloads it). */
class RepositorySourceTest {
  @TempDir Path repo;

  @Test
  void theConfigurationsStampFollowsItsFilesButNotHiddenOnesNorVersionFolders() throws Exception {
    RepositorySource source = new RepositorySource(List.of(repo));
    Path m = Files.createDirectories(repo.resolve("m"));
    assertThat(source.configStamp(m)).isEmpty();
    Files.writeString(m.resolve("config.yaml"), "max-batch-size: 8\n");
    String config = source.configStamp(m);
    assertThat(config).isNotEmpty();
    Files.writeString(m.resolve("config.yaml"), "max-batch-size: 16\n");
    String edited = source.configStamp(m);
    assertThat(edited).isNotEqualTo(config);

    Files.writeString(m.resolve("classes.txt"), "cat\n");
    String labels = source.configStamp(m);
    assertThat(labels).as("a file beside config.yaml that it may name").isNotEqualTo(edited);
    Files.writeString(m.resolve("classes.txt"), "cat\ndog\n");
    assertThat(source.configStamp(m)).as("the same file, edited").isNotEqualTo(labels);
    String now = source.configStamp(m);

    Files.writeString(m.resolve(".config.yaml.swp"), "editor state");
    Files.createDirectories(m.resolve("2"));
    Files.writeString(m.resolve("2/model.onnx"), "a new version is not a configuration");
    assertThat(source.configStamp(m)).isEqualTo(now);
  }
}
