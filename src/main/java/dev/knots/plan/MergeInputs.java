package dev.knots.plan;

import dev.knots.io.peft.AdapterWriter;
import java.util.List;

/**
 * The task inputs of one merge as the planner and the job see them, whatever their kind (LoRA
 * adapters or full fine-tuned checkpoints): opened from headers only, checked against each other,
 * and turned into modules, so that one job runs both.
 */
public interface MergeInputs {

  /** What one input is, for messages and the plan: "adapter" or "checkpoint". */
  String kind();

  /** The input directories, in task order. */
  List<String> locations();

  /** Every module to align and merge, sorted by key. */
  List<ModuleSpec> modules();

  /**
   * Tensors outside the modules that are merged entry-wise, each on its own (norm scales, biases of
   * full checkpoints); empty for adapters.
   */
  default List<PlainTensor> plainTensors() {
    return List.of();
  }

  /** What was left out or taken from the base, one line each, for the log and the dry run. */
  List<String> warnings();

  /** True when the weights the modules update are stored {@code in x out} (GPT-2's Conv1D). */
  boolean fanInFanOut();

  /** Sets what a merged adapter inherits from these inputs (base model name, task type). */
  AdapterWriter adapterSettings(AdapterWriter writer);
}
