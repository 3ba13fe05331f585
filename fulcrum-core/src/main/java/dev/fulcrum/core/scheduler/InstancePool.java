package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.inference.InferenceException;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs forward passes on a model version's instances: one named platform thread per instance, each
 * confined to its own instance and taking work from one shared queue, so that a pass never runs on
 * a transport's event loop and an instance is never used by two threads at once.
 */
public final class InstancePool implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(InstancePool.class);

  private record Work(
      List<Tensor> inputs, List<String> outputs, CompletableFuture<List<Tensor>> result) {}

  private static final Work STOP = new Work(List.of(), List.of(), new CompletableFuture<>());

  private final BlockingQueue<Work> queue = new LinkedBlockingQueue<>();
  private final List<Thread> workers = new ArrayList<>();
  private final List<ModelInstance> instances;

  /**
   * Starts one worker thread per instance.
   *
   * @param label names the threads, e.g. {@code fraud_classifier-v1}
   */
  public InstancePool(String label, List<ModelInstance> instances) {
    this.instances = List.copyOf(instances);
    for (int i = 0; i < this.instances.size(); i++) {
      ModelInstance instance = this.instances.get(i);
      Thread t =
          Thread.ofPlatform()
              .name("fulcrum-exec-" + label + "-" + i)
              .daemon(true)
              .unstarted(() -> work(instance));
      workers.add(t);
      t.start();
    }
  }

  public int size() {
    return instances.size();
  }

  /** Queues one forward pass; the future completes on the worker thread that ran it. */
  public CompletableFuture<List<Tensor>> submit(List<Tensor> inputs, List<String> outputs) {
    CompletableFuture<List<Tensor>> f = new CompletableFuture<>();
    queue.add(new Work(inputs, outputs, f));
    return f;
  }

  private void work(ModelInstance instance) {
    while (true) {
      Work w;
      try {
        w = queue.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      if (w == STOP) {
        return;
      }
      try {
        w.result().complete(instance.execute(w.inputs(), w.outputs()));
      } catch (InferenceException e) {
        w.result().completeExceptionally(e);
      } catch (RuntimeException | Error e) {
        log.warn("forward pass failed", e);
        w.result()
            .completeExceptionally(
                InferenceException.internal("inference failed: " + e.getMessage(), e));
      }
    }
  }

  /** Stops the workers after the queued work and closes the instances. */
  @Override
  public void close() {
    for (int i = 0; i < workers.size(); i++) {
      queue.add(STOP);
    }
    for (Thread t : workers) {
      try {
        t.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (ModelInstance instance : instances) {
      try {
        instance.close();
      } catch (RuntimeException e) {
        log.warn("closing a model instance failed", e);
      }
    }
  }
}
