package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Where {@code serve} keeps ONNX Runtime's optimized graphs, and how it is turned off. */
class ServeCommandTest {
  @Test
  void aModelFolderGivenAsTheRepositoryIsNamed(@TempDir Path tmp) throws Exception {
    Path model = tmp.resolve("fraud");
    Files.createDirectories(model.resolve("1"));
    Files.createDirectories(model.resolve("2"));
    Files.writeString(model.resolve("config.yaml"), "");
    assertThat(ServeCommand.modelFolderMistake(model))
        .contains("looks like a single model's folder")
        .contains("[1, 2] are version folders")
        .contains("give its parent as --model-repository " + tmp.toAbsolutePath())
        .contains("(model 'fraud')");
    // A repository (a model folder among its folders) and an empty one are not warned about.
    assertThat(ServeCommand.modelFolderMistake(tmp)).isNull();
    assertThat(ServeCommand.modelFolderMistake(Files.createDirectories(tmp.resolve("empty"))))
        .isNull();
  }

  @Test
  void theRestPortHasOneEventLoopPerCoreButOneOnTwoCoresUnlessTold() {
    ServeCommand byDefault = Objects.requireNonNull(ServeArgs.parse(List.of()));
    assertThat(ServeCommand.httpEventLoops(byDefault.httpThreads))
        .isEqualTo(ServeCommand.defaultEventLoops(Runtime.getRuntime().availableProcessors()));
    assertThat(ServeCommand.defaultEventLoops(1)).isEqualTo(1);
    assertThat(ServeCommand.defaultEventLoops(2)).isEqualTo(1);
    assertThat(ServeCommand.defaultEventLoops(4)).isEqualTo(4);
    assertThat(ServeCommand.defaultEventLoops(16)).isEqualTo(16);
    ServeCommand told =
        Objects.requireNonNull(ServeArgs.parse(List.of("--http-thread-count", "3")));
    assertThat(ServeCommand.httpEventLoops(told.httpThreads)).isEqualTo(3);
  }

  @Test
  void theUserCacheFolderFollowsXdgElseHome() {
    assertThat(ServeCommand.userCacheDir(Map.of("XDG_CACHE_HOME", "/var/cache/me"), "/home/me"))
        .isEqualTo(Path.of("/var/cache/me"));
    assertThat(ServeCommand.userCacheDir(Map.of(), "/home/me"))
        .isEqualTo(Path.of("/home/me/.cache"));
    // XDG: a relative path is invalid and ignored.
    assertThat(ServeCommand.userCacheDir(Map.of("XDG_CACHE_HOME", "rel"), "/home/me"))
        .isEqualTo(Path.of("/home/me/.cache"));
  }

  @Test
  void theCacheIsOffByDefaultAndCanBeTurnedOnOrMoved() {
    ServeCommand byDefault = Objects.requireNonNull(ServeArgs.parse(List.of()));
    assertThat(byDefault.optimizedModelCache()).isNull();

    ServeCommand on =
        Objects.requireNonNull(ServeArgs.parse(List.of("--onnx-optimized-cache", "true")));
    Path cache = Objects.requireNonNull(on.optimizedModelCache());
    assertThat(cache.endsWith(Path.of("fulcrum/onnxruntime"))).as(cache.toString()).isTrue();

    ServeCommand moved =
        Objects.requireNonNull(ServeArgs.parse(List.of("--onnx-optimized-cache-dir", "/tmp/g")));
    assertThat(moved.optimizedModelCache()).isEqualTo(Path.of("/tmp/g"));

    ServeCommand off =
        Objects.requireNonNull(
            ServeArgs.parse(
                List.of(
                    "--onnx-optimized-cache-dir", "/tmp/g", "--onnx-optimized-cache", "false")));
    assertThat(off.optimizedModelCache()).isNull();
  }

