package dev.fulcrum.core.config;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Validates an ensemble's configuration as far as its file alone tells ({@code ensemble:} in
 * config.yaml, {@code ensemble_scheduling} in config.pbtxt): its steps, the fields that do not
 * apply to an ensemble, and the graph of its tensors (each made once, each taken tensor made, each
 * output made, no cycle). The steps' models are checked once they are loaded ({@link
 * EnsembleConfig#checkComposing}). Stateless.
 */
final class EnsembleResolver {
  private EnsembleResolver() {}

  static EnsembleConfig resolve(ModelConfigFile f, Path file) throws ConfigException {
    EnsembleConfig.Fields names = EnsembleConfig.Fields.of(file);
    if (f.platform() != null && !f.platform().equals(EnsembleConfig.PLATFORM)) {
      throw new ConfigException(
          file,
          names.platform(),
          "'"
              + f.platform()
              + "' with "
              + names.section()
              + ": an ensemble's platform is 'ensemble'");
    }
    ModelConfigFile.EnsembleFile e = f.ensemble();
    if (e == null) {
      throw new ConfigException(
          file,
          names.platform(),
          "'ensemble' needs "
              + names.section()
              + " with its steps (docs/MODEL_CONFIG.md, \"Ensembles\")");
    }
    refuseModelFields(f, file);
    List<ModelConfigFile.EnsembleStepFile> given = e.steps() == null ? List.of() : e.steps();
    if (given.isEmpty()) {
      throw new ConfigException(file, names.steps(), "an ensemble needs at least one step");
    }
    List<EnsembleConfig.Step> steps = new ArrayList<>();
    for (int i = 0; i < given.size(); i++) {
      steps.add(step(given.get(i), i, names, file));
    }
    checkGraph(f, steps, names, file);
    Integer inflight = e.maxInflightRequests();
    if (inflight != null && inflight < 0) {
      throw new ConfigException(
          file,
          names.maxInflightRequests(),
          "must be >= 0 (0: no bound on the requests in flight at a step), was " + inflight);
    }
    return new EnsembleConfig(steps, inflight == null ? 0 : inflight);
  }

  private static EnsembleConfig.Step step(
      ModelConfigFile.@Nullable EnsembleStepFile s, int i, EnsembleConfig.Fields names, Path file)
      throws ConfigException {
    String here = names.step(i);
    if (s == null || s.model() == null || s.model().isBlank()) {
      throw new ConfigException(file, here + "." + names.model(), "is required");
    }
    if (s.model().contains("/") || s.model().contains("..")) {
      throw new ConfigException(file, here + "." + names.model(), "must be a model's folder name");
    }
    long version = s.modelVersion() == null ? EnsembleConfig.Step.LATEST : s.modelVersion();
    if (version != EnsembleConfig.Step.LATEST && version < 1) {
      throw new ConfigException(
          file,
          here + "." + names.modelVersion(),
          "must be -1 (the newest the model serves) or a version >= 1, was " + version);
    }
    List<EnsembleConfig.Mapping> in =
        mappings(s.inputMap(), file, here + "." + names.inputMapField(), true);
    List<EnsembleConfig.Mapping> out =
        mappings(s.outputMap(), file, here + "." + names.outputMapField(), false);
    return new EnsembleConfig.Step(s.model(), version, in, out);
  }

  private static List<EnsembleConfig.Mapping> mappings(
      @Nullable Map<String, String> map, Path file, String field, boolean inputs)
      throws ConfigException {
    if (map == null || map.isEmpty()) {
      throw new ConfigException(
          file,
          field,
          inputs
              ? "a step maps at least one input of its model to an ensemble tensor"
              : "a step maps at least one output of its model to an ensemble tensor");
    }
    List<EnsembleConfig.Mapping> out = new ArrayList<>();
    for (Map.Entry<String, String> m : map.entrySet()) {
      String key = m.getKey();
      String value = m.getValue();
      if (key == null || key.isBlank()) {
        throw new ConfigException(file, field, "a key (the model's tensor) is empty");
      }
      if (value == null || value.isBlank()) {
        throw new ConfigException(
            file, field + "[" + key + "]", "needs the ensemble tensor's name as its value");
      }
      out.add(new EnsembleConfig.Mapping(key, value));
    }
    return out;
  }

