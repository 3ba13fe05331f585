package dev.fulcrum.monitoring;

import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.PassListener;
import dev.fulcrum.core.tensor.Tensor;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A small pass's monitored values, copied by the thread that ran it into one array while its
 * tensors are still in that core's cache (session 15): the monitor thread then reads one contiguous
 * array instead of about twenty objects the engine's core wrote (the pass, its lists, each tensor,
 * its name, shape, buffer and bytes), which it found in another core's cache, and the pass's
 * tensors are not kept alive while they wait in the queue. Larger passes (a text model's token ids
 * and embeddings) are handed by reference ({@link PassCompleted}), where a copy on the engine
 * thread would cost more than the reads it saves. Immutable.
 *
 * @param source the version that ran it (null only in tests)
 * @param pass the pass's requests and rows only: its tensor lists are empty
 * @param layout which tensors {@code values} holds, in order
 * @param values the layout's inputs' values, then its outputs', each tensor's in a row
 * @param counts per tensor of the layout (inputs, then outputs), how many values it has in {@code
 *     values}; -1 when the pass has no such output, or its values are not numeric
 * @param epochMillis when it completed
 */
record PassCopy(
    @Nullable ModelVersion source,
    PassListener.Pass pass,
    Layout layout,
    double[] values,
    int[] counts,
    long epochMillis)
    implements Handed {

  /** The most values a pass may have for it to be copied on the thread that ran it. */
  static final int MAX_VALUES = 4096;

  /**
   * The tensors a version's copied passes hold: the inputs its {@code monitoring.features} name,
   * and its declared outputs (the same instances for every pass of the version, so the monitor maps
   * them to its columns once). Immutable.
   */
  record Layout(List<String> inputs, List<String> outputs) {
    Layout {
      inputs = List.copyOf(inputs);
      outputs = List.copyOf(outputs);
    }
  }

  /**
   * The pass's values in {@code layout}, or null when it cannot be copied here (an input the layout
   * names is missing, not numeric or too large, or the pass computed an output the layout does not
   * hold): then it is handed by reference, as before.
   */
  static @Nullable PassCopy of(
      @Nullable ModelVersion source, PassListener.Pass pass, Layout layout, long epochMillis) {
    List<String> ins = layout.inputs();
    List<String> outs = layout.outputs();
    List<Tensor> passInputs = pass.inputs();
    List<Tensor> passOutputs = pass.outputs();
    List<String> outputNames = pass.outputNames();
    if (passOutputs.size() != outputNames.size()) {
      return null;
    }
    Tensor[] tensors = new Tensor[ins.size() + outs.size()];
    long total = 0;
    for (int i = 0; i < ins.size(); i++) {
      Tensor t = VersionMonitor.find(passInputs, ins.get(i));
      if (t == null) {
        return null;
      }
      tensors[i] = t;
      total += t.elementCount();
    }
    int found = 0;
    for (int j = 0; j < outs.size(); j++) {
      int k = outputNames.indexOf(outs.get(j));
      if (k >= 0) {
        Tensor t = passOutputs.get(k);
        if (!t.name().equals(outs.get(j))) {
          return null;
        }
        tensors[ins.size() + j] = t;
        total += t.elementCount();
        found++;
      }
    }
    if (found != passOutputs.size() || total > MAX_VALUES) {
      return null;
    }
    double[] values = new double[(int) total];
    int[] counts = new int[tensors.length];
    int at = 0;
    for (int k = 0; k < tensors.length; k++) {
      Tensor t = tensors[k];
      int n = t == null ? -1 : Copies.into(t, values, at);
      if (n < 0 && k < ins.size()) {
        return null; // an input that is not numeric: nothing to compare, as by reference
      }
      counts[k] = n;
      at += Math.max(0, n);
    }
    int[] rows = new int[pass.requests()];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = pass.rows(i);
    }
    List<List<String>> asked = null;
    if (!pass.uniform()) {
      asked = new java.util.ArrayList<>(rows.length);
      for (int i = 0; i < rows.length; i++) {
        asked.add(pass.outputsOf(i));
      }
    }
    PassListener.Pass shell =
        new PassListener.Pass(List.of(), outputNames, List.of(), pass.totalRows(), rows, asked);
    return new PassCopy(source, shell, layout, values, counts, epochMillis);
  }
}
