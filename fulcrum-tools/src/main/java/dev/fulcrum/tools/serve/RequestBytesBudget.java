package dev.fulcrum.tools.serve;

import dev.fulcrum.server.DirectMemoryBudget;
import dev.fulcrum.server.http.BufferBudget;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one request-bytes budget of both ports, made by whichever port starts first: {@code
 * --http-max-buffered-bytes} capped by {@link DirectMemoryBudget} and logged once. Made when a port
 * starts rather than with the command, because reading the JVM's direct-memory limit is cheap only
 * once Netty has started (see {@link DirectMemoryBudget}). Thread-safe.
 */
final class RequestBytesBudget implements Supplier<BufferBudget> {
  private static final Logger log = LoggerFactory.getLogger(RequestBytesBudget.class);

  private final long configured;
  private final int largestRestBody;
  private final int largestGrpcMessage;
  private final Supplier<DirectMemoryBudget.Limit> directLimit;
  private @Nullable BufferBudget budget;

  RequestBytesBudget(long configured, int largestRestBody, int largestGrpcMessage) {
    this(configured, largestRestBody, largestGrpcMessage, DirectMemoryBudget::jvmLimit);
  }

  RequestBytesBudget(
      long configured,
      int largestRestBody,
      int largestGrpcMessage,
      Supplier<DirectMemoryBudget.Limit> directLimit) {
    this.configured = configured;
    this.largestRestBody = largestRestBody;
    this.largestGrpcMessage = largestGrpcMessage;
    this.directLimit = directLimit;
  }

  @Override
  public synchronized BufferBudget get() {
    BufferBudget b = budget;
    if (b == null) {
      DirectMemoryBudget.Choice choice = DirectMemoryBudget.choose(configured, directLimit.get());
      log.info("{}", choice.describe());
      long largest = Math.max(largestRestBody, largestGrpcMessage);
      if (choice.effective() < largest) {
        log.warn(
            "the request buffer budget ({} bytes) is below --http-max-input-size ({}) or"
                + " --grpc-max-message-size ({}): a request that large always gets 503 /"
                + " RESOURCE_EXHAUSTED; give the JVM more memory or lower those limits",
            choice.effective(),
            largestRestBody,
            largestGrpcMessage);
      }
      b = new BufferBudget(choice.effective());
      budget = b;
    }
    return b;
  }
}
