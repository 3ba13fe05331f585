package dev.fulcrum.core.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * An ensemble model as served (Triton's {@code ensemble_scheduling}): the steps, each a request to
 * another model of the repository, wired by ensemble tensor names into a graph without cycles.
 * Validated by {@link ModelConfigResolver} (what the file alone says) and, once the steps' models
 * are loaded, by {@link #checkComposing} (their inputs, outputs, types and shapes). Immutable.
 *
 * @param steps the steps, as the file lists them
 * @param maxInflightRequests Triton's {@code max_inflight_requests}: at most this many requests in
 *     flight at each step, over all the ensemble's requests (a step with no room waits); 0 (the
 *     default): no bound
 */
public record EnsembleConfig(List<Step> steps, int maxInflightRequests) {

  /** The platform name of an ensemble model, as Triton's. */
  public static final String PLATFORM = "ensemble";

  public EnsembleConfig {
    steps = List.copyOf(steps);
    if (steps.isEmpty()) {
      throw new IllegalArgumentException("an ensemble has at least one step");
    }
    if (maxInflightRequests < 0) {
      throw new IllegalArgumentException("maxInflightRequests >= 0");
    }
  }

  /**
   * One name mapping of a step.
   *
   * @param modelTensor the composing model's input or output
   * @param ensembleTensor the ensemble tensor it takes or makes
   */
  public record Mapping(String modelTensor, String ensembleTensor) {
    public Mapping {
      Objects.requireNonNull(modelTensor, "modelTensor");
      Objects.requireNonNull(ensembleTensor, "ensembleTensor");
    }
  }

  /**
   * One step: a request to {@code model}.
   *
   * @param model the composing model's name
   * @param modelVersion its version, or {@link #LATEST} for the newest its policy serves
   * @param inputs each input of the model, from an ensemble tensor, in the file's order
   * @param outputs each output of the model the ensemble uses, to an ensemble tensor
   */
  public record Step(String model, long modelVersion, List<Mapping> inputs, List<Mapping> outputs) {
    /** The model version of a step that names none: the newest its model serves. */
    public static final long LATEST = -1;

    public Step {
      Objects.requireNonNull(model, "model");
      inputs = List.copyOf(inputs);
      outputs = List.copyOf(outputs);
    }

    /** The version as a request names it: empty for {@link #LATEST}. */
    public String versionString() {
      return modelVersion == LATEST ? "" : Long.toString(modelVersion);
    }

    /** The ensemble tensors this step takes. */
    public Set<String> consumes() {
      Set<String> s = new LinkedHashSet<>();
      inputs.forEach(m -> s.add(m.ensembleTensor()));
      return s;
    }
  }

  /** The distinct models of the steps, in the order the steps first name them. */
  public List<String> models() {
    Set<String> s = new LinkedHashSet<>();
    steps.forEach(st -> s.add(st.model()));
    return List.copyOf(s);
  }

  /**
   * The index of the step that makes each ensemble tensor a step makes (ensemble inputs are made by
   * the request).
   */
  public Map<String, Integer> producers() {
    Map<String, Integer> out = new HashMap<>();
    for (int i = 0; i < steps.size(); i++) {
      for (Mapping m : steps.get(i).outputs()) {
        out.put(m.ensembleTensor(), i);
      }
    }
    return out;
  }

  /**
   * Checks the steps against the configurations of the models they call, as loaded: every mapped
   * name is an input or output of its model, every model input is mapped, and each ensemble tensor
   * has one type and compatible shapes wherever it is made and taken; an ensemble that batches
   * needs models that batch at least as much.
   *
   * @param ensemble the ensemble's own configuration (its inputs, outputs and max-batch-size)
   * @param composing the configuration of each step's model, in the order of {@link #steps}
   * @param file the ensemble's configuration file, which errors name with the field
   * @throws ConfigException naming the file and the step's field
   */
  public void checkComposing(ModelConfig ensemble, List<ModelConfig> composing, Path file)
      throws ConfigException {
    Fields f = Fields.of(file);
    // What each ensemble tensor is, where it is made: an ensemble input, or a step's output.
    Map<String, Made> made = new HashMap<>();
    for (TensorConfig t : ensemble.inputs()) {
      made.put(t.name(), new Made(t, ensemble, "ensemble input '" + t.name() + "'"));
    }
    for (int i = 0; i < steps.size(); i++) {
      Step s = steps.get(i);
      ModelConfig m = composing.get(i);
      int at = i;
      if (ensemble.maxBatchSize() > 0 && m.maxBatchSize() < ensemble.maxBatchSize()) {
        throw new ConfigException(
            file,
            f.step(i) + "." + f.model(),
            "model '"
                + s.model()
                + "' takes batches of at most "
                + m.maxBatchSize()
                + ", fewer than the ensemble's "
                + f.maxBatchSize()
                + " "
                + ensemble.maxBatchSize()
                + " (Triton's rule: each composing model batches at least as much as its ensemble)");
      }
      for (Mapping o : s.outputs()) {
        TensorConfig out =
            m.output(o.modelTensor())
                .orElseThrow(
                    () ->
                        new ConfigException(
                            file,
                            f.step(at) + "." + f.outputMap(o.modelTensor()),
                            "'"
                                + o.modelTensor()
                                + "' is not an output of model '"
                                + s.model()
                                + "' (its outputs: "
                                + names(m.outputs())
                                + ")"));
        made.put(
            o.ensembleTensor(),
            new Made(out, m, "output '" + out.name() + "' of model '" + s.model() + "'"));
      }
    }
    for (int i = 0; i < steps.size(); i++) {
      Step s = steps.get(i);
      ModelConfig m = composing.get(i);
      int at = i;
      for (Mapping in : s.inputs()) {
        TensorConfig want =
            m.input(in.modelTensor())
                .orElseThrow(
                    () ->
                        new ConfigException(
                            file,
                            f.step(at) + "." + f.inputMap(in.modelTensor()),
                            "'"
                                + in.modelTensor()
                                + "' is not an input of model '"
                                + s.model()
                                + "' (its inputs: "
                                + names(m.inputs())
                                + ")"));
        Made from = Objects.requireNonNull(made.get(in.ensembleTensor()));
        String problem = mismatch(from, want, m);
        if (problem != null) {
          throw new ConfigException(
              file,
              f.step(i) + "." + f.inputMap(in.modelTensor()),
              "ensemble tensor '"
                  + in.ensembleTensor()
                  + "' is "
                  + from.what()
                  + ", "
                  + problem
                  + " input '"
                  + want.name()
                  + "' of model '"
                  + s.model()
                  + "'");
        }
      }
      for (TensorConfig need : m.inputs()) {
        if (s.inputs().stream().noneMatch(x -> x.modelTensor().equals(need.name()))) {
          throw new ConfigException(
              file,
              f.step(i) + "." + f.inputMapField(),
              "model '"
                  + s.model()
                  + "' needs its input '"
                  + need.name()
                  + "', which the step does not map to an ensemble tensor");
        }
      }
    }
    for (int i = 0; i < ensemble.outputs().size(); i++) {
      TensorConfig out = ensemble.outputs().get(i);
      Made from = Objects.requireNonNull(made.get(out.name()));
      String problem = mismatch(from, out, ensemble);
      if (problem != null) {
        throw new ConfigException(
            file,
            f.outputs() + "[" + i + "]",
            "ensemble output '" + out.name() + "' is " + from.what() + ", " + problem + " it");
      }
    }
  }

  /**
   * The field that names step {@code step}'s model in {@code file}'s own words ({@code
   * ensemble.steps[0].model}, or {@code ensemble_scheduling.step[0].model_name} in a config.pbtxt),
   * for errors about that model.
   */
  public static String modelField(Path file, int step) {
    Fields f = Fields.of(file);
    return f.step(step) + "." + f.model();
  }

  /** An ensemble tensor where it is made: its configuration in the model that makes it. */
  private record Made(TensorConfig tensor, ModelConfig in, String what) {}

  /**
   * Why {@code made} cannot feed {@code want} (a tensor of {@code taker}), or null: another type,
   * or full shapes (batch dimension included) of another rank or with a fixed size that differs.
   */
  private static @Nullable String mismatch(Made made, TensorConfig want, ModelConfig taker) {
    if (made.tensor().datatype() != want.datatype()) {
      return made.tensor().datatype() + ", but " + want.datatype() + " is expected by";
    }
    long[] a = made.in().fullShape(made.tensor());
    long[] b = taker.fullShape(want);
    boolean fits = a.length == b.length;
    for (int d = 0; fits && d < a.length; d++) {
      fits = a[d] < 0 || b[d] < 0 || a[d] == b[d];
    }
    return fits
        ? null
        : "of shape "
            + java.util.Arrays.toString(a)
            + ", which does not fit the shape "
            + java.util.Arrays.toString(b)
            + " of";
  }

  private static List<String> names(List<TensorConfig> tensors) {
    List<String> out = new ArrayList<>();
    tensors.forEach(t -> out.add(t.name()));
    return out;
  }

  /**
   * The names of the fields in the file's own words: Triton's ({@code
   * ensemble_scheduling.step[1].input_map[x]}) for a config.pbtxt, Fulcrum's ({@code
   * ensemble.steps[1].input-map[x]}) for a config.yaml.
   */
  record Fields(boolean pbtxt) {
    static Fields of(Path file) {
      Path name = file.getFileName();
      return new Fields(name != null && name.toString().endsWith(".pbtxt"));
    }

    String section() {
      return pbtxt ? "ensemble_scheduling" : "ensemble";
    }

    String steps() {
      return section() + (pbtxt ? ".step" : ".steps");
    }

    String step(int i) {
      return steps() + "[" + i + "]";
    }

    String model() {
      return pbtxt ? "model_name" : "model";
    }

    String modelVersion() {
      return pbtxt ? "model_version" : "model-version";
    }

    String inputMapField() {
      return pbtxt ? "input_map" : "input-map";
    }

    String outputMapField() {
      return pbtxt ? "output_map" : "output-map";
    }

    String inputMap(String key) {
      return inputMapField() + "[" + key + "]";
    }

    String outputMap(String key) {
      return outputMapField() + "[" + key + "]";
    }

    String inputs() {
      return pbtxt ? "input" : "inputs";
    }

    String outputs() {
      return pbtxt ? "output" : "outputs";
    }

    String maxBatchSize() {
      return pbtxt ? "max_batch_size" : "max-batch-size";
    }

    String maxInflightRequests() {
      return section() + "." + (pbtxt ? "max_inflight_requests" : "max-inflight-requests");
    }

    String platform() {
      return "platform";
    }
  }
}
