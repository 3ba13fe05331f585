package dev.fulcrum.core.config;

import dev.fulcrum.core.tensor.DataType;
import java.util.List;
import java.util.Objects;

/**
 * A stateful model's sequence batcher, Triton's {@code sequence_batching} with its direct or oldest
 * strategy (docs/MODEL_CONFIG.md, "Stateful models"): each sequence a client opens ({@code
 * sequence_start}) holds a slot until it ends ({@code sequence_end}) or sits idle longer than
 * {@code maxSequenceIdleMicros}; the batcher fills the model's control inputs on each request and
 * carries its implicit state from one request of a sequence to the next. Immutable.
 *
 * @param strategy how many sequences an instance holds at once: a batch row each (direct), or
 *     {@code maxCandidateSequences} (oldest)
 * @param maxCandidateSequences the oldest strategy's sequences per instance (Triton's {@code
 *     max_candidate_sequences}, resolved: {@code max-batch-size}, at least 1, when not written); 0
 *     with the direct strategy
 * @param maxSequenceIdleMicros how long a sequence may go without a request before its slot (and
 *     its state) is freed; Triton's default 1 s
 * @param controlInputs the model inputs the batcher fills on each request, none of which the client
 *     sends (they are not among the model's configured inputs)
 * @param states the implicit state: each an input the batcher feeds with the output the sequence's
 *     previous request made (zeros at its start); neither is among the configured inputs/outputs
 */
public record SequenceBatchingConfig(
    Strategy strategy,
    int maxCandidateSequences,
    long maxSequenceIdleMicros,
    List<ControlInput> controlInputs,
    List<State> states) {

  /** Triton's scheduling strategies of the sequence batcher. */
  public enum Strategy {
    /** A slot per batch row: {@code max-batch-size} sequences per instance (one unbatched). */
    DIRECT,
    /**
     * {@code max-candidate-sequences} per instance, of which the dynamic batcher joins the oldest
     * ready requests (one per sequence) into each pass.
     */
    OLDEST
  }

  /** The direct strategy. */
  public SequenceBatchingConfig(
      long maxSequenceIdleMicros, List<ControlInput> controlInputs, List<State> states) {
    this(Strategy.DIRECT, 0, maxSequenceIdleMicros, controlInputs, states);
  }

  /** Triton's default {@code max_sequence_idle_microseconds}: 1 s. */
  public static final long DEFAULT_MAX_SEQUENCE_IDLE_MICROS = 1_000_000;

  /** What a control input tells the model about the request in its row. */
  public enum Kind {
    /** 1 on a sequence's first request ({@code sequence_start}), else 0. */
    START,
    /** 1 on a sequence's last request ({@code sequence_end}), else 0. */
    END,
    /** 1 for a row that holds a request (every row the batcher sends). */
    READY,
    /** The sequence's id ({@code sequence_id}): a number, or a string for a BYTES input. */
    CORRID
  }

  /**
   * A control input.
   *
   * @param name the model input's name
   * @param kind which control it is
   * @param datatype the input's type in the model (0/1 in it for START, END, READY)
   */
  public record ControlInput(String name, Kind kind, DataType datatype) {
    public ControlInput {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(datatype, "datatype");
    }
  }

  /**
   * One implicit state tensor.
   *
   * @param inputName the model input the state is fed to
   * @param outputName the model output the next state is taken from
   * @param datatype the type of both (fixed-size)
   * @param dims its shape without the batch dimension, every size known (a new sequence's state is
   *     zeros of it)
   */
  public record State(String inputName, String outputName, DataType datatype, List<Long> dims) {
    public State {
      Objects.requireNonNull(inputName, "inputName");
      Objects.requireNonNull(outputName, "outputName");
      Objects.requireNonNull(datatype, "datatype");
      dims = List.copyOf(dims);
    }

    /** The dims as an array. */
    public long[] shape() {
      return dims.stream().mapToLong(Long::longValue).toArray();
    }
  }

  public SequenceBatchingConfig {
    Objects.requireNonNull(strategy, "strategy");
    if ((strategy == Strategy.OLDEST) != (maxCandidateSequences > 0) || maxCandidateSequences < 0) {
      throw new IllegalArgumentException(
          "maxCandidateSequences > 0 with the oldest strategy, 0 with direct: "
              + strategy
              + ", "
              + maxCandidateSequences);
    }
    controlInputs = List.copyOf(controlInputs);
    states = List.copyOf(states);
    if (maxSequenceIdleMicros <= 0) {
      throw new IllegalArgumentException("maxSequenceIdleMicros > 0");
    }
  }

  /**
   * The sequences one instance holds at once: the oldest strategy's candidates, else one per batch
   * row ({@code maxBatchSize}, at least 1), as Triton counts its sequence slots.
   */
  public int slotsPerInstance(int maxBatchSize) {
    return strategy == Strategy.OLDEST ? maxCandidateSequences : Math.max(1, maxBatchSize);
  }

  /** Whether {@code name} is an input the batcher fills (a control input or a state). */
  public boolean fills(String name) {
    return controlInputs.stream().anyMatch(c -> c.name().equals(name))
        || states.stream().anyMatch(s -> s.inputName().equals(name));
  }

  /** Whether {@code name} is an output the batcher takes as state. */
  public boolean takes(String name) {
    return states.stream().anyMatch(s -> s.outputName().equals(name));
  }
}
