package dev.fulcrum.monitoring;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.scheduler.PassListener;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link MonitorHandOffBenchmark}'s operations in the calling thread's CPU time (see {@link
 * CompareCpuTime}). Single-threaded.
 *
 * <p>Usage: {@code HandOffCpuTime <rows> [<requests per pass>]}: the per-pass hand-off (session 9)
 * is timed per pass of that many requests ({@code handOffPass}, {@code comparePass}); divide by it
 * for a request's share.
 */
public final class HandOffCpuTime {
  private HandOffCpuTime() {}

  /** The tensors' rows joined along dimension 0 (as BatchAssembler joins a pass's inputs). */
  private static Tensor join(List<Tensor> parts, int totalRows) {
    int bytes = 0;
    for (Tensor t : parts) {
      bytes += t.data().remaining();
    }
    ByteBuffer all = ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
    for (Tensor t : parts) {
      all.put(t.data());
    }
    all.flip();
    long[] shape = parts.get(0).shape().clone();
    shape[0] = totalRows;
    return Tensor.of(parts.get(0).name(), parts.get(0).datatype(), shape, all);
  }

  public static void main(String[] args) throws Exception {
    int rows = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    int perPass = args.length > 1 ? Integer.parseInt(args[1]) : 4;
    FraudRequests fraud = new FraudRequests(rows);
    ArrayBlockingQueue<Observation> queue = new ArrayBlockingQueue<>(8192);
    AtomicLong accepted = new AtomicLong();
    MpscRing<Handed> ring = new MpscRing<>(8192);
    int[] next = new int[1];
    CompareCpuTime.time(
        "handOffCopy rows=" + rows,
        () -> {
          int q = next[0];
          next[0] = (q + 1) & (FraudRequests.COUNT - 1);
          Completed c =
              new Completed(
                  null, fraud.requests[q], fraud.responses[q], System.currentTimeMillis(), q);
          if (queue.offer(c.observation())) {
            accepted.incrementAndGet();
          }
          return queue.poll() == null ? 0 : 1;
        });
    CompareCpuTime.time(
        "handOffReference rows=" + rows,
        () -> {
          int q = next[0];
          next[0] = (q + 1) & (FraudRequests.COUNT - 1);
          ring.offer(
              new Completed(
                  null, fraud.requests[q], fraud.responses[q], System.currentTimeMillis(), q));
          return ring.poll() == null ? 0 : 1;
        });
    VersionMonitor monitor = fraud.monitor();
    Completed[] completed = new Completed[FraudRequests.COUNT];
    for (int q = 0; q < completed.length; q++) {
      completed[q] = new Completed(null, fraud.requests[q], fraud.responses[q], q, 0);
    }
    long[] changes = new long[1];
    VersionMonitor.Listener listener = (m, f, output) -> changes[0]++;
    // Passes of perPass consecutive requests: the joined input and whole outputs, as the
    // scheduler hands them (the joins are the scheduler's work, not the monitor's: made here).
    int passes = FraudRequests.COUNT / perPass;
    PassListener.Pass[] pass = new PassListener.Pass[passes];
    for (int k = 0; k < passes; k++) {
      List<InferenceRequest> in = new ArrayList<>();
      List<InferenceResponse> out = new ArrayList<>();
      for (int i = 0; i < perPass; i++) {
        in.add(fraud.requests[k * perPass + i]);
        out.add(fraud.responses[k * perPass + i]);
      }
      int total = rows * perPass;
      pass[k] =
          new PassListener.Pass(
              List.of(join(in.stream().map(r -> r.inputs().get(0)).toList(), total)),
              List.of("probabilities", "label"),
              List.of(
                  join(out.stream().map(r -> r.outputs().get(0)).toList(), total),
                  join(out.stream().map(r -> r.outputs().get(1)).toList(), total)),
              total,
              new int[perPass],
              null);
    }
    CompareCpuTime.time(
        "handOffPass rows=" + rows + " requests/pass=" + perPass + " (per pass)",
        () -> {
          int q = next[0] % passes;
          next[0] = (q + 1) % passes;
          PassListener.Pass p = pass[q];
          int[] each = new int[perPass];
          java.util.Arrays.fill(each, rows);
          ring.offer(
              new PassCompleted(
                  null,
                  new PassListener.Pass(
                      p.inputs(), p.outputNames(), p.outputs(), p.totalRows(), each, null),
                  System.currentTimeMillis()));
          return ring.poll() == null ? 0 : 1;
        });
    // Session 15: the same pass copied on the thread that ran it (PassCopy) instead.
    PassCopy.Layout layout =
        new PassCopy.Layout(List.of("features"), List.of("probabilities", "label"));
    CompareCpuTime.time(
        "handOffPassCopy rows=" + rows + " requests/pass=" + perPass + " (per pass)",
        () -> {
          int q = next[0] % passes;
          next[0] = (q + 1) % passes;
          PassCopy copy = PassCopy.of(null, pass[q], layout, System.currentTimeMillis());
          ring.offer(copy);
          return ring.poll() == null ? 0 : 1;
        });
    VersionMonitor copyMonitor = fraud.monitor();
    PassCopy[] copies = new PassCopy[passes];
    for (int k = 0; k < passes; k++) {
      copies[k] = PassCopy.of(null, pass[k], layout, k);
    }
    CompareCpuTime.time(
        "compareCopy rows=" + rows + " requests/pass=" + perPass + " (per pass)",
        () -> {
          int q = next[0] % passes;
          next[0] = (q + 1) % passes;
          copyMonitor.observe(copies[q], listener);
          return (int) copyMonitor.observations();
        });
    VersionMonitor passMonitor = fraud.monitor();
    PassCompleted[] passCompleted = new PassCompleted[passes];
    for (int k = 0; k < passes; k++) {
      passCompleted[k] = new PassCompleted(null, pass[k], k);
    }
    CompareCpuTime.time(
        "comparePass rows=" + rows + " requests/pass=" + perPass + " (per pass)",
        () -> {
          int q = next[0] % passes;
          next[0] = (q + 1) % passes;
          passMonitor.observe(passCompleted[q], listener);
          return (int) passMonitor.observations();
        });
    CompareCpuTime.time(
        "compareLive rows=" + rows,
        () -> {
          int q = next[0];
          next[0] = (q + 1) & (FraudRequests.COUNT - 1);
          monitor.observe(completed[q], listener);
          return (int) monitor.observations();
        });
  }
}
