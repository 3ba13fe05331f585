package dev.fulcrum.server;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The client side of a streaming gRPC call in a test: the messages it received in order, and the
 * status it ended with (OK when the server completed it). Thread-safe: gRPC's threads fill it, the
 * test reads.
 *
 * @param <T> the messages the server sends
 */
public class CallRecorder<T> implements StreamObserver<T> {
  /** The messages so far, in order. */
  public final BlockingQueue<T> answers = new LinkedBlockingQueue<>();

  /** How the call ended: the status of its error, or OK. */
  public final CompletableFuture<Status> ended = new CompletableFuture<>();

  @Override
  public void onNext(T r) {
    answers.add(r);
  }

  @Override
  public void onError(Throwable t) {
    ended.complete(Status.fromThrowable(t));
  }

  @Override
  public void onCompleted() {
    ended.complete(Status.OK);
  }
}