  @Test
  void mistakesInTheOptionsAreOneLineBeforeAnythingStarts() {
    for (List<String> args :
        List.of(
            List.of("--model-repository", "/nonexistent-fulcrum-repo"),
            List.of("--http-port", "70000"),
            List.of("--metrics-port", "-2"),
            List.of("--host", "999.1.1.1"),
            List.of("--cost-per-hour", "-1"),
            List.of("--onnx-global-intra-op-threads", "many"),
            List.of("--onnx-global-intra-op-threads", "-1"),
            List.of("--engine-thread-idle-secs", "-5"),
            List.of("--http-max-buffered-bytes", "4194304"),
            List.of("--grpc-max-metadata-bytes", "1023"),
            List.of("--client-shm-regions-per-tenant", "0"),
            List.of("--client-shm-regions-per-tenant", "1025"),
            List.of("--grpc-max-metadata-bytes", "1048577"))) {
      ServeCommand c = Objects.requireNonNull(ServeArgs.parse(args));
      assertThatThrownBy(c::checkOptions)
          .as(args.toString())
          .isInstanceOf(CommandLine.ParameterException.class)
          .hasMessageContaining(args.get(0));
    }
    Objects.requireNonNull(ServeArgs.parse(List.of())).checkOptions();
  }

  @Test
  void engineThreadsLiveWithTheirModelUnlessAnIdleTimeIsGiven() {
    ServeCommand byDefault = Objects.requireNonNull(ServeArgs.parse(List.of()));
    byDefault.checkOptions();
    assertThat(byDefault.engineThreadIdleSecs).isZero();

    ServeCommand idle =
        Objects.requireNonNull(ServeArgs.parse(List.of("--engine-thread-idle-secs", "60")));
    idle.checkOptions();
    assertThat(idle.engineThreadIdleSecs).isEqualTo(60);

    assertThatThrownBy(
            Objects.requireNonNull(ServeArgs.parse(List.of("--engine-thread-idle-secs", "-1")))
                ::checkOptions)
        .hasMessage(
            "--engine-thread-idle-secs must be >= 0 (0: the engine threads start with their model"
                + " and never end idle), was -1");
  }

  @Test
  void theStartsSummaryShowsAModelsOwnSlowRequestThreshold() {
    assertThat(ServeCommand.slowRequestNote(0, true)).isEmpty();
    assertThat(ServeCommand.slowRequestNote(50_000_000, true)).isEqualTo(" (slow-request-ms 50)");
    assertThat(ServeCommand.slowRequestNote(1_500_000, false))
        .isEqualTo(
            " (slow-request-ms 1.5: unused, the slow-request log is off; --log-slow-requests-ms)");
  }

  @Test
  void theGrpcMetadataLimitIs8KiBUnlessGiven() {
    assertThat(Objects.requireNonNull(ServeArgs.parse(List.of())).grpcMaxMetadataBytes)
        .isEqualTo(8192);
    ServeCommand c =
        Objects.requireNonNull(ServeArgs.parse(List.of("--grpc-max-metadata-bytes", "16384")));
    c.checkOptions();
    assertThat(c.grpcMaxMetadataBytes).isEqualTo(16384);
    assertThatThrownBy(
            Objects.requireNonNull(ServeArgs.parse(List.of("--grpc-max-metadata-bytes", "100")))
                ::checkOptions)
        .hasMessage("--grpc-max-metadata-bytes must be 1024 to 1048576, was 100");
  }

  @Test
  void oneFixedPortGivenToTwoTransportsIsRefusedBeforeAnythingStarts() {
    // It failed after the models loaded, as "Address already in use", as if another process
    // held the port.
    ServeCommand c =
        Objects.requireNonNull(
            ServeArgs.parse(List.of("--http-port", "27300", "--grpc-port", "27300")));
    assertThatThrownBy(c::checkOptions)
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessage("--grpc-port and --http-port are both 27300: each needs a port of its own");
    ServeCommand metrics =
        Objects.requireNonNull(
            ServeArgs.parse(List.of("--http-port", "27300", "--metrics-port", "27300")));
    assertThatThrownBy(metrics::checkOptions)
        .hasMessageContaining("--metrics-port and --http-port");
    // Port 0 picks a free port for each; a metrics port that is not served takes no port.
    Objects.requireNonNull(
            ServeArgs.parse(List.of("--http-port", "0", "--grpc-port", "0", "--metrics-port", "0")))
        .checkOptions();
    Objects.requireNonNull(
            ServeArgs.parse(
                List.of(
                    "--http-port", "27300", "--metrics-port", "27300", "--allow-metrics", "false")))
        .checkOptions();
  }