  /**
   * The graph of ensemble tensors: each made once (by the request or by one step), each taken
   * tensor made, each ensemble output made by a step, and an order in which every step's tensors
   * are made before it runs (no cycle).
   */
  private static void checkGraph(
      ModelConfigFile f, List<EnsembleConfig.Step> steps, EnsembleConfig.Fields names, Path file)
      throws ConfigException {
    Set<String> inputs = new HashSet<>();
    if (f.inputs() != null) {
      for (ModelConfigFile.Tensor t : f.inputs()) {
        if (t != null && t.name() != null) {
          inputs.add(t.name());
        }
      }
    }
    Map<String, Integer> producer = new HashMap<>();
    for (int i = 0; i < steps.size(); i++) {
      for (EnsembleConfig.Mapping m : steps.get(i).outputs()) {
        String field = names.step(i) + "." + names.outputMap(m.modelTensor());
        if (inputs.contains(m.ensembleTensor())) {
          throw new ConfigException(
              file,
              field,
              "'" + m.ensembleTensor() + "' is an ensemble input: a step cannot make it too");
        }
        Integer other = producer.putIfAbsent(m.ensembleTensor(), i);
        if (other != null) {
          throw new ConfigException(
              file,
              field,
              "ensemble tensor '"
                  + m.ensembleTensor()
                  + "' is made by "
                  + names.step(other)
                  + " already: each tensor is made once");
        }
      }
    }
    for (int i = 0; i < steps.size(); i++) {
      for (EnsembleConfig.Mapping m : steps.get(i).inputs()) {
        if (!inputs.contains(m.ensembleTensor()) && !producer.containsKey(m.ensembleTensor())) {
          throw new ConfigException(
              file,
              names.step(i) + "." + names.inputMap(m.modelTensor()),
              "ensemble tensor '"
                  + m.ensembleTensor()
                  + "' is taken but never made: it is neither an ensemble input nor any step's"
                  + " output");
        }
      }
    }
    if (f.outputs() != null) {
      for (int i = 0; i < f.outputs().size(); i++) {
        ModelConfigFile.Tensor t = f.outputs().get(i);
        if (t != null && t.name() != null && !producer.containsKey(t.name())) {
          throw new ConfigException(
              file,
              names.outputs() + "[" + i + "]",
              "ensemble output '" + t.name() + "' is made by no step's " + names.outputMapField());
        }
      }
    }
    // Kahn's order: a step runs once every tensor it takes is made; what is left is a cycle.
    Set<String> made = new HashSet<>(inputs);
    Deque<Integer> ready = new ArrayDeque<>();
    int[] waiting = new int[steps.size()];
    for (int i = 0; i < steps.size(); i++) {
      for (String t : steps.get(i).consumes()) {
        if (!made.contains(t)) {
          waiting[i]++;
        }
      }
      if (waiting[i] == 0) {
        ready.add(i);
      }
    }
    int ran = 0;
    while (!ready.isEmpty()) {
      int i = ready.poll();
      ran++;
      for (EnsembleConfig.Mapping m : steps.get(i).outputs()) {
        for (int j = 0; j < steps.size(); j++) {
          if (steps.get(j).consumes().contains(m.ensembleTensor()) && --waiting[j] == 0) {
            ready.add(j);
          }
        }
      }
    }
    if (ran < steps.size()) {
      List<String> cycle = new ArrayList<>();
      for (int i = 0; i < steps.size(); i++) {
        if (waiting[i] > 0) {
          cycle.add(names.step(i) + " (" + steps.get(i).model() + ")");
        }
      }
      throw new ConfigException(
          file,
          names.steps(),
          "the steps "
              + cycle
              + " form a cycle: each waits for a tensor that only another of them makes");
    }
  }

  /** Fields of a model that runs a file, which an ensemble (a graph of other models) has not. */
  private static void refuseModelFields(ModelConfigFile f, Path file) throws ConfigException {
    refuse(f.pipeline() != null, "pipeline", file);
    refuse(f.sequenceBatching() != null, "sequence-batching", file);
    refuse(f.modelWarmup() != null && !f.modelWarmup().isEmpty(), "model-warmup", file);
    refuse(f.dynamicBatching() != null, "dynamic-batching", file);
    refuse(f.queuePolicy() != null, "queue-policy", file);
    refuse(f.onnxruntime() != null, "onnxruntime", file);
    refuse(f.instanceCount() != null, "instance-count", file);
    refuse(f.instanceGroups() != null && !f.instanceGroups().isEmpty(), "instance-groups", file);
    refuse(f.monitoring() != null, "monitoring", file);
    refuse(f.slo() != null, "slo", file);
  }

  private static void refuse(boolean set, String field, Path file) throws ConfigException {
    if (set) {
      throw new ConfigException(
          file,
          field,
          "does not apply to an ensemble: it runs no model file of its own; set it on the models"
              + " its steps call");
    }
  }

  /**
   * What an ensemble's file declares of its inputs or outputs, as the "model" its tensors are
   * checked against: each needs its name, datatype and dims (no model file tells them).
   */
  static List<TensorSpec> declared(
      @Nullable List<ModelConfigFile.Tensor> tensors, boolean batching, Path file, String field)
      throws ConfigException {
    EnsembleConfig.Fields names = EnsembleConfig.Fields.of(file);
    String shown = field.equals("inputs") ? names.inputs() : names.outputs();
    if (tensors == null || tensors.isEmpty()) {
      throw new ConfigException(
          file,
          shown,
          "an ensemble declares its "
              + field
              + " (name, datatype, dims): it has no model file to read them from");
    }
    List<TensorSpec> out = new ArrayList<>();
    for (int i = 0; i < tensors.size(); i++) {
      ModelConfigFile.Tensor t = tensors.get(i);
      String here = shown + "[" + i + "]";
      if (t == null || t.name() == null || t.name().isBlank()) {
        throw new ConfigException(file, here + ".name", "is required");
      }
      if (t.datatype() == null) {
        throw new ConfigException(
            file, here + ".datatype", "is required for an ensemble's tensor '" + t.name() + "'");
      }
      DataType type = ModelConfigResolver.datatype(file, here, t.datatype());
      if (t.dims() == null) {
        throw new ConfigException(
            file, here + ".dims", "is required for an ensemble's tensor '" + t.name() + "'");
      }
      if (t.reshape() != null) {
        throw new ConfigException(
            file, here + ".reshape", "does not apply to an ensemble's tensor (no model file)");
      }
      long[] dims = new long[t.dims().size()];
      for (int k = 0; k < dims.length; k++) {
        Long v = t.dims().get(k);
        if (v == null || v < -1 || v == 0) {
          throw new ConfigException(
              file, here + ".dims[" + k + "]", "must be -1 or a positive size, was " + v);
        }
        dims[k] = v;
      }
      out.add(new TensorSpec(t.name(), type, batching ? Shapes.prepend(-1, dims) : dims));
    }
    return out;
  }
}
