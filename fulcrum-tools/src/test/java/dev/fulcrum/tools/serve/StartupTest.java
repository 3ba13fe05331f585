package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class StartupTest {
  private final Startup startup = new Startup();

  @Test
  void aStepRunsOnItsOwnNamedThread() {
    CompletableFuture<String> step = startup.run("http", () -> Thread.currentThread().getName());

    assertThat(step.join()).isEqualTo("fulcrum-start-http");
  }

  @Test
  void aFailedStepGivesBackItsOwnException() {
    CompletableFuture<Object> step =
        startup.run(
            "grpc",
            () -> {
              throw new IOException("address in use");
            });

    assertThatThrownBy(step::join)
        .isInstanceOfSatisfying(
            CompletionException.class,
            e -> assertThat(Startup.cause(e)).isInstanceOf(IOException.class));
  }

  @Test
  void afterAFailureWhatTheOtherStepsStartedIsClosed() {
    AtomicBoolean closed = new AtomicBoolean();
    CompletableFuture<AutoCloseable> started = startup.run("http", () -> () -> closed.set(true));
    CompletableFuture<AutoCloseable> failed =
        startup.run(
            "grpc",
            () -> {
              throw new IOException("address in use");
            });
    CompletableFuture<AutoCloseable> disabled = startup.run("metrics", () -> null);

    Startup.closeStarted(List.of(started, failed, disabled));

    assertThat(closed).isTrue();
  }

  @Test
  void aStepAfterAGateStartsOnceTheGateCompletesEvenExceptionally() {
    CompletableFuture<Void> gate = new CompletableFuture<>();
    CompletableFuture<String> step =
        startup.after(gate, "grpc", () -> Thread.currentThread().getName());

    assertThat(step).isNotDone();
    gate.completeExceptionally(new IOException("the first model failed"));
    assertThat(step.join()).isEqualTo("fulcrum-start-grpc");
  }

  @Test
  void secondsSinceJvmStartIsPositive() {
    assertThat(Startup.secondsSinceJvmStart()).isPositive();
  }
}
