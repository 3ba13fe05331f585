package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.tensor.TensorBuffers;
import dev.fulcrum.server.RequestFailureLog;
import dev.fulcrum.server.security.AccessPolicy;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * What a connection's client gets when something unexpected is thrown on its event loop (an
 * OutOfMemoryError while a body is buffered): a 503 and a close, not a bare reset.
 */
class DispatcherFailureTest {
  @TempDir Path root;
  private ModelRepository repository;
  private EmbeddedChannel ch;

  @BeforeEach
  void setUp() {
    repository = new ModelRepository(List.of(root), List.of(), new ModelConfigResolver(2, 8));
    repository.loadAll();
    ch =
        new EmbeddedChannel(
            new HttpDispatcher(
                new InferenceService(repository, false),
                "test",
                new RequestFailureLog(LoggerFactory.getLogger(DispatcherFailureTest.class)),
                AccessPolicy.open(),
                null,
                TensorBuffers.UNSHARED,
                new AnswerLoops(0),
                null,
                null,
                dev.fulcrum.server.shm.SharedMemoryRegistry.devShm(false),
                dev.fulcrum.server.logging.FixedLogControl.INSTANCE,
                new InvocationsTarget(new InferenceService(repository, false), null),
                ""));
  }

  @AfterEach
  void tearDown() {
    ch.finishAndReleaseAll();
    repository.close();
  }

  @Test
  void anOutOfMemoryErrorIsAnswered503AndTheConnectionCloses() {
    ch.pipeline()
        .fireExceptionCaught(
            new OutOfMemoryError("Cannot reserve 4194304 bytes of direct buffer memory"));
    FullHttpResponse r = ch.readOutbound();
    try {
      assertThat(r.status()).isEqualTo(HttpResponseStatus.SERVICE_UNAVAILABLE);
      assertThat(r.headers().get(HttpHeaderNames.CONNECTION))
          .isEqualToIgnoringCase(HttpHeaderValues.CLOSE.toString());
      assertThat(r.content().toString(StandardCharsets.UTF_8))
          .contains("OutOfMemoryError")
          .contains("retry later");
    } finally {
      r.release();
    }
    assertThat(ch.isOpen()).isFalse();
  }

  @Test
  void aPeersResetIsNotAnswered() {
    ch.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
    Object none = ch.readOutbound();
    assertThat(none).isNull();
    assertThat(ch.isOpen()).isFalse();
  }
}