  @Test
  void sageMakerMmeMistakesAreUsageErrorsBeforeAnythingStarts(@TempDir Path tmp) {
    String root = tmp.toString();
    assertThatThrownBy(
            Objects.requireNonNull(ServeArgs.parse(List.of("--sagemaker-mme-root", root)))
                ::checkOptions)
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessage("--sagemaker-mme-root needs --model-control-mode explicit");
    String missing = tmp.resolve("nosuch").toString();
    assertThatThrownBy(
            Objects.requireNonNull(
                    ServeArgs.parse(
                        List.of(
                            "--model-control-mode", "explicit", "--sagemaker-mme-root", missing)))
                ::checkOptions)
        .hasMessageContaining("no such folder");
    assertThatThrownBy(
            Objects.requireNonNull(
                    ServeArgs.parse(
                        List.of(
                            "--model-control-mode",
                            "explicit",
                            "--sagemaker-mme-root",
                            root,
                            "--sagemaker-mme-max-models",
                            "0")))
                ::checkOptions)
        .hasMessage("--sagemaker-mme-max-models must be >= 1");
  }

  @Test
  void anUnreadableRepositoryIsRefusedBeforeAnythingStarts(@TempDir Path tmp) throws Exception {
    Path repo = Files.createDirectories(tmp.resolve("models"));
    Files.setPosixFilePermissions(repo, java.util.Set.of());
    try {
      // Root reads any folder: the check cannot fail there.
      org.junit.jupiter.api.Assumptions.assumeFalse(Files.isReadable(repo), "running as root");
      ServeCommand c =
          Objects.requireNonNull(ServeArgs.parse(List.of("--model-repository", repo.toString())));
      assertThatThrownBy(c::checkOptions)
          .isInstanceOf(CommandLine.ParameterException.class)
          .hasMessageContaining("cannot be read by this user (permission denied)");
    } finally {
      Files.setPosixFilePermissions(
          repo, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    }
  }

  @Test
  void theSameRepositoryTwiceIsRefused(@TempDir Path tmp) {
    // Every model was UNAVAILABLE, "in more than one model repository".
    ServeCommand c =
        Objects.requireNonNull(
            ServeArgs.parse(
                List.of("--model-repository", tmp.toString(), "--model-repository", tmp + "/.")));
    assertThatThrownBy(c::checkOptions)
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageEndingWith(" is given twice");
  }

  @Test
  void aRolloutStateDirInAModelRepositoryIsRefused(@TempDir Path tmp) throws Exception {
    // "state" in the repository looked like a model folder that failed to load.
    Path models = Files.createDirectories(tmp.resolve("models"));
    Path link = Files.createSymbolicLink(tmp.resolve("link"), models);
    for (String state :
        List.of(
            models + "/state", // not made yet
            models.toString(),
            link + "/state", // another name of the same folder
            tmp + "/other/../models/a/b")) {
      ServeCommand c =
          Objects.requireNonNull(
              ServeArgs.parse(
                  List.of("--model-repository", models.toString(), "--rollout-state-dir", state)));
      assertThatThrownBy(c::checkOptions)
          .as(state)
          .isInstanceOf(CommandLine.ParameterException.class)
          .hasMessageStartingWith("--rollout-state-dir " + state + " is ")
          .hasMessageContaining("the model repository " + models);
    }
    Objects.requireNonNull(
            ServeArgs.parse(
                List.of(
                    "--model-repository",
                    models.toString(),
                    "--rollout-state-dir",
                    tmp.resolve("models-state").toString()))) // a sibling whose name begins alike
        .checkOptions();
  }

  @Test
  void anIpv6AddressIsBracketedBeforeItsPort() {
    assertThat(ServeCommand.bracketed("::1")).isEqualTo("[::1]");
    assertThat(ServeCommand.bracketed("[::1]")).isEqualTo("[::1]");
    assertThat(ServeCommand.bracketed("127.0.0.1")).isEqualTo("127.0.0.1");
    assertThat(ServeCommand.urlHost("::")).isEqualTo("localhost");
  }
}
